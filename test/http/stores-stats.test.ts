import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';

/** openkvs decision 17: a counter change shows in the store object within 2 seconds. */
const VISIBLE_WITHIN = { timeout: 2000, interval: 50 };

describe('store stats and timestamps', () => {
  let ctx: TestContext;
  let id: string;
  beforeEach(async () => {
    ctx = await createTestContext();
    id = (await ctx.createStore('counted')).id;
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await ctx.close();
  });

  const storeObject = async () => {
    const res = await ctx.request({ method: 'GET', url: `/v2/key-value-stores/${id}`, token: ctx.alice });
    expect(res.statusCode).toBe(200);
    return res.json().data;
  };
  const stats = async () => (await storeObject()).stats;
  const put = async (key: string, payload: string | Buffer, headers: Record<string, string> = {}) => {
    const res = await ctx.request({
      method: 'PUT',
      url: `/v2/key-value-stores/${id}/records/${key}`,
      token: ctx.alice,
      headers: { 'content-type': 'text/plain; charset=utf-8', ...headers },
      payload,
    });
    expect(res.statusCode).toBe(201);
  };
  const request = (method: 'GET' | 'DELETE', path: string) =>
    ctx.request({ method, url: `/v2/key-value-stores/${id}${path}`, token: ctx.alice });

  it('starts at zero', async () => {
    expect(await stats()).toMatchObject({ readCount: 0, writeCount: 0, deleteCount: 0, listCount: 0, storageBytes: 0 });
  });

  it('counts writes and the bytes stored, compressed records at their compressed size', async () => {
    const gz = gzipSync(Buffer.from('y'.repeat(5000)));
    await put('plain', 'héllo wörld');
    await put('packed', gz, { 'content-encoding': 'gzip' });
    await expect.poll(stats, VISIBLE_WITHIN).toMatchObject({ writeCount: 2, storageBytes: 13 + gz.length });
    await put('plain', 'abcd');
    await expect.poll(stats, VISIBLE_WITHIN).toMatchObject({ writeCount: 3, storageBytes: 4 + gz.length, deleteCount: 0 });
  });

  it('counts record deletes and gives their bytes back', async () => {
    await put('a', '12345');
    await put('b', '1234567890');
    expect((await request('DELETE', '/records/a')).statusCode).toBe(204);
    await expect.poll(stats, VISIBLE_WITHIN).toMatchObject({ writeCount: 2, deleteCount: 1, storageBytes: 10 });
    expect((await request('DELETE', '/records/b')).statusCode).toBe(204);
    await expect.poll(stats, VISIBLE_WITHIN).toMatchObject({ deleteCount: 2, storageBytes: 0 });
  });

  it('counts record reads and key listings', async () => {
    await put('r', 'read me');
    for (let i = 0; i < 3; i++) expect((await request('GET', '/records/r')).statusCode).toBe(200);
    for (let i = 0; i < 2; i++) expect((await request('GET', '/keys')).statusCode).toBe(200);
    await expect.poll(stats, VISIBLE_WITHIN).toMatchObject({ readCount: 3, listCount: 2, writeCount: 1, deleteCount: 0 });
  });

  it('keeps the counts exact across a flush of pending counters', async () => {
    await put('r', 'read me');
    await request('GET', '/records/r');
    await request('GET', '/keys');
    await expect.poll(stats, VISIBLE_WITHIN).toMatchObject({ readCount: 1, listCount: 1 });
    await ctx.kvs.stats.flush();
    expect(await stats()).toMatchObject({ readCount: 1, listCount: 1, writeCount: 1 });
    await request('GET', '/records/r');
    await ctx.kvs.stats.flush();
    expect(await stats()).toMatchObject({ readCount: 2, listCount: 1 });
  });

  it('shows the same stats in the list of stores', async () => {
    await put('r', 'twelve bytes');
    await request('GET', '/records/r');
    await request('GET', '/keys');
    const expected = { readCount: 1, listCount: 1, writeCount: 1, deleteCount: 0, storageBytes: 12 };
    await expect.poll(stats, VISIBLE_WITHIN).toMatchObject(expected);
    const list = await ctx.request({ method: 'GET', url: '/v2/key-value-stores', token: ctx.alice });
    expect(list.json().data.items[0].stats).toMatchObject(expected);
  });

  it('keeps the counters of each store apart', async () => {
    await put('r', 'x');
    await request('GET', '/records/r');
    const other = await ctx.createStore('other');
    const res = await ctx.request({ method: 'GET', url: `/v2/key-value-stores/${other.id}`, token: ctx.alice });
    expect(res.json().data.stats).toMatchObject({ readCount: 0, writeCount: 0, listCount: 0, storageBytes: 0 });
  });

  it('bumps modifiedAt on record writes and deletes, and accessedAt on reads', async () => {
    const now = vi.spyOn(Date, 'now');
    now.mockReturnValue(1_800_000_000_000);
    await put('k', 'v');
    expect((await storeObject()).modifiedAt).toBe('2027-01-15T08:00:00.000Z');
    now.mockReturnValue(1_800_000_060_000);
    expect((await request('DELETE', '/records/k')).statusCode).toBe(204);
    expect((await storeObject()).modifiedAt).toBe('2027-01-15T08:01:00.000Z');

    now.mockReturnValue(1_800_000_120_000);
    await request('GET', '/keys');
    const list = await ctx.request({ method: 'GET', url: '/v2/key-value-stores', token: ctx.alice });
    const listed = list.json().data.items[0];
    expect(listed.accessedAt).toBe('2027-01-15T08:02:00.000Z');
    expect(listed.modifiedAt).toBe('2027-01-15T08:01:00.000Z');
  });
});
