/**
 * The dataset endpoints over HTTP on both drivers: the storage-level routes, pushing and reading
 * items with their paging headers, statistics and signed item URLs. Formats and transformations
 * have their own unit tests (test/unit/datasets/); real clients are in test/compat/.
 */
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { storageContentSignature } from '../../src/domain/signing.js';
import { createTestContext, PUBLIC_URL, type TestContext } from '../helpers/context.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => {
  await ctx.close();
});
afterEach(() => {
  vi.restoreAllMocks();
});

interface ApiDataset {
  id: string;
  name: string | null;
  itemCount: number;
  cleanItemCount: number;
  urlSigningSecretKey: string | null;
  itemsPublicUrl: string;
  generalAccess: string;
  stats: { readCount: number; writeCount: number; storageBytes: number };
}

async function createDataset(name?: string, token = ctx.alice): Promise<ApiDataset> {
  const res = await ctx.request({ method: 'POST', url: name ? `/v2/datasets?name=${name}` : '/v2/datasets', token });
  expect([200, 201], res.body).toContain(res.statusCode);
  return res.json().data;
}

const push = (id: string, payload: string | Buffer, headers: Record<string, string> = {}, token = ctx.alice) =>
  ctx.request({
    method: 'POST',
    url: `/v2/datasets/${id}/items`,
    token,
    headers: { 'content-type': 'application/json', ...headers },
    payload,
  });

/** `token` null: no token. */
const items = (id: string, query = '', token: string | null = ctx.alice) =>
  ctx.request({ method: 'GET', url: `/v2/datasets/${id}/items${query}`, token: token ?? undefined });

const getDataset = async (id: string): Promise<ApiDataset> => {
  const res = await ctx.request({ method: 'GET', url: `/v2/datasets/${id}`, token: ctx.alice });
  expect(res.statusCode, res.body).toBe(200);
  return res.json().data;
};

