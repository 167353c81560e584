import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeKeys } from '../fixtures.js';
import { type BenchDatasets, createBenchDatasets, pushBody } from './datasets.js';
import {
  BIG_BYTES,
  BIG_CONTENT_TYPE,
  BIG_KEY,
  DATASET_PAGE,
  HOT_KEYS,
  itemsPath,
  PAGE_KEYS,
  QUEUE_BATCH,
  RECORD_CONTENT_TYPE,
  RECORD_KEY,
  recordBody,
} from './operations.js';
import { type BenchQueues, batchBody, createBenchQueues, createQueue } from './queues.js';
import type { Seeder } from './seed.js';

/** The stores one openkvs target is measured on (ids). */
export interface BenchStores {
  records: string;
  keys: string;
  deletes: string;
  /** Stores of more keys than `keys`, by their number of keys (100,000 and 1,000,000). */
  large: Map<number, LargeStore>;
  /** Whether `records` holds the 9 MB record `BIG_KEY`. */
  big: boolean;
  /** The datasets, when the run has the dataset rows. */
  datasets?: BenchDatasets;
  /** The request queues, when the run has the queue rows. */
  queues?: BenchQueues;
}

/** A store of many keys and where its pages start. */
export interface LargeStore {
  id: string;
  /** The key before the page in the middle of the store. */
  middleKey: string;
  /**
   * `exclusiveStartKey`s of pages spread evenly over the store: a client reading through a store
   * reads a page once, so these pages are what a server cannot have cached.
   */
  spreadKeys: string[];
}

/** Pages in the spread of a large store. */
export const SPREAD_PAGES = 200;

/** What else a run needs beside the stores every run has. */
export interface StoreNeeds {
  /** Sizes of the larger key stores, seeded straight into the storage. */
  keyStoreSizes: readonly number[];
  /** The 9 MB record. */
  big: boolean;
  /** The datasets of the dataset rows (seeded through the API). */
  datasets: boolean;
  /** The request queues of the queue rows (seeded through the API), with the large queue's size; 0 for none. */
  queues: number;
  seed: Seeder;
  /** Lets the storage finish its own work on what was seeded, before anything is measured. */
  settle?: () => Promise<void>;
}

/** A response as the bare server replays it: status, headers and the body in base64. */
export interface CannedResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** A file holding the body instead (the 100 MB CSV download), when `body` is empty. */
  bodyFile?: string;
}

/** What openkvs answered to each kind of request; the bare server answers with the same bytes. */
export interface CannedResponses {
  record: CannedResponse;
  store: CannedResponse;
  keys: CannedResponse;
  /** The 9 MB record, when the run reads it. */
  big?: CannedResponse;
  put: CannedResponse;
  delete: CannedResponse;
  /** The dataset rows: a push's answer, the page of 1000 items at offset 0, and the CSV download. */
  push?: CannedResponse;
  items?: CannedResponse;
  csv?: CannedResponse;
  /** The queue rows: a batch add of 25 new requests, a head lock of 25, a request PUT back handled. */
  queueBatch?: CannedResponse;
  queueLock?: CannedResponse;
  queuePut?: CannedResponse;
}

/** Headers that belong to the connection, not the response; node:http writes its own. */
const HOP_HEADERS = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding']);

/** A minimal client of one openkvs for setting up the stores. */
export class Api {
  readonly #origin: string;
  readonly #token: string;

  constructor(origin: string, token: string) {
    this.#origin = origin;
    this.#token = token;
  }

