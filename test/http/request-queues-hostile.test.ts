/**
 * Hostile input to request queues, in process, on the driver of the project (both run, with the
 * same expected answers): request bodies that are not requests, bad uniqueKeys, urls and ids, NUL
 * and lone surrogates, huge and deep bodies, 10 000-item batches, bad lockSecs, clientKeys,
 * cursors, filters and limits, unknown and odd request ids. Every refusal is a 4xx in the Apify
 * envelope and leaves the queue's requests, locks and counts as they were.
 */
import { randomBytes } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestId } from '../../src/domain/queues/requests.js';
import { MAX_JSON_DEPTH } from '../../src/domain/validation.js';
import { MAX_JSON_BODY_BYTES } from '../../src/http/body.js';
import { createTestContext, type TestContext } from '../helpers/context.js';

let ctx: TestContext;
const Q = '/v2/request-queues';
const JSON_HEADERS = { 'content-type': 'application/json' };
const MiB = 1024 * 1024;

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

const call = (method: Method, url: string, payload?: string | Buffer): Promise<LightMyRequestResponse> =>
  ctx.request({
    method,
    url,
    token: ctx.alice,
    ...(payload === undefined ? {} : { payload, headers: JSON_HEADERS }),
  });

const req = (n: number | string, extra: Record<string, unknown> = {}) => ({
  uniqueKey: `https://example.com/hostile/${n}`,
  url: `https://example.com/hostile/${n}`,
  ...extra,
});
const idOf = (n: number | string) => requestId(req(n).uniqueKey);
const text = (v: unknown) => JSON.stringify(v);

interface Snapshot {
  counts: unknown[];
  requests: string;
  locked: string[];
}

/** The queue's counts and modifiedAt, all its requests (as listed) and its live locks. */
async function snapshot(id: string): Promise<Snapshot> {
  const queue = await call('GET', `${Q}/${id}`);
  expect(queue.statusCode, queue.body).toBe(200);
  const q = queue.json().data;
  const requests = await call('GET', `${Q}/${id}/requests?limit=10000`);
  expect(requests.statusCode, requests.body.slice(0, 300)).toBe(200);
  const locked = await call('GET', `${Q}/${id}/requests?filter=locked`);
  return {
    counts: [q.totalRequestCount, q.handledRequestCount, q.pendingRequestCount, q.hadMultipleClients, q.modifiedAt],
    requests: requests.body,
    locked: locked.json().data.items.map((r: { id: string }) => r.id),
  };
}

function expectEnvelope(res: LightMyRequestResponse, status?: number, type?: string): void {
  const summary = `${res.statusCode} ${res.body.slice(0, 300)}`;
  if (status !== undefined) expect(res.statusCode, summary).toBe(status);
  expect(res.statusCode, summary).toBeGreaterThanOrEqual(400);
  expect(res.statusCode, summary).toBeLessThan(500);
  expect(res.headers['content-type'], summary).toMatch(/^application\/json/);
  const error = res.json().error;
  if (type !== undefined) expect(error?.type, summary).toBe(type);
  expect(typeof error?.type, summary).toBe('string');
  expect(typeof error?.message, summary).toBe('string');
}

const nested = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;
const DEEP = 100_000;
const many = (n: number, from = 0) => Array.from({ length: n }, (_, i) => req(`many-${from + i}`));

beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx.close());

