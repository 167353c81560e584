/** openkvs's captured answers (`captureResponses`), as the baseline servers send them. */
import { readFileSync } from 'node:fs';
import type { CannedResponse, CannedResponses } from './stores.js';

export interface Prepared {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export interface PreparedResponses {
  record: Prepared;
  store: Prepared;
  keys: Prepared;
  big: Prepared | undefined;
  put: Prepared;
  del: Prepared;
  /** The dataset rows, when the run has them. */
  push: Prepared | undefined;
  items: Prepared | undefined;
  csv: Prepared | undefined;
  /** The queue rows, when the run has them. */
  queueBatch: Prepared | undefined;
  queueLock: Prepared | undefined;
  queuePut: Prepared | undefined;
}

/** Reads the JSON file of captured answers that a baseline server is started with. */
export function loadCanned(file: string): PreparedResponses {
  const canned = JSON.parse(readFileSync(file, 'utf8')) as CannedResponses;
  const prepare = (c: CannedResponse): Prepared => ({
    status: c.status,
    headers: c.headers,
    body: c.bodyFile ? readFileSync(c.bodyFile) : Buffer.from(c.body, 'base64'),
  });
  const optional = (c: CannedResponse | undefined) => (c ? prepare(c) : undefined);
  return {
    record: prepare(canned.record),
    store: prepare(canned.store),
    keys: prepare(canned.keys),
    big: canned.big ? prepare(canned.big) : undefined,
    put: prepare(canned.put),
    del: prepare(canned.delete),
    push: optional(canned.push),
    items: optional(canned.items),
    csv: optional(canned.csv),
    queueBatch: optional(canned.queueBatch),
    queueLock: optional(canned.queueLock),
    queuePut: optional(canned.queuePut),
  };
}
