import { connect, createServer, type Server, type Socket } from 'node:net';
import { finished } from 'node:stream/promises';
import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../helpers/time.js';
import { type Cluster, startCluster } from '../setup/postgres-cluster.js';

/**
 * The postgres.js pool when the server closes its connections: each case failed on postgres.js 3.4.9
 * as published (openkvs carried a patch for them until 4.x fixed them). The pool options are the
 * driver's (src/storage/postgres/index.ts), with one connection so that a stuck one shows at once.
 * A connection the server terminates fails its queries with the server's own error, 57P01.
 */

const nextCheckPhase = () => new Promise((r) => setImmediate(r));

let cluster: Cluster;
let admin: Sql;
const pools: Sql[] = [];

beforeAll(async () => {
  cluster = await startCluster();
  admin = postgres(cluster.url, { max: 1, onnotice: () => undefined });
});
afterAll(async () => {
  await Promise.all(pools.map((p) => p.end({ timeout: 1 })));
  await admin?.end();
  await cluster?.stop();
});

function pool(name: string, url = cluster.url, more: { eager_types?: boolean } = {}): Sql {
  const sql = postgres(url, {
    ...more,
    max: 1,
    connect_timeout: 2,
    backoff: (attempt: number) => Math.min(0.05 * 2 ** attempt, 0.5),
    onnotice: () => undefined,
    connection: { application_name: name },
  });
  pools.push(sql);
  return sql;
}

/** Ends the server side of every connection of the pool named `name` (FATAL 57P01, then FIN). */
async function terminate(name: string): Promise<number> {
  const rows = await admin`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ${name}`;
  return rows.length;
}

/** Milliseconds until the pool answers a query right again. */
async function recovery(sql: Sql, limitMs: number): Promise<number> {
  const start = performance.now();
  while (performance.now() - start < limitMs) {
    const tag = `t${Math.random()}`;
    const rows = await sql`SELECT ${tag}::text AS tag`.catch(() => undefined);
    if (rows) {
      expect([...rows]).toEqual([{ tag }]);
      return performance.now() - start;
    }
    await sleep(10);
  }
  return Number.POSITIVE_INFINITY;
}

