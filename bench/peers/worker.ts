/**
 * The in-process peers, measured in a process of their own: Crawlee's `@crawlee/memory-storage`
 * (persisting to disk: every record written through to a file) and `@apify/storage-local` (files
 * only), each through its key-value store client, doing what the HTTP benchmark asks of openkvs:
 * get a 1 KB record, set a 1 KB record over an existing key, list a page of 1000 keys. Prints its
 * runs as one JSON line starting with `@@peers `.
 *
 *   node dist-bench/bench/peers/worker.js '{"seconds":2,"rounds":5,"warmup":1,"concurrency":[1,32]}'
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { ApifyStorageLocal } from '@apify/storage-local';
import { MemoryStorage } from '@crawlee/memory-storage';
import { HOT_KEYS, PAGE_KEYS, RECORD_CONTENT_TYPE, RECORD_KEY, recordBody } from '../http/operations.js';
import { PEER_NAMES, PEER_OPS, type PeerName, type PeerOp, type PeerRun, type PeerSettings } from './types.js';

/** What both clients have in common, as far as the benchmark uses it. */
interface KvsClient {
  getRecord(key: string, options: { buffer: true }): Promise<{ value: unknown } | undefined>;
  setRecord(record: { key: string; value: Buffer; contentType: string }): Promise<void>;
  listKeys(options: { limit: number }): Promise<{ items: unknown[] }>;
}
interface StorageClient {
  keyValueStores(): { getOrCreate(name: string): Promise<{ id: string }> };
  keyValueStore(id: string): unknown;
}

const settings = JSON.parse(process.argv[2] ?? '{}') as PeerSettings;
const body = recordBody();

async function open(name: PeerName, dir: string): Promise<{ records: KvsClient; keys: KvsClient }> {
  const client: StorageClient =
    name === 'memory-storage'
      ? (new MemoryStorage({ localDataDirectory: dir, persistStorage: true, writeMetadata: false }) as unknown as StorageClient)
      : (new ApifyStorageLocal({ storageDir: dir }) as unknown as StorageClient);
  const store = async (storeName: string) =>
    client.keyValueStore((await client.keyValueStores().getOrCreate(storeName)).id) as KvsClient;
  const records = await store('bench-records');
  const keys = await store('bench-keys');
  const put = (c: KvsClient, key: string) => c.setRecord({ key, value: body, contentType: RECORD_CONTENT_TYPE });
  await put(records, RECORD_KEY);
  for (let i = 0; i < HOT_KEYS; i++) await put(records, `hot-${i}`);
  for (let i = 0; i < PAGE_KEYS; i++) await put(keys, `key-${String(i).padStart(4, '0')}`);
  return { records, keys };
}

/** One call of `op`, checked: a benchmark of a call that fails would measure nothing. */
function operation(op: PeerOp, c: { records: KvsClient; keys: KvsClient }): (i: number) => Promise<void> {
  switch (op) {
    case 'get':
      return async () => {
        const r = await c.records.getRecord(RECORD_KEY, { buffer: true });
        if (!Buffer.isBuffer(r?.value) || r.value.length !== body.length) throw new Error('get: wrong record');
      };
    case 'set':
      return (i) => c.records.setRecord({ key: `hot-${i % HOT_KEYS}`, value: body, contentType: RECORD_CONTENT_TYPE });
    case 'list':
      return async () => {
        const page = await c.keys.listKeys({ limit: PAGE_KEYS });
        if (page.items.length !== PAGE_KEYS) throw new Error(`list: ${page.items.length} keys`);
      };
  }
}

/** Calls `fn` from `concurrency` loops for `seconds`; operations per second. */
async function rate(
  fn: (i: number) => Promise<void>,
  concurrency: number,
  seconds: number,
): Promise<{ ops: number; rate: number }> {
  let next = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(seconds * 1e9));
  const loop = async () => {
    while (process.hrtime.bigint() < deadline) await fn(next++);
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  return { ops: next, rate: next / elapsed };
}

const dirs: string[] = [];
try {
  const peers = new Map<PeerName, { records: KvsClient; keys: KvsClient }>();
  for (const name of PEER_NAMES) {
    const dir = mkdtempSync(join(os.tmpdir(), `openkvs-bench-${name}-`));
    dirs.push(dir);
    peers.set(name, await open(name, dir));
  }
  const runs: PeerRun[] = [];
  const measure = async (round: number, seconds: number) => {
    for (const op of PEER_OPS) {
      // Each round starts with the other peer.
      const order = round % 2 ? [...PEER_NAMES].reverse() : PEER_NAMES;
      for (const peer of order) {
        for (const concurrency of settings.concurrency) {
          const r = await rate(operation(op, peers.get(peer)!), concurrency, seconds);
          runs.push({ peer, op, concurrency, round, ...r });
        }
      }
    }
  };
  if (settings.warmup > 0) await measure(-1, settings.warmup);
  for (let r = 0; r < settings.rounds; r++) await measure(r, settings.seconds);
  console.log(`@@peers ${JSON.stringify(runs)}`);
} finally {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}
