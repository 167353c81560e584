import { request as httpRequest } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { expectError, expectRecordBytes, getRecord, putRecord, recordUrl } from '../helpers/records.js';

/** Record keys: `^[a-zA-Z0-9!\-_.'()]{1,256}$`, checked before anything else (openkvs decision 5). */

let ctx: TestContext;
let storeId: string;

beforeEach(async () => {
  ctx = await createTestContext({ maxRecordBytes: 1000 });
  storeId = (await ctx.createStore('keys')).id;
});
afterEach(() => ctx.close());

const MISSING_STORE = 'AAAAAAAAAAAAAAAAA';

/** Path suffixes after `/records/` that name an invalid key (after percent-decoding). */
const INVALID_KEYS: [label: string, path: string][] = [
  ['encoded slash a%2Fb', 'a%2Fb'],
  ['path with a slash a/b', 'a/b'],
  ['a trailing slash k/ (the router ignores it)', 'k/'],
  ['two trailing slashes k//', 'k//'],
  ['257 characters', 'k'.repeat(257)],
  ['empty key (records/)', ''],
  ['a single encoded space', '%20'],
  ['an encoded space inside', 'a%20b'],
  ['é (%C3%A9)', '%C3%A9'],
  ['café', 'caf%C3%A9'],
  ['tilde', '~'],
  ['asterisk', '*'],
  ['NUL (%00)', '%00'],
  ['newline (%0A)', 'a%0Ab'],
  ['colon', 'a:b'],
  ['encoded question mark', 'a%3Fb'],
  ['encoded hash', 'a%23b'],
  ['encoded percent', 'a%25b'],
  ['encoded double quote', 'a%22b'],
  ['encoded backslash', 'a%5Cb'],
  ['brackets', '[x]'],
  ['braces', '{x}'],
  ['comma', 'a,b'],
  ['semicolon', 'a;b'],
  ['at sign', 'a@b'],
  ['plus', 'a+b'],
  ['dollar', '$'],
  ['ampersand', '&'],
  ['equals', '='],
];

type Method = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE';
const METHODS: Method[] = ['GET', 'HEAD', 'PUT', 'POST', 'DELETE'];

async function expectInvalidKey(method: Method, url: string, opts: { token?: string; headers?: Record<string, string> } = {}) {
  const res = await ctx.request({
    method,
    url,
    token: opts.token,
    headers: opts.headers,
    ...(method === 'PUT' || method === 'POST' ? { payload: Buffer.from('value') } : {}),
  });
  if (method === 'HEAD') {
    expect(res.statusCode, `${method} ${url}`).toBe(400);
    expect(res.rawPayload.length).toBe(0);
  } else {
    expect(res.statusCode, `${method} ${url} → ${res.body}`).toBe(400);
    expect(res.json().error?.type, `${method} ${url}`).toBe('invalid-record-key');
  }
}

