import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestContext, TEST_DRIVER, type TestContext } from '../helpers/context.js';
import { chunks, rawRequest } from '../helpers/raw-http.js';
import {
  expectError,
  expectRecordBytes,
  getRecord,
  getStore,
  listFiles,
  pseudoRandomBytes,
  putRecord,
  recordUrl,
} from '../helpers/records.js';

/**
 * Upload integrity: `Content-MD5` (base64) and `x-content-sha256` (hex or base64) of the body as
 * sent. A mismatch or a malformed digest is 400 invalid-request and stores nothing.
 */

let ctx: TestContext;
let storeId: string;

beforeEach(async () => {
  ctx = await createTestContext();
  storeId = (await ctx.createStore('integrity')).id;
});
afterEach(() => ctx.close());

const md5 = (b: Buffer | string) => createHash('md5').update(b).digest('base64');
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest();
const put = (key: string, body: Buffer | string, headers: Record<string, string>, method: 'PUT' | 'POST' = 'PUT') =>
  putRecord(ctx, storeId, key, body, { 'content-type': 'application/octet-stream', ...headers }, { method });

const BODY = Buffer.from('the bytes as sent');
const OTHER = Buffer.from('some other bytes');

describe('a digest that matches the body', () => {
  it('Content-MD5, x-content-sha256 in hex (either case) or base64, and both together: 201', async () => {
    const variants: Record<string, string>[] = [
      { 'content-md5': md5(BODY) },
      { 'x-content-sha256': sha256(BODY).toString('hex') },
      { 'x-content-sha256': sha256(BODY).toString('hex').toUpperCase() },
      { 'x-content-sha256': sha256(BODY).toString('base64') },
      { 'x-content-sha256': ` ${sha256(BODY).toString('hex')} ` },
      { 'content-md5': md5(BODY), 'x-content-sha256': sha256(BODY).toString('hex') },
    ];
    for (const [i, headers] of variants.entries()) {
      const res = await put(`ok-${i}`, BODY, headers, i % 2 === 0 ? 'PUT' : 'POST');
      expect(res.statusCode, JSON.stringify(headers)).toBe(201);
      expect(res.headers.etag).toBe(`"${sha256(BODY).toString('base64url')}"`);
      await expectRecordBytes(ctx, storeId, `ok-${i}`, BODY);
    }
  });

  it('the empty body with its digests: 201', async () => {
    const res = await put('empty', '', { 'content-md5': md5(''), 'x-content-sha256': sha256('').toString('hex') });
    expect(res.statusCode).toBe(201);
    await expectRecordBytes(ctx, storeId, 'empty', Buffer.alloc(0));
  });

  it('a compressed upload is checked against the bytes sent (compressed), not the decoded ones', async () => {
    const plain = Buffer.from('integrity '.repeat(300));
    const gz = gzipSync(plain);
    const sent = await put('gz', gz, {
      'content-encoding': 'gzip',
      'content-md5': md5(gz),
      'x-content-sha256': sha256(gz).toString('hex'),
    });
    expect(sent.statusCode).toBe(201);
    await expectRecordBytes(ctx, storeId, 'gz', plain);
    expectError(await put('gz2', gz, { 'content-encoding': 'gzip', 'content-md5': md5(plain) }), 400, 'invalid-request');
    expectError(
      await put('gz2', gz, { 'content-encoding': 'gzip', 'x-content-sha256': sha256(plain).toString('hex') }),
      400,
      'invalid-request',
    );
    expectError(await getRecord(ctx, storeId, 'gz2'), 404, 'record-not-found');
  });
});