describe('refusals change nothing', () => {
  let id: string;
  let before: Snapshot;
  const HOLDER = 'holder';
  beforeAll(async () => {
    const created = await ctx.request({ method: 'POST', url: `${Q}?name=hostile-target`, token: ctx.alice });
    id = created.json().data.id;
    const seed = [0, 1, 2, 3].map((n) => req(n, { userData: { n } }));
    seed.push(req(4, { handledAt: '2026-01-01T00:00:00.000Z' }));
    expect((await call('POST', `${Q}/${id}/requests/batch`, text(seed))).statusCode).toBe(201);
    const lock = await call('POST', `${Q}/${id}/head/lock?lockSecs=3600&limit=2&clientKey=${HOLDER}`);
    expect(lock.json().data.items.map((r: { id: string }) => r.id)).toEqual([idOf(0), idOf(1)]);
    before = await snapshot(id);
    expect(before.counts.slice(0, 4)).toEqual([5, 1, 4, false]);
  });

  /** Bodies that are no request, for an add, an update and as an item of a batch. */
  const BAD_REQUESTS: [string, () => string | Buffer][] = [
    ['an empty body', () => ''],
    ['text', () => 'hello'],
    ['an unclosed object', () => '{"uniqueKey":"a"'],
    ['null', () => 'null'],
    ['true', () => 'true'],
    ['a number', () => '1'],
    ['a string', () => '"https://example.com"'],
    ['an empty array', () => '[]'],
    ['an array holding a request', () => text([req('in-array')])],
    ['a request and junk', () => `${text(req('junk'))} x`],
    ['no uniqueKey', () => text({ url: 'https://example.com/x' })],
    ['an empty uniqueKey', () => text({ uniqueKey: '', url: 'https://example.com/x' })],
    ['a numeric uniqueKey', () => text({ uniqueKey: 1, url: 'https://example.com/x' })],
    ['a null uniqueKey', () => text({ uniqueKey: null, url: 'https://example.com/x' })],
    ['an object as uniqueKey', () => text({ uniqueKey: {}, url: 'https://example.com/x' })],
    ['an array as uniqueKey', () => text({ uniqueKey: ['a'], url: 'https://example.com/x' })],
    ['no url', () => text({ uniqueKey: 'k' })],
    ['an empty url', () => text({ uniqueKey: 'k', url: '' })],
    ['a numeric url', () => text({ uniqueKey: 'k', url: 7 })],
    ['a null url', () => text({ uniqueKey: 'k', url: null })],
    ['a numeric method', () => text(req('m', { method: 1 }))],
    ['a null method', () => text(req('m', { method: null }))],
    ['an id that is not the one of its uniqueKey', () => text(req('id', { id: 'wrong' }))],
    ["the id of another request's uniqueKey", () => text(req('id', { id: idOf(2) }))],
    ['a numeric id', () => text(req('id', { id: 7 }))],
    ['an empty id', () => text(req('id', { id: '' }))],
    ['a handledAt that is no date', () => text(req('h', { handledAt: 'yesterday' }))],
    ['a handledAt of true', () => text(req('h', { handledAt: true }))],
    ['a handledAt object', () => text(req('h', { handledAt: {} }))],
    ['a NUL in the uniqueKey', () => '{"uniqueKey":"a\\u0000b","url":"https://example.com/nul"}'],
    ['a NUL in the url', () => '{"uniqueKey":"nul-url","url":"https://example.com/\\u0000"}'],
    ['a lone high surrogate in the uniqueKey', () => '{"uniqueKey":"a\\ud800","url":"https://example.com/s"}'],
    ['a lone low surrogate in the uniqueKey', () => '{"uniqueKey":"\\udfffa","url":"https://example.com/s"}'],
    ['a lone surrogate in a userData key', () => '{"uniqueKey":"s","url":"u","userData":{"\\ud800":1}}'],
    ['a NUL in a userData key', () => '{"uniqueKey":"s","url":"u","userData":{"\\u0000":1}}'],
    ['a raw NUL in a string', () => '{"uniqueKey":"a\u0000b","url":"u"}'],
    [
      'the byte FF in the uniqueKey',
      () => Buffer.concat([Buffer.from('{"uniqueKey":"'), Buffer.from([0xff]), Buffer.from('","url":"u"}')]),
    ],
    ['a number out of range', () => '{"uniqueKey":"n","url":"u","userData":{"n":1e999}}'],
    [`userData ${MAX_JSON_DEPTH + 1} levels deep`, () => `{"uniqueKey":"d","url":"u","userData":${nested(MAX_JSON_DEPTH + 1)}}`],
    [`userData ${DEEP} levels deep`, () => `{"uniqueKey":"d","url":"u","userData":${nested(DEEP)}}`],
    [`${DEEP} unclosed [`, () => '['.repeat(DEEP)],
    ['9 MiB + 1 byte', () => text(req('big', { pad: 'x'.repeat(MAX_JSON_BODY_BYTES) }))],
  ];

  /** Bodies that are not JSON at all: refused as a bad request, as on the storage routes. */
  const NOT_JSON = ['text', 'an unclosed object', 'a request and junk', 'a raw NUL in a string', `${DEEP} unclosed [`];
  const statusOf = (label: string) => (label.startsWith('9 MiB') ? 413 : 400);
  const typeOf = (label: string) =>
    label.startsWith('9 MiB') ? 'request-too-large' : NOT_JSON.includes(label) ? 'invalid-request' : 'invalid-value';

  it.each(BAD_REQUESTS)('an add of %s is refused', async (label, body) => {
    expectEnvelope(await call('POST', `${Q}/${id}/requests`, body()), statusOf(label), typeOf(label));
    expect(await snapshot(id)).toEqual(before);
  });

  it.each(BAD_REQUESTS)('an update (of a pending request) to %s is refused', async (label, body) => {
    expectEnvelope(await call('PUT', `${Q}/${id}/requests/${idOf(2)}`, body()), statusOf(label), typeOf(label));
    expect(await snapshot(id)).toEqual(before);
  });

  it.each(BAD_REQUESTS.filter(([label]) => !['an empty body', 'an empty array'].includes(label)))(
    'a batch of good requests with %s among them adds none of them',
    async (label, body) => {
      // Spliced as bytes: what is not JSON on its own makes the batch no JSON either.
      const batch = Buffer.concat([
        Buffer.from(`[${text(req('good-1'))},`),
        Buffer.from(body()),
        Buffer.from(`,${text(req('good-2'))}]`),
      ]);
      const res = await call('POST', `${Q}/${id}/requests/batch`, batch);
      expectEnvelope(res, label.startsWith('9 MiB') ? 413 : 400);
      expect(await snapshot(id)).toEqual(before);
    },
  );

  it('an update whose uniqueKey is another request’s (the path names request 2) is refused', async () => {
    expectEnvelope(await call('PUT', `${Q}/${id}/requests/${idOf(2)}`, text(req(3))), 400, 'invalid-value');
    expect(await snapshot(id)).toEqual(before);
  });

  it.each([
    ['an object', text(req('obj'))],
    ['null', 'null'],
    ['a string', '"x"'],
    ['an array of numbers', '[1,2]'],
    ['an array with null', `[${text(req('n'))},null]`],
    ['an array of arrays', text([[req('nested')]])],
    ['10 000 good requests and a bad one at the end', text([...many(10_000), { url: 'no uniqueKey' }])],
  ])('a batch add of %s is refused', async (_label, body) => {
    expectEnvelope(await call('POST', `${Q}/${id}/requests/batch`, body), 400, 'invalid-value');
    expect(await snapshot(id)).toEqual(before);
  });

  it.each([
    ['an object', text({ id: idOf(2) })],
    ['null', 'null'],
    ['a number', '[1]'],
    ['an empty object', '[{}]'],
    ['an empty id', text([{ id: '' }])],
    ['a numeric id', text([{ id: 1 }])],
    ['an empty uniqueKey', text([{ uniqueKey: '' }])],
    ['a good one and a bad one', text([{ id: idOf(2) }, { nope: 1 }])],
    ['10 000 ids and an empty object', text([...many(10_000).map((r) => ({ uniqueKey: r.uniqueKey })), {}])],
  ])('a batch delete of %s is refused', async (_label, body) => {
    expectEnvelope(await call('DELETE', `${Q}/${id}/requests/batch`, body), 400, 'invalid-value');
    expect(await snapshot(id)).toEqual(before);
  });

  const LOCK_SECS = [
    '',
    '0',
    '-1',
    'NaN',
    'Infinity',
    '1e400',
    '1e3',
    '604801',
    '99999999999999999999',
    'abc',
    '1.',
    '.5',
    '0.0',
    '%00',
  ];

  it.each(LOCK_SECS)('head/lock with lockSecs=%s is refused; so is a missing lockSecs', async (secs) => {
    const url = `${Q}/${id}/head/lock?clientKey=other&lockSecs=${secs}`;
    expectEnvelope(await call('POST', url), 400, 'invalid-parameter');
    expectEnvelope(await call('POST', `${Q}/${id}/head/lock?clientKey=other`), 400, 'invalid-parameter');
    expect(await snapshot(id)).toEqual(before);
  });

  it.each(LOCK_SECS)("prolonging the holder's lock with lockSecs=%s is refused", async (secs) => {
    const url = `${Q}/${id}/requests/${idOf(0)}/lock?clientKey=${HOLDER}&lockSecs=${secs}`;
    expectEnvelope(await call('PUT', url), 400, 'invalid-parameter');
    expect(await snapshot(id)).toEqual(before);
  });

  // (An escape of a lone surrogate stays as sent, a clientKey of 9 characters.)
  const CLIENT_KEYS = ['k'.repeat(33), 'k'.repeat(5000), '%00', 'a%00b'];
  const WITH_CLIENT_KEY: [Method, string, string?][] = [
    ['POST', 'requests', text(req('ck'))],
    ['POST', 'requests/batch', text([req('ck')])],
    ['DELETE', 'requests/batch', text([{ id: idOf(2) }])],
    ['GET', 'requests'],
    ['GET', `requests/${idOf(2)}`],
    ['PUT', `requests/${idOf(2)}`, text(req(2, { handledAt: '2026-01-01T00:00:00.000Z' }))],
    ['DELETE', `requests/${idOf(2)}`],
    ['GET', 'head'],
    ['POST', 'head/lock?lockSecs=60'],
    ['PUT', `requests/${idOf(0)}/lock?lockSecs=60`],
    ['DELETE', `requests/${idOf(0)}/lock`],
    ['POST', 'requests/unlock'],
  ];

  it.each(WITH_CLIENT_KEY)(
    '%s …/%s with a clientKey of 33 characters, 5000, or a NUL is refused',
    async (method, below, body) => {
      for (const key of CLIENT_KEYS) {
        const url = `${Q}/${id}/${below}${below.includes('?') ? '&' : '?'}clientKey=${key}`;
        expectEnvelope(await call(method, url, body), 400, 'invalid-parameter');
      }
      expect(await snapshot(id)).toEqual(before);
    },
  );

  const cursor = (o: unknown) => Buffer.from(typeof o === 'string' ? o : JSON.stringify(o)).toString('base64url');
  it.each([
    ['cursor=garbage', 'invalid-parameter'],
    [`cursor=${cursor('not json')}`, 'invalid-parameter'],
    [`cursor=${cursor({ after: 1 })}`, 'invalid-parameter'],
    [`cursor=${cursor([])}`, 'invalid-parameter'],
    [`cursor=${cursor(null)}`, 'invalid-parameter'],
    [`cursor=${cursor({ after: 'x' })}&exclusiveStartId=x`, 'invalid-parameter'],
    ['cursor=%00', 'invalid-parameter'],
    [`cursor=${'x'.repeat(5000)}`, 'invalid-parameter'],
    ['exclusiveStartId=%00', 'invalid-parameter'],
    ['filter=nope', 'invalid-parameter'],
    ['filter=locked,nope', 'invalid-parameter'],
    ['filter=,', 'invalid-parameter'],
    ['filter=LOCKED', 'invalid-parameter'],
    ['filter=%00', 'invalid-parameter'],
    ['limit=-1', 'invalid-parameter'],
    ['limit=abc', 'invalid-parameter'],
    ['limit=1e3', 'invalid-parameter'],
    ['limit=1.5', 'invalid-parameter'],
    [`limit=${'9'.repeat(5000)}`, 'invalid-parameter'],
  ])('GET requests?%s is refused', async (query, type) => {
    expectEnvelope(await call('GET', `${Q}/${id}/requests?${query}`), 400, type);
    expect(await snapshot(id)).toEqual(before);
  });

  it.each(['limit=-1', 'limit=abc', 'limit=1e3', 'limit=0.5'])('GET head?%s and POST head/lock?%s are refused', async (query) => {
    expectEnvelope(await call('GET', `${Q}/${id}/head?${query}`), 400, 'invalid-parameter');
    expectEnvelope(await call('POST', `${Q}/${id}/head/lock?lockSecs=60&clientKey=other&${query}`), 400, 'invalid-parameter');
    expect(await snapshot(id)).toEqual(before);
  });

  it.each(['forefront=maybe', 'forefront=2', 'forefront=%00'])(
    'an add, an update and a lock delete with %s are refused',
    async (query) => {
      expectEnvelope(await call('POST', `${Q}/${id}/requests?${query}`, text(req('ff'))), 400, 'invalid-parameter');
      expectEnvelope(await call('PUT', `${Q}/${id}/requests/${idOf(3)}?${query}`, text(req(3))), 400, 'invalid-parameter');
      expectEnvelope(
        await call('DELETE', `${Q}/${id}/requests/${idOf(0)}/lock?clientKey=${HOLDER}&${query}`),
        400,
        'invalid-parameter',
      );
      expect(await snapshot(id)).toEqual(before);
    },
  );

  const UNKNOWN = 'nosuchrequest00';
  it.each([
    ['GET', `requests/${UNKNOWN}`, 404, 'record-not-found'],
    ['PUT', `requests/${UNKNOWN}/lock?lockSecs=60&clientKey=${HOLDER}`, 404, 'record-not-found'],
    ['DELETE', `requests/${UNKNOWN}/lock?clientKey=${HOLDER}`, 404, 'record-not-found'],
    // A request of the queue, but the lock is another client's, or there is none.
    ['PUT', `requests/${idOf(0)}/lock?lockSecs=60&clientKey=other`, 403, 'insufficient-permissions'],
    ['DELETE', `requests/${idOf(0)}/lock?clientKey=other`, 403, 'insufficient-permissions'],
    ['DELETE', `requests/${idOf(0)}/lock`, 403, 'insufficient-permissions'],
    ['PUT', `requests/${idOf(2)}/lock?lockSecs=60&clientKey=${HOLDER}`, 400, 'invalid-value'],
    ['DELETE', `requests/${idOf(2)}/lock?clientKey=${HOLDER}`, 400, 'invalid-value'],
    ['PUT', `requests/${idOf(4)}/lock?lockSecs=60&clientKey=${HOLDER}`, 400, 'invalid-value'],
    // Odd ids: an escaped slash, encoded dots, NUL, a lone surrogate, too long.
    ['GET', 'requests/a%2Fb', 404, 'record-not-found'],
    ['GET', 'requests/%00', 400, 'invalid-parameter'],
    ['GET', 'requests/%ED%A0%80', 400, undefined],
    ['DELETE', 'requests/%00', 400, 'invalid-parameter'],
    ['PUT', `requests/${'x'.repeat(5000)}/lock?lockSecs=60&clientKey=${HOLDER}`, 400, 'invalid-parameter'],
    ['PUT', 'requests/a%2Fb/lock?lockSecs=60', 404, 'record-not-found'],
    // Encoded dots are dot segments too: this is `…/{queueId}/lock`, no route.
    ['PUT', 'requests/%2e%2e/lock?lockSecs=60', 404, 'page-not-found'],
  ] as const)('%s …/%s → %i', async (method, below, status, type) => {
    expectEnvelope(await call(method, `${Q}/${id}/${below}`), status, type);
    expect(await snapshot(id)).toEqual(before);
  });

  it.each([
    // A client removes dot segments: `…/requests/..` is the queue itself, with a trailing slash.
    ['DELETE', 'requests/..'],
    ['PUT', 'requests/..'],
    ['DELETE', 'requests/x/..'],
    ['DELETE', 'requests/x/../..'],
    ['PUT', 'requests/x/..'],
    ['POST', 'requests/x/..'],
    ['PUT', 'head/..'],
    ['DELETE', 'head/lock/..'],
    ['POST', 'requests/batch/x'],
    ['PUT', 'requests/batch'],
    ['PATCH', 'requests'],
  ] as const)('%s …/%s is a 4xx and deletes or changes nothing', async (method, below) => {
    const res = await ctx.request({
      method,
      url: `${Q}/${id}/${below}`,
      token: ctx.alice,
      headers: JSON_HEADERS,
      payload: method === 'DELETE' ? undefined : text({ title: 'through an odd path' }),
    });
    expectEnvelope(res);
    expect(await snapshot(id)).toEqual(before);
  });

  it('a delete of a request the queue does not hold changes nothing', async () => {
    const res = await call('DELETE', `${Q}/${id}/requests/${UNKNOWN}`);
    expect([204, 404], res.body).toContain(res.statusCode);
    if (res.statusCode === 404) expectEnvelope(res, 404, 'record-not-found');
    expect(await snapshot(id)).toEqual(before);
  });

  it('a batch delete of requests the queue does not hold changes nothing, modifiedAt included', async () => {
    const del = await call('DELETE', `${Q}/${id}/requests/batch`, text([{ id: UNKNOWN }, { uniqueKey: 'no such key' }]));
    expect(del.statusCode, del.body).toBe(200);
    expect(await snapshot(id)).toEqual(before);
  });
});

