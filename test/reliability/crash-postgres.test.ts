import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GARBAGE_GRACE_MS, ORPHAN_AGE_MS, sweepValues } from '../../src/storage/postgres/values.js';
import { cleanupAll, ensureBuilt, freePort, type ServeProcess, startServe, tempDir } from '../cli/helpers.js';
import { failureCode, KeepAliveClient, notCleanUnavailable } from '../helpers/keep-alive.js';
import { INLINE_LIMIT, Ledger } from '../helpers/ledger.js';
import { sleep } from '../helpers/time.js';
import { verifyStore } from '../helpers/verify-store.js';
import { type Cluster, startCluster } from '../setup/postgres-cluster.js';
import { inspectValues } from './postgres-values.js';
import { type Outcome, readProblem, runWorkload } from './workload.js';

/**
 * On PostgreSQL: the node killed (SIGKILL) under concurrent writes while the database keeps
 * running, and the database restarted under load while the node keeps running. This file has its
 * own cluster, so that stopping it disturbs nothing else.
 */

const TOKEN = 'crash-postgres-admin-token-0123456789';
let cluster: Cluster;
let sql: Sql;
let cwd: string;

beforeAll(async () => {
  ensureBuilt();
  cluster = await startCluster();
  sql = postgres(cluster.url, { max: 2, onnotice: () => undefined });
  cwd = tempDir();
});
afterAll(async () => {
  await cleanupAll();
  await sql?.end();
  await cluster?.stop();
});

async function startNode(port: number): Promise<ServeProcess> {
  const args = [
    '--storage',
    cluster.url,
    '--port',
    String(port),
    '--admin-token',
    TOKEN,
    '--pg-pool-size',
    '8',
    '--log-level',
    'warn',
  ];
  return startServe(args, { cwd, port });
}

async function createStore(origin: string, name: string): Promise<string> {
  const admin = new KeepAliveClient(origin, TOKEN, 1);
  const res = await admin.send('POST', `/v2/key-value-stores?name=${name}`);
  admin.close();
  expect(res.status, res.body.toString()).toBe(201);
  return (JSON.parse(res.body.toString()) as { data: { id: string } }).data.id;
}

describe('PostgreSQL: the node killed (SIGKILL) under concurrent writes, 10 times', () => {
  it('keeps every acknowledged write byte for byte, with every chunked value whole', async () => {
    const rounds = 10;
    const workers = 6;
    const port = await freePort();
    let node = await startNode(port);
    const storeId = await createStore(node.origin, 'node-crash');
    const ledger = new Ledger();
    const totals = { acked: 0, cutOff: 0, cutOffLarge: 0, keptUnacked: 0, records: 0, chunked: 0, orphans: 0 };
    for (let round = 1; round <= rounds; round++) {
      const client = new KeepAliveClient(node.origin, TOKEN, workers);
      const acksBefore = ledger.acks;
      const unexpected: string[] = [];
      const workload = runWorkload(client, ledger, {
        storeId,
        workers,
        tag: `r${round}`,
        onOutcome: (o) => {
          if (o.answer && o.answer.status !== 201) unexpected.push(`PUT ${o.key}: ${o.answer.status} ${o.answer.body}`);
          if (o.failure) totals.cutOff++;
          if (o.failure && o.bytes > INLINE_LIMIT) totals.cutOffLarge++;
        },
      });
      await sleep(200 + Math.random() * 1500);
      node.child.kill('SIGKILL');
      workload.stop();
      await node.exited;
      await workload.done;
      client.close();

      const values = await inspectValues(sql, storeId);
      expect(values.broken, `round ${round}: chunked values that are not whole`).toEqual([]);
      expect(values.live, `round ${round}: live values marked as garbage`).toEqual([]);
      // Chunks of uploads cut off before their commit stay until the sweeper's 6-hour limit.
      expect(values.orphans, `round ${round}: unreferenced chunked values`).toBeLessThanOrEqual(totals.cutOffLarge);

      node = await startNode(port);
      const reader = new KeepAliveClient(node.origin, TOKEN, 16);
      const check = await verifyStore(reader, storeId, ledger);
      reader.close();
      expect(unexpected, `round ${round}: answers other than 201 before the kill`).toEqual([]);
      expect(check.problems, `round ${round}: after restart`).toEqual([]);
      expect(ledger.acks - acksBefore, `round ${round}: writes acknowledged before the kill`).toBeGreaterThan(0);
      Object.assign(totals, { acked: ledger.acks, records: check.present, chunked: values.chunked, orphans: values.orphans });
      totals.keptUnacked += check.unacknowledgedFound;
    }
    expect(totals.cutOff, 'requests cut off by the kills').toBeGreaterThan(rounds);

    // Once their time is up, the sweeper removes what the crashes left and no byte of a live record.
    const later = Date.now() + Math.max(GARBAGE_GRACE_MS, ORPHAN_AGE_MS) + 60_000;
    while ((await sweepValues(sql, later)) > 0);
    const swept = await inspectValues(sql, storeId);
    expect({ orphans: swept.orphans, garbage: swept.garbage, broken: swept.broken }).toEqual({
      orphans: 0,
      garbage: 0,
      broken: [],
    });
    const reader = new KeepAliveClient(node.origin, TOKEN, 16);
    expect((await verifyStore(reader, storeId, ledger)).problems, 'after the sweep').toEqual([]);
    reader.close();
    console.log(`[reliability] crash-postgres: ${JSON.stringify({ rounds, ...totals })}`);
  });
});

