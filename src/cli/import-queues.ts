import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { opendir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Kvs } from '../domain/index.js';
import { requestId } from '../domain/queues/requests.js';
import { isValidStoreName, MAX_JSON_DEPTH, STORE_NAME_RULE, unstorableJson } from '../domain/validation.js';
import type { StoreRow, UserRow } from '../model.js';
import type { QueueRequestInput } from '../storage/driver.js';
import { CliError } from './admin.js';
import { compactJson, nestingDepth } from './json-text.js';
import { QUEUES_DIR, STORE_METADATA_FILE } from './layout.js';
import type { Progress } from './progress.js';

/** A request file to import, and its place: `orderNo` as memory-storage keeps it, null when handled. */
interface PlannedRequest {
  file: string;
  id: string;
  orderNo: number | null;
}

/** A queue folder to import: its request files, handled ones first, then in queue order. */
export interface PlannedQueue {
  folder: string;
  handled: PlannedRequest[];
  /** Pending, by `orderNo` ascending: the order memory-storage hands them out. */
  pending: PlannedRequest[];
}

type Report = (path: string, why: string) => void;

/** A request's JSON: what a batch add of the API takes (9 MiB), so that no client could have added a larger one. */
const REQUEST_MAX_BYTES = 9 * 1024 * 1024;
/** Larger files are not read: even escaped and indented they cannot hold a request. */
const FILE_MAX_BYTES = 8 * REQUEST_MAX_BYTES;
/** Requests added at once, or characters, whichever comes first: any queue imports in bounded memory. */
const BATCH_REQUESTS = 1000;
const BATCH_CHARS = 4 * 1024 * 1024;

type ReadRequest = { input: QueueRequestInput; orderNo: number | null } | { problem: string };

