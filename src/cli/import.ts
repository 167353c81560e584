import { createHash } from 'node:crypto';
import { closeSync, createReadStream, fstatSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Kvs } from '../domain/index.js';
import { isValidRecordKey, isValidStoreName, STORE_NAME_RULE } from '../domain/validation.js';
import type { StoreRow, UserRow } from '../model.js';
import { CliError, commandUser, withKvs } from './admin.js';
import { checkDatasetTargets, importDatasets, planDatasets } from './import-datasets.js';
import { checkQueueTargets, importQueues, planQueues } from './import-queues.js';
import {
  contentTypeOf,
  DATASETS_DIR,
  isMetadataFile,
  isUsableContentType,
  keyOf,
  parseRecordMetadata,
  QUEUES_DIR,
  type RecordMetadata,
  STORE_METADATA_FILE,
  STORES_DIR,
  valueFilesOf,
} from './layout.js';
import { type CliContext, listed, type Output, type TransferOptions } from './options.js';
import { forEachLimited } from './pool.js';
import { perSecond, plural, startProgress } from './progress.js';

interface PlannedRecord {
  key: string;
  contentType: string;
  file: string;
  /** Whether a metadata file named this file. */
  described: boolean;
}

interface PlannedStore {
  folder: string;
  records: PlannedRecord[];
}

/** Records written at once (the PostgreSQL driver writes them in parallel). */
const CONCURRENCY = 16;

/** The records of one store folder, with every file that cannot be imported reported. */
async function planStore(
  dir: string,
  skip: (file: string, why: string) => void,
  note: (file: string, what: string) => void,
): Promise<PlannedRecord[]> {
  const metadataFiles: string[] = [];
  const valueFiles = new Set<string>();
  for (const e of await readdir(dir, { withFileTypes: true })) {
    // memory-storage locks a file by creating the folder `<file>.lock` beside it.
    if (e.isDirectory() && e.name.endsWith('.lock')) continue;
    if (!e.isFile()) skip(e.name, 'not a regular file');
    else if (isMetadataFile(e.name)) {
      if (e.name !== STORE_METADATA_FILE) metadataFiles.push(e.name);
    } else valueFiles.add(e.name);
  }
  const described = new Map<string, RecordMetadata>();
  for (const name of metadataFiles.sort()) {
    const meta = parseRecordMetadata(name, readFileSync(join(dir, name), 'utf8'));
    const file = meta && valueFilesOf(meta).find((f) => valueFiles.has(f));
    if (!meta) skip(name, 'not a record metadata file (a JSON object with a "key")');
    else if (file === undefined) skip(name, `no value file for the key "${meta.key}" beside it`);
    else if (described.has(file)) skip(name, `${file} is described by another metadata file too`);
    else described.set(file, meta);
  }

  const byKey = new Map<string, PlannedRecord>();
  for (const file of [...valueFiles].sort()) {
    const meta = described.get(file);
    const key = meta?.key ?? keyOf(file);
    if (!isValidRecordKey(key)) {
      skip(file, `"${key}" is not a valid record key (1-256 characters of a-z A-Z 0-9 ! - _ . ' ( ))`);
      continue;
    }
    let contentType = contentTypeOf(file);
    if (meta?.contentType !== undefined) {
      if (isUsableContentType(meta.contentType)) contentType = meta.contentType;
      else note(file, `the content type in its metadata cannot be used; imported as ${contentType}`);
    }
    const record = { key, contentType, file, described: meta !== undefined };
    const other = byKey.get(key);
    if (other && (other.described || !record.described)) {
      skip(file, `it holds the key "${key}" as ${other.file} does`);
      continue;
    }
    if (other) skip(other.file, `it holds the key "${key}" as ${file} does, which its metadata describes`);
    byKey.set(key, record);
  }
  return [...byKey.values()];
}