  async call(
    method: string,
    path: string,
    body?: Buffer,
    contentType = RECORD_CONTENT_TYPE,
  ): Promise<{ res: Response; bytes: Buffer }> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.#token}` };
    if (body) headers['content-type'] = contentType;
    const res = await fetch(`${this.#origin}${path}`, { method, headers, body });
    const bytes = Buffer.from(await res.arrayBuffer());
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${bytes.toString().slice(0, 200)}`);
    return { res, bytes };
  }

  async createStore(name: string): Promise<string> {
    const { bytes } = await this.call('POST', `/v2/key-value-stores?name=${name}`);
    return (JSON.parse(bytes.toString()) as { data: { id: string } }).data.id;
  }

  /** The store object's `stats` (pending read counters included). */
  async stats(storeId: string): Promise<{ writeCount: number; deleteCount: number; storageBytes: number }> {
    const { bytes } = await this.call('GET', `/v2/key-value-stores/${storeId}`);
    return (
      JSON.parse(bytes.toString()) as { data: { stats: { writeCount: number; deleteCount: number; storageBytes: number } } }
    ).data.stats;
  }

  /** PUTs `keys` with the 1 KB body, 16 at a time. */
  async putAll(storeId: string, keys: readonly string[]): Promise<void> {
    const body = recordBody();
    let next = 0;
    const worker = async () => {
      while (next < keys.length) {
        const key = keys[next++]!;
        await this.call('PUT', `/v2/key-value-stores/${storeId}/records/${key}`, body);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
  }
}

const numbered = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(4, '0')}`);

/** Keys a seeder writes in one call (one transaction on SQLite). */
const SEED_BATCH = 50_000;

/**
 * Creates the benchmark stores through the API, as a client would; the stores of 100,000 keys and
 * more are seeded straight into the storage (PUTting a million keys would take minutes).
 */
export async function createBenchStores(api: Api, needs: StoreNeeds): Promise<BenchStores> {
  const stores: BenchStores = {
    records: await api.createStore('bench-records'),
    keys: await api.createStore('bench-keys'),
    deletes: await api.createStore('bench-deletes'),
    large: new Map(),
    big: needs.big,
  };
  for (const size of needs.keyStoreSizes) {
    const id = await api.createStore(`bench-keys-${size}`);
    const keys = makeKeys(size, `bench-keys-${size}`);
    for (let from = 0; from < size; from += SEED_BATCH) await needs.seed(id, keys.slice(from, from + SEED_BATCH));
    const spreadKeys = Array.from({ length: SPREAD_PAGES }, (_, i) => keys[Math.floor((i * (size - PAGE_KEYS)) / SPREAD_PAGES)]!);
    stores.large.set(size, { id, middleKey: keys[(size >> 1) - 1]!, spreadKeys });
  }
  if (needs.datasets) stores.datasets = await createBenchDatasets(api);
  if (needs.queues > 0) stores.queues = await createBenchQueues(api, needs.queues);
  if (needs.keyStoreSizes.length > 0 || needs.datasets || needs.queues > 0) await needs.settle?.();
  if (needs.big) {
    const body = Buffer.alloc(BIG_BYTES, 'openkvs 9 MB benchmark record\n');
    await api.call('PUT', `/v2/key-value-stores/${stores.records}/records/${BIG_KEY}`, body, BIG_CONTENT_TYPE);
  }
  await api.putAll(stores.records, [RECORD_KEY, ...Array.from({ length: HOT_KEYS }, (_, i) => `hot-${i}`)]);
  await api.putAll(stores.keys, numbered('key-', PAGE_KEYS));
  const page = await api.call('GET', `/v2/key-value-stores/${stores.keys}/keys?limit=${PAGE_KEYS}`);
  const count = (JSON.parse(page.bytes.toString()) as { data: { count: number } }).data.count;
  if (count !== PAGE_KEYS) throw new Error(`the keys store lists ${count} keys, not ${PAGE_KEYS}`);
  return stores;
}

async function capture(api: Api, method: string, path: string, body?: Buffer, contentType?: string): Promise<CannedResponse> {
  const { res, bytes } = await api.call(method, path, body, contentType);
  const headers: Record<string, string> = {};
  res.headers.forEach((value, name) => {
    if (!HOP_HEADERS.has(name)) headers[name] = value;
  });
  return { status: res.status, headers, body: bytes.toString('base64') };
}