describe('postgres.js pool when PostgreSQL closes its connections', () => {
  it('reconnects at once when a query reaches a connection the server has just ended', async () => {
    // A query issued from a setImmediate callback, after the server's FATAL but before the socket's
    // 'close', left postgres.js's write timer set: every later write of that connection (the next
    // socket's StartupMessage first) stayed in its buffer, and each reconnect ran into connect_timeout.
    const sql = pool('pump');
    let stop = false;
    let n = 0;
    const pump = (async () => {
      while (!stop) {
        await nextCheckPhase();
        const rows = await sql`SELECT ${n}::int AS n`.catch(() => undefined);
        if (rows) expect(rows[0]?.n).toBe(n);
        n++;
      }
    })();
    const times: number[] = [];
    try {
      for (let round = 1; round <= 40; round++) {
        await sleep(30 + Math.random() * 60);
        expect(await terminate('pump')).toBeGreaterThan(0);
        const ms = await recovery(sql, 5000);
        times.push(Math.round(ms));
        expect(ms, `round ${round}: recovery times so far ${times.join(', ')} ms`).toBeLessThan(1000);
      }
    } finally {
      stop = true;
      await pump;
    }
    expect(n).toBeGreaterThan(100);
  });

  it('starts the next result at its first row after a query failed part-way through its rows', async () => {
    const sql = pool('rows');
    await expect(sql`SELECT 1 / (x - 2) AS v FROM generate_series(1, 3) x`).rejects.toMatchObject({ code: '22012' });
    expect([...(await sql`SELECT 42 AS v`)]).toEqual([{ v: 42 }]);
  });

  it('carries nothing of a result cut off by the server into the next query', async () => {
    const sql = pool('cut');
    await sql`SELECT 1`;
    const cut = sql`SELECT x, CASE WHEN x = 3 THEN pg_sleep(3) END AS s FROM generate_series(1, 5) x`.catch(
      (err: { code?: string }) => err.code,
    );
    await sleep(500);
    expect(await terminate('cut')).toBe(1);
    expect(await cut).toBe('57P01');
    // On 3.4.9: the next query failed with the old connection's 57P01 too.
    expect([...(await sql`SELECT 42 AS v`)]).toEqual([{ v: 42 }]);
  });

  it('fails a transaction whose connection is lost, and sends none of its later queries', async () => {
    const sql = pool('tx');
    let later: unknown;
    const tx = sql.begin(async (t) => {
      await t`SELECT 1`;
      await terminate('tx');
      await sleep(200);
      later = await t`SELECT 2 AS two`.catch((err: { code?: string }) => err.code);
      return 'committed';
    });
    await expect(tx).rejects.toMatchObject({ code: '57P01' });
    // Meanwhile the pool reconnects for other queries, whose answers must be theirs.
    const answers = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => (await sql`SELECT ${i}::int AS i`.catch(() => undefined))?.[0]?.i),
    );
    await sleep(200);
    expect(later).toBe('CONNECTION_CLOSED');
    expect(answers).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(await recovery(sql, 2000)).toBeLessThan(2000);
  });

  // postgres.js asks for the types it does not know (array types, domains) when the pool starts
  // (eager_types) or when a query first meets one: here an enum.
  it.each([
    { when: 'the pool starts', eager_types: true, query: 'SELECT 1 AS v', answer: 1 },
    { when: 'a query first meets one', eager_types: false, query: "SELECT 'calm'::pool_mood AS v", answer: 'calm' },
  ])('fails the query, not the process, when the connection is lost while it fetches the types ($when)', async (mode) => {
    // A proxy that cuts the connection when postgres.js asks for the types. On 3.4.9 the types
    // query's rejection went unhandled, which ends a Node process.
    await admin.unsafe("DO $$ BEGIN CREATE TYPE pool_mood AS ENUM ('calm'); EXCEPTION WHEN duplicate_object THEN NULL; END $$");
    const target = new URL(cluster.url);
    let cutting = true;
    let cuts = 0;
    const sockets = new Set<Socket>();
    const proxy: Server = createServer((client) => {
      const upstream = connect(Number(target.port), target.hostname);
      sockets.add(client).add(upstream);
      client.on('data', (data: Buffer) => {
        if (cutting && data.includes('pg_catalog.pg_type')) {
          cuts++;
          client.destroy();
          upstream.destroy();
          return;
        }
        upstream.write(data);
      });
      upstream.on('data', (data: Buffer) => client.write(data));
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      client.on('error', () => undefined);
      upstream.on('error', () => undefined);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const port = (proxy.address() as { port: number }).port;
    const unhandled: unknown[] = [];
    const onUnhandled = (err: unknown) => unhandled.push(err);
    process.on('unhandledRejection', onUnhandled);
    try {
      const sql = pool(`types-${mode.eager_types}`, `postgres://postgres@127.0.0.1:${port}/postgres`, {
        eager_types: mode.eager_types,
      });
      // Lazily, the pool retries the types on new connections until connect_timeout, then gives up.
      const code = await sql.unsafe(mode.query).then(
        () => 'answered',
        (err: { code?: string }) => err.code,
      );
      expect(['CONNECTION_CLOSED', 'CONNECTION_DESTROYED']).toContain(code);
      expect(cuts).toBeGreaterThan(0);
      await sleep(100);
      expect(unhandled).toEqual([]);
      cutting = false;
      expect([...(await sql.unsafe(mode.query))]).toEqual([{ v: mode.answer }]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      for (const s of sockets) s.destroy();
      await new Promise((r) => proxy.close(r));
    }
  });

  it('fails a COPY FROM STDIN that the server refuses after the stream was ended, and the next query gets its own answer', async () => {
    // The error comes after the client's CopyDone, while the stream waits for its CommandComplete:
    // without the patch the stream never finished, and the next query's CommandComplete finished it.
    const sql = pool('copy-in');
    const table = `copy_refused_${Date.now()}`;
    await admin.unsafe(`
      CREATE TABLE ${table} (x int);
      CREATE FUNCTION ${table}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_sleep(0.2); RAISE EXCEPTION 'refused'; END $$;
      CREATE TRIGGER refuse BEFORE INSERT ON ${table} FOR EACH ROW EXECUTE FUNCTION ${table}();`);
    try {
      const conn = await sql.reserve();
      const out = await conn.unsafe(`COPY ${table} (x) FROM STDIN`).writable();
      out.end('1\n');
      const outcome = await Promise.race([
        finished(out).then(
          () => 'finished',
          (err: Error) => err.message,
        ),
        sleep(3000).then(() => 'no answer'),
      ]);
      conn.release();
      expect(outcome).toBe('refused');
      expect([...(await sql`SELECT 42 AS v`)]).toEqual([{ v: 42 }]);
    } finally {
      await admin.unsafe(`DROP TABLE ${table}; DROP FUNCTION ${table}();`);
    }
  });

  it('reads the end of a COPY TO STDOUT whose reader was behind, and the connection answers the next query', async () => {
    // A CopyData larger than the stream's buffer paused the socket; the stream ended before anything
    // resumed it, so the COPY's CommandComplete and ReadyForQuery were never read when they came
    // in a later packet. Each round has a fair chance of that.
    const sql = pool('copy-out');
    for (let round = 0; round < 20; round++) {
      const conn = await sql.reserve();
      const input = await conn
        .unsafe(`COPY (SELECT decode(repeat('ab', ${512 * 1024 + round}), 'hex')) TO STDOUT WITH (FORMAT binary)`)
        .readable();
      let bytes = 0;
      for await (const part of input) bytes += (part as Buffer).length;
      conn.release();
      expect(bytes).toBeGreaterThan(512 * 1024);
      const answer = await Promise.race([sql`SELECT ${round}::int AS round`, sleep(3000).then(() => 'no answer')]);
      expect(answer, `round ${round}`).toEqual([{ round }]);
    }
  });
});
