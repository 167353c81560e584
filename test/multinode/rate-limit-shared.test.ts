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
import { nextWindowStart, windowsSpanned } from '../helpers/time.js';
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

/** `perNode` concurrent record reads through each node, and the server windows they may have met. */
async function burst(nodes: ServeProcess[], perNode: number): Promise<{ results: HttpResult[]; windows: number }> {
  const startedAt = Date.now();
  const results = await Promise.all(
    nodes.flatMap((node) =>
      Array.from({ length: perNode }, () =>
        http(`${node.origin}/v2/key-value-stores/${storeId}/records/k`, { token: ADMIN_TOKEN }),
      ),
    ),
  );
  return { results, windows: windowsSpanned(startedAt, Date.now(), WINDOW_MS) };
}

const count = (results: HttpResult[], status: number) => results.filter((r) => r.status === status).length;

it('6 record reads through one node are all served (under the limit of 10 in any window)', async () => {
  const { results } = await burst([a], 6);
  expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
  expect(results[0]!.headers['x-ratelimit-limit']).toBe(String(RECORD_LIMIT));
});

it('15 through node A and 15 through node B: at most 10 served per window the burst met, the rest refused with 429', async () => {
  // Counted per node, the 30 requests would pass up to 20 per window: any burst within two
  // windows tells shared counters from per-node ones; a slower machine tries again.
  let meaningful = false;
  for (let attempt = 0; attempt < 5 && !meaningful; attempt++) {
    await nextWindowStart(WINDOW_MS);
    const { results, windows } = await burst([a, b], 15);
    const statuses = results.map((r) => r.status).join(',');
    expect(count(results, 200) + count(results, 429), statuses).toBe(results.length);
    expect(count(results, 200), `${windows} window(s): ${statuses}`).toBeLessThanOrEqual(RECORD_LIMIT * windows);
    if (windows === 1) expect(count(results, 200), statuses).toBe(RECORD_LIMIT);
    meaningful = windows <= 2;
    if (!meaningful) continue;
    const refused = results.find((r) => r.status === 429)!;
    expect(refused.json.error.type).toBe('rate-limit-exceeded');
    expect(refused.headers['x-ratelimit-limit']).toBe(String(RECORD_LIMIT));
  }
  expect(meaningful, 'no burst of 30 requests fit in two one-second windows').toBe(true);
});

it('in the next window both nodes serve again', async () => {
  await nextWindowStart(WINDOW_MS);
  const { results } = await burst([a, b], 2);
  expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200]);
});
