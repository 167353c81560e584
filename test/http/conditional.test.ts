import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestContext, TEST_DRIVER, type TestContext } from '../helpers/context.js';
import {
  expectError,
  expectRecordBytes,
  getRecord,
  getStore,
  pseudoRandomBytes,
  putRecord,
  recordUrl,
} from '../helpers/records.js';

/**
 * Beyond the Apify API: strong ETags, 304 on If-None-Match / If-Modified-Since, and conditional
 * PUT / POST / DELETE with If-Match / If-None-Match (412 precondition-failed, nothing changed).
 */

let ctx: TestContext;
let storeId: string;

beforeEach(async () => {
  ctx = await createTestContext();
  storeId = (await ctx.createStore('cond')).id;
});
afterEach(() => ctx.close());

/** The ETag openkvs gives bytes it stores: the quoted base64url SHA-256. */
const tagOf = (bytes: Buffer | string) => `"${createHash('sha256').update(bytes).digest('base64url')}"`;
const strip = (tag: string) => tag.slice(1, -1);

async function put(key: string, body: Buffer | string, headers: Record<string, string> = {}, method: 'PUT' | 'POST' = 'PUT') {
  return putRecord(ctx, storeId, key, body, { 'content-type': 'text/plain', ...headers }, { method });
}

async function del(key: string, headers: Record<string, string> = {}) {
  return ctx.request({ method: 'DELETE', url: recordUrl(storeId, key), token: ctx.alice, headers });
}

