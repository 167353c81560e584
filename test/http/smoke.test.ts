import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';

describe('get-or-create and a record round trip', () => {
  let ctx: TestContext;
  beforeEach(async () => {
    ctx = await createTestContext();
  });
  afterEach(() => ctx.close());

  it('creates a named store with 201, then returns the same one with 200', async () => {
    const first = await ctx.request({ method: 'POST', url: '/v2/key-value-stores?name=my-store', token: ctx.alice });
    expect(first.statusCode).toBe(201);
    const id = first.json().data.id;
    expect(id).toMatch(/^[a-zA-Z0-9]{17}$/);
    expect(first.headers.location).toBe(`http://openkvs.test/v2/key-value-stores/${id}`);
    const second = await ctx.request({ method: 'POST', url: '/v2/key-value-stores?name=my-store', token: ctx.alice });
    expect(second.statusCode).toBe(200);
    expect(second.json().data.id).toBe(id);
  });

  it('stores and serves a record byte for byte', async () => {
    const store = await ctx.createStore('s');
    const body = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const put = await ctx.request({
      method: 'PUT',
      url: `/v2/key-value-stores/${store.id}/records/bytes`,
      token: ctx.alice,
      headers: { 'content-type': 'application/x-bytes' },
      payload: body,
    });
    expect(put.statusCode).toBe(201);
    const get = await ctx.request({ method: 'GET', url: `/v2/key-value-stores/${store.id}/records/bytes`, token: ctx.alice });
    expect(get.statusCode).toBe(200);
    expect(get.headers['content-type']).toBe('application/x-bytes');
    expect(get.rawPayload.equals(body)).toBe(true);
  });
});
