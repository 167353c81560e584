import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';

const STORE_ID = /^[a-zA-Z0-9]{17}$/;

/** A schema large enough (over 1 KiB as JSON) that apify-client would compress it. */
const SCHEMA = {
  actorKeyValueStoreSchemaVersion: 1,
  title: 'Screenshots',
  description: 'x'.repeat(1200),
  collections: { shots: { title: 'Shots', keyPrefix: 'shot-' }, input: { title: 'Input', key: 'INPUT' } },
};

const COMPRESS = { br: brotliCompressSync, gzip: gzipSync, deflate: deflateSync } as const;

describe('POST /v2/key-value-stores (get-or-create)', () => {
  let ctx: TestContext;
  beforeEach(async () => {
    ctx = await createTestContext();
  });
  afterEach(() => ctx.close());

  const create = (query = '', opts: { payload?: string | Buffer; headers?: Record<string, string>; token?: string } = {}) =>
    ctx.request({ method: 'POST', url: `/v2/key-value-stores${query}`, token: opts.token ?? ctx.alice, ...opts });
  const storeCount = async () =>
    (await ctx.request({ method: 'GET', url: '/v2/key-value-stores?unnamed=1', token: ctx.alice })).json().data.total;
  const getByName = (name: string) => ctx.request({ method: 'GET', url: `/v2/key-value-stores/~${name}`, token: ctx.alice });

  it('creates a named store with 201 and Location, then returns the same store with 200', async () => {
    const first = await create('?name=shop');
    expect(first.statusCode).toBe(201);
    const store = first.json().data;
    expect(store.id).toMatch(STORE_ID);
    expect(store.name).toBe('shop');
    expect(first.headers.location).toBe(`http://openkvs.test/v2/key-value-stores/${store.id}`);
    const second = await create('?name=shop');
    expect(second.statusCode).toBe(200);
    expect(second.json().data).toMatchObject({ id: store.id, name: 'shop', urlSigningSecretKey: store.urlSigningSecretKey });
    expect(await storeCount()).toBe(1);
  });

  it('creates a new unnamed store on every call, each 201 with name null', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const res = await create();
      expect(res.statusCode).toBe(201);
      const store = res.json().data;
      expect(store.name).toBeNull();
      expect(res.headers.location).toBe(`http://openkvs.test/v2/key-value-stores/${store.id}`);
      ids.add(store.id);
    }
    expect(ids.size).toBe(3);
    expect(await storeCount()).toBe(3);
  });

  it('gives each user their own store for the same name', async () => {
    const alice = await create('?name=same');
    const bob = await create('?name=same', { token: ctx.bob });
    expect(alice.statusCode).toBe(201);
    expect(bob.statusCode).toBe(201);
    expect(bob.json().data.id).not.toBe(alice.json().data.id);
    expect(bob.json().data.username).toBe('bob');
  });

  it('accepts the empty form-urlencoded body apify-client sends', async () => {
    const headers = { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '0' };
    const first = await create('?name=from-client', { headers, payload: '' });
    expect(first.statusCode, first.body).toBe(201);
    const second = await create('?name=from-client', { headers, payload: '' });
    expect(second.statusCode).toBe(200);
    expect(second.json().data.id).toBe(first.json().data.id);
    const unnamed = await create('', { headers, payload: '' });
    expect(unnamed.statusCode).toBe(201);
  });

  it('accepts an empty JSON object as the body', async () => {
    const res = await create('?name=empty-obj', { headers: { 'content-type': 'application/json' }, payload: '{}' });
    expect(res.statusCode).toBe(201);
    expect(res.json().data.schema).toBeNull();
  });

  it('stores a {schema} body and returns it on the store object', async () => {
    const res = await create('?name=with-schema', {
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ schema: SCHEMA }),
    });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json().data.schema).toEqual(SCHEMA);
    expect((await getByName('with-schema')).json().data.schema).toEqual(SCHEMA);
  });

  it.each(Object.keys(COMPRESS) as (keyof typeof COMPRESS)[])('decodes a %s-compressed {schema} body', async (encoding) => {
    const payload = COMPRESS[encoding](Buffer.from(JSON.stringify({ schema: SCHEMA })));
    const res = await create(`?name=${encoding}-schema`, {
      headers: { 'content-type': 'application/json', 'content-encoding': encoding },
      payload,
    });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json().data.schema).toEqual(SCHEMA);
    expect((await getByName(`${encoding}-schema`)).json().data.schema).toEqual(SCHEMA);
  });

  it.each(['a', 'My-Store', 'ABC', 'a-b-1', '0', 'x'.repeat(63)])('accepts the name %s', async (name) => {
    const res = await create(`?name=${name}`);
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json().data.name).toBe(name);
    expect((await getByName(name)).json().data.id).toBe(res.json().data.id);
  });

  it.each(['-a', 'a-', 'a_b', 'a.b', 'a b', 'a~b', 'ä', 'x'.repeat(64)])(
    'refuses the name %j with 400 invalid-value',
    async (name) => {
      const res = await create(`?name=${encodeURIComponent(name)}`);
      expect(res.statusCode).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.json().error.type).toBe('invalid-value');
      expect(await storeCount()).toBe(0);
    },
  );

  it.each(['[]', '[{"schema":{}}]', '"schema"', '5', 'true', 'null'])(
    'refuses the JSON body %s with 400 invalid-request',
    async (body) => {
      const res = await create('?name=not-object', { headers: { 'content-type': 'application/json' }, payload: body });
      expect(res.statusCode).toBe(400);
      expect(res.json().error.type).toBe('invalid-request');
      expect(await storeCount()).toBe(0);
    },
  );

  it('refuses a body that is not JSON with 400 invalid-request', async () => {
    const res = await create('?name=bad-json', { headers: { 'content-type': 'application/json' }, payload: '{"schema":' });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.type).toBe('invalid-request');
    expect(await storeCount()).toBe(0);
  });

  it.each([
    ['a string', '"x"'],
    ['an array', '[]'],
    ['a number', '5'],
    ['collections that are not an object', '{"collections":5}'],
    ['a collection with neither key nor keyPrefix', '{"collections":{"a":{}}}'],
    ['a collection whose key is not a string', '{"collections":{"a":{"key":5}}}'],
  ])('refuses a schema that is %s with 400 store-schema-invalid and creates nothing', async (_what, schema) => {
    const res = await create('?name=bad-schema', {
      headers: { 'content-type': 'application/json' },
      payload: `{"schema":${schema}}`,
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.type).toBe('store-schema-invalid');
    expect((await getByName('bad-schema')).statusCode).toBe(404);
  });

  it('refuses an unknown Content-Encoding with 415 and a corrupt gzip body with 400', async () => {
    const bla = await create('?name=enc', {
      headers: { 'content-type': 'application/json', 'content-encoding': 'bla' },
      payload: '{}',
    });
    expect(bla.statusCode).toBe(415);
    expect(bla.json().error).toMatchObject({
      type: 'unsupported-content-encoding',
      message: 'Content-Encoding "bla" is not supported.',
    });
    const corrupt = await create('?name=enc', {
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      payload: Buffer.from('definitely not gzip'),
    });
    expect(corrupt.statusCode).toBe(400);
    expect(corrupt.json().error.type).toBe('invalid-request');
    expect(await storeCount()).toBe(0);
  });

  it('refuses a JSON body over 9 MiB with 413 request-too-large', async () => {
    const payload = `{"schema":{"description":"${'x'.repeat(9_437_184)}"}}`;
    const res = await create('?name=huge', { headers: { 'content-type': 'application/json' }, payload });
    expect(res.statusCode).toBe(413);
    expect(res.json().error.type).toBe('request-too-large');
    expect(await storeCount()).toBe(0);
  });

  it('needs a valid token', async () => {
    const none = await ctx.request({ method: 'POST', url: '/v2/key-value-stores?name=x' });
    expect(none.statusCode).toBe(401);
    expect(none.json().error.type).toBe('token-not-provided');
    const bad = await create('?name=x', { token: 'okvs_wrong' });
    expect(bad.statusCode).toBe(401);
    expect(bad.json().error.type).toBe('user-or-token-not-found');
    expect(await storeCount()).toBe(0);
  });
});
