import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import type { SqliteDriver } from '../src/storage/sqlite/index.js';

/** Every record of the benchmark stores: a small JSON value, inline in the table as most records are. */
export const VALUE = Buffer.from(JSON.stringify({ url: 'https://example.com/some/page', status: 200 }));
/** The ETag the server gives VALUE: SHA-256 of the bytes, base64url. */
const VALUE_ETAG = createHash('sha256').update(VALUE).digest('base64url');
export const CONTENT_TYPE = 'application/json; charset=utf-8';

/**
 * `n` distinct keys that look like the hashes crawlers use as keys, in UTF-8 byte order (they are
 * ASCII, so JavaScript's default sort is byte order).
 */
export function makeKeys(n: number, seed: string): string[] {
  const keys: string[] = new Array(n);
  for (let i = 0; i < n; i++) keys[i] = createHash('sha256').update(`${seed}:${i}`).digest('base64url').slice(0, 24);
  return keys.sort();
}

async function* single(chunk: Buffer): AsyncGenerator<Buffer> {
  yield chunk;
}

/** Writes the records the way the server does: `stageValue` then `putRecord`, one transaction each. */
export async function loadViaDriver(driver: SqliteDriver, storeId: string, keys: readonly string[]): Promise<void> {
  for (const key of keys) {
    const staged = await driver.stageValue(storeId, single(VALUE), VALUE.length);
    const meta = {
      contentType: CONTENT_TYPE,
      contentEncoding: null,
      decodedSize: VALUE.length,
      etag: VALUE_ETAG,
      now: Date.now(),
    };
    if ((await driver.putRecord(storeId, key, meta, staged)) !== 'ok') throw new Error(`store ${storeId} vanished while loading`);
  }
}

const RECORD_COLUMNS = [
  'store_id',
  'key',
  'size',
  'content_type',
  'content_encoding',
  'decoded_size',
  'modified_at',
  'blob_path',
  'etag',
  'value_id',
];

/**
 * The same rows as `loadViaDriver`, written by a second connection to the SQLite file in large
 * transactions (a million `putRecord` calls would take minutes). Benchmark
 * code only: it knows the `records` and `record_values` tables of migration 5, checks that the
 * table still matches, and keeps the store's counters as `putRecord` would.
 */
export function bulkLoad(file: string, storeId: string, keys: readonly string[]): void {
  const db = new Database(file);
  try {
    db.pragma('busy_timeout = 5000');
    const columns = (db.prepare('PRAGMA table_info(records)').all() as { name: string }[]).map((c) => c.name);
    if (columns.join() !== RECORD_COLUMNS.join()) {
      throw new Error(`bench/fixtures.ts knows records(${RECORD_COLUMNS.join()}), the schema now has (${columns.join()})`);
    }
    const insert = db.prepare(`INSERT INTO records (${RECORD_COLUMNS.join(', ')}) VALUES (?, ?, ?, ?, NULL, ?, ?, NULL, ?, ?)`);
    const insertValue = db.prepare('INSERT INTO record_values (data) VALUES (?)');
    const counters = db.prepare(
      'UPDATE stores SET storage_bytes = storage_bytes + ?, write_count = write_count + ?, modified_at = ? WHERE id = ?',
    );
    const batch = db.transaction((from: number, to: number) => {
      const now = Date.now();
      for (let i = from; i < to; i++)
        insert.run(
          storeId,
          keys[i],
          VALUE.length,
          CONTENT_TYPE,
          VALUE.length,
          now,
          VALUE_ETAG,
          insertValue.run(VALUE).lastInsertRowid,
        );
      counters.run((to - from) * VALUE.length, to - from, now, storeId);
    });
    const BATCH = 50_000;
    for (let from = 0; from < keys.length; from += BATCH) batch(from, Math.min(from + BATCH, keys.length));
  } finally {
    db.close();
  }
}
