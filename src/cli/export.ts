import { createWriteStream, writeFileSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Kvs } from '../domain/index.js';
import { createDecoder } from '../http/body.js';
import type { StoreRow, UserRow } from '../model.js';
import type { StoredRecord } from '../storage/driver.js';
import { CliError, commandUser, withKvs } from './admin.js';
import { exportDatasets, selectDatasets } from './export-datasets.js';
import { exportQueues, selectQueues } from './export-queues.js';
import {
  DATASETS_DIR,
  extensionOf,
  layoutProblem,
  metadataFileName,
  QUEUES_DIR,
  STORE_METADATA_FILE,
  STORES_DIR,
  storeMetadata,
  valueFileName,
} from './layout.js';
import { type CliContext, listed, type Output, type TransferOptions } from './options.js';
import { forEachLimited } from './pool.js';
import { perSecond, plural, startProgress } from './progress.js';
import { allStores, findStore } from './stores.js';

const PAGE = 1000;
const CONCURRENCY = 16;

/** Every key of a store, a page at a time. */
async function* keyPages(kvs: Kvs, storeId: string): AsyncGenerator<string[]> {
  let exclusiveStartKey: string | undefined;
  for (;;) {
    const page = await kvs.driver.listKeys(storeId, { exclusiveStartKey, limit: PAGE });
    yield page.items.map((i) => i.key);
    const last = page.items[page.items.length - 1];
    if (!page.isTruncated || !last) return;
    exclusiveStartKey = last.key;
  }
}

/** The stores to export (all of the user's, or those named by name or id), each with the folder it goes to. */
async function selectStores(kvs: Kvs, user: UserRow, wanted: string[]) {
  const stores: StoreRow[] = [];
  if (wanted.length === 0) for await (const s of allStores(kvs, user)) stores.push(s);
  for (const w of new Set(wanted)) {
    const store = await findStore(kvs, user, w);
    if (!store) throw new CliError(`${user.username} has no store named or with the id "${w}"`);
    if (!stores.some((s) => s.id === store.id)) stores.push(store);
  }
  const folders = new Map<string, StoreRow>();
  for (const store of stores) {
    const folder = store.name ?? store.id;
    if (folders.has(folder)) throw new CliError(`two stores would both go to the folder ${folder}; export them one at a time`);
    folders.set(folder, store);
  }
  return folders;
}

/** Writes a record's value (decoded, as a client that accepts no encoding would get it) and its metadata. */
async function writeRecord(dir: string, key: string, record: StoredRecord): Promise<void> {
  const path = join(dir, valueFileName(key, record.contentType));
  const { value, contentEncoding } = record;
  try {
    // Small values are written at once: synchronous writes of small files are many times faster here.
    if (value.kind === 'buffer' && contentEncoding === null) writeFileSync(path, value.data);
    else {
      const source = value.kind === 'buffer' ? Readable.from([value.data]) : value.stream;
      if (contentEncoding === null) await pipeline(source, createWriteStream(path));
      else await pipeline(source, createDecoder(contentEncoding), createWriteStream(path));
    }
  } catch (err) {
    await rm(path, { force: true });
    throw err;
  }
  const metadata = { extension: extensionOf(record.contentType), key, contentType: record.contentType };
  writeFileSync(join(dir, metadataFileName(key)), JSON.stringify(metadata));
}

/** Fails unless every target folder is missing or empty, so that no stale file mixes into an export. */
async function checkTargets(root: string, folders: Iterable<string>): Promise<void> {
  for (const folder of folders) {
    const existing = await readdir(join(root, folder)).catch(() => [] as string[]);
    if (existing.length > 0) throw new CliError(`${join(root, folder)} already has files; export to an empty folder`);
  }
}

/** Exports selected stores under `root`, a folder each; a line per store. */
async function exportStores(kvs: Kvs, root: string, folders: Map<string, StoreRow>, skipped: [string, string][]) {
  let total = 0;
  for (const store of folders.values()) for await (const keys of keyPages(kvs, store.id)) total += keys.length;
  const lines: string[] = [];
  let records = 0;
  const progress = startProgress('export', total, 'records');
  try {
    for (const [folder, store] of folders) {
      const dir = join(root, folder);
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, STORE_METADATA_FILE), storeMetadata(store));
      let count = 0;
      for await (const keys of keyPages(kvs, store.id)) {
        await forEachLimited(keys, CONCURRENCY, async (key) => {
          progress.advance();
          const record = await kvs.driver.getRecord(store.id, key);
          if (!record) return void skipped.push([`${folder}/${key}`, 'deleted while exporting']);
          const problem = layoutProblem(key, record.contentType);
          if (problem) {
            if (record.value.kind === 'stream') record.value.stream.destroy();
            return void skipped.push([`${folder}/${key}`, problem]);
          }
          await writeRecord(dir, key, record);
          count++;
        });
      }
      records += count;
      const label = store.name === null ? `unnamed store ${store.id}` : `"${store.name}" (${store.id})`;
      lines.push(`Exported ${count} record${count === 1 ? '' : 's'} of ${label} to ${dir}.`);
    }
  } finally {
    progress.stop();
  }
  return { records, lines };
}