describe('invalid record keys → 400 invalid-record-key', () => {
  it.each(INVALID_KEYS)('%s, on GET, HEAD, PUT, POST and DELETE', async (_label, path) => {
    for (const method of METHODS) await expectInvalidKey(method, recordUrl(storeId, path), { token: ctx.alice });
  });

  it.each(INVALID_KEYS)(
    '%s: the invalid key wins over a missing token, a bad token and a missing store',
    async (_label, path) => {
      for (const method of METHODS) {
        await expectInvalidKey(method, recordUrl(storeId, path));
        await expectInvalidKey(method, recordUrl(MISSING_STORE, path));
        await expectInvalidKey(method, recordUrl(MISSING_STORE, path), { token: 'not-a-real-token' });
        await expectInvalidKey(method, recordUrl('~no-such-store', path), { token: ctx.bob });
      }
    },
  );

  it('the invalid key wins over a forbidden store, a bad query parameter, a bad encoding and an oversized body', async () => {
    const key = 'bad key'.replace(' ', '%20');
    for (const method of METHODS) await expectInvalidKey(method, recordUrl(storeId, key), { token: ctx.bob });
    await expectInvalidKey('GET', recordUrl(storeId, key, 'attachment=maybe'), { token: ctx.alice });
    await expectInvalidKey('PUT', recordUrl(storeId, key), { token: ctx.alice, headers: { 'content-encoding': 'bla' } });
    const huge = await ctx.request({
      method: 'PUT',
      url: recordUrl(storeId, key),
      token: ctx.alice,
      payload: Buffer.alloc(5000, 1),
    });
    expectError(huge, 400, 'invalid-record-key');
  });

  it('a key with a malformed percent-escape (%, a%ZZb, %E9 alone) is an invalid key too', async () => {
    for (const path of ['%', 'a%ZZb', 'a%2', '%E9']) {
      for (const method of METHODS) {
        await expectInvalidKey(method, recordUrl(storeId, path), { token: ctx.alice });
        await expectInvalidKey(method, recordUrl(MISSING_STORE, path));
      }
    }
  });

  it('a refused key stores nothing', async () => {
    await putRecord(ctx, storeId, 'a', Buffer.from('A'));
    await putRecord(ctx, storeId, 'a%2Fb', Buffer.from('slashed'));
    await putRecord(ctx, storeId, 'a/b', Buffer.from('slashed'));
    // `…/records/a/` is not the record `a`: neither written nor deleted through it.
    await putRecord(ctx, storeId, 'a/', Buffer.from('trailing slash'));
    expectError(
      await ctx.request({ method: 'DELETE', url: recordUrl(storeId, 'a/'), token: ctx.alice }),
      400,
      'invalid-record-key',
    );
    const keys = await ctx.request({ method: 'GET', url: `/v2/key-value-stores/${storeId}/keys`, token: ctx.alice });
    expect(keys.json().data.items.map((i: { key: string }) => i.key)).toEqual(['a']);
    await expectRecordBytes(ctx, storeId, 'a', Buffer.from('A'));
  });
});

describe('valid edge keys', () => {
  it('accepts a key of exactly 256 characters', async () => {
    const key = `${'x'.repeat(255)}y`;
    expect((await putRecord(ctx, storeId, key, Buffer.from('long'))).statusCode).toBe(201);
    await expectRecordBytes(ctx, storeId, key, Buffer.from('long'));
    expect((await getRecord(ctx, storeId, key, {}, '', 'HEAD')).statusCode).toBe(200);
    expect((await ctx.request({ method: 'DELETE', url: recordUrl(storeId, key), token: ctx.alice })).statusCode).toBe(204);
    expect((await getRecord(ctx, storeId, key)).statusCode).toBe(404);
  });

  it.each(["!-_.'()", '...', "a!b-c_d.e'f(g)h", '0', 'Z', '(', ')', "'", '-'])('accepts the key %j', async (key) => {
    const body = Buffer.from(`value of ${key}`);
    const put = await putRecord(ctx, storeId, key, body);
    expect(put.statusCode, put.body).toBe(201);
    await expectRecordBytes(ctx, storeId, key, body);
    expect((await getRecord(ctx, storeId, key, {}, '', 'HEAD')).statusCode).toBe(200);
    const keys = await ctx.request({ method: 'GET', url: `/v2/key-value-stores/${storeId}/keys`, token: ctx.alice });
    expect(keys.json().data.items.map((i: { key: string }) => i.key)).toEqual([key]);
  });

  it('keys are case-sensitive: Key and key are different records', async () => {
    await putRecord(ctx, storeId, 'Key', Buffer.from('upper'));
    await putRecord(ctx, storeId, 'key', Buffer.from('lower'));
    await expectRecordBytes(ctx, storeId, 'Key', Buffer.from('upper'));
    await expectRecordBytes(ctx, storeId, 'key', Buffer.from('lower'));
    expect((await getRecord(ctx, storeId, 'KEY')).statusCode).toBe(404);
    expect((await ctx.request({ method: 'DELETE', url: recordUrl(storeId, 'Key'), token: ctx.alice })).statusCode).toBe(204);
    expect((await getRecord(ctx, storeId, 'Key')).statusCode).toBe(404);
    await expectRecordBytes(ctx, storeId, 'key', Buffer.from('lower'));
  });

  it('percent-decodes the key before validating it: %41bc is the record Abc', async () => {
    expect((await putRecord(ctx, storeId, '%41bc', Buffer.from('encoded'))).statusCode).toBe(201);
    await expectRecordBytes(ctx, storeId, 'Abc', Buffer.from('encoded'));
    const put = await putRecord(ctx, storeId, '%27q%28%29', Buffer.from('quote'));
    expect(put.statusCode, put.body).toBe(201);
    await expectRecordBytes(ctx, storeId, "'q()", Buffer.from('quote'));
  });

  it('the Location and the attachment filename carry the decoded key', async () => {
    const put = await putRecord(ctx, storeId, '%41bc', Buffer.from('x'));
    expect(put.headers.location).toMatch(new RegExp(`/v2/key-value-stores/${storeId}/records/Abc$`));
    const get = await getRecord(ctx, storeId, 'Abc', {}, 'attachment=1');
    expect(get.headers['content-disposition']).toBe('attachment; filename="Abc"');
  });
});

