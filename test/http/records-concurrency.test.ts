import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { expectRecordBytes, getRecord, getStore, listFiles, putRecord, recordUrl } from '../helpers/records.js';

/** Writes and reads of one key at the same time: every reader sees one whole value, never a mix. */

const MiB = 1024 * 1024;

let dir: string;
let dbFile: string;
let ctx: TestContext;
let storeId: string;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'openkvs-records-conc-'));
  dbFile = join(dir, 'kvs.sqlite');
  ctx = await createTestContext({ path: dbFile });
  storeId = (await ctx.createStore('conc')).id;
});
afterEach(async () => {
  await ctx.close();
  rmSync(dir, { recursive: true, force: true });
});

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('concurrent record operations', () => {
  it('parallel overwrites of one key leave exactly one of the values, whole, with consistent stats', async () => {
    const values = Array.from({ length: 12 }, (_, i) => randomBytes(i % 2 === 0 ? 300 * 1024 + i : 1000 + i));
    const results = await Promise.all(
      values.map((v, i) => putRecord(ctx, storeId, 'contested', v, { 'content-type': `application/x-v${i}` })),
    );
    for (const r of results) expect(r.statusCode).toBe(201);
    const get = await getRecord(ctx, storeId, 'contested');
    const winner = values.findIndex((v) => v.equals(get.rawPayload));
    expect(winner).toBeGreaterThanOrEqual(0);
    expect(get.headers['content-type']).toBe(`application/x-v${winner}`);
    const { stats } = await getStore(ctx, storeId);
    expect(stats.writeCount).toBe(values.length);
    expect(stats.storageBytes).toBe(values[winner]?.length);
    // Only the winner may keep a value file; the losers' files are gone.
    const files = (await listFiles(`${dbFile}-blobs`)).filter((f) => !f.startsWith('tmp'));
    expect(files).toHaveLength(winner % 2 === 0 ? 1 : 0);
  });

  it('parallel writes of different keys all land', async () => {
    const values = Array.from({ length: 20 }, (_, i) => randomBytes(100 + i * 20_000));
    const results = await Promise.all(values.map((v, i) => putRecord(ctx, storeId, `k${i}`, v)));
    for (const r of results) expect(r.statusCode).toBe(201);
    for (const [i, v] of values.entries()) await expectRecordBytes(ctx, storeId, `k${i}`, v);
    const { stats } = await getStore(ctx, storeId);
    expect(stats.writeCount).toBe(20);
    expect(stats.storageBytes).toBe(values.reduce((n, v) => n + v.length, 0));
  });

  it('a download in progress finishes with the old value when the record is overwritten and deleted meanwhile', async () => {
    const origin = await ctx.listen();
    const old = randomBytes(8 * MiB);
    expect((await putRecord(ctx, storeId, 'moving', old)).statusCode).toBe(201);

    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      httpGet(`${origin}${recordUrl(storeId, 'moving')}`, { headers: { authorization: `Bearer ${ctx.alice}` } }, resolve).on(
        'error',
        reject,
      );
    });
    expect(res.statusCode).toBe(200);
    res.pause();
    const received: Buffer[] = [];
    // Read a first piece only, then change the record under the open download.
    const first = await new Promise<Buffer>((resolve) => {
      res.once('data', (chunk: Buffer) => {
        res.pause();
        resolve(chunk);
      });
      res.resume();
    });
    received.push(first);
    const replacement = randomBytes(8 * MiB);
    expect((await putRecord(ctx, storeId, 'moving', replacement)).statusCode).toBe(201);
    const del = await ctx.request({ method: 'DELETE', url: recordUrl(storeId, 'moving'), token: ctx.alice });
    expect(del.statusCode).toBe(204);
    res.on('data', (chunk: Buffer) => received.push(chunk));
    await new Promise<void>((resolve, reject) => {
      res.on('end', resolve);
      res.on('error', reject);
      res.resume();
    });
    const body = Buffer.concat(received);
    expect(body.length).toBe(old.length);
    expect(sha(body)).toBe(sha(old));
    expect((await getRecord(ctx, storeId, 'moving')).statusCode).toBe(404);
  });

  it('reads racing an overwrite see the old or the new value, never a mix', async () => {
    const a = randomBytes(2 * MiB);
    const b = randomBytes(2 * MiB);
    await putRecord(ctx, storeId, 'flip', a);
    const reads: Promise<Buffer>[] = [];
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < 6; i++) {
      writes.push(putRecord(ctx, storeId, 'flip', i % 2 === 0 ? b : a));
      reads.push(getRecord(ctx, storeId, 'flip').then((r) => r.rawPayload));
    }
    await Promise.all(writes);
    for (const body of await Promise.all(reads)) {
      expect(body.equals(a) || body.equals(b)).toBe(true);
    }
  });
});
