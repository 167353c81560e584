import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { LightMyRequestResponse } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { rawRequest } from '../helpers/raw-http.js';
import { expectError, getRecord, pseudoRandomBytes, putRecord, recordUrl } from '../helpers/records.js';

/**
 * Single byte ranges on record reads (RFC 9110 §14): 206 with Content-Range, 416 with
 * `Content-Range: bytes *\/size`, the whole record when the Range header is not usable, If-Range;
 * ranges of the bytes as served (stored or decoded) and of large records (files / chunks).
 */

let ctx: TestContext;
let storeId: string;

beforeEach(async () => {
  ctx = await createTestContext();
  storeId = (await ctx.createStore('ranges')).id;
});
afterEach(() => ctx.close());

const SMALL = pseudoRandomBytes(1000, 11);
const tagOf = (bytes: Buffer) => `"${createHash('sha256').update(bytes).digest('base64url')}"`;

async function store(key: string, body: Buffer, headers: Record<string, string> = {}): Promise<void> {
  const res = await putRecord(ctx, storeId, key, body, { 'content-type': 'application/octet-stream', ...headers });
  expect(res.statusCode, res.body).toBe(201);
}

const get = (key: string, headers: Record<string, string>) => getRecord(ctx, storeId, key, headers);

/** Asserts a 206 carrying bytes start..end (inclusive) of `whole`. */
function expectPartial(res: LightMyRequestResponse, whole: Buffer, start: number, end: number): void {
  expect(res.statusCode, res.body.slice(0, 200)).toBe(206);
  expect(res.headers['content-range']).toBe(`bytes ${start}-${end}/${whole.length}`);
  expect(res.headers['content-length']).toBe(String(end - start + 1));
  expect(res.headers['accept-ranges']).toBe('bytes');
  expect(res.rawPayload.length).toBe(end - start + 1);
  expect(res.rawPayload.equals(whole.subarray(start, end + 1))).toBe(true);
}

/** Asserts a 200 with the whole of `whole` and no Content-Range. */
function expectWhole(res: LightMyRequestResponse, whole: Buffer): void {
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-range']).toBeUndefined();
  expect(res.headers['content-length']).toBe(String(whole.length));
  expect(res.rawPayload.equals(whole)).toBe(true);
}

function expectUnsatisfiable(res: LightMyRequestResponse, size: number): void {
  expectError(res, 416, 'range-not-satisfiable');
  expect(res.headers['content-range']).toBe(`bytes */${size}`);
}

describe('a 1000-byte record', () => {
  beforeEach(() => store('small', SMALL));

  it('bytes=a-b, bytes=a- and bytes=-n give 206 with the right bytes, Content-Range and Content-Length', async () => {
    const cases: [string, number, number][] = [
      ['bytes=0-99', 0, 99],
      ['bytes=0-0', 0, 0],
      ['bytes=999-999', 999, 999],
      ['bytes=100-199', 100, 199],
      ['bytes=990-', 990, 999],
      ['bytes=0-', 0, 999],
      ['bytes=-10', 990, 999],
      ['bytes=-1', 999, 999],
      ['bytes=-1000', 0, 999],
      ['bytes=-5000', 0, 999],
      ['bytes=500-5000', 500, 999],
      ['bytes=500-999', 500, 999],
    ];
    for (const [range, start, end] of cases) {
      const res = await get('small', { range });
      expect(res.statusCode, range).toBe(206);
      expectPartial(res, SMALL, start, end);
      expect(res.headers.etag).toBe(tagOf(SMALL));
      expect(res.headers['content-type']).toBe('application/octet-stream');
    }
  });

  it('a range starting at or past the end, or a zero-length suffix, is 416 with bytes */size', async () => {
    for (const range of ['bytes=1000-', 'bytes=1000-1000', 'bytes=5000-6000', 'bytes=-0']) {
      const res = await get('small', { range });
      expect(res.statusCode, range).toBe(416);
      expectUnsatisfiable(res, 1000);
    }
  });

  it('several ranges, bad syntax, reversed bounds and other units give the whole record', async () => {
    const ignored = [
      'bytes=0-1,5-6',
      'bytes=0-1, 5-',
      'bytes=-',
      'bytes=abc',
      'bytes=5-1',
      'bytes 0-5',
      'bytes=1.5-3',
      'items=0-5',
      '',
    ];
    for (const range of ignored) expectWhole(await get('small', { range }), SMALL);
  });

  it('If-Range with the current tag honours the range; another, a weak or a stale tag gives the whole record', async () => {
    const tag = tagOf(SMALL);
    expectPartial(await get('small', { range: 'bytes=10-19', 'if-range': tag }), SMALL, 10, 19);
    for (const ifRange of [tagOf(Buffer.from('x')), `W/${tag}`, tag.slice(1, -1)]) {
      expectWhole(await get('small', { range: 'bytes=10-19', 'if-range': ifRange }), SMALL);
    }
    // An unsatisfiable range with a non-matching If-Range: the whole record, not 416.
    expectWhole(await get('small', { range: 'bytes=5000-', 'if-range': '"stale"' }), SMALL);
    await store('small', Buffer.from('rewritten'));
    expectWhole(await get('small', { range: 'bytes=0-1', 'if-range': tag }), Buffer.from('rewritten'));
  });

  it('If-None-Match that matches wins over Range: 304', async () => {
    const res = await get('small', { range: 'bytes=0-9', 'if-none-match': tagOf(SMALL) });
    expect(res.statusCode).toBe(304);
    expect(res.rawPayload.length).toBe(0);
    expect(res.headers['content-range']).toBeUndefined();
  });

  it('HEAD ignores Range (RFC 9110 §14.2: range handling is defined for GET only)', async () => {
    for (const range of ['bytes=0-9', 'bytes=5000-']) {
      const res = await getRecord(ctx, storeId, 'small', { range }, '', 'HEAD');
      expect(res.statusCode, range).toBe(200);
      expect(res.headers['content-range']).toBeUndefined();
      expect(res.headers['content-length']).toBe('1000');
    }
  });

  it('a range on a missing record is 404', async () => {
    expectError(await get('missing', { range: 'bytes=0-1' }), 404, 'record-not-found');
  });
});

