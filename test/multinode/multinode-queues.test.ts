import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestId } from '../../src/domain/queues/requests.js';
import { cleanupAll, ensureBuilt, type ServeProcess, tempDir } from '../cli/helpers.js';
import { type HttpResult, http } from '../helpers/cli.js';
import { freshSchema } from '../helpers/postgres.js';
import { ADMIN_TOKEN, poll, startNodes } from './nodes.js';

/**
 * Request-queue locks across two openkvs nodes on one PostgreSQL: 8 clients, 4 through each node,
 * drain one queue of 300 requests at once; every request is handed out once and handled once, and
 * the counts are exact on both nodes. A client that dies holding locks (lockSecs=1) loses them:
 * the other node hands its requests out once the locks expire (polled for, never slept on), and
 * a long lock is never handed out meanwhile.
 */

const REQUESTS = 300;
const CLIENTS = 8;
/** Longer than the whole test: no lock of the race can expire during it. */
const LONG_LOCK_SECS = 600;
const MAX_ROUNDS = 2000;

let a: ServeProcess;
let b: ServeProcess;
let dropSchema: (() => Promise<void>) | undefined;

beforeAll(async () => {
  ensureBuilt();
  const schema = await freshSchema();
  dropSchema = schema.drop;
  [a, b] = (await startNodes(schema.url, 2, tempDir())) as [ServeProcess, ServeProcess];
});
afterAll(async () => {
  await cleanupAll();
  await dropSchema?.();
});

interface Answer {
  status: number;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: the JSON of an answer, checked by the caller
  data: any;
}