/**
 * Exports stores of a user to `DIR/key_value_stores/<name or id>/`, with a metadata file per
 * record and per store, datasets to `DIR/datasets/<name or id>/000000001.json…` with the
 * dataset's metadata, and request queues to `DIR/request_queues/<name or id>/<request id>.json`
 * with the queue's metadata: the layout Crawlee and the Apify CLI read. Nothing named: all of
 * them; some named: only those.
 */
export async function exportStorage(ctx: CliContext, o: TransferOptions, out: Output): Promise<void> {
  const started = Date.now();
  const storesRoot = join(o.dir, STORES_DIR);
  const datasetsRoot = join(o.dir, DATASETS_DIR);
  const queuesRoot = join(o.dir, QUEUES_DIR);
  const named = o.stores.length + o.datasets.length + o.queues.length > 0;
  const lines: string[] = [];
  const parts: string[] = [];
  const rates: string[] = [];
  const skipped: [string, string][] = [];
  await withKvs(ctx.storage, async (kvs) => {
    const user = await commandUser(kvs, o.user, () => undefined);
    const stores = !named || o.stores.length > 0 ? await selectStores(kvs, user, o.stores) : undefined;
    const datasets = !named || o.datasets.length > 0 ? await selectDatasets(kvs, user, o.datasets) : undefined;
    const queues = !named || o.queues.length > 0 ? await selectQueues(kvs, user, o.queues) : undefined;
    await checkTargets(storesRoot, stores?.keys() ?? []);
    await checkTargets(datasetsRoot, datasets?.keys() ?? []);
    await checkTargets(queuesRoot, queues?.keys() ?? []);
    // Without stores, an export of datasets or queues says nothing of them (and the other way round).
    if (stores && (stores.size > 0 || o.stores.length > 0 || (!datasets?.size && !queues?.size))) {
      const start = Date.now();
      const { records, lines: storeLines } = await exportStores(kvs, storesRoot, stores, skipped);
      lines.push(...storeLines);
      parts.push(`${records} records of ${plural(storeLines.length, 'store')}`);
      rates.push(`${perSecond(records, Date.now() - start)} records/s`);
    }
    if (datasets && (datasets.size > 0 || o.datasets.length > 0)) {
      const start = Date.now();
      const total = [...datasets.values()].reduce((n, d) => n + d.itemCount, 0);
      const progress = startProgress('export', total, 'items');
      try {
        const { items, lines: datasetLines, short } = await exportDatasets(kvs, datasetsRoot, datasets, progress);
        lines.push(...datasetLines);
        skipped.push(...short);
        parts.push(`${items} items of ${plural(datasetLines.length, 'dataset')}`);
        rates.push(`${perSecond(items, Date.now() - start)} items/s`);
      } finally {
        progress.stop();
      }
    }
    if (queues && (queues.size > 0 || o.queues.length > 0)) {
      const start = Date.now();
      const total = [...queues.values()].reduce((n, q) => n + q.itemCount, 0);
      const progress = startProgress('export', total, 'requests');
      try {
        const { requests, lines: queueLines } = await exportQueues(kvs, queuesRoot, queues, progress);
        lines.push(...queueLines);
        parts.push(`${requests} requests of ${plural(queueLines.length, 'request queue')}`);
        rates.push(`${perSecond(requests, Date.now() - start)} requests/s`);
      } finally {
        progress.stop();
      }
    }
  });
  for (const [what, why] of skipped) out.warn(`openkvs: skipped ${what}: ${why}`);
  for (const line of lines) out.print(line);
  const seconds = (Date.now() - started) / 1000;
  out.print(
    `Exported ${listed(parts)} in ${seconds.toFixed(1)} s (${rates.join(', ')})` +
      (skipped.length > 0 ? `; skipped ${skipped.length} (listed on standard error).` : '.'),
  );
}
