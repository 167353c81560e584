import postgres, { type ReservedSql, type TransactionSql } from 'postgres';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanupAll, ensureBuilt, http, printedTokens, runCli, type ServeProcess, tempDir } from '../cli/helpers.js';
import { freshSchema } from '../helpers/postgres.js';
import { sleep } from '../helpers/time.js';
import { ADMIN_TOKEN, poll, startNodes } from './nodes.js';

/**
 * Several nodes started at the same moment on one database (a deployment rolling out, or every
 * node restarting after an outage) all come up. To make "the same moment" exact rather than
 * likely, the test holds back writes to one table while the nodes start (they can still read it),
 * so that every node has read it before any writes it; a slow database does that to them anyway.
 */

const NODES = 3;
const drops: (() => Promise<void>)[] = [];

beforeAll(ensureBuilt);
afterEach(async () => {
  await cleanupAll();
  for (const drop of drops.splice(0)) await drop();
});

/** How many sessions wait for a lock on `table`. */
async function waitingFor(sql: ReservedSql | TransactionSql, table: string): Promise<number> {
  const [row] = await sql`SELECT count(*)::int AS n FROM pg_locks WHERE relation = ${table}::regclass AND NOT granted`;
  return (row?.n as number | undefined) ?? 0;
}

/** A new schema on which the migrations have run (the tables exist, no user does). */
async function migratedSchema(cwd: string): Promise<string> {
  const schema = await freshSchema();
  drops.push(schema.drop);
  const migrated = await runCli(['users', 'list', '--storage', schema.url], { cwd });
  expect(migrated.code, migrated.stderr).toBe(0);
  expect(migrated.stdout.trim()).toBe('');
  return schema.url;
}

/**
 * Starts `NODES` nodes while writes to `table` wait, waits until every node waits to write it,
 * then lets them go; resolves once each node has said it listens or has exited.
 */
async function startAligned(url: string, cwd: string, table: 'users' | 'tokens', adminToken: boolean): Promise<ServeProcess[]> {
  const sql = postgres(url, { max: 1, onnotice: () => undefined });
  let nodes: ServeProcess[] = [];
  try {
    await sql.begin(async (tx) => {
      await tx.unsafe(`LOCK TABLE ${table} IN SHARE MODE`);
      nodes = await startNodes(url, NODES, cwd, { together: true, adminToken, wait: false });
      const waiting = await poll(
        () => waitingFor(tx, table),
        (n) => n >= NODES,
        10_000,
      );
      expect(waiting, `nodes waiting for the ${table} table`).toBe(NODES);
    });
  } finally {
    await sql.end();
  }
  const started = (n: ServeProcess) => n.stdout.includes('listening on') || n.child.exitCode !== null;
  await poll(
    async () => nodes.every(started),
    (all) => all,
    10_000,
  );
  return nodes;
}

describe('nodes started at the same moment on one database', () => {
  it('with the same --admin-token: every node comes up and the token works on each', async () => {
    const cwd = tempDir();
    const url = await migratedSchema(cwd);
    const nodes = await startAligned(url, cwd, 'tokens', true);
    for (const node of nodes) {
      expect(node.child.exitCode, node.output()).toBeNull();
      expect(node.stdout, node.output()).toContain('listening on');
      expect((await http(`${node.origin}/v2/key-value-stores`, { token: ADMIN_TOKEN })).status).toBe(200);
    }
    const users = await runCli(['users', 'list', '--storage', url], { cwd });
    expect(users.stdout.split('\n').filter((l) => /^admin\t/.test(l))).toHaveLength(1);
  });

  it('without an admin token: exactly one node prints a generated token, and it works on every node', async () => {
    const cwd = tempDir();
    const url = await migratedSchema(cwd);
    const nodes = await startAligned(url, cwd, 'users', false);
    for (const node of nodes) {
      expect(node.child.exitCode, node.output()).toBeNull();
      expect(node.stdout, node.output()).toContain('listening on');
    }
    const printed = nodes.flatMap((n) => printedTokens(n.stdout));
    expect(printed, nodes.map((n) => n.output()).join('\n')).toHaveLength(1);
    for (const node of nodes) {
      expect((await http(`${node.origin}/v2/key-value-stores`, { token: printed[0] })).status).toBe(200);
    }
    const users = await runCli(['users', 'list', '--storage', url], { cwd });
    expect(users.stdout.split('\n').filter((l) => /^admin\t/.test(l))).toHaveLength(1);
  });
});

describe('a node that answers /health', () => {
  it('accepts its --admin-token, even when its database is slow at start', async () => {
    const cwd = tempDir();
    const url = await migratedSchema(cwd);
    const sql = postgres(url, { max: 1, onnotice: () => undefined });
    const lock = await sql.reserve();
    let early: Promise<number> | undefined;
    let node: ServeProcess;
    try {
      // The database is slow to answer anything about users while the node starts.
      await lock`BEGIN`;
      await lock`LOCK TABLE users IN ACCESS EXCLUSIVE MODE`;
      [node] = (await startNodes(url, 1, cwd, { wait: false })) as [ServeProcess];
      const waiting = await poll(
        () => waitingFor(lock, 'users'),
        (n) => n > 0,
        10_000,
      );
      expect(waiting, 'the node waits for the users table').toBeGreaterThan(0);
      const health = await http(`${node.origin}/health`).catch(() => undefined);
      // Healthy already (a load balancer would now send it traffic): a request with the admin
      // token must not be refused; it may wait for the database as the start does.
      if (health?.status === 200)
        early = http(`${node.origin}/v2/key-value-stores`, { token: ADMIN_TOKEN }).then((r) => r.status);
      await sleep(300);
    } finally {
      await lock`COMMIT`;
      lock.release();
      await sql.end();
    }
    if (early) expect(await early, 'a request with the admin token once /health said 200').toBe(200);
    await node.waitHealthy();
    expect((await http(`${node.origin}/v2/key-value-stores`, { token: ADMIN_TOKEN })).status).toBe(200);
  });
});
