/**
 * The local storage layout of Crawlee and the Apify CLI (@crawlee/memory-storage 3.x):
 *
 *   DIR/key_value_stores/<store name or id>/<key>.<ext>                the value's bytes
 *   DIR/key_value_stores/<store name or id>/<key>.__metadata__.json    {"extension","key","contentType"}
 *   DIR/key_value_stores/<store name or id>/__metadata__.json          {"id","name","createdAt",…}
 *
 * memory-storage writes metadata files only with `writeMetadata` (off by default); it writes a
 * record's metadata as a JSON string holding the JSON object, but reads it back with a single
 * `JSON.parse`, so we read both shapes and write the plain object, the one its reader understands.
 * It names a value file `<key>` alone when the key already ends in the content type's extension
 * (or is one, like `json`), and reads a file back as the key without its last extension.
 *
 *   DIR/datasets/<dataset name or id>/000000001.json   the first item, JSON.stringify(item, null, '\t')
 *   DIR/datasets/<dataset name or id>/__metadata__.json {"id","accessedAt","createdAt","itemCount",…}
 *
 * Item files are numbered from 1 with at least 9 digits; memory-storage reads items 1 to itemCount
 * by those names (the metadata's itemCount, or else the number of files) and fails on a gap. It
 * writes the dataset's metadata file only with `writeMetadata`, as for stores.
 *
 *   DIR/request_queues/<queue name or id>/<request id>.json  {"id","json","method","orderNo","retryCount","uniqueKey","url"}
 *   DIR/request_queues/<queue name or id>/__metadata__.json  {"accessedAt",…,"pendingRequestCount",…,"forefrontRequestIds"}
 *
 * `json` is the request as a client reads it back (`JSON.stringify({ ...request, id })`). The
 * order is `orderNo`, ascending: the time the request was added, negated for forefront ones (the
 * latest forefront first); null once handled; ± the lock's expiry while locked. memory-storage
 * reads every `*.json` file of the folder as a request, and writes its metadata only with `writeMetadata`.
 */
import { extname } from 'node:path';
import mime from 'mime-types';
import { indentJson } from './json-text.js';

export const STORES_DIR = 'key_value_stores';
export const DATASETS_DIR = 'datasets';
export const QUEUES_DIR = 'request_queues';
export const STORE_METADATA_FILE = '__metadata__.json';
const RECORD_METADATA_SUFFIX = '.__metadata__.json';

/** memory-storage's test for metadata files, the store's and the records'. */
export function isMetadataFile(name: string): boolean {
  return name === STORE_METADATA_FILE || name.includes('.__metadata__.');
}

/** A record's value file: `<key>.<extension of its content type>`, which memory-storage's reader expects. */
export const valueFileName = (key: string, contentType: string) => `${key}.${extensionOf(contentType)}`;
/** A record's metadata file. */
export const metadataFileName = (key: string) => `${key}${RECORD_METADATA_SUFFIX}`;

/** Longest file name most file systems take, in bytes (keys are ASCII). */
const NAME_MAX = 255;

/** Why a record cannot be written to this layout, or undefined when it can. */
export function layoutProblem(key: string, contentType: string): string | undefined {
  if (/(^|\.)__metadata__(\.|$)/.test(key)) return 'its file would read back as a metadata file';
  if (Math.max(valueFileName(key, contentType).length, metadataFileName(key).length) > NAME_MAX) {
    return `the key is too long for a file name (${NAME_MAX} bytes with the extension)`;
  }
  return undefined;
}

/** The extension memory-storage gives a content type (`bin` when it knows none). */
export function extensionOf(contentType: string): string {
  return mime.extension(contentType) || 'bin';
}

/**
 * The content type a file name stands for, by its extension. A name without a dot is looked up
 * whole, as memory-storage writes the key `json` of a JSON record to the file `json`.
 */
export function contentTypeOf(fileName: string): string {
  return mime.contentType(fileName) || 'application/octet-stream';
}

/** The key a value file holds when no metadata says otherwise: its name without the last extension. */
export function keyOf(fileName: string): string {
  const ext = extname(fileName);
  return ext ? fileName.slice(0, -ext.length) : fileName;
}

/** What a record's metadata file says. */
export interface RecordMetadata {
  key: string;
  contentType?: string;
  extension?: string;
}

