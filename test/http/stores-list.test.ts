import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';

interface ListedStore {
  id: string;
  name: string | null;
  createdAt: string;
  urlSigningSecretKey: string | null;
  stats: Record<string, number>;
}

describe('GET /v2/key-value-stores', () => {
  let ctx: TestContext;
  beforeEach(async () => {
    ctx = await createTestContext();
    // A clock that ticks on every read, so stores created one after another never share a createdAt
    // (tests of equal createdAt set the time themselves).
    let clock = 1_700_000_000_000;
    vi.spyOn(Date, 'now').mockImplementation(() => clock++);
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await ctx.close();
  });

  const list = (query = '', token = ctx.alice) => ctx.request({ method: 'GET', url: `/v2/key-value-stores${query}`, token });
  const listData = async (query = '', token = ctx.alice) => {
    const res = await list(query, token);
    expect(res.statusCode, res.body).toBe(200);
    return res.json().data as { total: number; count: number; offset: number; limit: number; items: ListedStore[] };
  };
  const names = (items: ListedStore[]) => items.map((s) => s.name);

  it('answers an empty page with every paging field', async () => {
    const res = await list();
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.json()).toEqual({
      data: { total: 0, offset: 0, limit: 1000, desc: false, count: 0, unnamed: false, items: [] },
    });
  });

  it('lists only named stores by default, oldest first', async () => {
    await ctx.createStore('first');
    await ctx.createStore();
    await ctx.createStore('second');
    const data = await listData();
    expect(names(data.items)).toEqual(['first', 'second']);
    expect(data).toMatchObject({ total: 2, count: 2, offset: 0, limit: 1000, desc: false, unnamed: false });
  });

  it('includes unnamed stores with unnamed=1 or unnamed=true, and echoes the flag', async () => {
    const named = await ctx.createStore('named');
    const unnamed = await ctx.createStore();
    for (const flag of ['1', 'true', 'TRUE']) {
      const res = await list(`?unnamed=${flag}`);
      expect(res.statusCode).toBe(200);
      const data = res.json().data;
      expect(data).toMatchObject({ total: 2, count: 2, unnamed: true });
      expect(data.items.map((s: ListedStore) => s.id)).toEqual([named.id, unnamed.id]);
      expect(data.items[1].name).toBeNull();
    }
    for (const flag of ['0', 'false']) {
      expect((await list(`?unnamed=${flag}`)).json().data).toMatchObject({ total: 1, count: 1, unnamed: false });
    }
  });

  it('sorts newest first with desc=1 and desc=true alike, oldest first with desc=0 and desc=false', async () => {
    for (const name of ['a1', 'a2', 'a3']) await ctx.createStore(name);
    const asc = await listData();
    expect(names(asc.items)).toEqual(['a1', 'a2', 'a3']);
    // Compared without the items' signed keys URLs, whose expiry moves with the clock.
    const page = async (query: string) => {
      const data = (await list(query)).json().data;
      return { ...data, items: data.items.map((s: ListedStore) => s.id) };
    };
    const one = await page('?desc=1');
    expect(await page('?desc=true')).toEqual(one);
    expect(one.desc).toBe(true);
    expect(one.items).toEqual([...asc.items].reverse().map((s) => s.id));
    for (const flag of ['0', 'false']) {
      const data = (await list(`?desc=${flag}`)).json().data;
      expect(data.desc).toBe(false);
      expect(names(data.items)).toEqual(['a1', 'a2', 'a3']);
    }
  });

  it('orders by createdAt, not by insertion, and breaks ties by id', async () => {
    const now = vi.mocked(Date.now);
    now.mockReturnValue(1_700_000_300_000);
    const late = await ctx.createStore('late');
    now.mockReturnValue(1_700_000_100_000);
    const early = await ctx.createStore('early');
    now.mockReturnValue(1_700_000_200_000);
    const tied = [await ctx.createStore('tie-a'), await ctx.createStore('tie-b'), await ctx.createStore('tie-c')];
    const tiedIds = tied.map((s) => s.id).sort();
    const expected = [early.id, ...tiedIds, late.id];

    const asc = await listData();
    expect(asc.items.map((s) => s.id)).toEqual(expected);
    expect(asc.items[1]!.createdAt).toBe('2023-11-14T22:16:40.000Z');
    const desc = await listData('?desc=1');
    expect(desc.items.map((s) => s.id)).toEqual([...expected].reverse());
  });

  it('pages with offset and limit without gaps or repeats, keeping total', async () => {
    vi.mocked(Date.now).mockReturnValue(1_700_000_000_000);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await ctx.createStore(`s${i}`)).id);
    const all = (await listData()).items.map((s) => s.id);
    expect([...all].sort()).toEqual([...ids].sort());

    const seen: string[] = [];
    for (const offset of [0, 2, 4]) {
      const page = await listData(`?offset=${offset}&limit=2`);
      expect(page).toMatchObject({ total: 5, offset, limit: 2, count: offset === 4 ? 1 : 2 });
      seen.push(...page.items.map((s) => s.id));
    }
    expect(seen).toEqual(all);
  });

  it('answers an empty page past the end, with the full total', async () => {
    await ctx.createStore('only');
    const data = await listData('?offset=10');
    expect(data).toMatchObject({ total: 1, offset: 10, count: 0, items: [] });
  });

  it('clamps a limit above 1000 to 1000', async () => {
    await ctx.createStore('one');
    for (const limit of ['1001', '5000']) {
      const res = await list(`?limit=${limit}`);
      expect(res.statusCode, `limit=${limit}: ${res.body}`).toBe(200);
      expect(res.json().data).toMatchObject({ limit: 1000, count: 1, total: 1 });
    }
  });

  it('clamps a limit of many digits too: it is numeric and non-negative, so not a 400', async () => {
    await ctx.createStore('one');
    const res = await list(`?limit=${'9'.repeat(40)}`);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().data).toMatchObject({ limit: 1000, count: 1, total: 1 });
  });

  it('answers limit=0 with an effective limit of 1', async () => {
    await ctx.createStore('one');
    await ctx.createStore('two');
    const data = await listData('?limit=0');
    expect(data).toMatchObject({ limit: 1, count: 1, total: 2 });
    expect(names(data.items)).toEqual(['one']);
  });

  it("lists only the caller's own stores", async () => {
    await ctx.createStore('mine');
    await ctx.createStore();
    await ctx.createStore('theirs', ctx.bob);
    await ctx.createStore('mine', ctx.bob);
    const alice = await listData('?unnamed=1');
    expect(alice.total).toBe(2);
    expect(names(alice.items)).toEqual(expect.arrayContaining(['mine', null]));
    const bob = await listData('?unnamed=1', ctx.bob);
    expect(bob.total).toBe(2);
    expect(names(bob.items)).toEqual(expect.arrayContaining(['theirs', 'mine']));
    const aliceIds = alice.items.map((s) => s.id);
    expect(bob.items.some((s) => aliceIds.includes(s.id))).toBe(false);
  });

  it('filters by ownership: ownedByMe lists own stores, sharedWithMe none when nothing is shared', async () => {
    await ctx.createStore('mine');
    await ctx.createStore('other', ctx.bob);
    expect(names((await listData('?ownership=ownedByMe')).items)).toEqual(['mine']);
    expect(await listData('?ownership=sharedWithMe')).toMatchObject({ total: 0, count: 0, items: [] });
    const bad = await list('?ownership=everything');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.type).toBe('invalid-parameter');
  });

  it('lists full store objects, with the signing secret for the owner', async () => {
    const created = await ctx.createStore('full');
    const [item] = (await listData()).items;
    expect(item).toMatchObject({ id: created.id, name: 'full', urlSigningSecretKey: created.urlSigningSecretKey });
    expect(item!.stats).toMatchObject({ readCount: 0, writeCount: 0, deleteCount: 0, listCount: 0, storageBytes: 0 });
  });

  it.each([
    'limit=abc',
    'limit=-1',
    'limit=1.5',
    'offset=-1',
    'offset=1.5',
    'offset=abc',
    'desc=maybe',
    'desc=2',
    'unnamed=yes',
    'limit=1&limit=2',
  ])('refuses ?%s with 400 invalid-parameter', async (query) => {
    const res = await list(`?${query}`);
    expect(res.statusCode).toBe(400);
    expect(res.json().error.type).toBe('invalid-parameter');
  });

  it('needs a valid token', async () => {
    const none = await ctx.request({ method: 'GET', url: '/v2/key-value-stores' });
    expect(none.statusCode).toBe(401);
    expect(none.json().error.type).toBe('token-not-provided');
    const bad = await list('', 'not-a-token');
    expect(bad.statusCode).toBe(401);
    expect(bad.json().error.type).toBe('user-or-token-not-found');
  });
});
