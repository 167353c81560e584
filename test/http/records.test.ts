import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestContext, PUBLIC_URL, type TestContext } from '../helpers/context.js';
import { expectError, expectRecordBytes, getRecord, putRecord, recordUrl } from '../helpers/records.js';

let ctx: TestContext;
let storeId: string;

beforeEach(async () => {
  ctx = await createTestContext();
  storeId = (await ctx.createStore('records')).id;
});
afterEach(() => ctx.close());

/** A store id that has the right shape but names no store. */
const MISSING_STORE = 'AAAAAAAAAAAAAAAAA';

describe('PUT and POST a record', () => {
  it('answers 201 with a Location header and the JSON body {}', async () => {
    const res = await putRecord(ctx, storeId, 'my-key', Buffer.from('hello'), { 'content-type': 'text/plain' });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.headers.location).toBe(`${PUBLIC_URL}/v2/key-value-stores/${storeId}/records/my-key`);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.json()).toEqual({});
  });

  it('treats POST exactly like PUT', async () => {
    const res = await putRecord(
      ctx,
      storeId,
      'posted',
      Buffer.from('via post'),
      { 'content-type': 'text/x-post' },
      { method: 'POST' },
    );
    expect(res.statusCode, res.body).toBe(201);
    expect(res.headers.location).toBe(`${PUBLIC_URL}/v2/key-value-stores/${storeId}/records/posted`);
    expect(res.json()).toEqual({});
    const get = await getRecord(ctx, storeId, 'posted');
    expect(get.statusCode).toBe(200);
    expect(get.headers['content-type']).toBe('text/x-post');
    expect(get.body).toBe('via post');
  });

  it('overwrites an existing record (upsert), still with 201, replacing bytes and Content-Type', async () => {
    expect((await putRecord(ctx, storeId, 'k', Buffer.from('first value'), { 'content-type': 'text/plain' })).statusCode).toBe(
      201,
    );
    const second = await putRecord(ctx, storeId, 'k', Buffer.from('{"v":2}'), { 'content-type': 'application/json' });
    expect(second.statusCode).toBe(201);
    expect(second.headers.location).toBe(`${PUBLIC_URL}/v2/key-value-stores/${storeId}/records/k`);
    const get = await getRecord(ctx, storeId, 'k');
    expect(get.headers['content-type']).toBe('application/json');
    expect(get.body).toBe('{"v":2}');
    // A POST overwrites a record written by PUT, too.
    expect((await putRecord(ctx, storeId, 'k', Buffer.from('third'), {}, { method: 'POST' })).statusCode).toBe(201);
    await expectRecordBytes(ctx, storeId, 'k', Buffer.from('third'));
  });

  it('stores a record sent without Content-Type as application/octet-stream', async () => {
    const res = await putRecord(ctx, storeId, 'no-type', Buffer.from([1, 2, 3]));
    expect(res.statusCode).toBe(201);
    const get = await getRecord(ctx, storeId, 'no-type');
    expect(get.statusCode).toBe(200);
    expect(get.headers['content-type']).toBe('application/octet-stream');
    expect([...get.rawPayload]).toEqual([1, 2, 3]);
  });

  it.each([
    'application/json; charset=utf-8',
    'image/png',
    'application/json',
    'text/plain; charset=ISO-8859-1',
    'application/vnd.openkvs.test+json; profile="urn:x"',
    'Text/HTML; Charset=UTF-8',
  ])('stores Content-Type %j verbatim and returns it on GET and HEAD', async (type) => {
    expect((await putRecord(ctx, storeId, 'typed', Buffer.from('x'), { 'content-type': type })).statusCode).toBe(201);
    const get = await getRecord(ctx, storeId, 'typed');
    expect(get.headers['content-type']).toBe(type);
    const head = await getRecord(ctx, storeId, 'typed', {}, '', 'HEAD');
    expect(head.headers['content-type']).toBe(type);
  });

  it('stores an empty body; GET answers 200 with an empty body', async () => {
    const res = await putRecord(ctx, storeId, 'empty', Buffer.alloc(0), { 'content-type': 'text/plain' });
    expect(res.statusCode, res.body).toBe(201);
    const get = await getRecord(ctx, storeId, 'empty');
    expect(get.statusCode).toBe(200);
    expect(get.headers['content-type']).toBe('text/plain');
    expect(get.headers['content-length']).toBe('0');
    expect(get.rawPayload.length).toBe(0);
  });

  it('round-trips all 256 byte values, in both orders', async () => {
    const up = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const down = Buffer.from(up).reverse();
    await putRecord(ctx, storeId, 'up', up);
    await putRecord(ctx, storeId, 'down', down, { 'content-type': 'text/plain; charset=utf-8' });
    await expectRecordBytes(ctx, storeId, 'up', up);
    await expectRecordBytes(ctx, storeId, 'down', down);
  });

  it('round-trips a 1 MB random buffer byte for byte', async () => {
    const body = randomBytes(1_000_000);
    const res = await putRecord(ctx, storeId, 'one-mb', body, { 'content-type': 'application/octet-stream' });
    expect(res.statusCode).toBe(201);
    const get = await getRecord(ctx, storeId, 'one-mb');
    expect(get.headers['content-length']).toBe('1000000');
    expect(get.rawPayload.equals(body)).toBe(true);
  });

  it('writes through the ~name form; the Location names the store id', async () => {
    const res = await ctx.request({
      method: 'PUT',
      url: '/v2/key-value-stores/~records/records/by-name',
      token: ctx.alice,
      headers: { 'content-type': 'text/plain' },
      payload: Buffer.from('named'),
    });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.headers.location).toBe(`${PUBLIC_URL}/v2/key-value-stores/${storeId}/records/by-name`);
    await expectRecordBytes(ctx, storeId, 'by-name', Buffer.from('named'));
  });

  it('answers 404 record-not-found for a store that does not exist, and creates nothing', async () => {
    const res = await putRecord(ctx, MISSING_STORE, 'k', Buffer.from('x'));
    expectError(res, 404, 'record-not-found');
    const viaName = await ctx.request({
      method: 'PUT',
      url: '/v2/key-value-stores/~no-such-store/records/k',
      token: ctx.alice,
      payload: Buffer.from('x'),
    });
    expectError(viaName, 404, 'record-not-found');
  });

  it('refuses writes without a token (401) and by another user (403), leaving the record as it was', async () => {
    await putRecord(ctx, storeId, 'guarded', Buffer.from('original'));
    const anonymous = await ctx.request({ method: 'PUT', url: recordUrl(storeId, 'guarded'), payload: Buffer.from('evil') });
    expectError(anonymous, 401, 'token-not-provided');
    const bob = await putRecord(ctx, storeId, 'guarded', Buffer.from('evil'), {}, { token: ctx.bob });
    expectError(bob, 403, 'insufficient-permissions');
    const bobPost = await putRecord(ctx, storeId, 'guarded', Buffer.from('evil'), {}, { token: ctx.bob, method: 'POST' });
    expectError(bobPost, 403, 'insufficient-permissions');
    await expectRecordBytes(ctx, storeId, 'guarded', Buffer.from('original'));
  });
});

