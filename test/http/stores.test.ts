import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyStorageContentSignature } from '../../src/domain/signing.js';
import { createTestContext, type TestContext } from '../helpers/context.js';

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const DAY_MS = 24 * 3600 * 1000;

describe('GET and DELETE /v2/key-value-stores/{storeId}', () => {
  let ctx: TestContext;
  beforeEach(async () => {
    ctx = await createTestContext();
  });
  afterEach(() => ctx.close());

  /** `null` sends no token. */
  const get = (ref: string, token: string | null = ctx.alice) =>
    ctx.request({ method: 'GET', url: `/v2/key-value-stores/${ref}`, token: token ?? undefined });
  const del = (ref: string, token: string | null = ctx.alice) =>
    ctx.request({ method: 'DELETE', url: `/v2/key-value-stores/${ref}`, token: token ?? undefined });
  const putRecord = async (id: string, key: string, body: string) => {
    const res = await ctx.request({
      method: 'PUT',
      url: `/v2/key-value-stores/${id}/records/${key}`,
      token: ctx.alice,
      headers: { 'content-type': 'text/plain' },
      payload: body,
    });
    expect(res.statusCode).toBe(201);
  };

  it('returns the full store object', async () => {
    const created = await ctx.createStore('complete');
    const res = await get(created.id);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const store = res.json().data;
    expect(store).toMatchObject({
      id: created.id,
      name: 'complete',
      title: null,
      username: 'alice',
      actId: null,
      actRunId: null,
      schema: null,
      generalAccess: 'FOLLOW_USER_SETTING',
      urlSigningSecretKey: created.urlSigningSecretKey,
      stats: { readCount: 0, writeCount: 0, deleteCount: 0, listCount: 0, storageBytes: 0 },
    });
    expect(store.userId).toEqual(expect.any(String));
    expect(store.userId.length).toBeGreaterThan(0);
    expect(store.urlSigningSecretKey).toEqual(expect.any(String));
    expect(store.urlSigningSecretKey.length).toBeGreaterThanOrEqual(16);
    for (const field of ['createdAt', 'modifiedAt', 'accessedAt']) expect(store[field]).toMatch(ISO_MS);
    expect(store.modifiedAt).toBe(store.createdAt);
    expect(store.consoleUrl).toEqual(expect.any(String));
    expect(store.consoleUrl).toContain(created.id);
  });

  it('resolves the id, ~name and alice~name forms to the same store', async () => {
    const created = await ctx.createStore('three-ways');
    for (const ref of [created.id, '~three-ways', 'alice~three-ways']) {
      const res = await get(ref);
      expect(res.statusCode, ref).toBe(200);
      expect(res.json().data).toMatchObject({ id: created.id, name: 'three-ways', username: 'alice' });
    }
  });

  it('resolves ~name to the caller’s own store when two users share a name', async () => {
    const mine = await ctx.createStore('same');
    const theirs = await ctx.createStore('same', ctx.bob);
    expect((await get('~same')).json().data.id).toBe(mine.id);
    expect((await get('~same', ctx.bob)).json().data.id).toBe(theirs.id);
    expect((await get('bob~same', ctx.bob)).json().data.id).toBe(theirs.id);
  });

  it('carries a signed keysPublicUrl that verifies with the store secret, expires in 14 days, and works without a token', async () => {
    const created = await ctx.createStore('signed');
    await putRecord(created.id, 'k1', 'v');
    const restricted = await ctx.request({
      method: 'PUT',
      url: `/v2/key-value-stores/${created.id}`,
      token: ctx.alice,
      headers: { 'content-type': 'application/json' },
      payload: '{"generalAccess":"RESTRICTED"}',
    });
    expect(restricted.statusCode).toBe(200);
    const store = (await get(created.id)).json().data;
    const url = new URL(store.keysPublicUrl);
    expect(`${url.origin}${url.pathname}`).toBe(`http://openkvs.test/v2/key-value-stores/${created.id}/keys`);
    const signature = url.searchParams.get('signature')!;
    expect(verifyStorageContentSignature(created.urlSigningSecretKey, created.id, signature)).toBe(true);
    const expiresAt = Number(Buffer.from(signature, 'base64url').toString().split('.')[1]);
    expect(Math.abs(expiresAt - (Date.now() + 14 * DAY_MS))).toBeLessThan(60_000);

    const anonymous = await ctx.request({ method: 'GET', url: `${url.pathname}${url.search}` });
    expect(anonymous.statusCode, anonymous.body).toBe(200);
    expect(anonymous.json().data.items.map((i: { key: string }) => i.key)).toEqual(['k1']);
    const unsigned = await ctx.request({ method: 'GET', url: url.pathname });
    expect(unsigned.statusCode).toBe(404);
    expect(unsigned.json().error.type).toBe('record-or-token-not-found');
  });

  it('hides the signing secret from a reader without write permission', async () => {
    const created = await ctx.createStore('readable');
    const res = await get(created.id, ctx.bob);
    expect(res.statusCode).toBe(200);
    expect(res.json().data.id).toBe(created.id);
    expect(res.json().data.urlSigningSecretKey ?? null).toBeNull();
    const anonymous = await get(created.id, null);
    expect(anonymous.statusCode).toBe(200);
    expect(anonymous.json().data.urlSigningSecretKey ?? null).toBeNull();
  });

  it.each(['aaaaaaaaaaaaaaaaa', 'short', '~nope', 'alice~nope', 'nobody~nope'])(
    'answers 404 record-not-found for a missing store %s',
    async (ref) => {
      const res = await get(ref);
      expect(res.statusCode).toBe(404);
      expect(res.json().error.type).toBe('record-not-found');
    },
  );

  it('does not resolve a bare name as an id', async () => {
    await ctx.createStore('plain-name');
    const res = await get('plain-name');
    expect(res.statusCode).toBe(404);
    expect(res.json().error.type).toBe('record-not-found');
  });

  it('deletes a store with 204 and an empty body; then it and its records are gone', async () => {
    const store = await ctx.createStore('doomed');
    await putRecord(store.id, 'a', 'alpha');
    await putRecord(store.id, 'b', 'beta');
    const res = await del(store.id);
    expect(res.statusCode).toBe(204);
    expect(res.body).toBe('');

    for (const url of [
      `/v2/key-value-stores/${store.id}`,
      `/v2/key-value-stores/~doomed`,
      `/v2/key-value-stores/${store.id}/keys`,
      `/v2/key-value-stores/${store.id}/records/a`,
    ]) {
      const after = await ctx.request({ method: 'GET', url, token: ctx.alice });
      expect(after.statusCode, url).toBe(404);
      expect(after.json().error.type).toBe('record-not-found');
    }
    const again = await del(store.id);
    expect(again.statusCode).toBe(404);
    expect(again.json().error.type).toBe('record-not-found');

    const list = await ctx.request({ method: 'GET', url: '/v2/key-value-stores?unnamed=1', token: ctx.alice });
    expect(list.json().data.total).toBe(0);
    const reborn = await ctx.createStore('doomed');
    expect(reborn.id).not.toBe(store.id);
    const keys = await ctx.request({ method: 'GET', url: `/v2/key-value-stores/${reborn.id}/keys`, token: ctx.alice });
    expect(keys.json().data.items).toEqual([]);
  });

  it('deletes by ~name too', async () => {
    const store = await ctx.createStore('by-name');
    expect((await del('~by-name')).statusCode).toBe(204);
    expect((await get(store.id)).statusCode).toBe(404);
  });

  it('does not let another user or an anonymous caller delete a store', async () => {
    const store = await ctx.createStore('kept');
    const bob = await del(store.id, ctx.bob);
    expect(bob.statusCode).toBe(403);
    expect(bob.json().error.type).toBe('insufficient-permissions');
    const anonymous = await del(store.id, null);
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.json().error.type).toBe('token-not-provided');
    expect((await get(store.id)).statusCode).toBe(200);
  });

  it.each([
    ['PATCH', '/v2/key-value-stores/{id}', ['GET', 'PUT', 'DELETE']],
    ['POST', '/v2/key-value-stores/{id}', ['GET', 'PUT', 'DELETE']],
    ['PUT', '/v2/key-value-stores', ['GET', 'POST']],
    ['DELETE', '/v2/key-value-stores', ['GET', 'POST']],
    ['PATCH', '/v2/key-value-stores', ['GET', 'POST']],
    ['POST', '/v2/key-value-stores/{id}/keys', ['GET']],
    ['DELETE', '/v2/key-value-stores/{id}/keys', ['GET']],
    ['PATCH', '/v2/key-value-stores/{id}/records/k', ['GET', 'PUT', 'DELETE']],
  ] as const)('answers %s %s with 405 method-not-allowed and Allow', async (method, path, allowed) => {
    const store = await ctx.createStore('methods');
    const res = await ctx.request({ method, url: path.replace('{id}', store.id), token: ctx.alice });
    expect(res.statusCode).toBe(405);
    expect(res.json().error.type).toBe('method-not-allowed');
    const allow = String(res.headers.allow ?? '')
      .split(',')
      .map((m) => m.trim());
    expect(allow).toEqual(expect.arrayContaining([...allowed]));
    expect(allow).not.toContain(method);
  });

  it.each([
    '/v2/nothing-here',
    '/v2/key-value-stores/{id}/unknown',
    '/v2/key-value-stores/{id}/keys/extra',
    '/v3/key-value-stores',
  ])('answers an unknown path %s with 404 page-not-found', async (path) => {
    const store = await ctx.createStore('paths');
    const res = await ctx.request({ method: 'GET', url: path.replace('{id}', store.id), token: ctx.alice });
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.json().error.type).toBe('page-not-found');
  });
});
