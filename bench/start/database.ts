import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { BIG_BYTES, BIG_CONTENT_TYPE, recordBody } from '../http/operations.js';
import { sqliteSeeder } from '../http/seed.js';
import { Api } from '../http/stores.js';
import { CLI, spawnServer } from '../http/targets.js';

/** A SQLite database of about 1 GB, made once and kept between runs. */
export interface StartDatabase {
  file: string;
  /** The database file and its large-value files. */
  bytes: number;
  records: number;
  largeRecords: number;
}

const GB = 1024 ** 3;
const LARGE_RECORDS = 16;
const BATCH = 50_000;

function treeBytes(path: string): number {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((sum, name) => sum + treeBytes(join(path, name)), 0);
}

/**
 * The database the start time is measured on: 16 records of 9 MB (files beside the database)
 * written through the API, then 1 KB records written straight into the file until the whole is
 * about 1 GB. Kept under the system's temporary directory; `rebuild` makes it anew.
 */
export async function startDatabase(rebuild: boolean): Promise<StartDatabase> {
  const dir = join(os.tmpdir(), 'openkvs-bench-cache', 'start-1gb');
  const done = join(dir, 'done.json');
  const file = join(dir, 'openkvs.sqlite');
  if (!rebuild && existsSync(done) && existsSync(file)) return JSON.parse(readFileSync(done, 'utf8')) as StartDatabase;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const started = Date.now();
  console.log(`building a 1 GB SQLite database for the start time in ${dir} (once; kept for later runs)`);

  const token = `bench_${randomBytes(24).toString('base64url')}`;
  const server = await spawnServer('openkvs', [
    CLI,
    'serve',
    '--port',
    '0',
    '--storage',
    `sqlite:${file}`,
    '--admin-token',
    token,
  ]);
  let storeId: string;
  try {
    const api = new Api(server.origin, token);
    storeId = await api.createStore('start-time');
    const big = Buffer.alloc(BIG_BYTES, 'a large record of the start-time database\n');
    for (let i = 0; i < LARGE_RECORDS; i++) {
      await api.call('PUT', `/v2/key-value-stores/${storeId}/records/large-${i}`, big, BIG_CONTENT_TYPE);
    }
  } finally {
    await server.stop();
  }

  const seed = sqliteSeeder(file, recordBody());
  const size = () => treeBytes(dir);
  let records = 0;
  while (size() < GB) {
    await seed(
      storeId,
      Array.from({ length: BATCH }, (_, i) => `record-${String(records + i).padStart(8, '0')}`),
    );
    records += BATCH;
  }
  const db = new Database(file);
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  const result: StartDatabase = { file, bytes: size(), records, largeRecords: LARGE_RECORDS };
  writeFileSync(done, `${JSON.stringify(result, null, 2)}\n`);
  console.log(
    `built ${(result.bytes / GB).toFixed(2)} GB (${records.toLocaleString('en')} records of 1 KB) in ${((Date.now() - started) / 1000).toFixed(0)} s`,
  );
  return result;
}