/**
 * Records openkvs's answers to the measured requests, for the bare server to replay; the CSV
 * download's body goes to a file in `dir`.
 */
export async function captureResponses(api: Api, stores: BenchStores, dir?: string): Promise<CannedResponses> {
  const record = await capture(api, 'GET', `/v2/key-value-stores/${stores.records}/records/${RECORD_KEY}`);
  if (Buffer.from(record.body, 'base64').length !== recordBody().length) throw new Error('GET record: wrong length');
  const probe = `/v2/key-value-stores/${stores.deletes}/records/capture-probe`;
  let big: CannedResponse | undefined;
  if (stores.big) {
    big = await capture(api, 'GET', `/v2/key-value-stores/${stores.records}/records/${BIG_KEY}`);
    if (Buffer.from(big.body, 'base64').length !== BIG_BYTES) throw new Error('GET 9 MB record: wrong length');
  }
  let datasets: Pick<CannedResponses, 'push' | 'items' | 'csv'> = {};
  if (stores.datasets && dir) {
    const d = stores.datasets;
    // Pushed to the push dataset, which the push rows append to anyway.
    const push = await capture(api, 'POST', `/v2/datasets/${d.push}/items`, pushBody(0), 'application/json');
    const items = await capture(api, 'GET', itemsPath(d.items, 0));
    if ((JSON.parse(Buffer.from(items.body, 'base64').toString()) as unknown[]).length !== DATASET_PAGE) {
      throw new Error('GET items: wrong count');
    }
    const csv = await capture(api, 'GET', `/v2/datasets/${d.csv}/items?format=csv`);
    const bodyFile = join(dir, 'items.csv');
    writeFileSync(bodyFile, Buffer.from(csv.body, 'base64'));
    datasets = { push, items, csv: { ...csv, body: '', bodyFile } };
  }
  let queues: Pick<CannedResponses, 'queueBatch' | 'queueLock' | 'queuePut'> = {};
  if (stores.queues) {
    // A queue of its own, so that the measured queues stay as seeded.
    const id = await createQueue(api, 'bench-capture');
    const queueBatch = await capture(
      api,
      'POST',
      `/v2/request-queues/${id}/requests/batch`,
      batchBody('capture', 0),
      'application/json',
    );
    const lockPath = `/v2/request-queues/${id}/head/lock?limit=${QUEUE_BATCH}&lockSecs=60&clientKey=bench-capture`;
    const queueLock = await capture(api, 'POST', lockPath);
    type Locked = { id: string; uniqueKey: string; url: string; method: string; retryCount?: number };
    const item = (JSON.parse(Buffer.from(queueLock.body, 'base64').toString()) as { data: { items: Locked[] } }).data.items[0];
    if (!item) throw new Error('POST head/lock: no request locked');
    // As the drains PUT it (queue-runs.ts).
    const { id: requestId, uniqueKey, url, method, retryCount = 0 } = item;
    const handledAt = new Date().toISOString();
    const handled = Buffer.from(JSON.stringify({ id: requestId, uniqueKey, url, method, retryCount, handledAt }));
    const queuePut = await capture(
      api,
      'PUT',
      `/v2/request-queues/${id}/requests/${requestId}?clientKey=bench-capture`,
      handled,
      'application/json',
    );
    queues = { queueBatch, queueLock, queuePut };
  }
  return {
    ...datasets,
    ...queues,
    record,
    big,
    store: await capture(api, 'GET', `/v2/key-value-stores/${stores.keys}`),
    keys: await capture(api, 'GET', `/v2/key-value-stores/${stores.keys}/keys?limit=${PAGE_KEYS}`),
    put: await capture(api, 'PUT', probe, recordBody()),
    delete: await capture(api, 'DELETE', probe),
  };
}