describe('what is accepted reads back as sent', () => {
  let id: string;
  beforeAll(async () => {
    id = (await ctx.request({ method: 'POST', url: `${Q}?name=hostile-accepted`, token: ctx.alice })).json().data.id;
  });
  const total = async () => (await call('GET', `${Q}/${id}`)).json().data.totalRequestCount as number;

  it('a uniqueKey of a megabyte: added once, found by its id, listed and in the head as sent', async () => {
    const big = req('big', { uniqueKey: `https://example.com/${'k'.repeat(MiB)}` });
    const before = await total();
    const first = await call('POST', `${Q}/${id}/requests`, text(big));
    expect(first.statusCode, first.body.slice(0, 200)).toBe(201);
    expect(first.json().data).toEqual({
      requestId: requestId(big.uniqueKey),
      wasAlreadyPresent: false,
      wasAlreadyHandled: false,
    });
    const again = await call('POST', `${Q}/${id}/requests`, text(big));
    expect(again.json().data.wasAlreadyPresent).toBe(true);
    const got = await call('GET', `${Q}/${id}/requests/${requestId(big.uniqueKey)}`);
    expect(got.json().data).toMatchObject(big);
    const head = await call('GET', `${Q}/${id}/head?limit=1000`);
    expect(head.json().data.items.find((r: { id: string }) => r.id === requestId(big.uniqueKey))?.uniqueKey).toBe(big.uniqueKey);
    expect(await total()).toBe(before + 1);
    // One character more is another request.
    const other = await call('POST', `${Q}/${id}/requests`, text({ ...big, uniqueKey: `${big.uniqueKey}k` }));
    expect(other.json().data.wasAlreadyPresent).toBe(false);
    expect(await total()).toBe(before + 2);
  });

  it.each([2_700, 8_192, 65_536])('a uniqueKey of %i random characters (a long URL) is added and read back', async (size) => {
    const uniqueKey = `https://example.com/?q=${randomBytes(size).toString('base64url').slice(0, size)}`;
    const before = await total();
    const res = await call('POST', `${Q}/${id}/requests`, text({ uniqueKey, url: uniqueKey }));
    expect(res.statusCode, res.body.slice(0, 200)).toBe(201);
    expect(res.json().data).toEqual({ requestId: requestId(uniqueKey), wasAlreadyPresent: false, wasAlreadyHandled: false });
    const again = await call('POST', `${Q}/${id}/requests/batch`, text([{ uniqueKey, url: uniqueKey }]));
    expect(again.json().data.processedRequests[0]).toMatchObject({ requestId: requestId(uniqueKey), wasAlreadyPresent: true });
    expect((await call('GET', `${Q}/${id}/requests/${requestId(uniqueKey)}`)).json().data.uniqueKey).toBe(uniqueKey);
    expect(await total()).toBe(before + 1);
  });

  it('a batch of 10 000 good requests adds the first 25 and returns the rest unprocessed, in order', async () => {
    const batch = many(10_000, 100);
    const before = await total();
    const res = await call('POST', `${Q}/${id}/requests/batch`, text(batch));
    expect(res.statusCode).toBe(201);
    const data = res.json().data;
    expect(data.processedRequests.map((r: { uniqueKey: string }) => r.uniqueKey)).toEqual(
      batch.slice(0, 25).map((r) => r.uniqueKey),
    );
    expect(data.unprocessedRequests.map((r: { uniqueKey: string }) => r.uniqueKey)).toEqual(
      batch.slice(25).map((r) => r.uniqueKey),
    );
    expect(await total()).toBe(before + 25);
  });

  it('escapes, controls and astral characters in a request read back as sent', async () => {
    const odd = req('odd', {
      uniqueKey: 'odd "quotes" \\ \u2028\u2029 \u0001\u001f 😀 é',
      userData: { '': 'empty key', '😀': ['\u007f', null, false, -0, 1e308], __proto__x: { constructor: 1 } },
    });
    const res = await call('POST', `${Q}/${id}/requests`, text(odd));
    expect(res.statusCode, res.body).toBe(201);
    const got = await call('GET', `${Q}/${id}/requests/${requestId(odd.uniqueKey)}`);
    expect(got.json().data).toMatchObject(JSON.parse(text(odd)));
  });

  it(`userData ${MAX_JSON_DEPTH - 1} levels deep is kept`, async () => {
    const body = `{"uniqueKey":"deep","url":"https://example.com/deep","userData":${nested(MAX_JSON_DEPTH - 1)}}`;
    const res = await call('POST', `${Q}/${id}/requests`, body);
    expect(res.statusCode, res.body).toBe(201);
    const got = await call('GET', `${Q}/${id}/requests/${requestId('deep')}`);
    expect(got.json().data.userData).toEqual(JSON.parse(nested(MAX_JSON_DEPTH - 1)));
  });

  it('a head lock that locks nothing, an unlock that unlocks nothing and a delete of nothing leave modifiedAt', async () => {
    const q = (await ctx.request({ method: 'POST', url: `${Q}?name=no-op-writes`, token: ctx.alice })).json().data.id;
    await call('POST', `${Q}/${q}/requests`, text(req('no-op', { handledAt: '2026-01-01T00:00:00.000Z' })));
    const modifiedAt = async () => (await call('GET', `${Q}/${q}`)).json().data.modifiedAt as string;
    const before = await modifiedAt();
    const lock = await call('POST', `${Q}/${q}/head/lock?lockSecs=60&clientKey=c1`);
    expect(lock.json().data.items).toEqual([]);
    expect(await modifiedAt(), 'after a head lock of nothing').toBe(before);
    expect((await call('POST', `${Q}/${q}/requests/unlock?clientKey=c1`)).json().data).toEqual({ unlockedCount: 0 });
    expect(await modifiedAt(), 'after an unlock of nothing').toBe(before);
    expect((await call('DELETE', `${Q}/${q}/requests/batch`, text([{ uniqueKey: 'none' }]))).statusCode).toBe(200);
    expect(await modifiedAt(), 'after a batch delete of nothing').toBe(before);
  });

  it('limits past the maxima are clamped, not refused', async () => {
    const list = await call('GET', `${Q}/${id}/requests?limit=${'9'.repeat(100)}`);
    expect(list.statusCode, list.body.slice(0, 200)).toBe(200);
    expect(list.json().data.items).toHaveLength(await total());
    const head = await call('GET', `${Q}/${id}/head?limit=${'9'.repeat(100)}`);
    expect(head.statusCode).toBe(200);
    expect(head.json().data.items).toHaveLength(await total());
    const lock = await call('POST', `${Q}/${id}/head/lock?lockSecs=1&limit=${'9'.repeat(100)}&clientKey=c`);
    expect(lock.statusCode, lock.body.slice(0, 200)).toBe(201);
    expect(lock.json().data.items).toHaveLength(25);
  });
});

it('after all of it the server answers as usual', async () => {
  expect((await ctx.request({ method: 'GET', url: '/health' })).statusCode).toBe(200);
  const id = (await ctx.request({ method: 'POST', url: `${Q}?name=after-hostile`, token: ctx.alice })).json().data.id;
  expect((await call('POST', `${Q}/${id}/requests`, text(req('ok')))).statusCode).toBe(201);
  expect((await call('GET', `${Q}/${id}/head`)).json().data.items.map((r: { id: string }) => r.id)).toEqual([idOf('ok')]);
});