async function call(node: ServeProcess, method: string, path: string, body?: unknown): Promise<Answer> {
  const res: HttpResult = await http(`${node.origin}/v2/request-queues${path}`, {
    method,
    token: ADMIN_TOKEN,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  const text = res.body.toString('utf8');
  return { status: res.status, text, data: res.status < 300 && text ? JSON.parse(text).data : undefined };
}

const requestOf = (q: string, n: number) => ({
  uniqueKey: `https://example.com/${q}/${n}`,
  url: `https://example.com/${q}/${n}`,
});

async function createQueue(node: ServeProcess, name: string, count: number): Promise<string> {
  const created = await call(node, 'POST', `?name=${name}`);
  expect(created.status, created.text).toBe(201);
  const id = created.data.id as string;
  for (let from = 0; from < count; from += 25) {
    const batch = Array.from({ length: Math.min(25, count - from) }, (_, i) => requestOf(name, from + i));
    const res = await call(from % 50 === 0 ? a : b, 'POST', `/${id}/requests/batch`, batch);
    expect(res.status, res.text).toBe(201);
  }
  return id;
}

/** The counts, live locks and head of a queue as `node` shows them. */
async function stateOn(node: ServeProcess, id: string) {
  const queue = (await call(node, 'GET', `/${id}`)).data;
  const locked = (await call(node, 'GET', `/${id}/requests?filter=locked`)).data.items.length;
  const head = (await call(node, 'GET', `/${id}/head?limit=1000`)).data.items.length;
  return {
    counts: [queue.totalRequestCount, queue.handledRequestCount, queue.pendingRequestCount, queue.hadMultipleClients],
    locked,
    head,
  };
}

describe(`${CLIENTS} clients, half through each node, drain one queue`, () => {
  it('every request is handed out once and handled once; the counts are exact on both nodes', async () => {
    const id = await createQueue(a, 'multinode-race', REQUESTS);
    const handouts = new Map<string, string[]>();
    const handled = new Map<string, number>();
    const problems: string[] = [];

    const client = async (c: number) => {
      const node = c % 2 === 0 ? a : b;
      const key = `node-${c % 2}-client-${c}`;
      for (let round = 0; problems.length === 0; round++) {
        if (round === MAX_ROUNDS) return void problems.push(`${key}: not done after ${MAX_ROUNDS} rounds`);
        const lock = await call(node, 'POST', `/${id}/head/lock?lockSecs=${LONG_LOCK_SECS}&limit=25&clientKey=${key}`);
        if (lock.status !== 201) return void problems.push(`${key}: head/lock ${lock.status} ${lock.text}`);
        const items = lock.data.items as { id: string; uniqueKey: string }[];
        for (const r of items) handouts.set(r.id, [...(handouts.get(r.id) ?? []), key]);
        if (items.length === 0) {
          // Nothing free: the others still hold locks, or all is done.
          if (!lock.data.queueHasLockedRequests) return;
          continue;
        }
        // Handled through the other node now and then: a lock is the client's, not the node's.
        for (const [i, r] of items.entries()) {
          const via = i % 3 === 0 ? (node === a ? b : a) : node;
          const body = { id: r.id, uniqueKey: r.uniqueKey, url: r.uniqueKey, handledAt: new Date().toISOString() };
          const res = await call(via, 'PUT', `/${id}/requests/${r.id}?clientKey=${key}`, body);
          if (res.status !== 200 || res.data.wasAlreadyHandled !== false)
            problems.push(`${key}: handling ${r.id}: ${res.status} ${res.text}`);
          else handled.set(r.id, (handled.get(r.id) ?? 0) + 1);
        }
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));

    expect(problems).toEqual([]);
    const ids = Array.from({ length: REQUESTS }, (_, n) => requestId(requestOf('multinode-race', n).uniqueKey)).sort();
    expect([...handouts.keys()].sort()).toEqual(ids);
    const twice = [...handouts].filter(([, clients]) => clients.length > 1);
    expect(twice, 'handed out to more than one client while locked').toEqual([]);
    expect([...handled.keys()].sort()).toEqual(ids);
    expect([...handled.values()].every((n) => n === 1)).toBe(true);
    const clients = new Set([...handouts.values()].flat());
    expect([...clients].some((k) => k.startsWith('node-0')) && [...clients].some((k) => k.startsWith('node-1'))).toBe(true);
    for (const node of [a, b]) {
      expect(await stateOn(node, id)).toEqual({ counts: [REQUESTS, REQUESTS, 0, true], locked: 0, head: 0 });
    }
  });
});

describe('the same uniqueKeys added through both nodes at once', () => {
  it('each is added once, every other add finds it, and both nodes count 50', async () => {
    const id = await createQueue(a, 'multinode-same-adds', 0);
    const keys = Array.from({ length: 50 }, (_, n) => requestOf('multinode-same-adds', n));
    const added = await Promise.all(
      Array.from({ length: CLIENTS }, async (_, c) => {
        const node = c % 2 === 0 ? a : b;
        const mine = c % 4 < 2 ? keys : [...keys].reverse();
        const out: { uniqueKey: string; wasAlreadyPresent: boolean }[] = [];
        for (const from of [0, 25]) {
          const res = await call(node, 'POST', `/${id}/requests/batch?clientKey=adder-${c}`, mine.slice(from, from + 25));
          expect(res.status, res.text).toBe(201);
          out.push(...res.data.processedRequests);
        }
        return out;
      }),
    );
    const firsts = added.flat().filter((o) => !o.wasAlreadyPresent);
    expect(firsts.map((o) => o.uniqueKey).sort()).toEqual(keys.map((r) => r.uniqueKey).sort());
    for (const node of [a, b]) {
      expect(await stateOn(node, id)).toEqual({ counts: [50, 0, 50, true], locked: 0, head: 50 });
    }
  });
});

describe('a client that dies holding locks', () => {
  it('loses them when they expire: the other node hands its requests out then, and a long lock stays held', async () => {
    const id = await createQueue(a, 'multinode-expiry', 10);
    const holder = await call(a, 'POST', `/${id}/head/lock?lockSecs=${LONG_LOCK_SECS}&limit=5&clientKey=holder`);
    expect(holder.status, holder.text).toBe(201);
    const held = (holder.data.items as { id: string }[]).map((r) => r.id);
    const dead = await call(a, 'POST', `/${id}/head/lock?lockSecs=1&limit=5&clientKey=dies`);
    expect(dead.status, dead.text).toBe(201);
    const lost = (dead.data.items as { id: string; lockExpiresAt: string }[]).map((r) => r.id);
    expect(lost).toHaveLength(5);
    const expiresAt = Date.parse(dead.data.items[0].lockExpiresAt);

    // Node b's head, for another client, shows the dead client's requests once its locks expire.
    const head = await poll(
      async () =>
        (await call(b, 'GET', `/${id}/head?clientKey=heir&limit=100`)).data.items.map((r: { id: string }) => r.id) as string[],
      (ids) => ids.length > 0,
      20_000,
    );
    expect(head.sort()).toEqual([...lost].sort());
    expect(Date.now(), 'no request came back before its lock expired').toBeGreaterThanOrEqual(expiresAt);
    const heir = await call(b, 'POST', `/${id}/head/lock?lockSecs=${LONG_LOCK_SECS}&limit=25&clientKey=heir`);
    expect((heir.data.items as { id: string }[]).map((r) => r.id).sort()).toEqual([...lost].sort());
    expect(heir.data).toMatchObject({ queueHasLockedRequests: true, hadMultipleClients: true });

    // The dead client comes back through either node: the requests are the heir's now.
    const [first] = lost as [string];
    for (const node of [a, b]) {
      expect((await call(node, 'PUT', `/${id}/requests/${first}/lock?lockSecs=60&clientKey=dies`)).status).toBe(403);
      expect((await call(node, 'DELETE', `/${id}/requests/${first}/lock?clientKey=dies`)).status).toBe(403);
    }
    // The long lock was never handed out: nobody but its holder may handle it.
    const { uniqueKey } = holder.data.items[0];
    const steal = await call(b, 'PUT', `/${id}/requests/${held[0]}?clientKey=heir`, {
      uniqueKey,
      url: uniqueKey,
      handledAt: new Date().toISOString(),
    });
    expect(steal.status, steal.text).toBe(403);
    for (const node of [a, b]) {
      const locked = (await call(node, 'GET', `/${id}/requests?filter=locked`)).data.items.map((r: { id: string }) => r.id);
      expect(locked.sort()).toEqual([...held, ...lost].sort());
      expect((await call(node, 'GET', `/${id}/head?clientKey=third`)).data.items).toEqual([]);
    }
  });
});
