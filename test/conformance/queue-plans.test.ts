import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { newId } from '../../src/domain/ids.js';
import type { QueueRequestInput, StorageDriver } from '../../src/storage/driver.js';
import { PostgresDriver } from '../../src/storage/postgres/index.js';
import { HEAD_SQL as PG_HEAD_SQL } from '../../src/storage/postgres/queues.js';
import { SqliteDriver } from '../../src/storage/sqlite/index.js';
import {
  LATEST_LOCK_SQL,
  LOCK_CANDIDATES_SQL,
  HEAD_SQL as SQLITE_HEAD_SQL,
  UNLOCK_SQL,
} from '../../src/storage/sqlite/queues.js';
import { freshSchema } from '../helpers/postgres.js';
import { storeRow } from './suite.js';

type PlanNode = { 'Node Type': string; Plans?: PlanNode[] } & Record<string, unknown>;

/** A plan's nodes, the root first. */
function planNodes(node: PlanNode | undefined): PlanNode[] {
  return node ? [node, ...(node.Plans ?? []).flatMap(planNodes)] : [];
}

const T0 = 1_800_000_000_000;
const TOTAL = 100_000;
const HANDLED = 90_000;

/**
 * Two queues of 100,000 requests, the first 90,000 of each handled: the head must be found past
 * them through the index of pending requests, not by reading them. Returns the first queue's id.
 */
async function seed(driver: StorageDriver): Promise<string> {
  const user = { id: newId(), username: `u${newId().toLowerCase()}`, createdAt: T0 };
  await driver.createUser(user);
  const ids: string[] = [];
  for (let q = 0; q < 2; q++) {
    const { store } = await driver.createStore(storeRow(user.id, null, 'queue'));
    for (let from = 0; from < TOTAL; from += 5000) {
      const batch = Array.from({ length: 5000 }, (_, j): QueueRequestInput => {
        const i = from + j;
        const id = `q${q}r${String(i).padStart(6, '0')}`;
        return {
          id,
          uniqueKey: `https://example.com/${q}/${i}`,
          json: `{"id":"${id}","i":${i}}`,
          handledAt: i < HANDLED ? T0 : null,
        };
      });
      expect(await driver.addRequests(store.id, batch, false, { now: T0 })).toHaveLength(5000);
    }
    ids.push(store.id);
  }
  const id = ids[0] as string;
  expect(await driver.getStore(id)).toMatchObject({ itemCount: TOTAL, handledCount: HANDLED });
  return id;
}