describe('a digest that does not match the body', () => {
  beforeEach(async () => {
    expect((await put('k', 'previous', {})).statusCode).toBe(201);
  });

  async function expectNothingChanged(before: Awaited<ReturnType<typeof getStore>>) {
    await expectRecordBytes(ctx, storeId, 'k', Buffer.from('previous'));
    const after = await getStore(ctx, storeId);
    expect(after.stats.writeCount).toBe(before.stats.writeCount);
    expect(after.stats.storageBytes).toBe(before.stats.storageBytes);
    expect(after.modifiedAt).toBe(before.modifiedAt);
  }

  it('is 400 invalid-request, with the previous value intact and the counters unchanged', async () => {
    const before = await getStore(ctx, storeId);
    const wrong: Record<string, string>[] = [
      { 'content-md5': md5(OTHER) },
      { 'x-content-sha256': sha256(OTHER).toString('hex') },
      { 'x-content-sha256': sha256(OTHER).toString('base64') },
      { 'content-md5': md5(BODY), 'x-content-sha256': sha256(OTHER).toString('hex') },
      { 'content-md5': md5(OTHER), 'x-content-sha256': sha256(BODY).toString('hex') },
    ];
    for (const headers of wrong) {
      for (const method of ['PUT', 'POST'] as const) {
        const res = await put('k', BODY, headers, method);
        expectError(res, 400, 'invalid-request');
        expect(res.json().error.message).toMatch(/Content-MD5|x-content-sha256/);
      }
    }
    await expectNothingChanged(before);
  });

  it('a new key is not created', async () => {
    expectError(await put('fresh', BODY, { 'content-md5': md5(OTHER) }), 400, 'invalid-request');
    expectError(await getRecord(ctx, storeId, 'fresh'), 404, 'record-not-found');
  });

  it('a large body (> 256 KiB, stored as a file / in chunks) is not stored either', async () => {
    const before = await getStore(ctx, storeId);
    const big = pseudoRandomBytes(3 * 1024 * 1024 + 7, 42);
    const tampered = Buffer.from(big);
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] ?? 0) ^ 1;
    expectError(await put('k', tampered, { 'x-content-sha256': sha256(big).toString('hex') }), 400, 'invalid-request');
    expectError(await put('k', tampered, { 'content-md5': md5(big) }), 400, 'invalid-request');
    await expectNothingChanged(before);
    expect((await put('k', big, { 'x-content-sha256': sha256(big).toString('hex'), 'content-md5': md5(big) })).statusCode).toBe(
      201,
    );
    await expectRecordBytes(ctx, storeId, 'k', big);
  });

  it('over a real connection, chunked: the 400 arrives after the whole upload', async () => {
    const origin = await ctx.listen();
    const res = await rawRequest(origin, {
      method: 'PUT',
      path: recordUrl(storeId, 'k'),
      headers: { authorization: `Bearer ${ctx.alice}`, 'x-content-sha256': sha256('nope').toString('hex') },
      body: chunks(40, 64 * 1024),
    });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body.toString()).error.type).toBe('invalid-request');
    await expectRecordBytes(ctx, storeId, 'k', Buffer.from('previous'));
  });
});

describe('a malformed digest header', () => {
  it('is 400 invalid-request before anything is stored', async () => {
    const malformed: Record<string, string>[] = [
      { 'content-md5': 'not a digest' },
      { 'content-md5': '' },
      { 'content-md5': md5(BODY).slice(0, 10) },
      { 'content-md5': sha256(BODY).toString('base64') },
      { 'x-content-sha256': 'xyz' },
      { 'x-content-sha256': sha256(BODY).toString('hex').slice(1) },
      { 'x-content-sha256': `${sha256(BODY).toString('hex')}00` },
      { 'x-content-sha256': md5(BODY) },
      { 'x-content-sha256': '' },
    ];
    for (const headers of malformed) {
      const res = await put('k', BODY, headers);
      expectError(res, 400, 'invalid-request');
      expect(res.json().error.message, JSON.stringify(headers)).toMatch(/not a valid digest/);
    }
    expectError(await getRecord(ctx, storeId, 'k'), 404, 'record-not-found');
    expect((await getStore(ctx, storeId)).stats.writeCount).toBe(0);
  });
});

describe.runIf(TEST_DRIVER === 'sqlite')('on a SQLite file', () => {
  let dir: string;
  let fileCtx: TestContext;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'openkvs-integrity-'));
    fileCtx = await createTestContext({ path: join(dir, 'kvs.sqlite') });
  });
  afterEach(async () => {
    await fileCtx.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a rejected large upload leaves no value file behind, temporary or published', async () => {
    const id = (await fileCtx.createStore('files')).id;
    const big = pseudoRandomBytes(1024 * 1024, 9);
    const ok = await putRecord(fileCtx, id, 'k', big, { 'content-md5': md5(big) });
    expect(ok.statusCode).toBe(201);
    const files = await listFiles(join(dir, 'kvs.sqlite-blobs'));
    expect(files).toHaveLength(1);
    const res = await putRecord(fileCtx, id, 'k', pseudoRandomBytes(1024 * 1024, 10), { 'content-md5': md5(big) });
    expectError(res, 400, 'invalid-request');
    expect(await listFiles(join(dir, 'kvs.sqlite-blobs'))).toEqual(files);
    await expectRecordBytes(fileCtx, id, 'k', big);
  });

  it('a large upload refused with 412 leaves no value file behind either', async () => {
    const id = (await fileCtx.createStore('files')).id;
    const big = pseudoRandomBytes(1024 * 1024, 11);
    expect((await putRecord(fileCtx, id, 'k', big)).statusCode).toBe(201);
    const files = await listFiles(join(dir, 'kvs.sqlite-blobs'));
    const other = pseudoRandomBytes(1024 * 1024, 12);
    expectError(await putRecord(fileCtx, id, 'k', other, { 'if-match': '"stale"' }), 412, 'precondition-failed');
    expectError(await putRecord(fileCtx, id, 'k', other, { 'if-none-match': '*' }), 412, 'precondition-failed');
    expect(await listFiles(join(dir, 'kvs.sqlite-blobs'))).toEqual(files);
    await expectRecordBytes(fileCtx, id, 'k', big);
  });
});
