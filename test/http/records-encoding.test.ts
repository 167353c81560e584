import { randomBytes } from 'node:crypto';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { expectError, expectRecordBytes, getRecord, getStore, putRecord } from '../helpers/records.js';

let ctx: TestContext;
let storeId: string;

beforeEach(async () => {
  ctx = await createTestContext();
  storeId = (await ctx.createStore('enc')).id;
});
afterEach(() => ctx.close());

type Encoding = 'gzip' | 'deflate' | 'br';
const compress: Record<Encoding, (b: Buffer) => Buffer> = { gzip: gzipSync, deflate: deflateSync, br: brotliCompressSync };
const ENCODINGS: Encoding[] = ['gzip', 'deflate', 'br'];

/** Compressible JSON text, ~40 KB plain. */
const PLAIN = Buffer.from(
  JSON.stringify(
    Array.from({ length: 800 }, (_, i) => ({ id: i, name: `item-${i}`, tags: ['a', 'b', 'c'] })),
    null,
    2,
  ),
);
const TYPE = 'application/json; charset=utf-8';

describe.each(ENCODINGS)('a record uploaded with Content-Encoding: %s', (enc) => {
  const stored = compress[enc](PLAIN);

  beforeEach(async () => {
    const res = await putRecord(ctx, storeId, 'doc', stored, { 'content-type': TYPE, 'content-encoding': enc });
    expect(res.statusCode, res.body).toBe(201);
    expect(stored.length).toBeLessThan(PLAIN.length);
  });

  it('is served as stored (same bytes, same Content-Encoding) to a client that accepts it', async () => {
    for (const accept of [enc, 'gzip, compress, deflate, br', `identity, ${enc}`, `${enc};q=0.5`, '*']) {
      const res = await getRecord(ctx, storeId, 'doc', { 'accept-encoding': accept }, 'attachment=true');
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-encoding'], accept).toBe(enc);
      expect(res.headers['content-type']).toBe(TYPE);
      expect(res.headers['content-length']).toBe(String(stored.length));
      expect(res.rawPayload.equals(stored), accept).toBe(true);
    }
  });

  it('is decoded for a client without Accept-Encoding or with identity only', async () => {
    const variants: Record<string, string>[] = [{}, { 'accept-encoding': 'identity' }, { 'accept-encoding': '' }];
    for (const headers of variants) {
      const res = await getRecord(ctx, storeId, 'doc', headers);
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-encoding'], JSON.stringify(headers)).toBeUndefined();
      expect(res.headers['content-type']).toBe(TYPE);
      expect(res.headers['content-length']).toBe(String(PLAIN.length));
      expect(res.rawPayload.equals(PLAIN)).toBe(true);
    }
  });

  it('respects q=0 and other encodings: decoded when the stored encoding is refused', async () => {
    const others = ENCODINGS.filter((e) => e !== enc).join(', ');
    for (const accept of [`${enc};q=0`, `${enc};q=0, ${others}`, others, `*;q=0`, `${enc};q=0, *`, `*, ${enc};q=0.0`]) {
      const res = await getRecord(ctx, storeId, 'doc', { 'accept-encoding': accept });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-encoding'], accept).toBeUndefined();
      expect(res.rawPayload.equals(PLAIN), accept).toBe(true);
    }
  });

  it('HEAD sends the headers GET would send, with and without a matching Accept-Encoding', async () => {
    const variants: Record<string, string>[] = [{ 'accept-encoding': enc }, {}, { 'accept-encoding': `${enc};q=0` }];
    for (const headers of variants) {
      const get = await getRecord(ctx, storeId, 'doc', headers);
      const head = await getRecord(ctx, storeId, 'doc', headers, '', 'HEAD');
      expect(head.statusCode).toBe(200);
      expect(head.headers['content-type']).toBe(TYPE);
      expect(head.headers['content-encoding']).toBe(get.headers['content-encoding']);
      expect(head.rawPayload.length).toBe(0);
    }
    const asStored = await getRecord(ctx, storeId, 'doc', { 'accept-encoding': enc }, '', 'HEAD');
    expect(asStored.headers['content-encoding']).toBe(enc);
    expect(asStored.headers['content-length']).toBe(String(stored.length));
    const decoded = await getRecord(ctx, storeId, 'doc', {}, '', 'HEAD');
    expect(decoded.headers['content-encoding']).toBeUndefined();
    expect(decoded.headers['content-length']).toBe(String(PLAIN.length));
  });

  it('counts the stored (compressed) bytes in stats.storageBytes', async () => {
    expect((await getStore(ctx, storeId)).stats.storageBytes).toBe(stored.length);
  });

  it('a large (file-stored) compressed record is decoded on the fly for identity clients', async () => {
    const big = randomBytes(600 * 1024);
    const bigStored = compress[enc](big);
    expect(bigStored.length).toBeGreaterThan(256 * 1024);
    const put = await putRecord(ctx, storeId, 'big', bigStored, { 'content-encoding': enc });
    expect(put.statusCode, put.body).toBe(201);
    await expectRecordBytes(ctx, storeId, 'big', big);
    const raw = await getRecord(ctx, storeId, 'big', { 'accept-encoding': enc });
    expect(raw.headers['content-encoding']).toBe(enc);
    expect(raw.rawPayload.equals(bigStored)).toBe(true);
  });
});