/** A request file as the request to add and its `orderNo`, or why it is none. */
function readRequest(path: string): ReadRequest {
  let raw: string;
  const fd = openSync(path, 'r');
  try {
    const { size } = fstatSync(fd);
    if (size > FILE_MAX_BYTES) return { problem: `${size} bytes is more than a request can be` };
    raw = readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
  if (raw.charCodeAt(0) === 0xfeff) raw = raw.slice(1);
  let entry: unknown;
  try {
    entry = JSON.parse(raw);
  } catch (err) {
    return { problem: `not JSON (${(err as Error).message})` };
  }
  const e = (typeof entry === 'object' && entry !== null && !Array.isArray(entry) ? entry : {}) as Record<string, unknown>;
  if (typeof e.json !== 'string') {
    return { problem: 'not a request file (memory-storage writes a JSON object with the request as a "json" string)' };
  }
  let request: unknown;
  try {
    request = JSON.parse(e.json);
  } catch (err) {
    return { problem: `its "json" is not JSON (${(err as Error).message})` };
  }
  if (typeof request !== 'object' || request === null || Array.isArray(request))
    return { problem: 'its "json" is not a JSON object' };
  const r = request as Record<string, unknown>;
  if (typeof r.uniqueKey !== 'string' || r.uniqueKey === '') return { problem: 'its request has no uniqueKey' };
  if (typeof r.url !== 'string' || r.url === '') return { problem: 'its request has no url' };
  if (r.method !== undefined && typeof r.method !== 'string') return { problem: "its request's method is not a string" };
  const handledAt =
    typeof r.handledAt === 'string' ? Date.parse(r.handledAt) : typeof r.handledAt === 'number' ? r.handledAt : null;
  if (r.handledAt !== undefined && r.handledAt !== null && !Number.isFinite(handledAt)) {
    return { problem: "its request's handledAt is not a date" };
  }
  const id = requestId(r.uniqueKey);
  if (r.id !== undefined && r.id !== id)
    return { problem: `its request's id ${JSON.stringify(r.id)} is not the one of its uniqueKey (${id})` };
  const unstorable = unstorableJson(request);
  if (unstorable) return { problem: `its request cannot be stored (${unstorable.replace('the body', 'the request')})` };
  let json = compactJson(e.json);
  if (nestingDepth(json) > MAX_JSON_DEPTH) return { problem: `its request nests deeper than ${MAX_JSON_DEPTH} levels` };
  // Stored as the API stores an added request: id, method and retryCount present (memory-storage
  // writes them all; a file written by hand may lack some), the rest as written.
  const missing = [
    r.id === undefined ? `"id":${JSON.stringify(id)}` : '',
    r.method === undefined ? '"method":"GET"' : '',
    r.retryCount === undefined ? '"retryCount":0' : '',
  ].filter((m) => m !== '');
  if (missing.length > 0) json = `{${missing.join(',')},${json.slice(1)}`;
  const bytes = Buffer.byteLength(json);
  if (bytes > REQUEST_MAX_BYTES)
    return { problem: `the request is ${bytes} bytes, more than the ${REQUEST_MAX_BYTES} an add may carry` };

  const { orderNo } = e;
  if (orderNo !== undefined && orderNo !== null && (typeof orderNo !== 'number' || !Number.isFinite(orderNo))) {
    return { problem: '"orderNo" is neither a number nor null' };
  }
  // memory-storage: 0 and null are handled; a file without one is what it would have written for the request.
  const handled = orderNo === undefined ? handledAt !== null : !orderNo;
  return {
    input: { id, uniqueKey: r.uniqueKey, json, handledAt: handled ? (handledAt ?? Date.now()) : null },
    orderNo: handled ? null : ((orderNo as number | undefined) ?? 0),
  };
}

/** memory-storage's order: `orderNo` ascending; requests added in the same millisecond by id, the one order files keep. */
const byOrder = (a: PlannedRequest, b: PlannedRequest) =>
  (a.orderNo ?? 0) - (b.orderNo ?? 0) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** The request files of one queue folder, every other file reported. */
async function planFolder(dir: string, skip: Report): Promise<Omit<PlannedQueue, 'folder'>> {
  const handled: PlannedRequest[] = [];
  const pending: PlannedRequest[] = [];
  const files: string[] = [];
  for await (const e of await opendir(dir)) {
    // memory-storage locks a file by creating the folder `<file>.lock` beside it.
    if (e.isDirectory() && e.name.endsWith('.lock')) continue;
    // Its metadata names the queue and counts; the folder's name decides, and the counts are recounted.
    if (e.isFile() && e.name === STORE_METADATA_FILE) continue;
    if (!e.isFile()) skip(join(dir, e.name), 'not a regular file');
    else if (e.name.startsWith('.') || !e.name.endsWith('.json')) skip(join(dir, e.name), 'not a request file (<id>.json)');
    else files.push(e.name);
  }
  for (const file of files.sort()) {
    const read = readRequest(join(dir, file));
    if ('problem' in read) skip(join(dir, file), read.problem);
    else (read.orderNo === null ? handled : pending).push({ file, id: read.input.id, orderNo: read.orderNo });
  }
  return { handled, pending: pending.sort(byOrder) };
}

/** The queue folders to import: every folder under request_queues, or those named; each with its requests. */
export async function planQueues(root: string, wanted: string[], skip: Report): Promise<PlannedQueue[]> {
  let entries: string[];
  try {
    entries = (await readdir(root, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    throw new CliError(`${root} is not a folder (expected the layout DIR/${QUEUES_DIR}/<queue>/<request id>.json)`);
  }
  const missing = wanted.filter((w) => !entries.includes(w));
  if (missing.length > 0) throw new CliError(`no request queue folder ${missing.map((m) => join(root, m)).join(', ')}`);
  const plans: PlannedQueue[] = [];
  for (const folder of (wanted.length > 0 ? [...new Set(wanted)] : entries).sort()) {
    if (!isValidStoreName(folder)) {
      skip(join(root, folder), `"${folder}" is not a valid request queue name (${STORE_NAME_RULE}); rename the folder`);
      continue;
    }
    plans.push({ folder, ...(await planFolder(join(root, folder), skip)) });
  }
  return plans;
}

/**
 * Fails unless every queue the plans name is new or empty: a queue that has requests would keep
 * its own where the folder has others. `append` allows it.
 */
export async function checkQueueTargets(kvs: Kvs, user: UserRow, plans: PlannedQueue[], append: boolean): Promise<void> {
  if (append) return;
  for (const { folder } of plans) {
    const existing = await kvs.driver.getStoreByName(user.id, folder, 'queue');
    if (existing && existing.itemCount > 0) {
      throw new CliError(
        `${user.username}'s request queue "${folder}" already has ${existing.itemCount} requests; ` +
          'pass --append to add the ones it lacks, or delete it first',
      );
    }
  }
}

/** The user's queue of that name (created when missing) as its row. */
async function queueNamed(kvs: Kvs, user: UserRow, name: string): Promise<{ queue: StoreRow; created: boolean }> {
  const { store: api, created } = await kvs.queues.getOrCreate(user, name, undefined);
  const queue = await kvs.driver.getStore(api.id);
  if (!queue) throw new CliError(`the request queue "${name}" was deleted while importing`);
  return { queue, created };
}

/** What an import did to one queue. */
interface QueueCounts {
  added: number;
  /** Already in the queue (by uniqueKey): kept as they are, but marked handled when handled in the folder. */
  present: number;
  markedHandled: number;
}

/** Reads planned requests in batches of bounded size; the ones that no longer read are reported. */
function* batchesOf(dir: string, planned: PlannedRequest[], skip: Report, progress: Progress): Generator<QueueRequestInput[]> {
  let batch: QueueRequestInput[] = [];
  let chars = 0;
  for (const p of planned) {
    const read = readRequest(join(dir, p.file));
    if ('problem' in read) {
      skip(join(dir, p.file), read.problem);
      progress.advance();
      continue;
    }
    batch.push(read.input);
    chars += read.input.json.length;
    if (batch.length >= BATCH_REQUESTS || chars >= BATCH_CHARS) {
      yield batch;
      batch = [];
      chars = 0;
    }
  }
  if (batch.length > 0) yield batch;
}

/** Adds a batch; with `append`, a request handled in the folder but pending in the queue is marked handled. */
async function addBatch(
  kvs: Kvs,
  queue: StoreRow,
  batch: QueueRequestInput[],
  forefront: boolean,
  counts: QueueCounts,
  skip: Report,
) {
  const outcomes = await kvs.driver.addRequests(queue.id, batch, forefront, { now: Date.now() });
  if (outcomes === 'no-store') throw new CliError(`the request queue "${queue.name}" was deleted while importing`);
  for (const [i, o] of outcomes.entries()) {
    const input = batch[i];
    if (!o.wasAlreadyPresent) counts.added++;
    else counts.present++;
    if (!input || !o.wasAlreadyPresent || o.wasAlreadyHandled || input.handledAt === null) continue;
    const updated = await kvs.driver.updateRequest(queue.id, input, false, { now: Date.now() });
    if (updated === 'no-store') throw new CliError(`the request queue "${queue.name}" was deleted while importing`);
    if (updated === 'locked')
      skip(`${queue.name}/${input.id}`, 'handled in the folder, but locked by a client in the queue; left pending');
    else counts.markedHandled++;
  }
}

/**
 * Adds one folder's requests to a queue: the handled ones, then the pending ones in their order,
 * the forefront ones (negative `orderNo`) added with forefront so that they stay ahead.
 */
async function importFolder(kvs: Kvs, queue: StoreRow, dir: string, plan: PlannedQueue, skip: Report, progress: Progress) {
  const counts: QueueCounts = { added: 0, present: 0, markedHandled: 0 };
  const forefront = plan.pending.filter((p) => (p.orderNo ?? 0) < 0);
  const back = [...plan.handled, ...plan.pending.filter((p) => (p.orderNo ?? 0) >= 0)];
  for (const batch of batchesOf(dir, back, skip, progress)) {
    await addBatch(kvs, queue, batch, false, counts, skip);
    progress.advance(batch.length);
  }
  // Each forefront add goes before the previous one: batches are taken from the back, each added in its own order.
  for (const batch of batchesOf(dir, forefront.reverse(), skip, progress)) {
    await addBatch(kvs, queue, batch.reverse(), true, counts, skip);
    progress.advance(batch.length);
  }
  return counts;
}

/** Imports planned queue folders into the user's queues named after them; a line per queue. */
export async function importQueues(
  kvs: Kvs,
  user: UserRow,
  root: string,
  plans: PlannedQueue[],
  skip: Report,
  progress: Progress,
): Promise<{ requests: number; lines: string[] }> {
  let requests = 0;
  const lines: string[] = [];
  for (const plan of plans) {
    const { queue, created } = await queueNamed(kvs, user, plan.folder);
    const c = await importFolder(kvs, queue, join(root, plan.folder), plan, skip, progress);
    requests += c.added;
    const what = created ? 'new request queue' : 'existing request queue';
    const present =
      c.present > 0
        ? `; ${c.present} ${c.present === 1 ? 'was' : 'were'} there already` +
          (c.markedHandled > 0 ? ` (${c.markedHandled} now marked handled, as in the folder)` : '')
        : '';
    lines.push(
      `Imported ${c.added} request${c.added === 1 ? '' : 's'} into "${plan.folder}" (${what} ${queue.id}) of ${user.username}${present}.`,
    );
  }
  return { requests, lines };
}
