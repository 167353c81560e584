import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { opendir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Kvs } from '../domain/index.js';
import { isValidStoreName, MAX_JSON_DEPTH, STORE_NAME_RULE } from '../domain/validation.js';
import type { StoreRow, UserRow } from '../model.js';
import { CliError } from './admin.js';
import { compactJson, nestingDepth } from './json-text.js';
import { DATASETS_DIR, itemFileName, itemPositionOf, STORE_METADATA_FILE } from './layout.js';
import type { Progress } from './progress.js';

/** A dataset folder to import: the positions of its item files (0-based), ascending. */
export interface PlannedDataset {
  folder: string;
  positions: number[];
}

/** Report a file of a folder that is not imported, or something to know about one. */
type Report = (path: string, why: string) => void;

/**
 * The largest item: a push body is at most 9 MiB (what the API and Crawlee allow), so no client
 * could have pushed a larger one.
 */
const ITEM_MAX_BYTES = 9 * 1024 * 1024;
/** Larger files are not read: even with deep indentation they cannot compact to an item. */
const FILE_MAX_BYTES = 8 * ITEM_MAX_BYTES;
/** A push: this many items or characters, whichever comes first, so that any number of items import in bounded memory. */
const BATCH_ITEMS = 1000;
const BATCH_CHARS = 4 * 1024 * 1024;

/** The item files of one dataset folder, in number order; every other file reported. */
async function planFolder(dir: string, skip: Report, note: Report): Promise<number[]> {
  const positions: number[] = [];
  for await (const e of await opendir(dir)) {
    // memory-storage locks a file by creating the folder `<file>.lock` beside it.
    if (e.isDirectory() && e.name.endsWith('.lock')) continue;
    // Its metadata names the dataset after its id or name; the folder's name decides here, as for stores.
    if (e.isFile() && e.name === STORE_METADATA_FILE) continue;
    const position = itemPositionOf(e.name);
    if (!e.isFile()) skip(join(dir, e.name), 'not a regular file');
    else if (position === undefined)
      skip(join(dir, e.name), 'not an item file (memory-storage names them 000000001.json, 000000002.json, …)');
    else positions.push(position);
  }
  positions.sort((a, b) => a - b);
  const last = positions[positions.length - 1];
  const missing = last === undefined ? 0 : last + 1 - positions.length;
  if (missing > 0) {
    const gap = positions.findIndex((p, i) => p !== i);
    const more = missing > 1 ? `, and ${missing - 1} more item file${missing > 2 ? 's' : ''} before the last` : '';
    note(join(dir, itemFileName(gap)), `missing${more}; the items are imported in file order without gaps`);
  }
  return positions;
}