it('the empty record: any satisfiable-looking range is 416 bytes */0', async () => {
  await store('empty', Buffer.alloc(0));
  for (const range of ['bytes=0-', 'bytes=0-0', 'bytes=-5']) expectUnsatisfiable(await get('empty', { range }), 0);
  expectWhole(await get('empty', { range: 'bytes=0-1,2-3' }), Buffer.alloc(0));
});

describe('a record stored gzip-compressed', () => {
  const plain = Buffer.from(Array.from({ length: 2000 }, (_, i) => `line ${i}: the quick brown fox\n`).join(''), 'utf8');
  const gz = gzipSync(plain);
  beforeEach(() => store('gz', gz, { 'content-encoding': 'gzip', 'content-type': 'text/plain' }));

  it('ranges apply to the decoded bytes for a client that does not accept gzip', async () => {
    const variants: Record<string, string>[] = [{}, { 'accept-encoding': 'identity' }, { 'accept-encoding': 'br' }];
    for (const headers of variants) {
      const res = await get('gz', { ...headers, range: 'bytes=100-199' });
      expectPartial(res, plain, 100, 199);
      expect(res.headers['content-encoding']).toBeUndefined();
    }
    expectPartial(await get('gz', { range: `bytes=-20` }), plain, plain.length - 20, plain.length - 1);
    expectPartial(await get('gz', { range: `bytes=${gz.length}-` }), plain, gz.length, plain.length - 1);
    expectUnsatisfiable(await get('gz', { range: `bytes=${plain.length}-` }), plain.length);
  });

  it('ranges apply to the stored bytes for a client that accepts gzip', async () => {
    const res = await get('gz', { 'accept-encoding': 'gzip', range: 'bytes=0-99' });
    expectPartial(res, gz, 0, 99);
    expect(res.headers['content-encoding']).toBe('gzip');
    expectPartial(await get('gz', { 'accept-encoding': 'gzip', range: 'bytes=-7' }), gz, gz.length - 7, gz.length - 1);
    expectUnsatisfiable(await get('gz', { 'accept-encoding': 'gzip', range: `bytes=${gz.length}-` }), gz.length);
  });

  it("a 416 is a plain JSON error, without the record's Content-Encoding, even for a client that accepts gzip", async () => {
    const range = `bytes=${gz.length}-`;
    // A real client decodes by Content-Encoding: a "gzip" error body would not even parse.
    const origin = await ctx.listen();
    const r = await fetch(`${origin}${recordUrl(storeId, 'gz')}`, {
      headers: { authorization: `Bearer ${ctx.alice}`, 'accept-encoding': 'gzip', range },
    });
    expect(r.status).toBe(416);
    const body = await r.text().catch((err: unknown) => `unreadable: ${String(err)}`);
    ctx.app.server.closeAllConnections();
    expect(body).toMatch(/range-not-satisfiable/);
    const res = await get('gz', { 'accept-encoding': 'gzip', range });
    expectUnsatisfiable(res, gz.length);
    expect(res.headers['content-encoding']).toBeUndefined();
  });

  it('the stored ranges put together are the stored bytes; the decoded ones the decoded bytes', async () => {
    for (const [accept, whole] of [
      ['gzip', gz],
      ['identity', plain],
    ] as const) {
      const parts: Buffer[] = [];
      const step = Math.ceil(whole.length / 7);
      for (let start = 0; start < whole.length; start += step) {
        const res = await get('gz', { 'accept-encoding': accept, range: `bytes=${start}-${start + step - 1}` });
        expect(res.statusCode).toBe(206);
        parts.push(res.rawPayload);
      }
      expect(Buffer.concat(parts).equals(whole), accept).toBe(true);
    }
  });

  it('If-Range takes the tag of the representation served', async () => {
    const stored = tagOf(gz);
    const decoded = `"${stored.slice(1, -1)}-identity"`;
    expectPartial(await get('gz', { range: 'bytes=0-9', 'if-range': decoded }), plain, 0, 9);
    expectWhole(await get('gz', { range: 'bytes=0-9', 'if-range': stored }), plain);
    expectPartial(await get('gz', { 'accept-encoding': 'gzip', range: 'bytes=0-9', 'if-range': stored }), gz, 0, 9);
    const whole = await get('gz', { 'accept-encoding': 'gzip', range: 'bytes=0-9', 'if-range': decoded });
    expect(whole.statusCode).toBe(200);
    expect(whole.rawPayload.equals(gz)).toBe(true);
  });
});