describe('GET a record', () => {
  beforeEach(async () => {
    await putRecord(ctx, storeId, 'doc', Buffer.from('{"hello":"world"}'), { 'content-type': 'application/json; charset=utf-8' });
  });

  it('serves the stored bytes with Content-Type and Content-Length', async () => {
    const res = await getRecord(ctx, storeId, 'doc');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.headers['content-length']).toBe('17');
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(res.body).toBe('{"hello":"world"}');
  });

  it.each(['true', '1'])('with attachment=%s sends Content-Disposition: attachment; filename="<key>"', async (flag) => {
    const res = await getRecord(ctx, storeId, 'doc', {}, `attachment=${flag}`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-disposition']).toBe('attachment; filename="doc"');
    expect(res.body).toBe('{"hello":"world"}');
  });

  it('puts the exact key in the attachment filename', async () => {
    const key = "Report_(v1.2)-'final'!";
    await putRecord(ctx, storeId, key, Buffer.from('r'));
    const res = await getRecord(ctx, storeId, key, {}, 'attachment=true');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-disposition']).toBe(`attachment; filename="${key}"`);
  });

  it.each(['', 'attachment=false', 'attachment=0'])('sends no Content-Disposition with query %j', async (query) => {
    const res = await getRecord(ctx, storeId, 'doc', {}, query);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-disposition']).toBeUndefined();
  });

  it('never modifies HTML bytes, with or without attachment', async () => {
    const html = Buffer.from(
      '<!DOCTYPE html>\n<html><head><title>x</title></head><body><script>alert(1)</script>\r\n\u00e9\u2603</body></html>',
    );
    await putRecord(ctx, storeId, 'page', html, { 'content-type': 'text/html; charset=utf-8' });
    for (const query of ['', 'attachment=true', 'attachment=1', 'attachment=0']) {
      const res = await getRecord(ctx, storeId, 'page', {}, query);
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(res.headers['content-length']).toBe(String(html.length));
      expect(res.rawPayload.equals(html)).toBe(true);
    }
  });

  it('answers 404 record-not-found for a missing record', async () => {
    expectError(await getRecord(ctx, storeId, 'nope'), 404, 'record-not-found');
    expectError(await getRecord(ctx, storeId, 'nope', {}, 'attachment=true'), 404, 'record-not-found');
  });

  it('answers 404 record-not-found (with a token) for a missing store', async () => {
    expectError(await getRecord(ctx, MISSING_STORE, 'doc'), 404, 'record-not-found');
    expectError(await getRecord(ctx, 'not-an-id', 'doc'), 404, 'record-not-found');
    expectError(await getRecord(ctx, '~no-such-store', 'doc'), 404, 'record-not-found');
  });

  it.each(['disableRedirect=true', 'disableRedirect=1', 'disableRedirect=0', 'attachment=true&disableRedirect=true'])(
    'accepts and ignores %s',
    async (query) => {
      const res = await getRecord(ctx, storeId, 'doc', {}, query);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.headers.location).toBeUndefined();
      expect(res.body).toBe('{"hello":"world"}');
    },
  );

  it('keeps records of different stores apart', async () => {
    const other = (await ctx.createStore('other')).id;
    await putRecord(ctx, other, 'doc', Buffer.from('other store'));
    expect((await getRecord(ctx, storeId, 'doc')).body).toBe('{"hello":"world"}');
    expect((await getRecord(ctx, other, 'doc')).body).toBe('other store');
  });
});