/** The dataset folders to import: every folder under datasets, or those named; each with its item files. */
export async function planDatasets(root: string, wanted: string[], skip: Report, note: Report): Promise<PlannedDataset[]> {
  let entries: string[];
  try {
    entries = (await readdir(root, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    throw new CliError(`${root} is not a folder (expected the layout DIR/${DATASETS_DIR}/<dataset>/000000001.json)`);
  }
  const missing = wanted.filter((w) => !entries.includes(w));
  if (missing.length > 0) throw new CliError(`no dataset folder ${missing.map((m) => join(root, m)).join(', ')}`);
  const plans: PlannedDataset[] = [];
  for (const folder of (wanted.length > 0 ? [...new Set(wanted)] : entries).sort()) {
    if (!isValidStoreName(folder)) {
      skip(join(root, folder), `"${folder}" is not a valid dataset name (${STORE_NAME_RULE}); rename the folder`);
      continue;
    }
    plans.push({ folder, positions: await planFolder(join(root, folder), skip, note) });
  }
  return plans;
}

/**
 * Fails unless every dataset the plans name is new or empty: importing the same folder twice
 * would otherwise hold its items twice. `append` allows it.
 */
export async function checkDatasetTargets(kvs: Kvs, user: UserRow, plans: PlannedDataset[], append: boolean): Promise<void> {
  if (append) return;
  for (const { folder } of plans) {
    const existing = await kvs.driver.getStoreByName(user.id, folder, 'dataset');
    if (existing && existing.itemCount > 0) {
      throw new CliError(
        `${user.username}'s dataset "${folder}" already has ${existing.itemCount} items; ` +
          'pass --append to add these after them, or delete it first',
      );
    }
  }
}

/** The user's dataset of that name (created when missing) as its row. */
async function datasetNamed(kvs: Kvs, user: UserRow, name: string): Promise<{ dataset: StoreRow; created: boolean }> {
  const { store: api, created } = await kvs.datasets.getOrCreate(user, name, undefined);
  const dataset = await kvs.driver.getStore(api.id);
  if (!dataset) throw new CliError(`the dataset "${name}" was deleted while importing`);
  return { dataset, created };
}

/**
 * An item file's text as a client would have pushed the item: compact, tokens as written (see
 * json-text.ts); or why it is no item.
 */
function readItem(path: string): { text: string; clean: boolean } | { problem: string } {
  let raw: string;
  const fd = openSync(path, 'r');
  try {
    const { size } = fstatSync(fd);
    if (size > FILE_MAX_BYTES) return { problem: `${size} bytes is more than an item can be` };
    raw = readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
  if (raw.charCodeAt(0) === 0xfeff) raw = raw.slice(1);
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    return { problem: `not JSON (${(err as Error).message})` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { problem: 'not a JSON object (each dataset item is one)' };
  }
  const text = compactJson(raw);
  // A push refuses deeper items: they could not be transformed or exported without running out of stack.
  if (nestingDepth(text) > MAX_JSON_DEPTH) return { problem: `JSON nested deeper than ${MAX_JSON_DEPTH} levels` };
  const bytes = Buffer.byteLength(text);
  if (bytes > ITEM_MAX_BYTES) return { problem: `the item is ${bytes} bytes, more than the ${ITEM_MAX_BYTES} a push may carry` };
  // Clean items have a field that is not hidden (`#…`): what the dataset's cleanItemCount counts.
  return { text, clean: Object.keys(value).some((k) => !k.startsWith('#')) };
}

/**
 * Appends the item files of one folder to a dataset in file order, a batch per push. The next
 * batch is read while the previous push is in flight; pushes stay one at a time, in order.
 */
async function importFolder(kvs: Kvs, dataset: StoreRow, dir: string, positions: number[], skip: Report, progress: Progress) {
  let imported = 0;
  let batch: string[] = [];
  let clean = 0;
  let chars = 0;
  let pushing: Promise<void> = Promise.resolve();
  const flush = async () => {
    const items = batch;
    const cleanItems = clean;
    batch = [];
    clean = 0;
    chars = 0;
    await pushing;
    if (items.length === 0) return;
    pushing = kvs.driver.pushItems(dataset.id, items, cleanItems, Date.now()).then((result) => {
      if (result === 'no-store') throw new CliError(`the dataset "${dataset.name}" was deleted while importing`);
      imported += items.length;
      progress.advance(items.length);
    });
    // Awaited before the next push or at the end; marked handled so a failure meanwhile does not end the process.
    pushing.catch(() => undefined);
  };
  for (const position of positions) {
    const path = join(dir, itemFileName(position));
    const item = readItem(path);
    if ('problem' in item) {
      skip(path, item.problem);
      progress.advance();
      continue;
    }
    batch.push(item.text);
    if (item.clean) clean++;
    chars += item.text.length;
    if (batch.length >= BATCH_ITEMS || chars >= BATCH_CHARS) await flush();
  }
  await flush();
  await pushing;
  return imported;
}

/** Imports planned dataset folders into the user's datasets named after them; a line per dataset. */
export async function importDatasets(
  kvs: Kvs,
  user: UserRow,
  root: string,
  plans: PlannedDataset[],
  skip: Report,
  progress: Progress,
): Promise<{ items: number; lines: string[] }> {
  let items = 0;
  const lines: string[] = [];
  for (const plan of plans) {
    const { dataset, created } = await datasetNamed(kvs, user, plan.folder);
    const count = await importFolder(kvs, dataset, join(root, plan.folder), plan.positions, skip, progress);
    items += count;
    const what = created ? 'new dataset' : 'existing dataset';
    lines.push(
      `Imported ${count} item${count === 1 ? '' : 's'} into "${plan.folder}" (${what} ${dataset.id}) of ${user.username}.`,
    );
  }
  return { items, lines };
}
