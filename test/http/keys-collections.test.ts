import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';

const SCHEMA = { collections: { shots: { keyPrefix: 'shot-' }, input: { key: 'INPUT' } } };
const KEYS = ['INPUT', 'INPUT-2', 'IN', 'other', 'shot', 'shot-1', 'shot-2', 'shot-3', 'shot-30', 'shots'];

describe('GET …/keys?collection=', () => {
  let ctx: TestContext;
  let id: string;
  beforeEach(async () => {
    ctx = await createTestContext();
    const res = await ctx.request({
      method: 'POST',
      url: '/v2/key-value-stores?name=with-schema',
      token: ctx.alice,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ schema: SCHEMA }),
    });
    expect(res.statusCode, res.body).toBe(201);
    id = res.json().data.id;
    for (const key of KEYS) {
      const put = await ctx.request({
        method: 'PUT',
        url: `/v2/key-value-stores/${id}/records/${key}`,
        token: ctx.alice,
        headers: { 'content-type': 'text/plain' },
        payload: key,
      });
      expect(put.statusCode).toBe(201);
    }
  });
  afterEach(() => ctx.close());

  const keys = (query: string, storeId = id) =>
    ctx.request({ method: 'GET', url: `/v2/key-value-stores/${storeId}/keys?${query}`, token: ctx.alice });
  const listed = async (query: string) => {
    const res = await keys(query);
    expect(res.statusCode, res.body).toBe(200);
    const data = res.json().data;
    return { keys: data.items.map((i: { key: string }) => i.key), data };
  };

  it('lists the keys of a keyPrefix collection', async () => {
    const { keys: found, data } = await listed('collection=shots');
    expect(found).toEqual(['shot-1', 'shot-2', 'shot-3', 'shot-30']);
    expect(data).toMatchObject({ count: 4, isTruncated: false, nextExclusiveStartKey: null });
  });

  it('lists only the exact key of a key collection, not keys that merely start with it', async () => {
    const { keys: found, data } = await listed('collection=input');
    expect(found).toEqual(['INPUT']);
    expect(data).toMatchObject({ count: 1, isTruncated: false, nextExclusiveStartKey: null });
    expect(data.items[0].size).toBe(5);
  });

  it('pages a collection with limit and exclusiveStartKey', async () => {
    const first = await listed('collection=shots&limit=2');
    expect(first.keys).toEqual(['shot-1', 'shot-2']);
    expect(first.data).toMatchObject({ isTruncated: true, nextExclusiveStartKey: 'shot-2' });
    const second = await listed('collection=shots&limit=2&exclusiveStartKey=shot-2');
    expect(second.keys).toEqual(['shot-3', 'shot-30']);
    expect(second.data).toMatchObject({ isTruncated: false, nextExclusiveStartKey: null, exclusiveStartKey: 'shot-2' });
    expect((await listed('collection=shots&exclusiveStartKey=a')).keys).toHaveLength(4);
    expect((await listed('collection=input&exclusiveStartKey=INPUT')).keys).toEqual([]);
    expect((await listed('collection=input&exclusiveStartKey=IN')).keys).toEqual(['INPUT']);
  });

  it.each([
    ['collection=shots&prefix=shot-3', ['shot-3', 'shot-30']],
    ['collection=shots&prefix=shot-2', ['shot-2']],
    ['collection=shots&prefix=sh', ['shot-1', 'shot-2', 'shot-3', 'shot-30']],
    ['collection=shots&prefix=other', []],
    ['collection=shots&prefix=shots', []],
    ['collection=input&prefix=IN', ['INPUT']],
    ['collection=input&prefix=INPUT', ['INPUT']],
    ['collection=input&prefix=INPUT-', []],
    ['collection=input&prefix=shot', []],
  ])('combines %s', async (query, expected) => {
    const { keys: found, data } = await listed(query);
    expect(found).toEqual(expected);
    expect(data.count).toBe(expected.length);
  });

  it('refuses a collection the schema does not define with 400 invalid-collection', async () => {
    for (const name of ['nope', 'Shots', 'toString', '__proto__']) {
      const res = await keys(`collection=${name}`);
      expect(res.statusCode, name).toBe(400);
      expect(res.json().error.type).toBe('invalid-collection');
    }
  });

  it('refuses any collection on a store without a schema with 400 invalid-collection', async () => {
    const plain = await ctx.createStore('plain');
    const res = await keys('collection=shots', plain.id);
    expect(res.statusCode).toBe(400);
    expect(res.json().error.type).toBe('invalid-collection');
  });
});
