import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  cleanupAll,
  ensureBuilt,
  freePort,
  type HttpResult,
  http,
  type ServeProcess,
  startServe,
  tempDir,
} from '../cli/helpers.js';
import { freshSchema } from '../helpers/postgres.js';
import { ADMIN_TOKEN, waitListening } from './nodes.js';

/**
 * Two openkvs processes on one PostgreSQL database, with `--rate-limit on`: the per-store
 * counters live in the database, so a client spreading its requests over the nodes gets the
 * limit of one store, not one per node.
 */

const RECORD_LIMIT = 10;
const WINDOW_MS = 1000;

let dropSchema: (() => Promise<void>) | undefined;
let a: ServeProcess;
let b: ServeProcess;
let storeId: string;

async function startNode(storage: string, cwd: string): Promise<ServeProcess> {
  const port = await freePort();
  const node = await startServe(
    [
      ...['--storage', storage, '--port', String(port), '--admin-token', ADMIN_TOKEN, '--log-level', 'warn'],
      ...['--rate-limit', 'on', '--rate-limit-records', String(RECORD_LIMIT)],
    ],
    { cwd, port },
  );
  await waitListening(node);
  return node;
}

beforeAll(async () => {
  ensureBuilt();
  const cwd = tempDir();
  const schema = await freshSchema();
  dropSchema = schema.drop;
  a = await startNode(schema.url, cwd);
  b = await startNode(schema.url, cwd);
  const created = await http(`${a.origin}/v2/key-value-stores?name=shared-limit`, { method: 'POST', token: ADMIN_TOKEN });
  expect(created.status).toBe(201);
  storeId = created.json.data.id;
  const put = await http(`${a.origin}/v2/key-value-stores/${storeId}/records/k`, {
    method: 'PUT',
    token: ADMIN_TOKEN,
    body: 'v',
  });
  expect(put.status).toBe(201);
});
afterAll(async () => {
  await cleanupAll();
  await dropSchema?.();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `perNode` concurrent record reads through each node, right after a wall-clock second starts (retried if it ran over). */
async function burst(nodes: ServeProcess[], perNode: number): Promise<HttpResult[]> {
  for (let attempt = 1; ; attempt++) {
    await sleep(WINDOW_MS - (Date.now() % WINDOW_MS) + 5);
    const started = Date.now();
    const results = await Promise.all(
      nodes.flatMap((node) =>
        Array.from({ length: perNode }, () =>
          http(`${node.origin}/v2/key-value-stores/${storeId}/records/k`, { token: ADMIN_TOKEN }),
        ),
      ),
    );
    if (Date.now() - started < WINDOW_MS - 200 || attempt === 3) return results;
  }
}

const count = (results: HttpResult[], status: number) => results.filter((r) => r.status === status).length;

it('6 record reads through one node within a second are all served (under the limit of 10)', async () => {
  const results = await burst([a], 6);
  expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
  expect(results[0]!.headers['x-ratelimit-limit']).toBe(String(RECORD_LIMIT));
});

it('6 through node A and 6 through node B within the same second: 10 served, 2 refused with 429', async () => {
  const results = await burst([a, b], 6);
  expect(count(results, 200), results.map((r) => r.status).join(',')).toBe(RECORD_LIMIT);
  expect(count(results, 429)).toBe(2);
  const refused = results.find((r) => r.status === 429)!;
  expect(refused.json.error.type).toBe('rate-limit-exceeded');
  expect(refused.headers['x-ratelimit-limit']).toBe(String(RECORD_LIMIT));
});

it('the next second both nodes serve again', async () => {
  await sleep(WINDOW_MS);
  const results = await burst([a, b], 2);
  expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200]);
});
