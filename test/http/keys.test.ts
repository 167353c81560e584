import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hmacSig } from '../../src/domain/signing.js';
import { createTestContext, type TestContext } from '../helpers/context.js';

interface KeyPage {
  items: { key: string; size: number; recordPublicUrl: string }[];
  count: number;
  limit: number;
  exclusiveStartKey: string | null;
  isTruncated: boolean;
  nextExclusiveStartKey: string | null;
}

describe('GET /v2/key-value-stores/{storeId}/keys', () => {
  let ctx: TestContext;
  let store: { id: string; urlSigningSecretKey: string };
  beforeEach(async () => {
    ctx = await createTestContext();
    store = await ctx.createStore('keys');
  });
  afterEach(() => ctx.close());

  const put = async (key: string, payload: string | Buffer = 'v', headers: Record<string, string> = {}) => {
    const res = await ctx.request({
      method: 'PUT',
      url: `/v2/key-value-stores/${store.id}/records/${key}`,
      token: ctx.alice,
      headers: { 'content-type': 'application/octet-stream', ...headers },
      payload,
    });
    expect(res.statusCode, `${key}: ${res.body}`).toBe(201);
  };
  const putAll = async (keys: string[]) => {
    for (let i = 0; i < keys.length; i += 100) await Promise.all(keys.slice(i, i + 100).map((k) => put(k)));
  };
  const keys = (query = '', ref = store.id) =>
    ctx.request({ method: 'GET', url: `/v2/key-value-stores/${ref}/keys${query}`, token: ctx.alice });
  const page = async (query = '') => {
    const res = await keys(query);
    expect(res.statusCode, res.body).toBe(200);
    return res.json().data as KeyPage;
  };
  const keysOf = (p: KeyPage) => p.items.map((i) => i.key);

  it('answers an empty store with every field, nextExclusiveStartKey and exclusiveStartKey as JSON null', async () => {
    const res = await keys();
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.json()).toEqual({
      data: { items: [], count: 0, limit: 1000, exclusiveStartKey: null, isTruncated: false, nextExclusiveStartKey: null },
    });
  });

  it('pages 5 keys by 2 as 2, 2, 1, ending with nextExclusiveStartKey null', async () => {
    await putAll(['k5', 'k3', 'k1', 'k4', 'k2']);
    const first = await page('?limit=2');
    expect(first).toMatchObject({ count: 2, limit: 2, exclusiveStartKey: null, isTruncated: true, nextExclusiveStartKey: 'k2' });
    expect(keysOf(first)).toEqual(['k1', 'k2']);
    const second = await page('?limit=2&exclusiveStartKey=k2');
    expect(second).toMatchObject({ count: 2, exclusiveStartKey: 'k2', isTruncated: true, nextExclusiveStartKey: 'k4' });
    expect(keysOf(second)).toEqual(['k3', 'k4']);
    const raw = (await keys('?limit=2&exclusiveStartKey=k4')).json();
    expect(raw.data).toMatchObject({ count: 1, exclusiveStartKey: 'k4', isTruncated: false });
    expect(Object.hasOwn(raw.data, 'nextExclusiveStartKey')).toBe(true);
    expect(raw.data.nextExclusiveStartKey).toBeNull();
    expect(keysOf(raw.data)).toEqual(['k5']);
  });

  it('is not truncated when the page ends exactly at the last key', async () => {
    await putAll(['a', 'b']);
    expect(await page('?limit=2')).toMatchObject({ count: 2, isTruncated: false, nextExclusiveStartKey: null });
  });

  it('starts after an exclusiveStartKey that does not exist, by order', async () => {
    await putAll(['k1', 'k2', 'k3', 'k5']);
    expect(keysOf(await page('?exclusiveStartKey=k4'))).toEqual(['k5']);
    expect(keysOf(await page('?exclusiveStartKey=k'))).toEqual(['k1', 'k2', 'k3', 'k5']);
    expect(keysOf(await page('?exclusiveStartKey=k2a'))).toEqual(['k3', 'k5']);
    expect(await page('?exclusiveStartKey=zzz')).toMatchObject({
      items: [],
      count: 0,
      isTruncated: false,
      nextExclusiveStartKey: null,
    });
  });

  it('sorts keys by UTF-8 bytes: punctuation, digits, uppercase, underscore, lowercase', async () => {
    const ordered = ['!a', "'a", '(a', ')a', '-a', '.a', '0', '9z', 'A', 'B', 'Z', 'Z_', '_a', 'a', 'a!', 'a-', 'aA', 'a_', 'b'];
    await putAll([...ordered].reverse());
    expect(keysOf(await page())).toEqual(ordered);
    expect(keysOf(await page("?exclusiveStartKey='a"))).toEqual(ordered.slice(2));
    expect(keysOf(await page('?exclusiveStartKey=Z'))).toEqual(ordered.slice(ordered.indexOf('Z_')));
  });

  it('treats keys as case-sensitive', async () => {
    await putAll(['Key', 'key', 'KEY']);
    expect(keysOf(await page())).toEqual(['KEY', 'Key', 'key']);
    expect(keysOf(await page('?prefix=K'))).toEqual(['KEY', 'Key']);
  });

  it('filters by prefix, alone and with exclusiveStartKey', async () => {
    await putAll(['a1', 'a2', 'a3', 'ab', 'b1', 'b2', 'c']);
    expect(keysOf(await page('?prefix=a'))).toEqual(['a1', 'a2', 'a3', 'ab']);
    expect(keysOf(await page('?prefix=b'))).toEqual(['b1', 'b2']);
    expect(keysOf(await page('?prefix=a&exclusiveStartKey=a2'))).toEqual(['a3', 'ab']);
    expect(keysOf(await page('?prefix=b&exclusiveStartKey=a9'))).toEqual(['b1', 'b2']);
    expect(keysOf(await page('?prefix=a&exclusiveStartKey=b'))).toEqual([]);
    expect(keysOf(await page('?prefix=zz'))).toEqual([]);
    expect(keysOf(await page('?prefix=a1'))).toEqual(['a1']);
    const limited = await page('?prefix=a&limit=3');
    expect(limited).toMatchObject({ count: 3, isTruncated: true, nextExclusiveStartKey: 'a3' });
    expect(await page('?prefix=a&limit=3&exclusiveStartKey=a3')).toMatchObject({
      count: 1,
      isTruncated: false,
      nextExclusiveStartKey: null,
    });
  });

  it('serves 1,000 keys by default and clamps a larger limit to 1,000, over 1,500 keys', async () => {
    const all = Array.from({ length: 1500 }, (_, i) => `key-${String(i).padStart(4, '0')}`);
    await putAll(all);
    const byDefault = await page();
    expect(byDefault).toMatchObject({ count: 1000, limit: 1000, isTruncated: true, nextExclusiveStartKey: 'key-0999' });
    expect(keysOf(byDefault)).toEqual(all.slice(0, 1000));
    for (const limit of ['1001', '1500', '100000']) {
      const clamped = await page(`?limit=${limit}`);
      expect(clamped).toMatchObject({ count: 1000, limit: 1000, isTruncated: true, nextExclusiveStartKey: 'key-0999' });
    }
    const rest = await page('?limit=5000&exclusiveStartKey=key-0999');
    expect(rest).toMatchObject({ count: 500, limit: 1000, isTruncated: false, nextExclusiveStartKey: null });
    expect(keysOf(rest)).toEqual(all.slice(1000));
  });

  it('reports each size as the bytes stored, compressed for a gzip upload', async () => {
    const text = Buffer.from('ünïcödé '.repeat(200));
    const gz = gzipSync(text);
    await put('plain', text);
    await put('packed', gz, { 'content-encoding': 'gzip' });
    await put('empty', Buffer.alloc(0));
    const sizes = Object.fromEntries((await page()).items.map((i) => [i.key, i.size]));
    expect(sizes).toEqual({ empty: 0, packed: gz.length, plain: text.length });
    expect(gz.length).not.toBe(text.length);
  });

  it('links each key to its signed public record URL, which works without a token', async () => {
    await putAll(['first', "it's(1)!"]);
    const items = (await page()).items;
    expect(items.map((i) => i.recordPublicUrl)).toEqual(
      ['first', "it's(1)!"].map(
        (key) =>
          `http://openkvs.test/v2/key-value-stores/${store.id}/records/${key}?signature=${hmacSig(store.urlSigningSecretKey, key)}`,
      ),
    );
    const restrict = await ctx.request({
      method: 'PUT',
      url: `/v2/key-value-stores/${store.id}`,
      token: ctx.alice,
      headers: { 'content-type': 'application/json' },
      payload: '{"generalAccess":"RESTRICTED"}',
    });
    expect(restrict.statusCode).toBe(200);
    const url = new URL(items[0]!.recordPublicUrl);
    const anonymous = await ctx.request({ method: 'GET', url: `${url.pathname}${url.search}` });
    expect(anonymous.statusCode, anonymous.body).toBe(200);
    expect(anonymous.body).toBe('v');
  });

  it('lists by ~name and alice~name as by id', async () => {
    await putAll(['x']);
    for (const ref of ['~keys', 'alice~keys']) expect(keysOf((await keys('', ref)).json().data)).toEqual(['x']);
  });

  it('counts each listing in the store’s listCount', async () => {
    await putAll(['x']);
    for (let i = 0; i < 3; i++) await page('?limit=1');
    await expect
      .poll(
        async () =>
          (await ctx.request({ method: 'GET', url: `/v2/key-value-stores/${store.id}`, token: ctx.alice })).json().data.stats
            .listCount,
        { timeout: 2000, interval: 50 },
      )
      .toBe(3);
  });

  it('answers 404 record-not-found for a missing store with a token, record-or-token-not-found without', async () => {
    for (const ref of ['aaaaaaaaaaaaaaaaa', '~missing', 'alice~missing']) {
      const res = await keys('', ref);
      expect(res.statusCode, ref).toBe(404);
      expect(res.json().error.type).toBe('record-not-found');
    }
    const anonymous = await ctx.request({ method: 'GET', url: '/v2/key-value-stores/aaaaaaaaaaaaaaaaa/keys' });
    expect(anonymous.statusCode).toBe(404);
    expect(anonymous.json().error.type).toBe('record-or-token-not-found');
  });

  it.each(['limit=abc', 'limit=-1', 'limit=2.5', 'limit=1&limit=2'])('refuses ?%s with 400 invalid-parameter', async (query) => {
    const res = await keys(`?${query}`);
    expect(res.statusCode).toBe(400);
    expect(res.json().error.type).toBe('invalid-parameter');
  });
});