/** Parses a record's metadata file; `undefined` when it is not one memory-storage could have written. */
export function parseRecordMetadata(fileName: string, text: string): RecordMetadata | undefined {
  let data: unknown;
  try {
    data = JSON.parse(text);
    if (typeof data === 'string') data = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return undefined;
  const { key, contentType, extension } = data as Record<string, unknown>;
  const fallbackKey = fileName.endsWith(RECORD_METADATA_SUFFIX) ? fileName.slice(0, -RECORD_METADATA_SUFFIX.length) : undefined;
  const k = typeof key === 'string' ? key : fallbackKey;
  if (k === undefined) return undefined;
  return {
    key: k,
    contentType: typeof contentType === 'string' ? contentType : undefined,
    extension: typeof extension === 'string' ? extension : undefined,
  };
}

/** The value files a record's metadata may describe, most likely first. */
export function valueFilesOf(meta: RecordMetadata): string[] {
  const ext = meta.extension ?? (meta.contentType ? extensionOf(meta.contentType) : undefined);
  return ext ? [`${meta.key}.${ext}`, meta.key] : [meta.key];
}

/** The store's `__metadata__.json` as memory-storage writes it. */
export function storeMetadata(store: {
  id: string;
  name: string | null;
  createdAt: number;
  modifiedAt: number;
  accessedAt: number;
}) {
  const iso = (ms: number) => new Date(ms).toISOString();
  const data = {
    id: store.id,
    name: store.name ?? undefined,
    accessedAt: iso(store.accessedAt),
    createdAt: iso(store.createdAt),
    modifiedAt: iso(store.modifiedAt),
    userId: '1',
  };
  return JSON.stringify(data, null, '\t');
}

/** A Content-Type that can go out in a response header as it is. */
export function isUsableContentType(value: string): boolean {
  return /^[\t\x20-\x7e]{1,1024}$/.test(value) && value.trim() !== '';
}

/** The file of the item at `position` (0-based) of a dataset. */
export const itemFileName = (position: number) => `${String(position + 1).padStart(9, '0')}.json`;

/** The position (0-based) of the item a file holds, or undefined when memory-storage would not read it as one. */
export function itemPositionOf(fileName: string): number | undefined {
  const match = /^(\d{9,})\.json$/.exec(fileName);
  const n = match ? Number(match[1]) : 0;
  return n >= 1 && Number.isSafeInteger(n) && itemFileName(n - 1) === fileName ? n - 1 : undefined;
}

/**
 * An item file as memory-storage writes it: `JSON.stringify(item, null, '\t')` of the item parsed
 * from its stored text. Texts a JavaScript client pushed take the native path; others (numbers or
 * escapes JavaScript would write differently, keys in another order) keep their tokens as stored.
 */
export function itemFileText(stored: string): string {
  const value: unknown = JSON.parse(stored);
  return JSON.stringify(value) === stored ? JSON.stringify(value, null, '\t') : indentJson(stored);
}

/** The dataset's `__metadata__.json` as memory-storage writes it (its `toDatasetInfo()`). */
export function datasetMetadata(dataset: {
  id: string;
  name: string | null;
  createdAt: number;
  modifiedAt: number;
  accessedAt: number;
  itemCount: number;
}) {
  const iso = (ms: number) => new Date(ms).toISOString();
  const data = {
    id: dataset.id,
    accessedAt: iso(dataset.accessedAt),
    createdAt: iso(dataset.createdAt),
    itemCount: dataset.itemCount,
    modifiedAt: iso(dataset.modifiedAt),
    name: dataset.name ?? undefined,
  };
  return JSON.stringify(data, null, '\t');
}

/** The file of a request of a queue. */
export const requestFileName = (id: string) => `${id}.json`;

/**
 * A request file as memory-storage writes it: its internal entry, made from the request's JSON
 * (`method`, `retryCount` and `url` are the request's own), tab-indented.
 */
export function requestFileText(request: { id: string; uniqueKey: string; json: string }, orderNo: number | null): string {
  const r = JSON.parse(request.json) as { method?: unknown; retryCount?: unknown; url?: unknown };
  const entry = {
    id: request.id,
    json: request.json,
    method: r.method,
    orderNo,
    retryCount: r.retryCount ?? 0,
    uniqueKey: request.uniqueKey,
    url: r.url,
  };
  return JSON.stringify(entry, null, '\t');
}

/** The queue's `__metadata__.json` as memory-storage writes it (its `toRequestQueueInfo()` and forefront ids). */
export function queueMetadata(
  queue: {
    id: string;
    name: string | null;
    createdAt: number;
    modifiedAt: number;
    accessedAt: number;
    hadMultipleClients: boolean;
  },
  counts: { handled: number; pending: number },
) {
  const iso = (ms: number) => new Date(ms).toISOString();
  const data = {
    accessedAt: iso(queue.accessedAt),
    createdAt: iso(queue.createdAt),
    hadMultipleClients: queue.hadMultipleClients,
    handledRequestCount: counts.handled,
    id: queue.id,
    modifiedAt: iso(queue.modifiedAt),
    name: queue.name ?? undefined,
    pendingRequestCount: counts.pending,
    stats: {},
    totalRequestCount: counts.handled + counts.pending,
    userId: '1',
    // Exported orderNos are all positive, in queue order: no request needs to be named as forefront.
    forefrontRequestIds: [],
  };
  return JSON.stringify(data, null, '\t');
}