describe('PostgreSQL restarted under load', () => {
  it('answers 2xx or a clean 503 within 5 s while it is down, and recovers by itself', async () => {
    const cycles = 4;
    const port = await freePort();
    const node = await startNode(port);
    const pid = node.child.pid;
    const storeId = await createStore(node.origin, 'db-restart');
    const ledger = new Ledger();
    const client = new KeepAliveClient(node.origin, TOKEN, 8);
    const outcomes: Outcome[] = [];
    const problems: string[] = [];
    let midBodyCuts = 0;
    const ok = (o: Outcome) => o.answer?.status === (o.method === 'PUT' ? 201 : 200);
    const workload = runWorkload(client, ledger, {
      storeId,
      workers: 8,
      tag: 'load',
      readShare: 0.4,
      timeoutMs: 5000,
      onOutcome: (o) => {
        outcomes.push(o);
        const what = `${o.method} ${o.key} (${o.bytes} bytes) after ${Math.round(o.endedAt - o.startedAt)} ms`;
        // A value streamed chunk by chunk whose next chunk cannot be read is cut off: after its
        // 200 status line that is all the server can do, and the client sees an incomplete body.
        const cutMidBody =
          o.method === 'GET' && /^(ECONNRESET|ECONNABORTED|aborted) after a 200 status line$/.test(o.failure ?? '');
        if (cutMidBody) midBodyCuts++;
        else if (o.failure) problems.push(`${what}: no answer (${o.failure})`);
        else if (!ok(o)) {
          const problem = notCleanUnavailable(o.answer!, o.method);
          if (problem) problems.push(`${what}: ${problem}`);
        }
        const read = readProblem(ledger, o);
        if (read) problems.push(`${what}: ${read}`);
      },
    });
    const report: { unavailable: number; recoveryMs: number }[] = [];
    try {
      for (let cycle = 1; cycle <= cycles; cycle++) {
        await sleep(1000);
        const stopping = performance.now();
        await cluster.stopServer();
        await sleep(2000);
        await cluster.startServer();
        const up = performance.now();
        let recovered: Outcome | undefined;
        while (!recovered && performance.now() - up < 10_000) {
          await sleep(50);
          recovered = outcomes.find((o) => o.startedAt >= up && ok(o));
        }
        expect(recovered, `cycle ${cycle}: no request succeeded within 10 s of PostgreSQL's restart`).toBeDefined();
        await sleep(1500);
        const during = outcomes.filter((o) => o.startedAt >= stopping && o.startedAt < up);
        const unavailable = during.filter((o) => o.answer?.status === 503).length;
        expect(unavailable, `cycle ${cycle}: 503s while PostgreSQL was down`).toBeGreaterThan(0);
        const settledFrom = (recovered as Outcome).endedAt + 500;
        const after = outcomes.filter((o) => o.startedAt >= settledFrom && o.endedAt > 0);
        expect(
          after.filter((o) => !ok(o)).map((o) => `${o.method} ${o.key}: ${o.answer?.status ?? o.failure}`),
          `cycle ${cycle}: requests that failed once the node had recovered`,
        ).toEqual([]);
        report.push({ unavailable, recoveryMs: Math.round((recovered as Outcome).endedAt - up) });
      }
    } finally {
      workload.stop();
      await workload.done;
      await cluster.startServer();
    }
    const serverErrors = node
      .output()
      .split('\n')
      .filter((line) => line.includes('"level":50') || line.includes('"level":40'))
      .slice(0, 5)
      .join('\n');
    expect(problems, `answers that were neither 2xx nor a clean 503 within 5 s; server errors:\n${serverErrors}`).toEqual([]);
    expect(node.child.pid).toBe(pid);
    expect(node.child.exitCode, node.output()).toBeNull();

    // Every connection of the pool (8) works again: bursts of twice as many requests at once.
    const bursts: string[] = [];
    for (let burst = 0; burst < 10; burst++) {
      const answers = await Promise.all(
        Array.from({ length: 16 }, () =>
          client.send('GET', `/v2/key-value-stores/${storeId}`, { timeoutMs: 5000 }).catch(failureCode),
        ),
      );
      for (const a of answers)
        if (typeof a === 'string' || a.status !== 200)
          bursts.push(`burst ${burst}: ${typeof a === 'string' ? a : `${a.status} ${a.body}`}`);
      await sleep(100);
    }
    client.close();
    expect(bursts, 'requests that failed after PostgreSQL had been back for seconds').toEqual([]);

    const reader = new KeepAliveClient(node.origin, TOKEN, 16);
    const check = await verifyStore(reader, storeId, ledger);
    reader.close();
    expect(check.problems, 'after the restarts').toEqual([]);
    const slowest = Math.max(...outcomes.map((o) => o.endedAt - o.startedAt));
    console.log(
      `[reliability] postgres-restart: ${JSON.stringify({ cycles, requests: outcomes.length, midBodyCuts, acked: ledger.acks, slowestMs: Math.round(slowest), report })}`,
    );
  });
});
