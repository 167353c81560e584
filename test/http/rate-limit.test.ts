import type { LightMyRequestResponse } from 'fastify';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { createTestContext, PUBLIC_URL, TEST_DRIVER, type TestContext } from '../helpers/context.js';
import { expectError, getRecord, putRecord, recordUrl } from '../helpers/records.js';

/**
 * openkvs decision 15: per-store rate limits are off by default; when on, record operations and
 * other requests each have their own per-store budget per second, and going over it is 429
 * `rate-limit-exceeded` with `X-RateLimit-Limit`. On PostgreSQL the counters live in the database.
 */

const LIMITS = { recordOpsPerSecond: 5, otherPerSecond: 3 };
const WINDOW_MS = 1000;

let ctx: TestContext | undefined;
afterEach(async () => {
  await ctx?.close();
  ctx = undefined;
  vi.useRealTimers();
});

/**
 * Stops the clock (`Date` only; timers run as usual) 100 ms into a second: the counters' windows
 * (the in-memory store's and the PostgreSQL driver's) are read from `Date.now()`, so a burst falls
 * in one window however slow the machine, and `nextWindow` moves to the next one without waiting.
 */
function stopClock(): void {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(Math.ceil(Date.now() / WINDOW_MS) * WINDOW_MS + 100);
}

function nextWindow(): void {
  vi.setSystemTime(Date.now() + WINDOW_MS);
}

function expect429(res: LightMyRequestResponse, limit: number): void {
  expectError(res, 429, 'rate-limit-exceeded');
  expect(res.headers['x-ratelimit-limit']).toBe(String(limit));
}

const statuses = (responses: LightMyRequestResponse[]) => responses.map((r) => r.statusCode);

describe('rate limits off (the default)', () => {
  it('hundreds of requests on one store within a second: no 429 and no rate-limit headers', async () => {
    ctx = await createTestContext();
    const c = ctx;
    const storeId = (await c.createStore('busy')).id;
    expect((await putRecord(c, storeId, 'k', 'v')).statusCode).toBe(201);
    const responses: LightMyRequestResponse[] = [];
    for (let i = 0; i < 300; i += 50) {
      responses.push(
        ...(await Promise.all(
          Array.from({ length: 50 }, (_, j) =>
            j % 5 === 0
              ? c.request({ method: 'GET', url: `/v2/key-value-stores/${storeId}`, token: c.alice })
              : getRecord(c, storeId, 'k'),
          ),
        )),
      );
    }
    expect(new Set(statuses(responses))).toEqual(new Set([200]));
    expect(responses.some((r) => r.headers['x-ratelimit-limit'] !== undefined)).toBe(false);
  });
});

