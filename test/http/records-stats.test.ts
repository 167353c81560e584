import { brotliCompressSync, gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { getRecord, getStore, putRecord, recordUrl } from '../helpers/records.js';
import { sleep } from '../helpers/time.js';

/** Store stats and timestamps as record operations change them (spec §1.0, decisions 8 and 17). */

let ctx: TestContext;
let storeId: string;

beforeEach(async () => {
  ctx = await createTestContext();
  storeId = (await ctx.createStore('stats')).id;
});
afterEach(() => ctx.close());

const del = (key: string) => ctx.request({ method: 'DELETE', url: recordUrl(storeId, key), token: ctx.alice });

describe('store stats after record operations', () => {
  it('a new store starts at zero', async () => {
    const { stats } = await getStore(ctx, storeId);
    expect(stats).toMatchObject({ readCount: 0, writeCount: 0, deleteCount: 0, storageBytes: 0 });
  });

  it('counts writes and stored bytes; an overwrite replaces the old size', async () => {
    await putRecord(ctx, storeId, 'a', Buffer.alloc(10));
    await putRecord(ctx, storeId, 'b', Buffer.alloc(20), {}, { method: 'POST' });
    await putRecord(ctx, storeId, 'c', Buffer.alloc(30));
    let { stats } = await getStore(ctx, storeId);
    expect(stats.writeCount).toBe(3);
    expect(stats.storageBytes).toBe(60);
    await putRecord(ctx, storeId, 'c', Buffer.alloc(5));
    ({ stats } = await getStore(ctx, storeId));
    expect(stats.writeCount).toBe(4);
    expect(stats.storageBytes).toBe(35);
    await putRecord(ctx, storeId, 'empty', Buffer.alloc(0));
    ({ stats } = await getStore(ctx, storeId));
    expect(stats.writeCount).toBe(5);
    expect(stats.storageBytes).toBe(35);
  });

  it('counts reads of records', async () => {
    await putRecord(ctx, storeId, 'r', Buffer.from('read me'));
    const before = (await getStore(ctx, storeId)).stats.readCount;
    await getRecord(ctx, storeId, 'r');
    await getRecord(ctx, storeId, 'r', { 'accept-encoding': 'gzip' }, 'attachment=true');
    const after = (await getStore(ctx, storeId)).stats;
    expect(after.readCount - before).toBe(2);
    expect(after.writeCount).toBe(1);
  });

  it('counts deletes and frees the stored bytes', async () => {
    await putRecord(ctx, storeId, 'a', Buffer.alloc(100));
    await putRecord(ctx, storeId, 'b', Buffer.alloc(50));
    expect((await del('a')).statusCode).toBe(204);
    let { stats } = await getStore(ctx, storeId);
    expect(stats.deleteCount).toBe(1);
    expect(stats.storageBytes).toBe(50);
    expect((await del('b')).statusCode).toBe(204);
    ({ stats } = await getStore(ctx, storeId));
    expect(stats.deleteCount).toBe(2);
    expect(stats.storageBytes).toBe(0);
    expect(stats.writeCount).toBe(2);
  });

  it('counts the stored (compressed) bytes of compressed records, in stats and in the key list', async () => {
    const plain = Buffer.from('z'.repeat(50_000));
    const gz = gzipSync(plain);
    const br = brotliCompressSync(plain);
    await putRecord(ctx, storeId, 'gz', gz, { 'content-encoding': 'gzip' });
    await putRecord(ctx, storeId, 'br', br, { 'content-encoding': 'br' });
    const { stats } = await getStore(ctx, storeId);
    expect(stats.storageBytes).toBe(gz.length + br.length);
    expect(stats.storageBytes).toBeLessThan(plain.length);
    const keys = await ctx.request({ method: 'GET', url: `/v2/key-value-stores/${storeId}/keys`, token: ctx.alice });
    expect(keys.json().data.items.map((i: { key: string; size: number }) => [i.key, i.size])).toEqual([
      ['br', br.length],
      ['gz', gz.length],
    ]);
    expect((await del('gz')).statusCode).toBe(204);
    expect((await getStore(ctx, storeId)).stats.storageBytes).toBe(br.length);
  });

  it('refused writes and deletes change no counter', async () => {
    await putRecord(ctx, storeId, 'k', Buffer.alloc(10));
    const before = (await getStore(ctx, storeId)).stats;
    await putRecord(ctx, storeId, 'k', Buffer.from('x'), { 'content-encoding': 'bla' });
    await putRecord(ctx, storeId, 'k', Buffer.from('not gzip'), { 'content-encoding': 'gzip' });
    await putRecord(ctx, storeId, 'k', Buffer.from('x'), {}, { token: ctx.bob });
    await ctx.request({ method: 'DELETE', url: recordUrl(storeId, 'k'), token: ctx.bob });
    await putRecord(ctx, storeId, 'bad%20key', Buffer.from('x'));
    const after = (await getStore(ctx, storeId)).stats;
    expect(after.writeCount).toBe(before.writeCount);
    expect(after.deleteCount).toBe(before.deleteCount);
    expect(after.storageBytes).toBe(before.storageBytes);
  });

  it('counters survive a flush of the batched stats without drifting', async () => {
    await putRecord(ctx, storeId, 'k', Buffer.alloc(7));
    for (let i = 0; i < 3; i++) await getRecord(ctx, storeId, 'k');
    const before = (await getStore(ctx, storeId)).stats;
    expect(before.readCount).toBeGreaterThanOrEqual(3);
    await ctx.kvs.stats.flush();
    const after = (await getStore(ctx, storeId)).stats;
    expect(after).toEqual(before);
  });

  it('stats are per store', async () => {
    const other = (await ctx.createStore('other')).id;
    await putRecord(ctx, other, 'k', Buffer.alloc(40));
    await putRecord(ctx, storeId, 'k', Buffer.alloc(4));
    expect((await getStore(ctx, storeId)).stats).toMatchObject({ writeCount: 1, storageBytes: 4 });
    expect((await getStore(ctx, other)).stats).toMatchObject({ writeCount: 1, storageBytes: 40 });
  });
});

describe('store timestamps after record operations', () => {
  it('modifiedAt moves forward on a record write, an overwrite and a delete', async () => {
    const t0 = Date.parse((await getStore(ctx, storeId)).modifiedAt);
    await sleep(15);
    await putRecord(ctx, storeId, 'k', Buffer.from('1'));
    const t1 = Date.parse((await getStore(ctx, storeId)).modifiedAt);
    expect(t1).toBeGreaterThan(t0);
    await sleep(15);
    await putRecord(ctx, storeId, 'k', Buffer.from('2'), {}, { method: 'POST' });
    const t2 = Date.parse((await getStore(ctx, storeId)).modifiedAt);
    expect(t2).toBeGreaterThan(t1);
    await sleep(15);
    expect((await del('k')).statusCode).toBe(204);
    const t3 = Date.parse((await getStore(ctx, storeId)).modifiedAt);
    expect(t3).toBeGreaterThan(t2);
    expect(t3).toBeLessThanOrEqual(Date.now());
  });

  it('reading a record does not change modifiedAt but moves accessedAt', async () => {
    await putRecord(ctx, storeId, 'k', Buffer.from('1'));
    const before = await getStore(ctx, storeId);
    await sleep(15);
    expect((await getRecord(ctx, storeId, 'k')).statusCode).toBe(200);
    const after = await getStore(ctx, storeId);
    expect(after.modifiedAt).toBe(before.modifiedAt);
    expect(Date.parse(after.accessedAt)).toBeGreaterThan(Date.parse(before.accessedAt));
  });

  it('a refused write does not change modifiedAt', async () => {
    await putRecord(ctx, storeId, 'k', Buffer.from('1'));
    const before = (await getStore(ctx, storeId)).modifiedAt;
    await sleep(15);
    await putRecord(ctx, storeId, 'k', Buffer.from('not gzip'), { 'content-encoding': 'gzip' });
    await putRecord(ctx, storeId, 'k', Buffer.from('x'), {}, { token: ctx.bob });
    expect((await getStore(ctx, storeId)).modifiedAt).toBe(before);
  });
});
