import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { expectError, expectRecordBytes, getRecord, getStore, listFiles, putRecord, recordUrl } from '../helpers/records.js';

/**
 * Records above the inline threshold (256 KiB) are stored as files beside the SQLite file
 * (DESIGN.md "Data rules"). These tests run on a real database file so that the value files can
 * be counted: an overwrite or delete that leaves the old file behind leaks disk space.
 */

const FIVE_MB = 5 * 1024 * 1024;

let dir: string;
let dbFile: string;
let ctx: TestContext;
let storeId: string;

/** Value files the server keeps for published records (temporary upload files excluded). */
async function valueFiles(): Promise<string[]> {
  return (await listFiles(`${dbFile}-blobs`)).filter((f) => !f.startsWith('tmp'));
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'openkvs-records-files-'));
  dbFile = join(dir, 'kvs.sqlite');
  ctx = await createTestContext({ path: dbFile });
  storeId = (await ctx.createStore('files')).id;
});
afterEach(async () => {
  await ctx.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('records stored as files (above the inline threshold)', () => {
  it('round-trips a 5 MB buffer byte for byte, with Content-Length on GET and HEAD', async () => {
    const body = randomBytes(FIVE_MB);
    const put = await putRecord(ctx, storeId, 'five', body, { 'content-type': 'application/x-five' });
    expect(put.statusCode, put.body).toBe(201);
    const get = await getRecord(ctx, storeId, 'five');
    expect(get.statusCode).toBe(200);
    expect(get.headers['content-type']).toBe('application/x-five');
    expect(get.headers['content-length']).toBe(String(FIVE_MB));
    expect(get.rawPayload.length).toBe(FIVE_MB);
    expect(get.rawPayload.equals(body)).toBe(true);
    const head = await getRecord(ctx, storeId, 'five', {}, '', 'HEAD');
    expect(head.statusCode).toBe(200);
    expect(head.headers['content-length']).toBe(String(FIVE_MB));
    expect(head.rawPayload.length).toBe(0);
    expect((await getStore(ctx, storeId)).stats.storageBytes).toBe(FIVE_MB);
    expect(await valueFiles()).toHaveLength(1);
  });

  it('serves attachment=true for a file-stored record', async () => {
    const body = randomBytes(300 * 1024);
    await putRecord(ctx, storeId, 'big', body);
    const get = await getRecord(ctx, storeId, 'big', {}, 'attachment=true');
    expect(get.headers['content-disposition']).toBe('attachment; filename="big"');
    expect(get.rawPayload.equals(body)).toBe(true);
  });

  it('records just below, at and just above 256 KiB all round-trip', async () => {
    for (const size of [256 * 1024 - 1, 256 * 1024, 256 * 1024 + 1]) {
      const body = randomBytes(size);
      expect((await putRecord(ctx, storeId, `s${size}`, body)).statusCode).toBe(201);
      await expectRecordBytes(ctx, storeId, `s${size}`, body);
    }
  });

  it('overwrites a file-stored record with a small one, removing the old file', async () => {
    await putRecord(ctx, storeId, 'k', randomBytes(FIVE_MB));
    expect(await valueFiles()).toHaveLength(1);
    const small = Buffer.from('now small');
    const res = await putRecord(ctx, storeId, 'k', small, { 'content-type': 'text/plain' });
    expect(res.statusCode).toBe(201);
    const get = await getRecord(ctx, storeId, 'k');
    expect(get.headers['content-type']).toBe('text/plain');
    expect(get.headers['content-length']).toBe(String(small.length));
    expect(get.rawPayload.equals(small)).toBe(true);
    expect((await getStore(ctx, storeId)).stats.storageBytes).toBe(small.length);
    expect(await valueFiles()).toEqual([]);
  });

  it('overwrites a small record with a file-stored one', async () => {
    await putRecord(ctx, storeId, 'k', Buffer.from('tiny'), { 'content-type': 'text/plain' });
    const big = randomBytes(FIVE_MB);
    expect((await putRecord(ctx, storeId, 'k', big, { 'content-type': 'application/octet-stream' })).statusCode).toBe(201);
    const get = await getRecord(ctx, storeId, 'k');
    expect(get.headers['content-type']).toBe('application/octet-stream');
    expect(get.rawPayload.equals(big)).toBe(true);
    expect((await getStore(ctx, storeId)).stats.storageBytes).toBe(FIVE_MB);
    expect(await valueFiles()).toHaveLength(1);
  });

  it('overwrites a file-stored record with another one, keeping one file', async () => {
    await putRecord(ctx, storeId, 'k', randomBytes(FIVE_MB));
    const second = randomBytes(FIVE_MB - 7);
    expect((await putRecord(ctx, storeId, 'k', second)).statusCode).toBe(201);
    await expectRecordBytes(ctx, storeId, 'k', second);
    expect((await getStore(ctx, storeId)).stats.storageBytes).toBe(FIVE_MB - 7);
    expect(await valueFiles()).toHaveLength(1);
  });

  it('deletes a file-stored record: 204, then 404, the file removed and storageBytes back to 0', async () => {
    await putRecord(ctx, storeId, 'k', randomBytes(FIVE_MB));
    const del = await ctx.request({ method: 'DELETE', url: recordUrl(storeId, 'k'), token: ctx.alice });
    expect(del.statusCode).toBe(204);
    expectError(await getRecord(ctx, storeId, 'k'), 404, 'record-not-found');
    expect((await getRecord(ctx, storeId, 'k', {}, '', 'HEAD')).statusCode).toBe(404);
    expect((await getStore(ctx, storeId)).stats.storageBytes).toBe(0);
    expect(await valueFiles()).toEqual([]);
  });

  it('deleting the store removes its value files', async () => {
    await putRecord(ctx, storeId, 'a', randomBytes(400 * 1024));
    await putRecord(ctx, storeId, 'b', randomBytes(400 * 1024));
    expect(await valueFiles()).toHaveLength(2);
    const del = await ctx.request({ method: 'DELETE', url: `/v2/key-value-stores/${storeId}`, token: ctx.alice });
    expect(del.statusCode).toBe(204);
    expect(await valueFiles()).toEqual([]);
  });
});
