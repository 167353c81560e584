import { Readable } from 'node:stream';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { chunks, rawRequest } from '../helpers/raw-http.js';
import { expectError, expectRecordBytes, getRecord, getStore, putRecord, recordUrl } from '../helpers/records.js';
import { sleep } from '../helpers/time.js';

/** openkvs decision 13: above the record size cap → 413 record-too-large, the stored record unchanged. */

const CAP = 1000;
const PREVIOUS = Buffer.from('previous value');

let ctx: TestContext;
let storeId: string;

beforeEach(async () => {
  ctx = await createTestContext({ maxRecordBytes: CAP });
  storeId = (await ctx.createStore('limits')).id;
  expect((await putRecord(ctx, storeId, 'k', PREVIOUS, { 'content-type': 'text/x-prev' })).statusCode).toBe(201);
});
afterEach(() => ctx.close());

/** The record `k` still holds PREVIOUS, and the store's size and write count did not move. */
async function expectUnchanged(before: { storageBytes: number; writeCount: number }) {
  const get = await getRecord(ctx, storeId, 'k');
  expect(get.statusCode).toBe(200);
  expect(get.headers['content-type']).toBe('text/x-prev');
  expect(get.rawPayload.equals(PREVIOUS)).toBe(true);
  const stats = (await getStore(ctx, storeId)).stats;
  expect(stats.storageBytes).toBe(before.storageBytes);
  expect(stats.writeCount).toBe(before.writeCount);
}

describe('record size cap with a declared Content-Length', () => {
  it('accepts a record of exactly the cap', async () => {
    const body = Buffer.alloc(CAP, 7);
    expect((await putRecord(ctx, storeId, 'exact', body)).statusCode).toBe(201);
    await expectRecordBytes(ctx, storeId, 'exact', body);
  });

  it.each(['PUT', 'POST'] as const)(
    '%s of cap + 1 bytes → 413 record-too-large; the existing value is unchanged',
    async (method) => {
      const before = (await getStore(ctx, storeId)).stats;
      const res = await putRecord(ctx, storeId, 'k', Buffer.alloc(CAP + 1, 1), { 'content-type': 'text/x-new' }, { method });
      expectError(res, 413, 'record-too-large');
      await expectUnchanged(before);
    },
  );

  it('a too-large record under a new key stores nothing', async () => {
    expectError(await putRecord(ctx, storeId, 'new', Buffer.alloc(50_000, 1)), 413, 'record-too-large');
    expectError(await getRecord(ctx, storeId, 'new'), 404, 'record-not-found');
  });
});

/** A connection error turned into a response with status -1, so that the assertion shows it. */
const asResponse = (err: unknown) => ({
  status: -1,
  headers: {},
  body: Buffer.from(`connection error instead of a response: ${err}`),
});

/** 6.4 MiB in 16 KiB chunks, with short pauses, as a client streaming a file would send it. */
const SLOW_TOTAL = 400 * 16_384;
async function* slowly() {
  for (let i = 0; i < 400; i++) {
    yield Buffer.alloc(16_384, 0x63);
    if (i % 8 === 0) await sleep(1);
  }
}

describe('record size cap on uploads over a real connection', () => {
  let origin: string;
  beforeEach(async () => {
    origin = await ctx.listen();
  });

  const put = (path: string, body: Iterable<Buffer> | AsyncIterable<Buffer>, headers: Record<string, string> = {}) =>
    rawRequest(origin, {
      method: 'PUT',
      path,
      headers: { authorization: `Bearer ${ctx.alice}`, 'content-type': 'application/octet-stream', ...headers },
      body,
    });

  it('accepts a chunked upload within the cap', async () => {
    const res = await put(recordUrl(storeId, 'chunked'), chunks(9, 100, 0x62));
    expect(res.status, res.body.toString()).toBe(201);
    await expectRecordBytes(ctx, storeId, 'chunked', Buffer.alloc(900, 0x62));
  });

  it('a chunked upload just past the cap → 413 record-too-large; the existing value is unchanged', async () => {
    const before = (await getStore(ctx, storeId)).stats;
    const res = await put(recordUrl(storeId, 'k'), chunks(11, 100));
    expect(res.status, res.body.toString()).toBe(413);
    expect(JSON.parse(res.body.toString()).error.type).toBe('record-too-large');
    await expectUnchanged(before);
  });

  it('a long chunked upload past the cap gets the 413 (not a connection error); the server keeps serving', async () => {
    const before = (await getStore(ctx, storeId)).stats;
    const res = await put(recordUrl(storeId, 'k'), slowly()).catch(asResponse);
    expect(res.status, res.body.toString()).toBe(413);
    expect(JSON.parse(res.body.toString()).error.type).toBe('record-too-large');
    await expectUnchanged(before);
    const again = await put(recordUrl(storeId, 'after'), chunks(1, 10));
    expect(again.status).toBe(201);
  });

  it('a long upload with a declared Content-Length past the cap gets the 413 (not a connection error)', async () => {
    const before = (await getStore(ctx, storeId)).stats;
    const res = await put(recordUrl(storeId, 'k'), slowly(), { 'content-length': String(SLOW_TOTAL) }).catch(asResponse);
    expect(res.status, res.body.toString()).toBe(413);
    expect(JSON.parse(res.body.toString()).error.type).toBe('record-too-large');
    await expectUnchanged(before);
  });

  it('a stream payload in process (no Content-Length) past the cap → 413', async () => {
    const res = await ctx.request({
      method: 'PUT',
      url: recordUrl(storeId, 'k'),
      token: ctx.alice,
      payload: Readable.from(chunks(30, 100)),
    });
    expectError(res, 413, 'record-too-large');
    expect((await getRecord(ctx, storeId, 'k')).rawPayload.equals(PREVIOUS)).toBe(true);
  });
});

describe('record size cap on compressed uploads (decoded size counts)', () => {
  const bomb = Buffer.alloc(100_000, 0x30);

  it.each([
    ['gzip', gzipSync(bomb)],
    ['deflate', deflateSync(bomb)],
    ['br', brotliCompressSync(bomb)],
  ] as const)('a small %s body that decodes past the cap → 413; nothing stored', async (enc, body) => {
    expect(body.length).toBeLessThan(CAP);
    const before = (await getStore(ctx, storeId)).stats;
    const fresh = await putRecord(ctx, storeId, 'bomb', body, { 'content-encoding': enc });
    expectError(fresh, 413, 'record-too-large');
    expectError(await getRecord(ctx, storeId, 'bomb'), 404, 'record-not-found');
    const over = await putRecord(ctx, storeId, 'k', body, { 'content-encoding': enc });
    expectError(over, 413, 'record-too-large');
    await expectUnchanged(before);
  });

  it('a compressed body that decodes to exactly the cap is accepted', async () => {
    const plain = Buffer.alloc(CAP, 0x31);
    const res = await putRecord(ctx, storeId, 'fits', gzipSync(plain), { 'content-encoding': 'gzip' });
    expect(res.statusCode, res.body).toBe(201);
    await expectRecordBytes(ctx, storeId, 'fits', plain);
  });

  it('one byte more decoded is refused', async () => {
    const res = await putRecord(ctx, storeId, 'k', gzipSync(Buffer.alloc(CAP + 1, 0x31)), { 'content-encoding': 'gzip' });
    expectError(res, 413, 'record-too-large');
    expect((await getRecord(ctx, storeId, 'k')).rawPayload.equals(PREVIOUS)).toBe(true);
  });
});