describe('HEAD a record', () => {
  it('answers 200 with the headers GET sends and no body', async () => {
    const body = randomBytes(3000);
    await putRecord(ctx, storeId, 'bin', body, { 'content-type': 'image/png' });
    const get = await getRecord(ctx, storeId, 'bin');
    const head = await getRecord(ctx, storeId, 'bin', {}, '', 'HEAD');
    expect(head.statusCode).toBe(200);
    expect(head.headers['content-type']).toBe('image/png');
    expect(head.headers['content-length']).toBe('3000');
    expect(head.headers['content-type']).toBe(get.headers['content-type']);
    expect(head.headers['content-length']).toBe(get.headers['content-length']);
    expect(head.headers['content-encoding']).toBeUndefined();
    expect(head.rawPayload.length).toBe(0);
  });

  it('answers 200 with Content-Length 0 for an empty record', async () => {
    await putRecord(ctx, storeId, 'empty', Buffer.alloc(0), { 'content-type': 'text/plain' });
    const head = await getRecord(ctx, storeId, 'empty', {}, '', 'HEAD');
    expect(head.statusCode).toBe(200);
    expect(head.headers['content-type']).toBe('text/plain');
    expect(head.headers['content-length']).toBe('0');
  });

  it('answers 404 with no body for a missing record and for a missing store', async () => {
    await putRecord(ctx, storeId, 'there', Buffer.from('x'));
    for (const [store, key] of [
      [storeId, 'not-there'],
      [MISSING_STORE, 'there'],
      ['~no-such-store', 'there'],
    ] as const) {
      const head = await getRecord(ctx, store, key, {}, '', 'HEAD');
      expect(head.statusCode).toBe(404);
      expect(head.rawPayload.length).toBe(0);
    }
  });
});

describe('DELETE a record', () => {
  it('answers 204 with an empty body; the record is gone for GET and HEAD', async () => {
    await putRecord(ctx, storeId, 'doomed', Buffer.from('bye'));
    const res = await ctx.request({ method: 'DELETE', url: recordUrl(storeId, 'doomed'), token: ctx.alice });
    expect(res.statusCode, res.body).toBe(204);
    expect(res.rawPayload.length).toBe(0);
    expectError(await getRecord(ctx, storeId, 'doomed'), 404, 'record-not-found');
    expect((await getRecord(ctx, storeId, 'doomed', {}, '', 'HEAD')).statusCode).toBe(404);
  });

  it('answers 204 for a record that does not exist in an existing store (idempotent)', async () => {
    const first = await ctx.request({ method: 'DELETE', url: recordUrl(storeId, 'never-was'), token: ctx.alice });
    expect(first.statusCode, first.body).toBe(204);
    await putRecord(ctx, storeId, 'twice', Buffer.from('x'));
    for (let i = 0; i < 2; i++) {
      const res = await ctx.request({ method: 'DELETE', url: recordUrl(storeId, 'twice'), token: ctx.alice });
      expect(res.statusCode, res.body).toBe(204);
    }
  });

  it('answers 404 record-not-found for a missing store', async () => {
    const res = await ctx.request({ method: 'DELETE', url: recordUrl(MISSING_STORE, 'k'), token: ctx.alice });
    expectError(res, 404, 'record-not-found');
    const viaName = await ctx.request({ method: 'DELETE', url: recordUrl('~no-such-store', 'k'), token: ctx.alice });
    expectError(viaName, 404, 'record-not-found');
  });

  it('deletes only that key, and the key can be written again afterwards', async () => {
    await putRecord(ctx, storeId, 'a', Buffer.from('A'));
    await putRecord(ctx, storeId, 'b', Buffer.from('B'));
    expect((await ctx.request({ method: 'DELETE', url: recordUrl(storeId, 'a'), token: ctx.alice })).statusCode).toBe(204);
    await expectRecordBytes(ctx, storeId, 'b', Buffer.from('B'));
    expect((await putRecord(ctx, storeId, 'a', Buffer.from('A again'))).statusCode).toBe(201);
    await expectRecordBytes(ctx, storeId, 'a', Buffer.from('A again'));
  });

  it('refuses deletes without a token (401) and by another user (403)', async () => {
    await putRecord(ctx, storeId, 'kept', Buffer.from('kept'));
    expectError(await ctx.request({ method: 'DELETE', url: recordUrl(storeId, 'kept') }), 401, 'token-not-provided');
    const bob = await ctx.request({ method: 'DELETE', url: recordUrl(storeId, 'kept'), token: ctx.bob });
    expectError(bob, 403, 'insufficient-permissions');
    await expectRecordBytes(ctx, storeId, 'kept', Buffer.from('kept'));
  });
});
