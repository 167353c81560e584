import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { newId } from '../../src/domain/ids.js';
import type { StorageDriver } from '../../src/storage/driver.js';
import { ITEM_PAGE_SQL as PG_ITEM_PAGE_SQL } from '../../src/storage/postgres/datasets.js';
import { PostgresDriver } from '../../src/storage/postgres/index.js';
import { ITEM_PAGE_SQL as SQLITE_ITEM_PAGE_SQL } from '../../src/storage/sqlite/datasets.js';
import { SqliteDriver } from '../../src/storage/sqlite/index.js';
import { freshSchema } from '../helpers/postgres.js';
import { storeRow } from './suite.js';

type PlanNode = { 'Node Type': string; Plans?: PlanNode[] } & Record<string, unknown>;

/** A plan's nodes, the root first. */
function planNodes(node: PlanNode | undefined): PlanNode[] {
  return node ? [node, ...(node.Plans ?? []).flatMap(planNodes)] : [];
}

/** Two datasets of `n` items each, so that the plan must pick one dataset's range out of a larger table. */
async function seed(driver: StorageDriver, n: number): Promise<string> {
  const user = { id: newId(), username: `u${newId().toLowerCase()}`, createdAt: Date.now() };
  await driver.createUser(user);
  const ids: string[] = [];
  for (let d = 0; d < 2; d++) {
    const { store } = await driver.createStore(storeRow(user.id, null, 'dataset'));
    const items = Array.from({ length: n }, (_, i) => `{"d":${d},"i":${i}}`);
    expect(await driver.pushItems(store.id, items, n, Date.now())).toBe('ok');
    ids.push(store.id);
  }
  return ids[0] as string;
}

describe('a page of dataset items is a range of its position index, at any offset', () => {
  it("sqlite: one search of the position index's range, in its order", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'openkvs-plan-'));
    const path = join(dir, 'kvs.sqlite');
    const driver = new SqliteDriver({ path });
    try {
      const id = await seed(driver, 20_000);
      const db = new Database(path, { readonly: true });
      try {
        const plan = db.prepare(`EXPLAIN QUERY PLAN ${SQLITE_ITEM_PAGE_SQL}`).all(id, 15_000, 16_000) as { detail: string }[];
        expect(plan.map((p) => p.detail)).toEqual([
          'SEARCH dataset_items USING INDEX dataset_items_position (store_id=? AND seq>? AND seq<?)',
        ]);
      } finally {
        db.close();
      }
    } finally {
      await driver.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("postgres: a scan of the primary key's range that reads only the page", async () => {
    const schema = await freshSchema();
    const driver = await PostgresDriver.connect({ url: schema.url, poolSize: 2, sweepIntervalMs: 0 });
    const sql = postgres(schema.url, { max: 1, onnotice: () => undefined });
    try {
      const id = await seed(driver, 50_000);
      await sql`ANALYZE dataset_items`;
      const [row] = await sql.unsafe(`EXPLAIN (ANALYZE, FORMAT JSON) ${PG_ITEM_PAGE_SQL}`, [id, 45_000, 46_000]);
      const nodes = planNodes((row?.['QUERY PLAN'] as { Plan: PlanNode }[] | undefined)?.[0]?.Plan);
      expect(nodes.filter((n) => n['Node Type'] === 'Seq Scan')).toEqual([]);
      // An index scan in key order, or a bitmap scan of the same range and a sort of the page.
      const scan = nodes.find((n) => n['Index Name'] === 'dataset_items_pkey');
      expect(scan?.['Index Cond']).toMatch(/store_id = .* AND \(seq >= .* AND \(seq < /);
      expect(scan?.['Actual Rows']).toBe(1000);
      expect(nodes.filter((n) => n['Rows Removed by Filter'])).toEqual([]);
    } finally {
      await sql.end();
      await driver.close();
      await schema.drop();
    }
  });
});