/** A request whose path goes out exactly as written (URL parsers would remove dot segments). */
function verbatim(origin: string, method: string, path: string, token: string, body?: string) {
  const { hostname, port } = new URL(origin);
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = httpRequest({ hostname, port, path, method, headers: { authorization: `Bearer ${token}` }, agent: false });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('the keys "." and ".." (no URL can carry them: clients remove dot segments)', () => {
  it('are refused with 400 invalid-record-key when a path does carry them, plain or percent-encoded', async () => {
    const origin = await ctx.listen();
    for (const key of ['.', '..', '%2E', '%2e%2E']) {
      for (const method of ['GET', 'PUT', 'DELETE']) {
        const body = method === 'PUT' ? 'x' : undefined;
        const res = await verbatim(origin, method, `/v2/key-value-stores/${storeId}/records/${key}`, ctx.alice, body);
        expect(res.status, `${method} ${key}`).toBe(400);
        expect(JSON.parse(res.body).error.type, `${method} ${key}: ${res.body}`).toBe('invalid-record-key');
      }
    }
    expect(
      (await ctx.request({ method: 'GET', url: `/v2/key-value-stores/${storeId}/keys`, token: ctx.alice })).json().data.items,
    ).toEqual([]);
  });

  it('a store path ending in "/" (what "…/records/.." becomes) neither deletes nor updates the store', async () => {
    const origin = await ctx.listen();
    expect((await putRecord(ctx, storeId, 'kept', Buffer.from('still here'))).statusCode).toBe(201);
    const del = await verbatim(origin, 'DELETE', `/v2/key-value-stores/${storeId}/`, ctx.alice);
    expect(del.status).toBe(400);
    expect(JSON.parse(del.body).error.type).toBe('invalid-request');
    const put = await verbatim(origin, 'PUT', `/v2/key-value-stores/${storeId}/?x=1`, ctx.alice, '{"name":"renamed"}');
    expect(put.status).toBe(400);
    const store = await ctx.request({ method: 'GET', url: `/v2/key-value-stores/${storeId}/`, token: ctx.alice });
    expect(store.statusCode).toBe(200);
    expect(store.json().data.name).toBe('keys');
    await expectRecordBytes(ctx, storeId, 'kept', Buffer.from('still here'));
    // Without the slash both work as always.
    const renamed = await verbatim(origin, 'PUT', `/v2/key-value-stores/${storeId}`, ctx.alice, '{"name":"renamed"}');
    expect(renamed.status).toBe(200);
  });
});