describe('Content-Encoding edge cases', () => {
  it('accepts the encoding name case-insensitively', async () => {
    const res = await putRecord(ctx, storeId, 'k', gzipSync(PLAIN), { 'content-encoding': 'GZIP' });
    expect(res.statusCode, res.body).toBe(201);
    await expectRecordBytes(ctx, storeId, 'k', PLAIN);
  });

  it('stores a body sent with Content-Encoding: identity as plain bytes', async () => {
    const body = Buffer.from('plain and simple');
    const res = await putRecord(ctx, storeId, 'id', body, { 'content-type': 'text/plain', 'content-encoding': 'identity' });
    expect(res.statusCode, res.body).toBe(201);
    const get = await getRecord(ctx, storeId, 'id');
    expect(get.headers['content-encoding']).toBeUndefined();
    expect(get.headers['content-length']).toBe(String(body.length));
    expect(get.rawPayload.equals(body)).toBe(true);
    // Nothing was compressed: a client that accepts gzip still gets bytes that are the plain body.
    const gz = await getRecord(ctx, storeId, 'id', { 'accept-encoding': 'gzip' });
    if (gz.headers['content-encoding'] === undefined) expect(gz.rawPayload.equals(body)).toBe(true);
    expect((await getStore(ctx, storeId)).stats.storageBytes).toBe(body.length);
  });

  it.each(['bla', 'compress', 'gzip, br', 'zstd'])(
    'refuses Content-Encoding %j with 415 unsupported-content-encoding',
    async (enc) => {
      await putRecord(ctx, storeId, 'k', Buffer.from('before'));
      const res = await putRecord(ctx, storeId, 'k', Buffer.from('after'), { 'content-encoding': enc });
      expectError(res, 415, 'unsupported-content-encoding');
      await expectRecordBytes(ctx, storeId, 'k', Buffer.from('before'));
    },
  );

  it('names the refused encoding in the 415 message', async () => {
    const res = await putRecord(ctx, storeId, 'k', Buffer.from('x'), { 'content-encoding': 'bla' });
    expect(res.json().error.message).toBe('Content-Encoding "bla" is not supported.');
  });

  it('a compressed empty body is an empty record', async () => {
    const res = await putRecord(ctx, storeId, 'e', gzipSync(Buffer.alloc(0)), { 'content-encoding': 'gzip' });
    expect(res.statusCode).toBe(201);
    const get = await getRecord(ctx, storeId, 'e');
    expect(get.statusCode).toBe(200);
    expect(get.rawPayload.length).toBe(0);
  });
});

/** 4 KiB of pseudo-random bytes (a fixed linear congruential sequence) that brotli refuses. */
const NOT_BROTLI = (() => {
  const bytes = Buffer.alloc(4096);
  let x = 12_345;
  for (let i = 0; i < bytes.length; i++) {
    x = (Math.imul(x, 1_103_515_245) + 12_345) >>> 0;
    bytes[i] = x >>> 24;
  }
  return bytes;
})();

describe('corrupt compressed bodies', () => {
  const previous = Buffer.from('the previous value, byte-exact \u0000\u00ff');
  const gz = gzipSync(PLAIN);
  const flipped = Buffer.from(gz);
  flipped.fill(0x55, 20, 60);
  const bigGz = gzipSync(randomBytes(700 * 1024));
  const bigFlipped = Buffer.from(bigGz);
  bigFlipped.fill(0xaa, bigFlipped.length - 200, bigFlipped.length - 20);

  const cases: [string, string, Buffer][] = [
    ['not gzip at all', 'gzip', Buffer.from('this is not gzip data at all')],
    ['gzip with garbage in the middle', 'gzip', flipped],
    ['truncated gzip', 'gzip', gz.subarray(0, Math.floor(gz.length / 2))],
    ['gzip without its trailer', 'gzip', gz.subarray(0, gz.length - 8)],
    ['gzip with a wrong CRC', 'gzip', Buffer.concat([gz.subarray(0, gz.length - 8), Buffer.alloc(8, 0xff)])],
    ['a large (file-staged) corrupt gzip', 'gzip', bigFlipped],
    ['corrupt deflate', 'deflate', Buffer.from('definitely not zlib')],
    ['truncated deflate', 'deflate', deflateSync(PLAIN).subarray(0, 100)],
    // Fixed bytes: about one in twenty random 4 KiB buffers happens to be a valid brotli stream.
    ['corrupt br', 'br', NOT_BROTLI],
    ['truncated br', 'br', brotliCompressSync(PLAIN).subarray(0, 200)],
  ];

  it.each(cases)('%s → 400 invalid-request; the previous value and storageBytes are unchanged', async (_name, enc, body) => {
    await putRecord(ctx, storeId, 'k', previous, { 'content-type': 'application/x-prev' });
    const before = (await getStore(ctx, storeId)).stats;
    const res = await putRecord(ctx, storeId, 'k', body, { 'content-type': 'application/json', 'content-encoding': enc });
    expectError(res, 400, 'invalid-request');
    const get = await getRecord(ctx, storeId, 'k', { 'accept-encoding': 'gzip, deflate, br' });
    expect(get.statusCode).toBe(200);
    expect(get.headers['content-type']).toBe('application/x-prev');
    expect(get.headers['content-encoding']).toBeUndefined();
    expect(get.rawPayload.equals(previous)).toBe(true);
    const after = (await getStore(ctx, storeId)).stats;
    expect(after.storageBytes).toBe(before.storageBytes);
    expect(after.writeCount).toBe(before.writeCount);
  });

  it('a corrupt body under a new key stores nothing', async () => {
    const res = await putRecord(ctx, storeId, 'fresh', flipped, { 'content-encoding': 'gzip' });
    expectError(res, 400, 'invalid-request');
    expectError(await getRecord(ctx, storeId, 'fresh'), 404, 'record-not-found');
    expect((await getStore(ctx, storeId)).stats.storageBytes).toBe(0);
  });
});