describe('datasets', () => {
  it('creates, gets by id and by name, and answers the same dataset for the same name', async () => {
    const res = await ctx.request({ method: 'POST', url: '/v2/datasets?name=shop-items', token: ctx.alice });
    expect(res.statusCode).toBe(201);
    const created = res.json().data as ApiDataset;
    expect(res.headers.location).toBe(`${PUBLIC_URL}/v2/datasets/${created.id}`);
    expect(created).toMatchObject({ name: 'shop-items', itemCount: 0, cleanItemCount: 0, generalAccess: 'FOLLOW_USER_SETTING' });
    expect(created.urlSigningSecretKey).toMatch(/\S{10,}/);
    expect(created.itemsPublicUrl).toMatch(new RegExp(`^${PUBLIC_URL}/v2/datasets/${created.id}/items\\?signature=`));
    const again = await ctx.request({ method: 'POST', url: '/v2/datasets?name=shop-items', token: ctx.alice });
    expect(again.statusCode).toBe(200);
    expect(again.json().data.id).toBe(created.id);
    for (const ref of [created.id, '~shop-items', 'alice~shop-items']) {
      const got = await ctx.request({ method: 'GET', url: `/v2/datasets/${ref}`, token: ctx.alice });
      expect(got.statusCode, ref).toBe(200);
      expect(got.json().data).toMatchObject({
        id: created.id,
        username: 'alice',
        stats: { readCount: 0, writeCount: 0, storageBytes: 0 },
      });
    }
  });

  it('keeps datasets and key-value stores apart: same names, ids of one kind not found as the other', async () => {
    const dataset = await createDataset('twin');
    const store = await ctx.createStore('twin');
    expect(store.id).not.toBe(dataset.id);
    const asStore = await ctx.request({ method: 'GET', url: `/v2/key-value-stores/${dataset.id}`, token: ctx.alice });
    expect(asStore.statusCode).toBe(404);
    expect(asStore.json().error.type).toBe('record-not-found');
    const asDataset = await ctx.request({ method: 'GET', url: `/v2/datasets/${store.id}`, token: ctx.alice });
    expect(asDataset.statusCode).toBe(404);
    expect(asDataset.json().error).toEqual({ type: 'record-not-found', message: 'Dataset was not found.' });
    const pushToStore = await push(store.id, '{"a":1}');
    expect(pushToStore.statusCode).toBe(404);
    const list = await ctx.request({ method: 'GET', url: '/v2/datasets?unnamed=1', token: ctx.alice });
    const ids = (list.json().data.items as ApiDataset[]).map((d) => d.id);
    expect(ids).toContain(dataset.id);
    expect(ids).not.toContain(store.id);
  });

  it('lists with offset, limit, desc and unnamed, newest last', async () => {
    // A clock that ticks on every read: datasets made one after another never share a createdAt.
    let clock = Date.now();
    vi.spyOn(Date, 'now').mockImplementation(() => clock++);
    const bobs = [
      await createDataset('b-one', ctx.bob),
      await createDataset('b-two', ctx.bob),
      await createDataset(undefined, ctx.bob),
    ];
    const page = async (query: string) => {
      const res = await ctx.request({ method: 'GET', url: `/v2/datasets${query}`, token: ctx.bob });
      expect(res.statusCode, res.body).toBe(200);
      return res.json().data as { total: number; count: number; items: ApiDataset[]; desc: boolean; unnamed: boolean };
    };
    expect((await page('')).items.map((d) => d.name)).toEqual(['b-one', 'b-two']);
    const all = await page('?unnamed=true');
    expect(all.total).toBe(3);
    expect(all.items.map((d) => d.id)).toEqual(bobs.map((d) => d.id));
    const desc = await page('?unnamed=1&desc=1&limit=2&offset=0');
    expect(desc).toMatchObject({ total: 3, count: 2, desc: true, unnamed: true });
    expect(desc.items.map((d) => d.id)).toEqual([bobs[2]?.id, bobs[1]?.id]);
    vi.restoreAllMocks();
  });

  it('updates name, title and general access, and refuses a name another dataset has', async () => {
    const d = await createDataset('to-rename');
    await createDataset('taken');
    const res = await ctx.request({
      method: 'PUT',
      url: `/v2/datasets/${d.id}`,
      token: ctx.alice,
      payload: { name: 'renamed', title: 'A title', generalAccess: 'RESTRICTED' },
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().data).toMatchObject({ id: d.id, name: 'renamed', title: 'A title', generalAccess: 'RESTRICTED' });
    const clash = await ctx.request({ method: 'PUT', url: `/v2/datasets/${d.id}`, token: ctx.alice, payload: { name: 'taken' } });
    expect(clash.statusCode).toBe(400);
    expect(clash.json().error.type).toBe('name-not-unique');
    const byBob = await ctx.request({ method: 'PUT', url: `/v2/datasets/${d.id}`, token: ctx.bob, payload: { title: 'x' } });
    expect(byBob.statusCode).toBe(403);
  });

  it('deletes a dataset with its items', async () => {
    const d = await createDataset();
    expect((await push(d.id, '[{"a":1},{"a":2}]')).statusCode).toBe(201);
    const del = await ctx.request({ method: 'DELETE', url: `/v2/datasets/${d.id}`, token: ctx.alice });
    expect(del.statusCode).toBe(204);
    expect((await items(d.id)).statusCode).toBe(404);
    expect((await ctx.request({ method: 'DELETE', url: `/v2/datasets/${d.id}`, token: ctx.alice })).statusCode).toBe(404);
  });
});

describe('items', () => {
  it('stores each item as the exact JSON text pushed and reads it back', async () => {
    const d = await createDataset();
    const first = '{"z":1.0,"a":"žluťoučký \\u00e9","n":12345678901234567890,"e":1e5}';
    const second = '{ "spaced" : [ 1 , 2 ] }';
    expect((await push(d.id, `[${first},\n  ${second}]`)).statusCode).toBe(201);
    expect((await push(d.id, '{"single":true}')).statusCode).toBe(201);
    const res = await items(d.id);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toBe(`[${first},${second},{"single":true}]`);
    const after = await getDataset(d.id);
    expect(after).toMatchObject({ itemCount: 3, cleanItemCount: 3 });
    expect(after.stats.writeCount).toBe(3);
    expect(after.stats.storageBytes).toBe(Buffer.byteLength(`${first}${second}{"single":true}`));
  });

  it('pages with offset, limit and desc, with the pagination headers', async () => {
    const d = await createDataset();
    const all = Array.from({ length: 25 }, (_, i) => ({ i }));
    expect((await push(d.id, JSON.stringify(all))).statusCode).toBe(201);
    const page = async (query: string) => {
      const res = await items(d.id, query);
      expect(res.statusCode, res.body).toBe(200);
      return { items: (res.json() as { i: number }[]).map((x) => x.i), headers: res.headers };
    };
    const p = await page('?offset=10&limit=5');
    expect(p.items).toEqual([10, 11, 12, 13, 14]);
    expect(p.headers).toMatchObject({
      'x-apify-pagination-offset': '10',
      'x-apify-pagination-limit': '5',
      'x-apify-pagination-count': '5',
      'x-apify-pagination-total': '25',
      'x-apify-pagination-desc': 'false',
    });
    const desc = await page('?offset=2&limit=3&desc=1');
    expect(desc.items).toEqual([22, 21, 20]);
    expect(desc.headers['x-apify-pagination-desc']).toBe('true');
    expect((await page('?offset=23')).items).toEqual([23, 24]);
    expect((await page('?offset=30')).items).toEqual([]);
    const unlimited = await page('');
    expect(unlimited.items).toHaveLength(25);
    expect(unlimited.headers['x-apify-pagination-limit']).toBe('999999999999');
    const zero = await page('?limit=0');
    expect(zero.items).toHaveLength(25);
    expect(zero.headers['x-apify-pagination-limit']).toBe('999999999999');
    expect((await page('?desc=true&offset=20')).items).toEqual([4, 3, 2, 1, 0]);
  });

  it('reads across the storage chunks in both directions', async () => {
    const d = await createDataset();
    const all = Array.from({ length: 2500 }, (_, i) => ({ i }));
    expect((await push(d.id, JSON.stringify(all))).statusCode).toBe(201);
    const asc = (await items(d.id, '?offset=700&limit=1600')).json() as { i: number }[];
    expect(asc.map((x) => x.i)).toEqual(Array.from({ length: 1600 }, (_, k) => 700 + k));
    const desc = (await items(d.id, '?offset=100&limit=2300&desc=1')).json() as { i: number }[];
    expect(desc.map((x) => x.i)).toEqual(Array.from({ length: 2300 }, (_, k) => 2399 - k));
  });

  it('counts clean items and skips hidden fields and empty items on request', async () => {
    const d = await createDataset();
    expect((await push(d.id, '[{"a":1,"#debug":2},{},{"#only":1},{"b":2}]')).statusCode).toBe(201);
    expect(await getDataset(d.id)).toMatchObject({ itemCount: 4, cleanItemCount: 2 });
    expect((await items(d.id, '?clean=1')).json()).toEqual([{ a: 1 }, { b: 2 }]);
    expect((await items(d.id, '?skipEmpty=1')).json()).toEqual([{ a: 1, '#debug': 2 }, { '#only': 1 }, { b: 2 }]);
  });

  it('accepts compressed pushes', async () => {
    const d = await createDataset();
    const body = gzipSync(Buffer.from('[{"zipped":1},{"zipped":2}]'));
    expect((await push(d.id, body, { 'content-encoding': 'gzip' })).statusCode).toBe(201);
    expect((await items(d.id)).body).toBe('[{"zipped":1},{"zipped":2}]');
  });

  it('refuses what is not an object or an array of objects, and keeps nothing of it', async () => {
    const d = await createDataset();
    expect((await push(d.id, '[{"kept":1}]')).statusCode).toBe(201);
    for (const bad of ['', 'nope', '42', '"text"', 'null', '[{"a":1},2]', '[[{"a":1}]]', '[{"a":1}', '{"a":1}{"b":2}']) {
      const res = await push(d.id, bad);
      expect(res.statusCode, bad).toBe(400);
      expect(res.json().error.type, bad).toMatch(/^invalid-/);
    }
    const big = `[${`{"x":"${'y'.repeat(1000)}"},`.repeat(9500)}{}]`;
    const tooLarge = await push(d.id, big);
    expect(tooLarge.statusCode).toBe(413);
    expect((await items(d.id)).body).toBe('[{"kept":1}]');
    expect(await getDataset(d.id)).toMatchObject({ itemCount: 1 });
  });

  it('needs the owner to push, and lets readers read as general access says', async () => {
    const d = await createDataset();
    expect((await push(d.id, '{"a":1}', {}, ctx.bob)).statusCode).toBe(403);
    const anonymousPush = await ctx.request({ method: 'POST', url: `/v2/datasets/${d.id}/items`, payload: '{"a":1}' });
    expect(anonymousPush.statusCode).toBe(401);
    expect((await items(d.id, '', null)).statusCode).toBe(200);
    await ctx.request({ method: 'PUT', url: `/v2/datasets/${d.id}`, token: ctx.alice, payload: { generalAccess: 'RESTRICTED' } });
    const denied = await items(d.id, '', null);
    expect(denied.statusCode).toBe(404);
    expect(denied.json().error.type).toBe('record-or-token-not-found');
    expect((await items(d.id, '', ctx.bob)).statusCode).toBe(403);
  });

  it('opens a restricted dataset by its signed items URL, until the signature expires', async () => {
    const d = await createDataset();
    expect((await push(d.id, '[{"s":1}]')).statusCode).toBe(201);
    await ctx.request({ method: 'PUT', url: `/v2/datasets/${d.id}`, token: ctx.alice, payload: { generalAccess: 'RESTRICTED' } });
    const fresh = await getDataset(d.id);
    const url = new URL(fresh.itemsPublicUrl);
    const signed = await ctx.request({ method: 'GET', url: `${url.pathname}${url.search}` });
    expect(signed.statusCode, signed.body).toBe(200);
    expect(signed.body).toBe('[{"s":1}]');
    const secret = fresh.urlSigningSecretKey as string;
    const forever = storageContentSignature(secret, d.id, 0);
    expect((await items(d.id, `?signature=${forever}`, null)).statusCode).toBe(200);
    const expired = storageContentSignature(secret, d.id, Date.now() - 1000);
    expect((await items(d.id, `?signature=${expired}`, null)).statusCode).toBe(403);
    const other = await createDataset();
    const wrong = storageContentSignature(secret, other.id, 0);
    expect((await items(d.id, `?signature=${wrong}`, null)).statusCode).toBe(403);
  });

  it('refuses a view the dataset schema does not have', async () => {
    const d = await createDataset();
    const res = await items(d.id, '?view=overview');
    expect(res.statusCode).toBe(400);
    expect(res.json().error.type).toBe('invalid-parameter');
  });

  it('applies the fields of a view from the dataset schema', async () => {
    const schema = { actorSpecification: 1, views: { overview: { transformation: { fields: ['b', 'a'] } } } };
    const res = await ctx.request({ method: 'POST', url: '/v2/datasets?name=with-view', token: ctx.alice, payload: { schema } });
    expect(res.statusCode, res.body).toBe(201);
    const d = res.json().data as ApiDataset;
    expect((await push(d.id, '{"a":1,"b":2,"c":3}')).statusCode).toBe(201);
    expect((await items(d.id, '?view=overview')).body).toBe('[{"b":2,"a":1}]');
  });

  it('answers statistics as apify-client reads them', async () => {
    const d = await createDataset();
    const res = await ctx.request({ method: 'GET', url: `/v2/datasets/${d.id}/statistics`, token: ctx.alice });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ data: { fieldStatistics: null } });
    const missing = await ctx.request({ method: 'GET', url: '/v2/datasets/AAAAAAAAAAAAAAAAA/statistics', token: ctx.alice });
    expect(missing.statusCode).toBe(404);
  });

  it('counts items read in readCount', async () => {
    const d = await createDataset();
    expect((await push(d.id, '[{"a":1},{"a":2},{"a":3}]')).statusCode).toBe(201);
    expect((await items(d.id, '?limit=2')).statusCode).toBe(200);
    expect((await getDataset(d.id)).stats.readCount).toBe(2);
  });

  it('names the download after the dataset with attachment=1', async () => {
    const d = await createDataset('named-download');
    expect((await push(d.id, '{"a":1}')).statusCode).toBe(201);
    const res = await items(d.id, '?format=csv&attachment=1');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-disposition']).toBe('attachment; filename="dataset_named-download.csv"');
  });
});
