import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresDriver } from '../../src/storage/postgres/index.js';
import { freshSchema } from '../helpers/postgres.js';
import { sleep } from '../helpers/time.js';

/**
 * PostgreSQL's functions come from src/storage/postgres/functions.sql, applied at start when the
 * database holds other text: a database from before the file, or with older functions, gets the
 * file's; nodes that start together all come up.
 */

const FILE = new URL('../../src/storage/postgres/functions.sql', import.meta.url);
const MIGRATION_LOCK = 72_917_311;
const schemas: Awaited<ReturnType<typeof freshSchema>>[] = [];
let fileHash: string;

beforeAll(async () => {
  fileHash = createHash('sha256')
    .update(await readFile(FILE, 'utf8'))
    .digest('hex');
});
afterAll(async () => {
  for (const s of schemas) await s.drop();
});

/** A new schema's URL whose sessions are named `name` (to find them in pg_stat_activity). */
async function schemaUrl(name: string): Promise<string> {
  const schema = await freshSchema();
  schemas.push(schema);
  const url = new URL(schema.url);
  url.searchParams.set('application_name', name);
  return url.toString();
}

async function withSql<T>(url: string, fn: (sql: Sql) => Promise<T>): Promise<T> {
  const sql = postgres(url, { max: 1, onnotice: () => undefined });
  try {
    return await fn(sql);
  } finally {
    await sql.end();
  }
}

async function start(url: string): Promise<void> {
  const driver = await PostgresDriver.connect({ url, poolSize: 2, sweepIntervalMs: 0 });
  await driver.close();
}

/** Whether the functions treat `If-None-Match: *` on an existing record as failed, as the file says. */
async function refusesExisting(sql: Sql): Promise<boolean> {
  const [row] = await sql`SELECT openkvs_condition_holds(true, 'e', NULL, '{*}') AS holds`;
  return row?.holds === false;
}

/** Puts older functions in place: a precondition that always holds, under another hash. */
async function olderFunctions(sql: Sql, hash: 'keep-row' | 'no-row'): Promise<void> {
  await sql.unsafe(`
    CREATE OR REPLACE FUNCTION openkvs_condition_holds(p_exists boolean, p_etag text, p_if_match text[], p_if_none_match text[])
    RETURNS boolean LANGUAGE sql IMMUTABLE AS $fn$ SELECT true $fn$`);
  if (hash === 'no-row') await sql`DROP TABLE schema_functions`;
  else await sql`UPDATE schema_functions SET hash = 'older'`;
  expect(await refusesExisting(sql)).toBe(false);
}

async function appliedHash(sql: Sql): Promise<string[]> {
  return (await sql`SELECT hash FROM schema_functions`).map((r) => r.hash as string);
}

describe('PostgreSQL functions applied at start', () => {
  it('creates them on a new database and records the file hash', async () => {
    const url = await schemaUrl('fn-new');
    await start(url);
    await withSql(url, async (sql) => {
      expect(await refusesExisting(sql)).toBe(true);
      expect(await appliedHash(sql)).toEqual([fileHash]);
    });
  });

  it('replaces functions whose applied text differs from the file', async () => {
    const url = await schemaUrl('fn-older');
    await start(url);
    await withSql(url, (sql) => olderFunctions(sql, 'keep-row'));
    await start(url);
    await withSql(url, async (sql) => {
      expect(await refusesExisting(sql)).toBe(true);
      expect(await appliedHash(sql)).toEqual([fileHash]);
    });
  });

  it('replaces the functions of a database from before the file (no hash recorded)', async () => {
    const url = await schemaUrl('fn-before');
    await start(url);
    await withSql(url, (sql) => olderFunctions(sql, 'no-row'));
    await start(url);
    await withSql(url, async (sql) => {
      expect(await refusesExisting(sql)).toBe(true);
      expect(await appliedHash(sql)).toEqual([fileHash]);
    });
  });

  it('brings up every node of several that start together, on a new database and on older functions', async () => {
    for (const older of [false, true]) {
      const name = `fn-together-${randomBytes(3).toString('hex')}`;
      const url = await schemaUrl(name);
      if (older) {
        await start(url);
        await withSql(url, (sql) => olderFunctions(sql, 'keep-row'));
      }
      // The test holds the migration lock until every node waits for it, so that they all go at once.
      await withSql(url, async (sql) => {
        const lock = await sql.reserve();
        let nodes: Promise<string>[] = [];
        let settled = 0;
        try {
          await lock`SELECT pg_advisory_lock(${MIGRATION_LOCK})`;
          nodes = Array.from({ length: 3 }, () =>
            start(url)
              .then(
                () => 'up',
                (err: Error) => err.message,
              )
              .finally(() => settled++),
          );
          // A node that does not wait for the lock comes up (or fails) without it.
          for (;;) {
            const [row] = await lock`
              SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a USING (pid)
              WHERE l.locktype = 'advisory' AND NOT l.granted AND a.application_name = ${name}`;
            if ((row?.n as number) + settled >= 3) break;
            await sleep(10);
          }
        } finally {
          await lock`SELECT pg_advisory_unlock(${MIGRATION_LOCK})`;
          lock.release();
        }
        expect(await Promise.all(nodes)).toEqual(['up', 'up', 'up']);
        expect(await refusesExisting(sql)).toBe(true);
        expect(await appliedHash(sql)).toEqual([fileHash]);
      });
    }
  });
});