describe('ETag, Last-Modified and Accept-Ranges on GET and HEAD', () => {
  it('GET and HEAD carry the same strong ETag: the base64url SHA-256 of the stored bytes', async () => {
    const res = await put('k', 'hello, etag');
    expect(res.statusCode).toBe(201);
    expect(res.headers.etag).toBe(tagOf('hello, etag'));
    expect(strip(tagOf('x'))).toMatch(/^[A-Za-z0-9_-]{43}$/);
    for (const method of ['GET', 'HEAD'] as const) {
      const got = await getRecord(ctx, storeId, 'k', {}, '', method);
      expect(got.statusCode).toBe(200);
      expect(got.headers.etag, method).toBe(tagOf('hello, etag'));
      expect(got.headers['accept-ranges']).toBe('bytes');
      const lastModified = String(got.headers['last-modified']);
      expect(lastModified).toMatch(/^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
      expect(Math.abs(Date.parse(lastModified) - Date.now())).toBeLessThan(5_000);
    }
  });

  it('the same bytes have the same tag under any key and after a rewrite; other bytes another tag', async () => {
    await put('a', 'same');
    await put('b', 'same');
    const a = await getRecord(ctx, storeId, 'a');
    expect(a.headers.etag).toBe((await getRecord(ctx, storeId, 'b')).headers.etag);
    await put('a', 'same', { 'content-type': 'application/x-other' });
    expect((await getRecord(ctx, storeId, 'a')).headers.etag).toBe(a.headers.etag);
    await put('a', 'different');
    expect((await getRecord(ctx, storeId, 'a')).headers.etag).toBe(tagOf('different'));
  });

  it('the empty record and a record stored as a file (> 256 KiB) have tags too', async () => {
    const big = pseudoRandomBytes(300 * 1024, 7);
    expect((await put('big', big)).headers.etag).toBe(tagOf(big));
    expect((await put('empty', '')).headers.etag).toBe(tagOf(''));
    expect((await getRecord(ctx, storeId, 'big', {}, '', 'HEAD')).headers.etag).toBe(tagOf(big));
    expect((await getRecord(ctx, storeId, 'empty')).headers.etag).toBe(tagOf(''));
  });

  it('a compressed record has one tag as stored and another, -identity, when served decoded', async () => {
    const plain = Buffer.from('compress me '.repeat(200));
    const gz = gzipSync(plain);
    const res = await put('gz', gz, { 'content-encoding': 'gzip' });
    expect(res.headers.etag).toBe(tagOf(gz));
    const encoded = await getRecord(ctx, storeId, 'gz', { 'accept-encoding': 'gzip' });
    expect(encoded.headers['content-encoding']).toBe('gzip');
    expect(encoded.headers.etag).toBe(tagOf(gz));
    const decoded = await getRecord(ctx, storeId, 'gz', { 'accept-encoding': 'identity' });
    expect(decoded.headers['content-encoding']).toBeUndefined();
    expect(decoded.headers.etag).toBe(`"${strip(tagOf(gz))}-identity"`);
    expect(decoded.headers.vary).toMatch(/Accept-Encoding/i);
    const head = await getRecord(ctx, storeId, 'gz', {}, '', 'HEAD');
    expect(head.headers.etag).toBe(decoded.headers.etag);
  });
});

describe('GET / HEAD with If-None-Match and If-Modified-Since', () => {
  let tag: string;
  let lastModified: string;
  beforeEach(async () => {
    await put('k', 'cached body');
    const res = await getRecord(ctx, storeId, 'k');
    tag = String(res.headers.etag);
    lastModified = String(res.headers['last-modified']);
  });

  const expect304 = async (headers: Record<string, string>, method: 'GET' | 'HEAD' = 'GET') => {
    const res = await getRecord(ctx, storeId, 'k', headers, '', method);
    expect(res.statusCode, `${method} ${JSON.stringify(headers)}`).toBe(304);
    expect(res.rawPayload.length).toBe(0);
    expect(res.headers.etag).toBe(tag);
    expect(res.headers['content-range']).toBeUndefined();
  };
  const expect200 = async (headers: Record<string, string>, method: 'GET' | 'HEAD' = 'GET') => {
    const res = await getRecord(ctx, storeId, 'k', headers, '', method);
    expect(res.statusCode, `${method} ${JSON.stringify(headers)}`).toBe(200);
    if (method === 'GET') expect(res.body).toBe('cached body');
  };

  it('a matching tag, a list containing it, * and its weak form give 304 with no body, GET and HEAD', async () => {
    for (const method of ['GET', 'HEAD'] as const) {
      await expect304({ 'if-none-match': tag }, method);
      await expect304({ 'if-none-match': `"nope", ${tag}, "other"` }, method);
      await expect304({ 'if-none-match': '*' }, method);
      await expect304({ 'if-none-match': `W/${tag}` }, method);
      await expect304({ 'if-none-match': `W/"x",W/${tag}` }, method);
    }
  });

  it('a tag that does not match, an unquoted tag or an empty list give the record', async () => {
    for (const method of ['GET', 'HEAD'] as const) {
      await expect200({ 'if-none-match': tagOf('something else') }, method);
      await expect200({ 'if-none-match': strip(tag) }, method);
      await expect200({ 'if-none-match': `"${strip(tag)}x"` }, method);
    }
  });

  it('after a rewrite the old tag no longer gives 304', async () => {
    await put('k', 'new body');
    const res = await getRecord(ctx, storeId, 'k', { 'if-none-match': tag });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('new body');
    expect(res.headers.etag).toBe(tagOf('new body'));
  });

  it('If-Modified-Since at or after the modification time gives 304, before it the record', async () => {
    const t = Date.parse(lastModified);
    await expect304({ 'if-modified-since': lastModified });
    await expect304({ 'if-modified-since': new Date(t + 3_600_000).toUTCString() }, 'HEAD');
    await expect200({ 'if-modified-since': new Date(t - 1_000).toUTCString() });
    await expect200({ 'if-modified-since': new Date(t - 86_400_000).toUTCString() }, 'HEAD');
    await expect200({ 'if-modified-since': 'not a date' });
  });

  it('If-Modified-Since is ignored when If-None-Match is present', async () => {
    const future = new Date(Date.now() + 3_600_000).toUTCString();
    await expect200({ 'if-none-match': '"other"', 'if-modified-since': future });
    await expect304({ 'if-none-match': tag, 'if-modified-since': 'Thu, 01 Jan 1970 00:00:00 GMT' });
  });

  it('a compressed record matches only the tag of the representation served', async () => {
    const gz = gzipSync(Buffer.from('gzip '.repeat(100)));
    await put('gz', gz, { 'content-encoding': 'gzip' });
    const storedTag = tagOf(gz);
    const decodedTag = `"${strip(storedTag)}-identity"`;
    const asStored = { 'accept-encoding': 'gzip' };
    expect((await getRecord(ctx, storeId, 'gz', { ...asStored, 'if-none-match': storedTag })).statusCode).toBe(304);
    expect((await getRecord(ctx, storeId, 'gz', { ...asStored, 'if-none-match': decodedTag })).statusCode).toBe(200);
    expect((await getRecord(ctx, storeId, 'gz', { 'if-none-match': decodedTag })).statusCode).toBe(304);
    const decoded = await getRecord(ctx, storeId, 'gz', { 'if-none-match': storedTag });
    expect(decoded.statusCode).toBe(200);
    expect(decoded.body).toBe('gzip '.repeat(100));
  });

  it('a missing record is 404 whatever the conditions', async () => {
    const res = await getRecord(ctx, storeId, 'missing', { 'if-none-match': '*', 'if-modified-since': lastModified });
    expectError(res, 404, 'record-not-found');
  });
});

describe('conditional PUT / POST', () => {
  let tag: string;
  beforeEach(async () => {
    tag = String((await put('k', 'v1')).headers.etag);
  });

  /** Asserts a 412 that left the record and the store's counters as they were. */
  async function expectRefused(res: Awaited<ReturnType<typeof put>>, key = 'k', value: string | null = 'v1') {
    expectError(res, 412, 'precondition-failed');
    expect(res.headers.etag).toBeUndefined();
    if (value === null) expectError(await getRecord(ctx, storeId, key), 404, 'record-not-found');
    else await expectRecordBytes(ctx, storeId, key, Buffer.from(value));
  }

  it('If-Match with the current tag writes and answers 201 with the new tag', async () => {
    for (const method of ['PUT', 'POST'] as const) {
      const current = String((await getRecord(ctx, storeId, 'k')).headers.etag);
      const body = `via ${method}`;
      const res = await put('k', body, { 'if-match': current }, method);
      expect(res.statusCode, res.body).toBe(201);
      expect(res.headers.etag).toBe(tagOf(body));
      await expectRecordBytes(ctx, storeId, 'k', Buffer.from(body));
    }
  });

  it('If-Match with a list containing the current tag writes', async () => {
    const res = await put('k', 'v2', { 'if-match': `"a", ${tag} , "b"` });
    expect(res.statusCode).toBe(201);
    expect(res.headers.etag).toBe(tagOf('v2'));
  });

  it('If-Match with another tag, a stale tag or a weak tag is 412 and changes nothing', async () => {
    const before = await getStore(ctx, storeId);
    for (const method of ['PUT', 'POST'] as const) {
      await expectRefused(await put('k', 'x', { 'if-match': tagOf('other') }, method));
      await expectRefused(await put('k', 'x', { 'if-match': `W/${tag}` }, method));
      await expectRefused(await put('k', 'x', { 'if-match': strip(tag) }, method));
    }
    await put('k', 'v2');
    const afterWrite = await getStore(ctx, storeId);
    await expectRefused(await put('k', 'x', { 'if-match': tag }), 'k', 'v2');
    const after = await getStore(ctx, storeId);
    expect(afterWrite.stats.writeCount).toBe(before.stats.writeCount + 1);
    expect(after.stats.writeCount).toBe(afterWrite.stats.writeCount);
    expect(after.stats.storageBytes).toBe(afterWrite.stats.storageBytes);
    expect(after.modifiedAt).toBe(afterWrite.modifiedAt);
  });

  it('a 412 on a large upload (> 256 KiB) changes nothing either', async () => {
    const before = await getStore(ctx, storeId);
    const big = pseudoRandomBytes(600 * 1024, 3);
    await expectRefused(await put('k', big, { 'if-match': tagOf('other') }));
    await expectRefused(await put('new-big', big, { 'if-match': '*' }), 'new-big', null);
    const after = await getStore(ctx, storeId);
    expect(after.stats.writeCount).toBe(before.stats.writeCount);
    expect(after.stats.storageBytes).toBe(before.stats.storageBytes);
  });

  it('If-Match on a missing record is 412 and creates nothing, even with *', async () => {
    const before = await getStore(ctx, storeId);
    await expectRefused(await put('missing', 'x', { 'if-match': tag }), 'missing', null);
    await expectRefused(await put('missing', 'x', { 'if-match': '*' }, 'POST'), 'missing', null);
    const after = await getStore(ctx, storeId);
    expect(after.stats).toEqual(expect.objectContaining({ writeCount: before.stats.writeCount, storageBytes: 2 }));
  });

  it('If-Match: * writes a record that exists', async () => {
    const res = await put('k', 'v2', { 'if-match': '*' });
    expect(res.statusCode).toBe(201);
    await expectRecordBytes(ctx, storeId, 'k', Buffer.from('v2'));
  });

  it('If-None-Match: * creates a record only when it does not exist', async () => {
    const created = await put('fresh', 'first', { 'if-none-match': '*' });
    expect(created.statusCode).toBe(201);
    expect(created.headers.etag).toBe(tagOf('first'));
    const before = await getStore(ctx, storeId);
    await expectRefused(await put('fresh', 'second', { 'if-none-match': '*' }), 'fresh', 'first');
    await expectRefused(await put('k', 'x', { 'if-none-match': '*' }, 'POST'));
    const after = await getStore(ctx, storeId);
    expect(after.stats.writeCount).toBe(before.stats.writeCount);
    expect(after.stats.storageBytes).toBe(before.stats.storageBytes);
  });

  it('If-None-Match with tags refuses only when the current tag is listed', async () => {
    await expectRefused(await put('k', 'x', { 'if-none-match': `"a", ${tag}` }));
    const res = await put('k', 'v2', { 'if-none-match': tagOf('other') });
    expect(res.statusCode).toBe(201);
    expect((await put('never', 'n', { 'if-none-match': tag })).statusCode).toBe(201);
  });

  it('either tag of a compressed record names it for If-Match', async () => {
    const gz = gzipSync(Buffer.from('zipped '.repeat(50)));
    const storedTag = String((await put('gz', gz, { 'content-encoding': 'gzip' })).headers.etag);
    const decodedTag = String((await getRecord(ctx, storeId, 'gz')).headers.etag);
    expect(decodedTag).toBe(`"${strip(storedTag)}-identity"`);
    const viaDecoded = await put('gz', gz, { 'content-encoding': 'gzip', 'if-match': decodedTag });
    expect(viaDecoded.statusCode).toBe(201);
    expect((await put('gz', 'plain now', { 'if-match': storedTag })).statusCode).toBe(201);
    await expectRecordBytes(ctx, storeId, 'gz', Buffer.from('plain now'));
  });

  it('authentication is checked before the precondition', async () => {
    const res = await ctx.request({ method: 'PUT', url: recordUrl(storeId, 'k'), headers: { 'if-match': tag }, payload: 'x' });
    expect(res.statusCode).toBe(401);
    await expectRecordBytes(ctx, storeId, 'k', Buffer.from('v1'));
  });
});

describe('conditional DELETE', () => {
  let tag: string;
  beforeEach(async () => {
    tag = String((await put('k', 'v1')).headers.etag);
  });

  it('If-Match with another or a weak tag is 412 and keeps the record and the counters', async () => {
    const before = await getStore(ctx, storeId);
    for (const ifMatch of [tagOf('other'), `W/${tag}`, `"a", "b"`]) {
      expectError(await del('k', { 'if-match': ifMatch }), 412, 'precondition-failed');
    }
    expectError(await del('k', { 'if-none-match': '*' }), 412, 'precondition-failed');
    expectError(await del('k', { 'if-none-match': tag }), 412, 'precondition-failed');
    await expectRecordBytes(ctx, storeId, 'k', Buffer.from('v1'));
    const after = await getStore(ctx, storeId);
    expect(after.stats.deleteCount).toBe(before.stats.deleteCount);
    expect(after.stats.storageBytes).toBe(before.stats.storageBytes);
  });

  it('If-Match with the current tag (or *) deletes', async () => {
    const res = await del('k', { 'if-match': `"a", ${tag}` });
    expect(res.statusCode).toBe(204);
    expectError(await getRecord(ctx, storeId, 'k'), 404, 'record-not-found');
    await put('k2', 'v');
    expect((await del('k2', { 'if-match': '*' })).statusCode).toBe(204);
    const stats = (await getStore(ctx, storeId)).stats;
    expect(stats.deleteCount).toBe(2);
    expect(stats.storageBytes).toBe(0);
  });

  it('If-Match on a missing record is 412, even with *; without conditions it stays 204', async () => {
    expectError(await del('missing', { 'if-match': tag }), 412, 'precondition-failed');
    expectError(await del('missing', { 'if-match': '*' }), 412, 'precondition-failed');
    expect((await del('missing', { 'if-none-match': '*' })).statusCode).toBe(204);
    expect((await del('missing')).statusCode).toBe(204);
  });

  it('a stale tag cannot delete a record rewritten since', async () => {
    await put('k', 'v2');
    expectError(await del('k', { 'if-match': tag }), 412, 'precondition-failed');
    await expectRecordBytes(ctx, storeId, 'k', Buffer.from('v2'));
  });
});

describe.runIf(TEST_DRIVER === 'sqlite')('a record written before ETags existed (etag column NULL)', () => {
  it('has no ETag; If-Match: * and If-None-Match: * still work, a tag never matches; a rewrite gives it one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'openkvs-legacy-etag-'));
    const file = join(dir, 'kvs.sqlite');
    const legacy = await createTestContext({ path: file });
    try {
      const id = (await legacy.createStore('old')).id;
      const tag = String((await putRecord(legacy, id, 'k', 'old bytes')).headers.etag);
      const db = new Database(file);
      db.prepare('UPDATE records SET etag = NULL').run();
      db.close();
      const got = await getRecord(legacy, id, 'k');
      expect(got.statusCode).toBe(200);
      expect(got.headers.etag).toBeUndefined();
      expect(got.headers['last-modified']).toBeDefined();
      expect((await getRecord(legacy, id, 'k', { 'if-none-match': tag })).statusCode).toBe(200);
      expect((await getRecord(legacy, id, 'k', { 'if-none-match': '*' })).statusCode).toBe(304);
      expect((await getRecord(legacy, id, 'k', { range: 'bytes=0-2', 'if-range': tag })).statusCode).toBe(200);
      expect((await getRecord(legacy, id, 'k', { range: 'bytes=0-2' })).statusCode).toBe(206);
      expectError(await putRecord(legacy, id, 'k', 'x', { 'if-match': tag }), 412, 'precondition-failed');
      expectError(await putRecord(legacy, id, 'k', 'x', { 'if-none-match': '*' }), 412, 'precondition-failed');
      const rewritten = await putRecord(legacy, id, 'k', 'new bytes', { 'if-match': '*' });
      expect(rewritten.statusCode).toBe(201);
      expect((await getRecord(legacy, id, 'k')).headers.etag).toBe(tagOf('new bytes'));
    } finally {
      await legacy.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
