import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanupAll, ensureBuilt, freePort, type HttpResult, runCli, type ServeProcess, tempDir } from '../cli/helpers.js';
import { sleep } from '../helpers/time.js';
import { type Cluster, startCluster } from '../setup/postgres-cluster.js';
import {
  ANSWER_MS,
  api,
  createStore,
  expectUnavailable,
  getRecord,
  poll,
  putRecord,
  sha256,
  startNodes,
  storeOn,
  type Timed,
  timed,
} from './nodes.js';

/**
 * PostgreSQL going away under a running node, and not being there at all when a node starts.
 * This file has its own cluster, so that stopping it does not disturb the other tests.
 */

let cluster: Cluster;
let node: ServeProcess;
let cwd: string;

beforeAll(async () => {
  ensureBuilt();
  cluster = await startCluster();
  cwd = tempDir();
  [node] = (await startNodes(cluster.url, 1, cwd)) as [ServeProcess];
});
// A test that failed during its outage leaves PostgreSQL running for the next one.
afterEach(() => cluster.startServer());
afterAll(async () => {
  await cleanupAll();
  await cluster?.stop();
});

const json = Buffer.from('{"before":"the outage"}');
const big = randomBytes(1024 * 1024 + 300_000);

describe('a node on PostgreSQL that goes away', () => {
  it('answers 503 with Retry-After while PostgreSQL is down, and recovers by itself when it is back', async () => {
    const storeId = (await createStore(node, 'survives')).id;
    expect((await putRecord(node, storeId, 'small', json, 'application/json')).status).toBe(201);
    expect((await putRecord(node, storeId, 'big', big, 'application/octet-stream')).status).toBe(201);
    const pid = node.child.pid;

    await cluster.stopServer();
    const requests: [string, string, () => Promise<HttpResult>][] = [
      ['GET store', 'GET', () => api(node, `/${storeId}`)],
      ['GET store by name', 'GET', () => api(node, '/~survives')],
      ['PUT record', 'PUT', () => putRecord(node, storeId, 'during', Buffer.from('not stored'), 'text/plain')],
      ['GET record', 'GET', () => getRecord(node, storeId, 'small')],
      ['GET chunked record', 'GET', () => getRecord(node, storeId, 'big')],
      ['HEAD record', 'HEAD', () => api(node, `/${storeId}/records/small`, { method: 'HEAD' })],
      ['list keys', 'GET', () => api(node, `/${storeId}/keys`)],
      ['list stores', 'GET', () => api(node, '')],
      ['create store', 'POST', () => api(node, '?name=during-outage', { method: 'POST' })],
      ['DELETE record', 'DELETE', () => api(node, `/${storeId}/records/small`, { method: 'DELETE' })],
    ];
    // Right after the stop (connections just lost), then after every connection has failed again.
    for (const round of ['at once', 'a second later', 'two seconds later']) {
      const answers = await Promise.all(requests.map(([, , send]) => timed(send)));
      requests.forEach(([what, method], i) => {
        const { res, ms } = answers[i] as Timed;
        expectUnavailable(`${what} ${round}`, res, method);
        expect(ms, `${what} ${round}: answer time (ms)`).toBeLessThan(ANSWER_MS);
      });
      await sleep(1000);
    }
    expect(node.child.exitCode, node.output()).toBeNull();

    await cluster.startServer();
    const started = Date.now();
    const back = await poll(
      () => api(node, `/${storeId}`),
      (res) => res.status === 200,
      10_000,
    );
    expect(back.status, `GET store ${Date.now() - started} ms after PostgreSQL came back`).toBe(200);
    expect(node.child.pid).toBe(pid);
    expect(node.child.exitCode).toBeNull();
    // Enough requests at once to need every connection of the pool (8): each is served promptly.
    const burst = await Promise.all(Array.from({ length: 16 }, () => timed(() => api(node, `/${storeId}/records/small`))));
    expect(burst.map((r) => r.res?.status)).toEqual(Array(16).fill(200));
    expect(Math.max(...burst.map((r) => r.ms)), 'slowest answer once PostgreSQL is back (ms)').toBeLessThan(ANSWER_MS);

    const small = await getRecord(node, storeId, 'small');
    expect(small.status).toBe(200);
    expect(small.body.equals(json)).toBe(true);
    const bigAgain = await getRecord(node, storeId, 'big');
    expect(bigAgain.status).toBe(200);
    expect(sha256(bigAgain.body)).toBe(sha256(big));
    expect((await getRecord(node, storeId, 'during')).status).toBe(404);
    const after = Buffer.from('after the outage');
    expect((await putRecord(node, storeId, 'after', after, 'text/plain')).status).toBe(201);
    expect((await getRecord(node, storeId, 'after')).body.equals(after)).toBe(true);
    expect((await api(node, '?name=during-outage', { method: 'POST' })).status).toBe(201);
    const { stats } = await storeOn(node, storeId);
    expect(stats).toMatchObject({ writeCount: 3, deleteCount: 0, storageBytes: json.length + big.length + after.length });
  });

  it('survives its connections being cut under load: each request answers 200/201 or 503, then 200 again', async () => {
    const storeId = (await createStore(node, 'cut-off')).id;
    expect((await putRecord(node, storeId, 'small', json, 'application/json')).status).toBe(201);
    const admin = postgres(cluster.url, { max: 1, onnotice: () => undefined });
    const seen: { answer?: Timed; error?: unknown }[] = [];
    let stop = false;
    // Requests in flight while the connections are cut, enough to keep the whole pool busy.
    const traffic = Array.from({ length: 12 }, async (_, i) => {
      for (let n = 0; !stop; n++) {
        const send =
          n % 2 === 0
            ? () => getRecord(node, storeId, 'small')
            : () => putRecord(node, storeId, `cut-${i}`, Buffer.from(`write ${n}`), 'text/plain');
        try {
          seen.push({ answer: await timed(send) });
        } catch (error) {
          seen.push({ error });
        }
      }
    });
    let cut = 0;
    try {
      for (let round = 0; round < 3; round++) {
        await sleep(200);
        const rows = await admin`
          SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`;
        cut += rows.length;
      }
      await sleep(300);
    } finally {
      stop = true;
      await Promise.all(traffic);
      await admin.end();
    }
    expect(cut, 'connections of the node that were cut').toBeGreaterThan(0);
    expect(node.child.exitCode, `the node exited:\n${node.output()}`).toBeNull();
    expect(
      seen.filter((s) => s.error).map((s) => String(s.error)),
      'requests without an HTTP answer',
    ).toEqual([]);
    for (const { answer } of seen) {
      if (!answer) continue;
      const { res, ms } = answer;
      expect(res, `no answer within ${ms} ms`).toBeDefined();
      if (res?.status === 503) expectUnavailable('a request while connections were cut', res);
      else expect([200, 201], res?.body.toString()).toContain(res?.status);
      expect(ms, 'answer time (ms)').toBeLessThan(ANSWER_MS);
    }
    const again = await poll(
      () => getRecord(node, storeId, 'small'),
      (res) => res.status === 200,
      5000,
    );
    expect(again.status).toBe(200);
    expect(again.body.equals(json)).toBe(true);
    for (let i = 0; i < 5; i++)
      expect((await putRecord(node, storeId, 'steady', Buffer.from('ok'), 'text/plain')).status).toBe(201);
    expect(node.child.exitCode).toBeNull();
  });
});

describe('PostgreSQL unreachable when a node starts', () => {
  it('exits non-zero with one line that names the problem and hides the password', async () => {
    const pgPort = await freePort();
    const httpPort = await freePort();
    const started = Date.now();
    const result = await runCli(
      ['serve', '--storage', `postgres://user:secretpw@127.0.0.1:${pgPort}/db`, '--port', String(httpPort)],
      { cwd, timeoutMs: 15_000 },
    );
    const elapsed = Date.now() - started;
    expect(result.signal, `still running after ${elapsed} ms`).toBeNull();
    expect(result.code).not.toBe(0);
    const lines = result.stderr.split('\n').filter((l) => l.trim() !== '');
    expect(lines, result.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/postgres/i);
    expect(lines[0]).toContain(`127.0.0.1:${pgPort}`);
    expect(lines[0]).toMatch(/refused|connect/i);
    expect(`${result.stdout}${result.stderr}`).not.toContain('secretpw');
  });
});