describe('the head of a queue is read from the front of its pending requests, O(limit)', () => {
  it('sqlite: the head and the lock of the head search the pending index in its order', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'openkvs-plan-'));
    const path = join(dir, 'kvs.sqlite');
    const driver = new SqliteDriver({ path });
    try {
      const id = await seed(driver);
      const head = await driver.listHead(id, 10, { now: T0 });
      expect(head.map((r) => r.id)).toEqual(Array.from({ length: 10 }, (_, j) => `q0r${String(HANDLED + j).padStart(6, '0')}`));
      const locked = await driver.lockHead(id, 5, 1000, { now: T0, clientKey: 'x' });
      expect(locked).toMatchObject({ items: head.slice(0, 5).map((r) => ({ id: r.id })) });
      const db = new Database(path, { readonly: true });
      try {
        const plan = (sql: string, params: Record<string, unknown>) =>
          (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(params) as { detail: string }[]).map((p) => p.detail);
        const pending = ['SEARCH queue_requests USING INDEX queue_requests_pending (store_id=?)'];
        expect(plan(SQLITE_HEAD_SQL, { id, now: T0, client: null, limit: 10 })).toEqual(pending);
        expect(plan(LOCK_CANDIDATES_SQL, { id, now: T0, limit: 10 })).toEqual(pending);
        expect(plan(LATEST_LOCK_SQL, { id })).toEqual([
          'SEARCH queue_requests USING COVERING INDEX queue_requests_locks (store_id=? AND lock_expires_at>?)',
        ]);
        expect(plan(UNLOCK_SQL, { id, now: T0, client: 'x' })).toEqual([
          'SEARCH queue_requests USING INDEX queue_requests_locks (store_id=? AND lock_expires_at>?)',
        ]);
      } finally {
        db.close();
      }
    } finally {
      await driver.close();
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('postgres: an index scan of the pending requests, and a lock that reads a few pages', async () => {
    const schema = await freshSchema();
    const driver = await PostgresDriver.connect({ url: schema.url, poolSize: 2, sweepIntervalMs: 0 });
    const sql = postgres(schema.url, { max: 1, onnotice: () => undefined });
    try {
      const id = await seed(driver);
      await sql`ANALYZE queue_requests`;
      const [row] = await sql.unsafe(`EXPLAIN (ANALYZE, FORMAT JSON) ${PG_HEAD_SQL}`, [id, T0, null, 10]);
      const nodes = planNodes((row?.['QUERY PLAN'] as { Plan: PlanNode }[] | undefined)?.[0]?.Plan);
      expect(nodes.filter((n) => n['Node Type'] === 'Seq Scan' || n['Node Type'] === 'Sort')).toEqual([]);
      const scan = nodes.find((n) => n['Index Name'] === 'queue_requests_pending');
      expect(scan?.['Node Type']).toBe('Index Scan');
      expect(scan?.['Actual Rows']).toBe(10);
      expect(nodes.filter((n) => n['Rows Removed by Filter'])).toEqual([]);

      // Prepared statements and functions switch to generic plans (planned without the values)
      // after a few calls: those must take the same path.
      await sql`SET plan_cache_mode = force_generic_plan`;
      await sql.unsafe(`PREPARE head(text, bigint, text, integer) AS ${PG_HEAD_SQL}`);
      const generic = await sql.unsafe(`EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE head('${id}', ${T0}, NULL, 10)`);
      const genericNodes = planNodes((generic[0]?.['QUERY PLAN'] as { Plan: PlanNode }[] | undefined)?.[0]?.Plan);
      expect(genericNodes.find((n) => n['Index Name'] === 'queue_requests_pending')?.['Actual Rows']).toBe(10);
      expect(genericNodes.filter((n) => n['Node Type'] === 'Seq Scan' || n['Node Type'] === 'Sort')).toEqual([]);

      // The lock runs inside a function, whose plans EXPLAIN does not show: the pages it reads do.
      const pages = async (call: string, params: unknown[]) => {
        const [explained] = await sql.unsafe(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT ${call}`, params as never[]);
        const plan = (explained?.['QUERY PLAN'] as { Plan: PlanNode }[] | undefined)?.[0]?.Plan;
        return (plan?.['Shared Hit Blocks'] as number) + (plan?.['Shared Read Blocks'] as number);
      };
      const lock = (client: string) =>
        pages('openkvs_queue_lock_head($1::text, 10, 60000::bigint, $2::text, $3::bigint)', [id, client, T0]);
      const heap = await sql`SELECT relpages FROM pg_class WHERE relname = 'queue_requests'`;
      const tablePages = heap[0]?.relpages as number;
      expect(tablePages).toBeGreaterThan(1000);
      // The first call also reads the catalog (the function is compiled); after the fifth,
      // PL/pgSQL may switch to generic plans: both must stay a range of the index.
      await lock('warm');
      const read: number[] = [];
      for (let i = 0; i < 8; i++) read.push(await lock(`c${i}`));
      expect(read.filter((n) => !(n <= 400))).toEqual([]);
      // Ending one client's 10 locks reads the index of locks, not the queue.
      expect(await pages('openkvs_queue_unlock($1::text, $2::text, $3::bigint)', [id, 'c3', T0])).toBeLessThan(400);
      expect(await driver.listRequests(id, { limit: 100, filter: 'locked', now: T0 })).toMatchObject({ items: { length: 80 } });
      expect(await driver.lockHead(id, 10, 1000, { now: T0, clientKey: 'x' })).toMatchObject({ items: { length: 10 } });
    } finally {
      await sql.end();
      await driver.close();
      await schema.drop();
    }
  }, 120_000);
});
