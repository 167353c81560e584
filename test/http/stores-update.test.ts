import { brotliCompressSync, gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';

const MAX_JSON_BODY = 9_437_184;
const ACCESS = ['RESTRICTED', 'ANYONE_WITH_ID_CAN_READ', 'ANYONE_WITH_NAME_CAN_READ', 'FOLLOW_USER_SETTING'];

describe('PUT /v2/key-value-stores/{storeId}', () => {
  let ctx: TestContext;
  beforeEach(async () => {
    ctx = await createTestContext();
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await ctx.close();
  });

  const update = (ref: string, payload: string | Buffer, headers: Record<string, string> = {}, token = ctx.alice) =>
    ctx.request({
      method: 'PUT',
      url: `/v2/key-value-stores/${ref}`,
      token,
      headers: { 'content-type': 'application/json', ...headers },
      payload,
    });
  const get = async (ref: string) => {
    const res = await ctx.request({ method: 'GET', url: `/v2/key-value-stores/${ref}`, token: ctx.alice });
    return { status: res.statusCode, data: res.statusCode === 200 ? res.json().data : res.json().error };
  };

  it('renames a store: the new name resolves, the old one is free again', async () => {
    const store = await ctx.createStore('old-name');
    const res = await update(store.id, JSON.stringify({ name: 'new-name' }));
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().data).toMatchObject({ id: store.id, name: 'new-name', urlSigningSecretKey: store.urlSigningSecretKey });
    expect((await get('~new-name')).data.id).toBe(store.id);
    expect(await get('~old-name')).toMatchObject({ status: 404, data: { type: 'record-not-found' } });
    const again = await ctx.request({ method: 'POST', url: '/v2/key-value-stores?name=old-name', token: ctx.alice });
    expect(again.statusCode).toBe(201);
    expect(again.json().data.id).not.toBe(store.id);
  });

  it('updates through the ~name form as well', async () => {
    const store = await ctx.createStore('by-name');
    const res = await update('~by-name', JSON.stringify({ title: 'Via name' }));
    expect(res.statusCode).toBe(200);
    expect((await get(store.id)).data.title).toBe('Via name');
  });

  it('un-names a store with name null; it then lists only with unnamed=1', async () => {
    const store = await ctx.createStore('temporary');
    const res = await update(store.id, JSON.stringify({ name: null }));
    expect(res.statusCode).toBe(200);
    expect(res.json().data.name).toBeNull();
    expect((await get(store.id)).data.name).toBeNull();
    const list = async (q: string) =>
      (await ctx.request({ method: 'GET', url: `/v2/key-value-stores${q}`, token: ctx.alice })).json().data.items;
    expect(await list('')).toEqual([]);
    expect((await list('?unnamed=1')).map((s: { id: string }) => s.id)).toEqual([store.id]);
  });

  it('names an unnamed store', async () => {
    const store = await ctx.createStore();
    const res = await update(store.id, JSON.stringify({ name: 'now-named' }));
    expect(res.json().data.name).toBe('now-named');
    expect((await get('~now-named')).data.id).toBe(store.id);
  });

  it('sets and clears the title, which is null by default', async () => {
    const store = await ctx.createStore('titled');
    expect((await get(store.id)).data.title).toBeNull();
    const set = await update(store.id, JSON.stringify({ title: 'My screenshots' }));
    expect(set.json().data).toMatchObject({ title: 'My screenshots', name: 'titled' });
    expect((await get(store.id)).data.title).toBe('My screenshots');
    const cleared = await update(store.id, JSON.stringify({ title: null }));
    expect(cleared.json().data.title).toBeNull();
  });

  it('leaves fields that the body does not mention unchanged', async () => {
    const store = await ctx.createStore('keep');
    await update(store.id, JSON.stringify({ title: 'T', generalAccess: 'RESTRICTED' }));
    const res = await update(store.id, '{}');
    expect(res.statusCode).toBe(200);
    expect(res.json().data).toMatchObject({ name: 'keep', title: 'T', generalAccess: 'RESTRICTED' });
  });

  it.each(ACCESS)('sets generalAccess to %s', async (value) => {
    const store = await ctx.createStore('access');
    const initial = value === 'RESTRICTED' ? 'ANYONE_WITH_ID_CAN_READ' : 'RESTRICTED';
    await update(store.id, JSON.stringify({ generalAccess: initial }));
    const res = await update(store.id, JSON.stringify({ generalAccess: value }));
    expect(res.statusCode).toBe(200);
    expect(res.json().data.generalAccess).toBe(value);
    expect((await get(store.id)).data.generalAccess).toBe(value);
  });

  it.each(['restricted', 'PUBLIC', '', 5])('refuses generalAccess %j with 400 invalid-value, changing nothing', async (value) => {
    const store = await ctx.createStore('access');
    const res = await update(store.id, JSON.stringify({ generalAccess: value, title: 'changed' }));
    expect(res.statusCode).toBe(400);
    expect(res.json().error.type).toBe('invalid-value');
    expect((await get(store.id)).data).toMatchObject({ generalAccess: 'FOLLOW_USER_SETTING', title: null });
  });

  it.each(['-a', 'a-', 'a_b', 'x'.repeat(64), ''])('refuses the name %j with 400 invalid-value', async (name) => {
    const store = await ctx.createStore('valid');
    const res = await update(store.id, JSON.stringify({ name }));
    expect(res.statusCode).toBe(400);
    expect(res.json().error.type).toBe('invalid-value');
    expect((await get(store.id)).data.name).toBe('valid');
  });

  it('refuses a rename to a name another of the owner’s stores uses with 400 name-not-unique, changing nothing', async () => {
    const one = await ctx.createStore('one');
    const two = await ctx.createStore('two');
    const before = (await get(two.id)).data;
    const res = await update(two.id, JSON.stringify({ name: 'one', title: 'should not stick' }));
    expect(res.statusCode).toBe(400);
    expect(res.json().error.type).toBe('name-not-unique');
    const after = (await get(two.id)).data;
    expect(after).toMatchObject({ name: 'two', title: null, modifiedAt: before.modifiedAt });
    expect((await get('~one')).data.id).toBe(one.id);
  });

  it('accepts a rename to the store’s own name as a no-op 200', async () => {
    const store = await ctx.createStore('mine');
    const res = await update(store.id, JSON.stringify({ name: 'mine' }));
    expect(res.statusCode).toBe(200);
    expect(res.json().data).toMatchObject({ id: store.id, name: 'mine' });
  });

  it('allows a name that only another user uses', async () => {
    await ctx.createStore('shared-name', ctx.bob);
    const store = await ctx.createStore('mine');
    const res = await update(store.id, JSON.stringify({ name: 'shared-name' }));
    expect(res.statusCode).toBe(200);
    expect(res.json().data.name).toBe('shared-name');
  });

  it('bumps modifiedAt and leaves createdAt', async () => {
    const now = vi.spyOn(Date, 'now').mockReturnValue(1_700_000_000_000);
    const store = await ctx.createStore('clock');
    now.mockReturnValue(1_700_000_005_000);
    const res = await update(store.id, JSON.stringify({ title: 'later' }));
    expect(res.json().data).toMatchObject({ createdAt: '2023-11-14T22:13:20.000Z', modifiedAt: '2023-11-14T22:13:25.000Z' });
    expect((await get(store.id)).data.modifiedAt).toBe('2023-11-14T22:13:25.000Z');
  });

  it.each(['[]', '"name"', '5', 'null', 'true'])('refuses the body %s with 400 invalid-request', async (body) => {
    const store = await ctx.createStore('shape');
    const res = await update(store.id, body);
    expect(res.statusCode).toBe(400);
    expect(res.json().error.type).toBe('invalid-request');
  });

  it('refuses a body that is not JSON with 400 invalid-request', async () => {
    const store = await ctx.createStore('shape');
    const res = await update(store.id, '{"name":');
    expect(res.statusCode).toBe(400);
    expect(res.json().error.type).toBe('invalid-request');
  });

  it('accepts a body of exactly 9,437,184 bytes and refuses one byte more with 413 request-too-large', async () => {
    const store = await ctx.createStore('size');
    const body = (n: number) => {
      const json = '{"title":"fits"}';
      return json + ' '.repeat(n - json.length);
    };
    const fits = await update(store.id, body(MAX_JSON_BODY));
    expect(fits.statusCode, fits.body.slice(0, 200)).toBe(200);
    expect(fits.json().data.title).toBe('fits');
    const over = await update(store.id, body(MAX_JSON_BODY + 1).replace('fits', 'over'));
    expect(over.statusCode).toBe(413);
    expect(over.json().error.type).toBe('request-too-large');
    expect((await get(store.id)).data.title).toBe('fits');
  });

  it.each([
    ['gzip', gzipSync],
    ['br', brotliCompressSync],
  ] as const)('refuses a small %s body that inflates past 9 MiB with 413', async (encoding, compress) => {
    const store = await ctx.createStore('bomb');
    const payload = compress(Buffer.from(`{"title":"x"}${' '.repeat(MAX_JSON_BODY)}`));
    expect(payload.length).toBeLessThan(100_000);
    const res = await update(store.id, payload, { 'content-encoding': encoding });
    expect(res.statusCode).toBe(413);
    expect(res.json().error.type).toBe('request-too-large');
    expect((await get(store.id)).data.title).toBeNull();
  });

  it('decodes a compressed body as apify-client sends it past 1 KiB', async () => {
    const store = await ctx.createStore('compressed');
    const title = 't'.repeat(1000);
    const payload = brotliCompressSync(Buffer.from(JSON.stringify({ title, generalAccess: 'RESTRICTED' })));
    const res = await update(store.id, payload, { 'content-encoding': 'br' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().data).toMatchObject({ title, generalAccess: 'RESTRICTED' });
  });

  it('refuses Content-Encoding "bla" with 415 unsupported-content-encoding', async () => {
    const store = await ctx.createStore('enc');
    const res = await update(store.id, JSON.stringify({ title: 'x' }), { 'content-encoding': 'bla' });
    expect(res.statusCode).toBe(415);
    expect(res.json().error).toEqual({
      type: 'unsupported-content-encoding',
      message: 'Content-Encoding "bla" is not supported.',
    });
    expect((await get(store.id)).data.title).toBeNull();
  });

  it('refuses a corrupt gzip body with 400 invalid-request', async () => {
    const store = await ctx.createStore('enc');
    const good = gzipSync(Buffer.from(JSON.stringify({ title: 'x'.repeat(500) })));
    const corrupt = Buffer.concat([good.subarray(0, 10), Buffer.from('garbage in the middle'), good.subarray(30)]);
    for (const payload of [Buffer.from('not gzip at all'), corrupt, good.subarray(0, good.length - 8)]) {
      const res = await update(store.id, payload, { 'content-encoding': 'gzip' });
      expect(res.statusCode).toBe(400);
      expect(res.json().error.type).toBe('invalid-request');
    }
    expect((await get(store.id)).data.title).toBeNull();
  });

  it('answers 404 record-not-found for a missing store and 403 for a store of another user', async () => {
    const missing = await update('aaaaaaaaaaaaaaaaa', '{"title":"x"}');
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.type).toBe('record-not-found');
    const store = await ctx.createStore('private');
    const bob = await update(store.id, '{"title":"bob was here"}', {}, ctx.bob);
    expect(bob.statusCode).toBe(403);
    expect(bob.json().error.type).toBe('insufficient-permissions');
    const none = await ctx.request({ method: 'PUT', url: `/v2/key-value-stores/${store.id}`, payload: '{"title":"x"}' });
    expect(none.statusCode).toBe(401);
    expect(none.json().error.type).toBe('token-not-provided');
    expect((await get(store.id)).data.title).toBeNull();
  });
});
