import type { LightMyRequestResponse } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { expectError, putRecord, recordUrl } from '../helpers/records.js';

/**
 * Browsers may call the API from other origins (`--cors-origins`, default `*`), without
 * credentials: tokens travel in the Authorization header, never in cookies.
 */

const BROWSER = 'https://browser.example';

let ctx: TestContext | undefined;
afterEach(async () => {
  await ctx?.close();
  ctx = undefined;
});

async function setUp(corsOrigins?: '*' | string[] | false): Promise<{ ctx: TestContext; storeId: string }> {
  ctx = await createTestContext(corsOrigins === undefined ? {} : { corsOrigins });
  const storeId = (await ctx.createStore('cors')).id;
  expect((await putRecord(ctx, storeId, 'k', 'value', { 'content-type': 'text/plain' })).statusCode).toBe(201);
  return { ctx, storeId };
}

function preflight(c: TestContext, url: string, origin = BROWSER): Promise<LightMyRequestResponse> {
  return c.request({
    method: 'OPTIONS',
    url,
    headers: {
      origin,
      'access-control-request-method': 'PUT',
      'access-control-request-headers': 'authorization,content-type',
    },
  });
}

/** A header's comma-separated values, lower-cased. */
const list = (value: unknown) =>
  String(value ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);

const corsHeaders = (res: LightMyRequestResponse) => Object.keys(res.headers).filter((h) => h.startsWith('access-control-'));

describe('CORS with the default (any origin)', () => {
  it('a preflight for a PUT with Authorization and Content-Type → 204 allowing the method and headers', async () => {
    const { ctx: c, storeId } = await setUp();
    const res = await preflight(c, recordUrl(storeId, 'new'));
    expect(res.statusCode).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(list(res.headers['access-control-allow-methods'])).toEqual(expect.arrayContaining(['put', 'get', 'delete']));
    expect(list(res.headers['access-control-allow-headers'])).toEqual(expect.arrayContaining(['authorization', 'content-type']));
    // Credentials are never part of the deal.
    expect(res.headers['access-control-allow-credentials']).toBeUndefined();
  });

  it('the preflight is answered without a token and creates nothing', async () => {
    const { ctx: c, storeId } = await setUp();
    expect((await preflight(c, recordUrl(storeId, 'fresh'))).statusCode).toBe(204);
    const get = await c.request({ method: 'GET', url: recordUrl(storeId, 'fresh'), token: c.alice });
    expectError(get, 404, 'record-not-found');
  });

  it('the PUT that follows the preflight stores the record, and its answer carries Access-Control-Allow-Origin', async () => {
    const { ctx: c, storeId } = await setUp();
    const res = await putRecord(c, storeId, 'from-browser', '{"a":1}', { origin: BROWSER, 'content-type': 'application/json' });
    expect(res.statusCode).toBe(201);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(list(res.headers['access-control-expose-headers'])).toContain('location');
  });

  it('a simple GET with Origin gets Access-Control-Allow-Origin and may read ETag and Location', async () => {
    const { ctx: c, storeId } = await setUp();
    const res = await c.request({ method: 'GET', url: recordUrl(storeId, 'k'), headers: { origin: BROWSER } });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('value');
    expect(res.headers['access-control-allow-origin']).toBe('*');
    const exposed = list(res.headers['access-control-expose-headers']);
    expect(exposed).toEqual(expect.arrayContaining(['etag', 'location', 'content-encoding', 'last-modified']));
    expect(res.headers.etag).toBeDefined();
  });

  it('error answers carry Access-Control-Allow-Origin too, so that a page can read the error', async () => {
    const { ctx: c, storeId } = await setUp();
    const res = await c.request({ method: 'PUT', url: recordUrl(storeId, 'k'), headers: { origin: BROWSER }, payload: 'x' });
    expectError(res, 401, 'token-not-provided');
    expect(res.headers['access-control-allow-origin']).toBe('*');
  });
});

