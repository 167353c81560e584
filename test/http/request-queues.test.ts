/**
 * The request-queue endpoints over HTTP on both drivers: the queue object and its counts, adding
 * by uniqueKey with Crawlee's ids, forefront order, head and locks with their owners and expiry (a
 * moved clock), handling, deleting, listing. Real clients are in test/compat/.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { requestId } from '../../src/domain/queues/requests.js';
import { createTestContext, PUBLIC_URL, type TestContext } from '../helpers/context.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => {
  await ctx.close();
});
afterEach(() => {
  vi.restoreAllMocks();
});

interface ApiQueue {
  id: string;
  name: string | null;
  totalRequestCount: number;
  handledRequestCount: number;
  pendingRequestCount: number;
  hadMultipleClients: boolean;
}

async function createQueue(name?: string): Promise<ApiQueue> {
  const res = await ctx.request({
    method: 'POST',
    url: name ? `/v2/request-queues?name=${name}` : '/v2/request-queues',
    token: ctx.alice,
  });
  expect([200, 201], res.body).toContain(res.statusCode);
  return res.json().data;
}

const call = async (
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  payload?: unknown,
  token: string | null = ctx.alice,
) => {
  const res = await ctx.request({
    method,
    url: path,
    token: token ?? undefined,
    ...(payload === undefined ? {} : { payload: payload as object }),
  });
  return { status: res.statusCode, body: res.body ? res.json() : undefined, headers: res.headers };
};

const req = (n: number | string) => ({ uniqueKey: `https://example.com/${n}`, url: `https://example.com/${n}` });
const queueOf = async (id: string): Promise<ApiQueue> => (await call('GET', `/v2/request-queues/${id}`)).body.data;
const headIds = async (id: string, query = '') =>
  ((await call('GET', `/v2/request-queues/${id}/head${query}`)).body.data.items as { id: string }[]).map((r) => r.id);

describe('request queues', () => {
  it('creates a queue with its counts, by name as well as by id', async () => {
    const res = await ctx.request({ method: 'POST', url: '/v2/request-queues?name=crawl', token: ctx.alice });
    expect(res.statusCode).toBe(201);
    const q = res.json().data;
    expect(q).toMatchObject({
      name: 'crawl',
      totalRequestCount: 0,
      handledRequestCount: 0,
      pendingRequestCount: 0,
      hadMultipleClients: false,
    });
    expect(q.consoleUrl).toBe(`${PUBLIC_URL}/v2/request-queues/${q.id}`);
    expect((await call('GET', '/v2/request-queues/~crawl')).body.data.id).toBe(q.id);
    expect((await call('GET', '/v2/request-queues?unnamed=1')).body.data.items.map((x: { id: string }) => x.id)).toContain(q.id);
    expect((await call('GET', `/v2/datasets/${q.id}`)).status).toBe(404);
  });

  it("adds by uniqueKey with Crawlee's ids, once", async () => {
    const q = await createQueue();
    const first = await call('POST', `/v2/request-queues/${q.id}/requests`, { ...req(1), userData: { label: 'A' } });
    expect(first.status).toBe(201);
    expect(first.body.data).toEqual({
      requestId: requestId(req(1).uniqueKey),
      wasAlreadyPresent: false,
      wasAlreadyHandled: false,
    });
    expect(requestId('https://example.com/1')).toMatch(/^[A-Za-z0-9]{15}$/);
    const again = await call('POST', `/v2/request-queues/${q.id}/requests`, req(1));
    expect(again.body.data).toMatchObject({ wasAlreadyPresent: true, wasAlreadyHandled: false });
    const got = await call('GET', `/v2/request-queues/${q.id}/requests/${first.body.data.requestId}`);
    expect(got.body.data).toMatchObject({ id: first.body.data.requestId, ...req(1), method: 'GET', userData: { label: 'A' } });
    expect(await queueOf(q.id)).toMatchObject({ totalRequestCount: 1, pendingRequestCount: 1 });
  });

  it('batch adds at most 25 and reports the rest as unprocessed', async () => {
    const q = await createQueue();
    const batch = Array.from({ length: 30 }, (_, i) => req(`b${i}`));
    const res = await call('POST', `/v2/request-queues/${q.id}/requests/batch`, batch);
    expect(res.status).toBe(201);
    expect(res.body.data.processedRequests).toHaveLength(25);
    expect(res.body.data.unprocessedRequests.map((r: { uniqueKey: string }) => r.uniqueKey)).toEqual(
      batch.slice(25).map((r) => r.uniqueKey),
    );
    expect((await queueOf(q.id)).totalRequestCount).toBe(25);
  });

  it('puts forefront requests first, the latest first', async () => {
    const q = await createQueue();
    for (const n of [1, 2]) await call('POST', `/v2/request-queues/${q.id}/requests`, req(n));
    await call('POST', `/v2/request-queues/${q.id}/requests?forefront=true`, req('f1'));
    await call('POST', `/v2/request-queues/${q.id}/requests?forefront=1`, req('f2'));
    const ids = ['f2', 'f1', 1, 2].map((n) => requestId(req(n).uniqueKey));
    expect(await headIds(q.id)).toEqual(ids);
  });

  it('locks the head for one client until the lock expires, and never hands a request out twice', async () => {
    const q = await createQueue();
    await call('POST', `/v2/request-queues/${q.id}/requests/batch`, [1, 2, 3, 4].map(req));
    let now = Date.now();
    vi.spyOn(Date, 'now').mockImplementation(() => now);
    const a = await call('POST', `/v2/request-queues/${q.id}/head/lock?lockSecs=60&limit=2&clientKey=a`);
    expect(a.status).toBe(201);
    expect(a.body.data.items).toHaveLength(2);
    expect(a.body.data.items[0].lockExpiresAt).toBe(new Date(now + 60_000).toISOString());
    const b = await call('POST', `/v2/request-queues/${q.id}/head/lock?lockSecs=3600&limit=25&clientKey=b`);
    const aIds = a.body.data.items.map((r: { id: string }) => r.id);
    const bIds = b.body.data.items.map((r: { id: string }) => r.id);
    expect(bIds).toHaveLength(2);
    expect(bIds.filter((id: string) => aIds.includes(id))).toEqual([]);
    expect(b.body.data).toMatchObject({ queueHasLockedRequests: true, hadMultipleClients: true, clientKey: 'b' });
    expect(await headIds(q.id)).toEqual([]);
    // b may neither prolong nor delete a's lock.
    expect((await call('PUT', `/v2/request-queues/${q.id}/requests/${aIds[0]}/lock?lockSecs=10&clientKey=b`)).status).toBe(403);
    expect((await call('DELETE', `/v2/request-queues/${q.id}/requests/${aIds[0]}/lock?clientKey=b`)).status).toBe(403);
    const prolonged = await call('PUT', `/v2/request-queues/${q.id}/requests/${aIds[0]}/lock?lockSecs=120&clientKey=a`);
    expect(prolonged.body.data.lockExpiresAt).toBe(new Date(now + 120_000).toISOString());
    now += 61_000;
    // a's second lock expired: it comes back; the prolonged one stays locked.
    expect(await headIds(q.id)).toEqual([aIds[1]]);
    const c = await call('POST', `/v2/request-queues/${q.id}/head/lock?lockSecs=60&clientKey=c`);
    expect(c.body.data.items.map((r: { id: string }) => r.id)).toEqual([aIds[1]]);
  });

  it('marks a request handled: it leaves the head, its lock ends, re-adding says handled', async () => {
    const q = await createQueue();
    await call('POST', `/v2/request-queues/${q.id}/requests`, req(1));
    const [locked] = (await call('POST', `/v2/request-queues/${q.id}/head/lock?lockSecs=60&clientKey=a`)).body.data.items;
    const other = await call('PUT', `/v2/request-queues/${q.id}/requests/${locked.id}?clientKey=b`, {
      ...req(1),
      id: locked.id,
      handledAt: new Date().toISOString(),
    });
    expect(other.status).toBe(403);
    const handled = await call('PUT', `/v2/request-queues/${q.id}/requests/${locked.id}?clientKey=a`, {
      ...req(1),
      id: locked.id,
      handledAt: new Date().toISOString(),
    });
    expect(handled.status).toBe(200);
    expect(handled.body.data).toMatchObject({ requestId: locked.id, wasAlreadyPresent: true, wasAlreadyHandled: false });
    expect(await queueOf(q.id)).toMatchObject({ totalRequestCount: 1, handledRequestCount: 1, pendingRequestCount: 0 });
    expect(await headIds(q.id)).toEqual([]);
    const readd = await call('POST', `/v2/request-queues/${q.id}/requests`, req(1));
    expect(readd.body.data).toMatchObject({ wasAlreadyPresent: true, wasAlreadyHandled: true });
    expect((await call('DELETE', `/v2/request-queues/${q.id}/requests/${locked.id}/lock?clientKey=a`)).status).toBe(400);
  });

  it('unlocks the requests of one client and reclaims with forefront', async () => {
    const q = await createQueue();
    await call('POST', `/v2/request-queues/${q.id}/requests/batch`, [1, 2, 3].map(req));
    const items = (await call('POST', `/v2/request-queues/${q.id}/head/lock?lockSecs=60&limit=2&clientKey=a`)).body.data.items;
    const unlocked = await call('POST', `/v2/request-queues/${q.id}/requests/unlock?clientKey=a`);
    expect(unlocked.body.data).toEqual({ unlockedCount: 2 });
    expect(await headIds(q.id)).toHaveLength(3);
    const relock = (await call('POST', `/v2/request-queues/${q.id}/head/lock?lockSecs=60&limit=1&clientKey=a`)).body.data.items;
    expect(relock[0].id).toBe(items[0].id);
    expect(
      (await call('DELETE', `/v2/request-queues/${q.id}/requests/${relock[0].id}/lock?clientKey=a&forefront=true`)).status,
    ).toBe(204);
    expect((await headIds(q.id))[0]).toBe(relock[0].id);
  });

  it('deletes requests one by one and in batches, by id or uniqueKey', async () => {
    const q = await createQueue();
    await call('POST', `/v2/request-queues/${q.id}/requests/batch`, [1, 2, 3, 4].map(req));
    expect((await call('DELETE', `/v2/request-queues/${q.id}/requests/${requestId(req(1).uniqueKey)}`)).status).toBe(204);
    const batch = await call('DELETE', `/v2/request-queues/${q.id}/requests/batch`, [
      { id: requestId(req(2).uniqueKey) },
      { uniqueKey: req(3).uniqueKey },
    ]);
    expect(batch.status).toBe(200);
    expect(batch.body.data.processedRequests).toHaveLength(2);
    expect(await headIds(q.id)).toEqual([requestId(req(4).uniqueKey)]);
    expect((await queueOf(q.id)).totalRequestCount).toBe(1);
    expect((await call('GET', `/v2/request-queues/${q.id}/requests/${requestId(req(1).uniqueKey)}`)).status).toBe(404);
  });

  it('lists requests in pages by cursor, and filtered', async () => {
    const q = await createQueue();
    await call(
      'POST',
      `/v2/request-queues/${q.id}/requests/batch`,
      Array.from({ length: 12 }, (_, i) => req(`l${i}`)),
    );
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await call('GET', `/v2/request-queues/${q.id}/requests?limit=5${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      seen.push(...page.body.data.items.map((r: { id: string }) => r.id));
      cursor = page.body.data.nextCursor;
    } while (cursor);
    expect(seen).toHaveLength(12);
    expect([...seen].sort()).toEqual(seen);
    await call('POST', `/v2/request-queues/${q.id}/head/lock?lockSecs=60&limit=3&clientKey=a`);
    expect((await call('GET', `/v2/request-queues/${q.id}/requests?filter=locked`)).body.data.items).toHaveLength(3);
    expect((await call('GET', `/v2/request-queues/${q.id}/requests?filter=pending`)).body.data.items).toHaveLength(12);
    expect((await call('GET', `/v2/request-queues/${q.id}/requests?filter=nope`)).status).toBe(400);
  });

  it('refuses bad requests and bad parameters with 400, and writes by others with 403', async () => {
    const q = await createQueue();
    for (const bad of [
      [],
      'x',
      { url: 'https://x' },
      { uniqueKey: 'k' },
      { uniqueKey: 'k', url: 'u', id: 'wrong' },
      // A date PostgreSQL's bigint could not hold was a 500 there (found by the fuzz).
      { uniqueKey: 'k', url: 'u', handledAt: 1.5 },
      { uniqueKey: 'k', url: 'u', handledAt: -2.59e146 },
      { uniqueKey: 'k', url: 'u', handledAt: 'yesterday' },
    ]) {
      const res = await call('POST', `/v2/request-queues/${q.id}/requests`, bad);
      expect(res.status, JSON.stringify(bad)).toBe(400);
    }
    expect((await call('POST', `/v2/request-queues/${q.id}/head/lock`)).status).toBe(400);
    expect((await call('POST', `/v2/request-queues/${q.id}/head/lock?lockSecs=0`)).status).toBe(400);
    expect((await call('POST', `/v2/request-queues/${q.id}/head/lock?lockSecs=10&clientKey=${'k'.repeat(33)}`)).status).toBe(400);
    expect((await call('POST', `/v2/request-queues/${q.id}/requests`, req(1), ctx.bob)).status).toBe(403);
    expect((await call('POST', `/v2/request-queues/${q.id}/requests`, req(1), null)).status).toBe(401);
    expect((await queueOf(q.id)).totalRequestCount).toBe(0);
  });
});