/** The folders to import: every folder under key_value_stores, or those named. */
async function storeFolders(root: string, wanted: string[]): Promise<string[]> {
  let entries: string[];
  try {
    entries = (await readdir(root, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    throw new CliError(`${root} is not a folder (expected the layout DIR/${STORES_DIR}/<store>/<key>.<ext>)`);
  }
  const missing = wanted.filter((w) => !entries.includes(w));
  if (missing.length > 0) throw new CliError(`no store folder ${missing.map((m) => join(root, m)).join(', ')}`);
  return (wanted.length > 0 ? [...new Set(wanted)] : entries).sort();
}

/** Files up to this size are read whole (and at once: synchronous reads of small files are many times faster here). */
const READ_WHOLE_MAX = 256 * 1024;

/** A file's size, and its bytes when it is small. */
function readSmall(path: string): { size: number; data?: Buffer } {
  const fd = openSync(path, 'r');
  try {
    const { size } = fstatSync(fd);
    if (size > READ_WHOLE_MAX) return { size };
    const data = Buffer.allocUnsafe(size);
    let filled = 0;
    for (let n = -1; filled < size && n !== 0; filled += n) n = readSync(fd, data, filled, size - filled, filled);
    return { size: filled, data: data.subarray(0, filled) };
  } finally {
    closeSync(fd);
  }
}

/** Puts a file's bytes as a record, hashed on the way for the record's ETag; larger files stream. */
async function putFile(kvs: Kvs, store: StoreRow, r: PlannedRecord, path: string, file: { size: number; data?: Buffer }) {
  const sha = createHash('sha256');
  let etag = '';
  let bytes = 0;
  const source: AsyncIterable<Buffer> | Iterable<Buffer> = file.data ? [file.data] : createReadStream(path);
  async function* body(): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      sha.update(chunk);
      bytes += chunk.length;
      yield chunk;
    }
    etag = sha.digest('base64url');
  }
  await kvs.records.put(store, r.key, {
    contentType: r.contentType,
    contentEncoding: null,
    body: body(),
    sizeHint: file.size,
    decodedSize: () => bytes,
    etag: () => etag,
  });
}

/** The store folders to import, each with its records. */
async function planStores(root: string, wanted: string[], skip: (path: string, why: string) => void, out: Output) {
  const plans: PlannedStore[] = [];
  for (const folder of await storeFolders(root, wanted)) {
    if (!isValidStoreName(folder)) {
      skip(join(root, folder), `"${folder}" is not a valid store name (${STORE_NAME_RULE}); rename the folder`);
      continue;
    }
    const records = await planStore(
      join(root, folder),
      (file, why) => skip(join(root, folder, file), why),
      (file, what) => out.warn(`openkvs: ${join(root, folder, file)}: ${what}`),
    );
    plans.push({ folder, records });
  }
  return plans;
}

/** Imports the planned store folders into the user's stores named after them; a line per store. */
async function importStores(
  ctx: CliContext,
  kvs: Kvs,
  user: UserRow,
  root: string,
  plans: PlannedStore[],
  late: (path: string, why: string) => void,
): Promise<{ records: number; lines: string[] }> {
  const lines: string[] = [];
  let imported = 0;
  const progress = startProgress(
    'import',
    plans.reduce((n, p) => n + p.records.length, 0),
    'records',
  );
  try {
    for (const plan of plans) {
      const { store: api, created } = await kvs.stores.getOrCreate(user, plan.folder, undefined);
      const store = await kvs.driver.getStore(api.id);
      if (!store) throw new CliError(`the store "${plan.folder}" was deleted while importing`);
      let count = 0;
      await forEachLimited(plan.records, CONCURRENCY, async (r) => {
        const path = join(root, plan.folder, r.file);
        const file = readSmall(path);
        if (file.size > ctx.maxRecordBytes) {
          late(path, `${file.size} bytes is more than --max-record-bytes ${ctx.maxRecordBytes}`);
        } else {
          await putFile(kvs, store, r, path, file);
          count++;
        }
        progress.advance();
      });
      imported += count;
      const what = created ? 'new store' : 'existing store';
      lines.push(
        `Imported ${count} record${count === 1 ? '' : 's'} into "${plan.folder}" (${what} ${store.id}) of ${user.username}.`,
      );
    }
  } finally {
    progress.stop();
  }
  return { records: imported, lines };
}

const isFolder = (path: string) => statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;

/** The layouts `import` reads, for its messages. */
const LAYOUTS =
  `DIR/${STORES_DIR}/<store>/<key>.<ext>, DIR/${DATASETS_DIR}/<dataset>/000000001.json ` +
  `or DIR/${QUEUES_DIR}/<queue>/<request id>.json`;