describe('large records (stored as files / chunks)', () => {
  const MIB = 1024 * 1024;
  const big = pseudoRandomBytes(2 * MIB + 12_345, 23);

  beforeEach(() => store('big', big));

  it('ranges at the start, the end, inside and across the 256 KiB and 1 MiB boundaries', async () => {
    const cases: [string, number, number][] = [
      ['bytes=0-9', 0, 9],
      ['bytes=-100', big.length - 100, big.length - 1],
      [`bytes=${big.length - 1}-`, big.length - 1, big.length - 1],
      [`bytes=${256 * 1024 - 5}-${256 * 1024 + 5}`, 256 * 1024 - 5, 256 * 1024 + 5],
      [`bytes=${MIB - 10}-${MIB + 9}`, MIB - 10, MIB + 9],
      [`bytes=${MIB}-${2 * MIB}`, MIB, 2 * MIB],
      [`bytes=${MIB + 300_000}-${MIB + 300_099}`, MIB + 300_000, MIB + 300_099],
      ['bytes=1-', 1, big.length - 1],
    ];
    for (const [range, start, end] of cases) {
      const res = await get('big', { range });
      expect(res.statusCode, range).toBe(206);
      expectPartial(res, big, start, end);
    }
    expectUnsatisfiable(await get('big', { range: `bytes=${big.length}-` }), big.length);
  });

  it('a range of a large gzip record is cut from the decoded stream', async () => {
    const noise = pseudoRandomBytes(700 * 1024, 5);
    const gz = gzipSync(noise);
    expect(gz.length).toBeGreaterThan(256 * 1024);
    await store('big-gz', gz, { 'content-encoding': 'gzip' });
    expectPartial(await get('big-gz', { range: 'bytes=300000-300999' }), noise, 300_000, 300_999);
    expectPartial(await get('big-gz', { range: 'bytes=-3' }), noise, noise.length - 3, noise.length - 1);
    const stored = await get('big-gz', { 'accept-encoding': 'gzip', range: 'bytes=400000-' });
    expectPartial(stored, gz, 400_000, gz.length - 1);
  });

  it('over a real connection: the 206 body ends exactly at Content-Length, and the connection stays usable', async () => {
    const origin = await ctx.listen();
    const headers = { authorization: `Bearer ${ctx.alice}` };
    const path = recordUrl(storeId, 'big');
    const res = await rawRequest(origin, { method: 'GET', path, headers: { ...headers, range: `bytes=${MIB - 3}-${MIB + 2}` } });
    expect(res.status).toBe(206);
    expect(res.headers['content-range']).toBe(`bytes ${MIB - 3}-${MIB + 2}/${big.length}`);
    expect(res.body.equals(big.subarray(MIB - 3, MIB + 3))).toBe(true);
    // fetch with keep-alive: several ranges in a row over one pooled connection.
    for (const [start, end] of [
      [0, 0],
      [big.length - 5, big.length - 1],
      [123_456, 654_321],
    ] as const) {
      const r = await fetch(`${origin}${path}`, { headers: { ...headers, range: `bytes=${start}-${end}` } });
      expect(r.status).toBe(206);
      const body = Buffer.from(await r.arrayBuffer());
      expect(body.equals(big.subarray(start, end + 1))).toBe(true);
    }
    // fetch keeps its connection; a response may still be finishing server-side when close()
    // starts, and Fastify's one-off idle sweep would then leave it open for the 72 s keep-alive.
    ctx.app.server.closeAllConnections();
  });
});