describe(`rate limits on: ${LIMITS.recordOpsPerSecond} record operations and ${LIMITS.otherPerSecond} other requests per second per store`, () => {
  async function setUp() {
    ctx = await createTestContext({ rateLimits: LIMITS });
    stopClock();
    const a = (await ctx.createStore('limited-a')).id;
    const b = (await ctx.createStore('limited-b')).id;
    return { c: ctx, a, b };
  }

  it('the 6th record operation within a second on one store → 429 with X-RateLimit-Limit: 5; the refused write stores nothing', async () => {
    const { c, a } = await setUp();
    const responses = [
      await putRecord(c, a, 'one', '1'),
      await getRecord(c, a, 'one'),
      await getRecord(c, a, 'one', {}, '', 'HEAD'),
      await putRecord(c, a, 'two', '2'),
      await c.request({ method: 'DELETE', url: recordUrl(a, 'two'), token: c.alice }),
      await putRecord(c, a, 'refused', 'never stored'),
    ];
    expect(statuses(responses)).toEqual([201, 200, 200, 201, 204, 429]);
    expect(responses[0]!.headers['x-ratelimit-limit']).toBe('5');
    expect429(responses[5]!, LIMITS.recordOpsPerSecond);
    nextWindow();
    expectError(await getRecord(c, a, 'refused'), 404, 'record-not-found');
  });

  it('another store is not affected, and the other-requests budget is separate', async () => {
    const { c, a, b } = await setUp();
    const responses: LightMyRequestResponse[] = [];
    for (let i = 0; i < LIMITS.recordOpsPerSecond + 1; i++) responses.push(await getRecord(c, a, 'missing'));
    responses.push(await getRecord(c, b, 'missing'));
    responses.push(await c.request({ method: 'GET', url: `/v2/key-value-stores/${a}`, token: c.alice }));
    responses.push(await c.request({ method: 'GET', url: `/v2/key-value-stores/${a}/keys`, token: c.alice }));
    responses.push(await c.request({ method: 'GET', url: `/v2/key-value-stores/${a}`, token: c.alice }));
    responses.push(await c.request({ method: 'GET', url: `/v2/key-value-stores/${a}/keys`, token: c.alice }));
    responses.push(await c.request({ method: 'GET', url: `/v2/key-value-stores/${b}/keys`, token: c.alice }));
    // Store a: five 404s, then 429; store b: its own budget; then a's other budget: 3, then 429; b's untouched.
    expect(statuses(responses)).toEqual([404, 404, 404, 404, 404, 429, 404, 200, 200, 200, 429, 200]);
    expect429(responses[5]!, LIMITS.recordOpsPerSecond);
    expect429(responses[10]!, LIMITS.otherPerSecond);
  });

  it('after the window, the store is served again', async () => {
    const { c, a } = await setUp();
    const first: LightMyRequestResponse[] = [];
    for (let i = 0; i < LIMITS.recordOpsPerSecond + 2; i++) first.push(await getRecord(c, a, 'k'));
    expect(statuses(first).slice(-2)).toEqual([429, 429]);
    nextWindow();
    expect((await getRecord(c, a, 'k')).statusCode).toBe(404);
    expect((await putRecord(c, a, 'k', 'back')).statusCode).toBe(201);
  });

  it('requests that name no store (list, create, health) are not limited', async () => {
    const { c } = await setUp();
    const responses: LightMyRequestResponse[] = [];
    for (let i = 0; i < 10; i++) responses.push(await c.request({ method: 'GET', url: '/v2/key-value-stores', token: c.alice }));
    for (let i = 0; i < 10; i++) responses.push(await c.request({ method: 'GET', url: '/health' }));
    expect(new Set(statuses(responses))).toEqual(new Set([200]));
  });

  it('the same store named by id and by ~name shares one budget', async () => {
    const { c, a } = await setUp();
    const refs = [a, '~limited-a', `alice~limited-a`];
    const responses: LightMyRequestResponse[] = [];
    for (let i = 0; i < 9; i++) {
      const url = `/v2/key-value-stores/${refs[i % 3]}/records/missing`;
      responses.push(await c.request({ method: 'GET', url, token: c.alice }));
    }
    expect(statuses(responses)).toEqual([404, 404, 404, 404, 404, 429, 429, 429, 429]);
  });

  it.runIf(TEST_DRIVER === 'postgres')('two servers on one database share the counters', async () => {
    const { c, a } = await setUp();
    // A second application on the same database, as a second node would be.
    const other = createApp({ kvs: c.kvs, publicUrl: () => PUBLIC_URL, maxRecordBytes: 1000, rateLimits: LIMITS });
    try {
      const get = (app: typeof other) =>
        app.inject({ method: 'GET', url: recordUrl(a, 'missing'), headers: { authorization: `Bearer ${c.alice}` } });
      const responses = [
        await get(c.app),
        await get(other),
        await get(c.app),
        await get(other),
        await get(c.app),
        await get(other),
      ];
      expect(statuses(responses)).toEqual([404, 404, 404, 404, 404, 429]);
    } finally {
      await other.close();
    }
  });
});