/**
 * Imports `DIR/key_value_stores/<store>/…` into the stores of a user, each store named after its
 * folder (created if missing; records of the same key are overwritten),
 * `DIR/datasets/<dataset>/000000001.json…` into datasets named after their folders, items in file
 * order (a dataset that already has items only with `append`), and
 * `DIR/request_queues/<queue>/<id>.json` into queues named after their folders, in their order
 * (a queue that already has requests only with `append`).
 */
export async function importStorage(ctx: CliContext, o: TransferOptions, out: Output): Promise<void> {
  const started = Date.now();
  const storesRoot = join(o.dir, STORES_DIR);
  const datasetsRoot = join(o.dir, DATASETS_DIR);
  const queuesRoot = join(o.dir, QUEUES_DIR);
  // Nothing named: every folder there is. Something named: only that.
  const named = o.stores.length + o.datasets.length + o.queues.length > 0;
  const withStores = named ? o.stores.length > 0 : isFolder(storesRoot);
  const withDatasets = named ? o.datasets.length > 0 : isFolder(datasetsRoot);
  const withQueues = named ? o.queues.length > 0 : isFolder(queuesRoot);
  if (!withStores && !withDatasets && !withQueues) {
    throw new CliError(`${o.dir} has no ${STORES_DIR}, ${DATASETS_DIR} or ${QUEUES_DIR} folder (expected the layout ${LAYOUTS})`);
  }
  let skipped = 0;
  const skip = (path: string, why: string) => {
    skipped++;
    out.warn(`openkvs: skipped ${path}: ${why}`);
  };
  const note = (path: string, what: string) => out.warn(`openkvs: ${path}: ${what}`);
  const storePlans = withStores ? await planStores(storesRoot, o.stores, skip, out) : [];
  const datasetPlans = withDatasets ? await planDatasets(datasetsRoot, o.datasets, skip, note) : [];
  const queuePlans = withQueues ? await planQueues(queuesRoot, o.queues, skip) : [];

  // Reported once the progress bars are done.
  const late: [string, string][] = [];
  const lateSkip = (path: string, why: string) => void late.push([path, why]);
  const lines: string[] = [];
  const parts: string[] = [];
  const rates: string[] = [];
  await withKvs(ctx.storage, async (kvs) => {
    const user = await commandUser(kvs, o.user, out.print, { adminToken: ctx.adminToken });
    await checkDatasetTargets(kvs, user, datasetPlans, o.append ?? false);
    await checkQueueTargets(kvs, user, queuePlans, o.append ?? false);
    if (withStores) {
      const start = Date.now();
      const { records, lines: storeLines } = await importStores(ctx, kvs, user, storesRoot, storePlans, lateSkip);
      lines.push(...storeLines);
      parts.push(`${records} records into ${plural(storePlans.length, 'store')}`);
      rates.push(`${perSecond(records, Date.now() - start)} records/s`);
    }
    if (withDatasets) {
      const start = Date.now();
      const progress = startProgress(
        'import',
        datasetPlans.reduce((n, p) => n + p.positions.length, 0),
        'items',
      );
      try {
        const { items, lines: datasetLines } = await importDatasets(kvs, user, datasetsRoot, datasetPlans, lateSkip, progress);
        lines.push(...datasetLines);
        parts.push(`${items} items into ${plural(datasetPlans.length, 'dataset')}`);
        rates.push(`${perSecond(items, Date.now() - start)} items/s`);
      } finally {
        progress.stop();
      }
    }
    if (withQueues) {
      const start = Date.now();
      const progress = startProgress(
        'import',
        queuePlans.reduce((n, p) => n + p.handled.length + p.pending.length, 0),
        'requests',
      );
      try {
        const { requests, lines: queueLines } = await importQueues(kvs, user, queuesRoot, queuePlans, lateSkip, progress);
        lines.push(...queueLines);
        parts.push(`${requests} requests into ${plural(queuePlans.length, 'request queue')}`);
        rates.push(`${perSecond(requests, Date.now() - start)} requests/s`);
      } finally {
        progress.stop();
      }
    }
  });
  for (const [path, why] of late) skip(path, why);
  for (const line of lines) out.print(line);
  const seconds = (Date.now() - started) / 1000;
  out.print(
    `Imported ${listed(parts)} in ${seconds.toFixed(1)} s (${rates.join(', ')})` +
      (skipped > 0 ? `; skipped ${skipped} (listed on standard error).` : '.'),
  );
}