describe('CORS limited to listed origins', () => {
  const APP = 'https://app.example';

  it('the listed origin is allowed (preflight and GET), with Vary: Origin', async () => {
    const { ctx: c, storeId } = await setUp([APP]);
    const pre = await preflight(c, recordUrl(storeId, 'k'), APP);
    expect(pre.statusCode).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe(APP);
    expect(list(pre.headers['access-control-allow-headers'])).toContain('authorization');
    const get = await c.request({ method: 'GET', url: recordUrl(storeId, 'k'), headers: { origin: APP } });
    expect(get.statusCode).toBe(200);
    expect(get.headers['access-control-allow-origin']).toBe(APP);
    expect(list(get.headers.vary)).toContain('origin');
  });

  it.each([BROWSER, 'https://app.example.evil', 'http://app.example', 'null'])(
    'another origin (%s) gets no Access-Control-Allow-Origin',
    async (origin) => {
      const { ctx: c, storeId } = await setUp([APP]);
      const pre = await preflight(c, recordUrl(storeId, 'k'), origin);
      expect(pre.statusCode).toBeLessThan(500);
      expect(pre.headers['access-control-allow-origin']).toBeUndefined();
      const get = await c.request({ method: 'GET', url: recordUrl(storeId, 'k'), headers: { origin } });
      expect(get.statusCode).toBe(200);
      expect(get.headers['access-control-allow-origin']).toBeUndefined();
    },
  );
});

describe('CORS turned off', () => {
  it('no CORS header on a GET with Origin, on an error, or on a preflight', async () => {
    const { ctx: c, storeId } = await setUp(false);
    const get = await c.request({ method: 'GET', url: recordUrl(storeId, 'k'), headers: { origin: BROWSER } });
    expect(get.statusCode).toBe(200);
    expect(corsHeaders(get)).toEqual([]);
    const err = await c.request({ method: 'GET', url: recordUrl(storeId, 'missing'), headers: { origin: BROWSER } });
    expectError(err, 404, 'record-not-found');
    expect(corsHeaders(err)).toEqual([]);
    const pre = await preflight(c, recordUrl(storeId, 'k'));
    expect(pre.statusCode).toBeGreaterThanOrEqual(400);
    expect(pre.statusCode).toBeLessThan(500);
    expect(corsHeaders(pre)).toEqual([]);
  });
});

describe('tokens are never taken from cookies', () => {
  const cookies = (token: string) => [
    `token=${token}`,
    `authorization=Bearer ${token}`,
    `apify_token=${token}; token=${token}`,
    `Authorization=${encodeURIComponent(`Bearer ${token}`)}`,
  ];

  it('a write with only a token cookie is anonymous → 401 token-not-provided, nothing stored', async () => {
    const { ctx: c, storeId } = await setUp();
    for (const cookie of cookies(c.alice)) {
      const res = await c.request({
        method: 'PUT',
        url: recordUrl(storeId, 'cookie'),
        headers: { cookie, origin: BROWSER, 'content-type': 'text/plain' },
        payload: 'from a cookie',
      });
      expectError(res, 401, 'token-not-provided');
    }
    const get = await c.request({ method: 'GET', url: recordUrl(storeId, 'cookie'), token: c.alice });
    expectError(get, 404, 'record-not-found');
  });

  it('a store-level write or a list with only a token cookie → 401 token-not-provided', async () => {
    const { ctx: c, storeId } = await setUp();
    const cookie = `token=${c.alice}`;
    expectError(await c.request({ method: 'GET', url: '/v2/key-value-stores', headers: { cookie } }), 401, 'token-not-provided');
    expectError(
      await c.request({ method: 'POST', url: '/v2/key-value-stores?name=from-cookie', headers: { cookie } }),
      401,
      'token-not-provided',
    );
    expectError(
      await c.request({ method: 'DELETE', url: `/v2/key-value-stores/${storeId}`, headers: { cookie } }),
      401,
      'token-not-provided',
    );
    const still = await c.request({ method: 'GET', url: `/v2/key-value-stores/${storeId}`, token: c.alice });
    expect(still.statusCode).toBe(200);
  });

  it('a read of a restricted store with only a token cookie is anonymous → 404 record-or-token-not-found', async () => {
    const { ctx: c, storeId } = await setUp();
    const restrict = await c.request({
      method: 'PUT',
      url: `/v2/key-value-stores/${storeId}`,
      token: c.alice,
      payload: { generalAccess: 'RESTRICTED' },
    });
    expect(restrict.statusCode).toBe(200);
    const res = await c.request({ method: 'GET', url: recordUrl(storeId, 'k'), headers: { cookie: `token=${c.alice}` } });
    expectError(res, 404, 'record-or-token-not-found');
  });
});
