import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { newId } from '../../src/domain/ids.js';
import type { StorageDriver } from '../../src/storage/driver.js';
import { PostgresDriver } from '../../src/storage/postgres/index.js';
import { MIGRATIONS as PG_MIGRATIONS } from '../../src/storage/postgres/migrations.js';
import { SqliteDriver } from '../../src/storage/sqlite/index.js';
import { MIGRATIONS as SQLITE_MIGRATIONS } from '../../src/storage/sqlite/migrations.js';
import { freshSchema } from '../helpers/postgres.js';
import { sleep } from '../helpers/time.js';
import { storeRow } from './suite.js';

/** The version before datasets: its stores are key-value stores, named per user only. */
const BEFORE_DATASETS = 6;

const STORE_COLUMNS = 'id, user_id, name, title, created_at, modified_at, accessed_at, general_access, schema, signing_secret';

/** Rows of a user with a named and an unnamed key-value store, as version 6 wrote them. */
function legacyRows() {
  const user = { id: newId(), username: 'legacy', createdAt: 1 };
  // Created a millisecond apart: lists are in creation order.
  const stores = [storeRow(user.id, 'shared'), storeRow(user.id, null)].map((s, i) => [
    s.id,
    s.userId,
    s.name,
    s.title,
    s.createdAt + i,
    s.modifiedAt,
    s.accessedAt,
    s.generalAccess,
    s.schema,
    s.urlSigningSecretKey,
  ]);
  return { user, stores, ids: stores.map((s) => s[0] as string) };
}

/** What an upgraded storage must show: the old stores are key-value stores, and names are per kind. */
async function expectUpgraded(driver: StorageDriver, userId: string, ids: string[]): Promise<void> {
  const named = await driver.getStoreByName(userId, 'shared', 'kvs');
  expect(named).toMatchObject({ id: ids[0], kind: 'kvs', itemCount: 0, cleanItemCount: 0 });
  expect(await driver.getStoreByName(userId, 'shared', 'dataset')).toBeUndefined();
  expect((await driver.lookupRequest({ kind: 'kvs', store: { id: ids[1] as string } })).store?.kind).toBe('kvs');
  expect((await driver.createStore(storeRow(userId, 'shared', 'kvs'))).created).toBe(false);
  const dataset = await driver.createStore(storeRow(userId, 'shared', 'dataset'));
  expect(dataset.created).toBe(true);
  expect(await driver.pushItems(dataset.store.id, ['{"a":1}'], 1, Date.now())).toBe('ok');
  const list = { userId, offset: 0, limit: 10, desc: false, unnamed: true } as const;
  expect((await driver.listStores({ ...list, kind: 'kvs' })).items.map((s) => s.id)).toEqual(ids);
  expect((await driver.listStores({ ...list, kind: 'dataset' })).total).toBe(1);
}

describe('upgrading a storage written before datasets', () => {
  it('sqlite', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'openkvs-upgrade-'));
    const path = join(dir, 'kvs.sqlite');
    try {
      const db = new Database(path);
      db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
      for (const m of SQLITE_MIGRATIONS.filter((m) => m.version <= BEFORE_DATASETS)) {
        db.exec(m.sql);
        db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(m.version, 1);
      }
      const { user, stores, ids } = legacyRows();
      db.prepare('INSERT INTO users (id, username, created_at) VALUES (?, ?, ?)').run(user.id, user.username, user.createdAt);
      for (const s of stores) db.prepare(`INSERT INTO stores (${STORE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(...s);
      db.close();
      const driver = new SqliteDriver({ path });
      try {
        await expectUpgraded(driver, user.id, ids);
      } finally {
        await driver.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('postgres', async () => {
    const schema = await freshSchema();
    const sql = postgres(schema.url, { max: 1, onnotice: () => undefined });
    try {
      await sql`CREATE TABLE schema_migrations (version integer PRIMARY KEY, applied_at bigint NOT NULL)`;
      for (const m of PG_MIGRATIONS.filter((m) => m.version <= BEFORE_DATASETS)) {
        if (m.sql) await sql.unsafe(m.sql);
        await sql`INSERT INTO schema_migrations (version, applied_at) VALUES (${m.version}, 1)`;
      }
      const { user, stores, ids } = legacyRows();
      await sql`INSERT INTO users (id, username, created_at) VALUES (${user.id}, ${user.username}, ${user.createdAt})`;
      for (const s of stores)
        await sql.unsafe(`INSERT INTO stores (${STORE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, s as never[]);
      const driver = await PostgresDriver.connect({ url: schema.url, poolSize: 2, sweepIntervalMs: 0 });
      try {
        await expectUpgraded(driver, user.id, ids);
      } finally {
        await driver.close();
      }
    } finally {
      await sql.end();
      await schema.drop();
    }
  });
});

describe('postgres: deleting a user while a push to their dataset is in flight', () => {
  it('waits for the push and deletes its items too', async () => {
    const schema = await freshSchema();
    const driver = await PostgresDriver.connect({ url: schema.url, poolSize: 2, sweepIntervalMs: 0 });
    const other = postgres(schema.url, { max: 2, onnotice: () => undefined });
    try {
      const user = { id: newId(), username: 'pusher', createdAt: Date.now() };
      await driver.createUser(user);
      const { store } = await driver.createStore(storeRow(user.id, null, 'dataset'));
      // Another node's push, held open inside its transaction with the dataset's row locked.
      let commit!: () => void;
      const committed = new Promise<void>((resolve) => {
        commit = resolve;
      });
      let pushed!: (pid: number) => void;
      const inFlight = new Promise<number>((resolve) => {
        pushed = resolve;
      });
      const push = other.begin(async (tx) => {
        await tx`SELECT openkvs_push_items(${store.id}, ${['{"late":1}']}::text[], 1, 10, ${Date.now()}::bigint)`;
        const [row] = await tx`SELECT pg_backend_pid() AS pid`;
        pushed(row?.pid as number);
        await committed;
      });
      const pid = await inFlight;
      const deleting = driver.deleteUser(user.id);
      // The delete waits for a lock the push holds (polled, not timed): only then does the push commit.
      for (;;) {
        const [row] = await other`SELECT count(*)::int AS n FROM pg_stat_activity WHERE ${pid}::int = ANY(pg_blocking_pids(pid))`;
        if ((row?.n as number) > 0) break;
        await sleep(10);
      }
      commit();
      await push;
      expect(await deleting).toBe(true);
      const [left] = await other`SELECT count(*)::int AS n FROM dataset_items WHERE store_id = ${store.id}`;
      expect(left?.n).toBe(0);
    } finally {
      await other.end();
      await driver.close();
      await schema.drop();
    }
  });
});
