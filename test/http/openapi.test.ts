import { Validator } from '@seriousme/openapi-schema-validator';
import type { RouteOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';

interface Operation {
  operationId?: string;
  parameters?: { name: string; in: string; required?: boolean }[];
  responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }>;
}
interface Document {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, { required?: string[]; properties?: Record<string, unknown> }> };
}

/** `/v2/key-value-stores/:storeId/records/*` → `/v2/key-value-stores/{storeId}/records/{recordKey}`. */
const toOpenApiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\*$/, '{recordKey}');

describe('the OpenAPI document', () => {
  let ctx: TestContext;
  let doc: Document;
  const routes: { method: string; url: string }[] = [];

  beforeAll(async () => {
    ctx = await createTestContext();
    // The app is not ready yet, so this sees every route it registers.
    ctx.app.addHook('onRoute', (r: RouteOptions) => {
      for (const method of [r.method].flat()) routes.push({ method, url: r.url });
    });
    const res = await ctx.request({ method: 'GET', url: '/v2/openapi.json' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    doc = res.json();
  });
  afterAll(() => ctx.close());

  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc) as unknown as Record<string, unknown>);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('describes every route the server registers, and nothing else', () => {
    const documented = new Set<string>();
    for (const [path, item] of Object.entries(doc.paths))
      for (const method of Object.keys(item)) documented.add(`${method.toUpperCase()} ${path}`);
    const served = new Set<string>();
    for (const { method, url } of routes) {
      // The documentation page's own files, and the CORS preflight (OPTIONS on any path).
      if (url === '/docs' || url.startsWith('/docs/')) continue;
      if (method === 'OPTIONS' && url === '*') continue;
      const key = `${method} ${toOpenApiPath(url)}`;
      // Fastify answers HEAD for each GET route like the GET, without a body; those are the GET's.
      if (method === 'HEAD' && !documented.has(key)) {
        expect(documented, `HEAD ${url} without its GET`).toContain(`GET ${toOpenApiPath(url)}`);
        continue;
      }
      served.add(key);
    }
    expect([...served].sort()).toEqual([...documented].sort());
    // The endpoints of the Apify API, by their operation ids.
    const ids = Object.values(doc.paths).flatMap((item) => Object.values(item).map((op) => op.operationId));
    for (const id of [
      'keyValueStores_get',
      'keyValueStores_post',
      'keyValueStore_get',
      'keyValueStore_put',
      'keyValueStore_delete',
      'keyValueStore_keys_get',
      'keyValueStore_records_get',
      'keyValueStore_record_get',
      'keyValueStore_record_head',
      'keyValueStore_record_put',
      'keyValueStore_record_post',
      'keyValueStore_record_delete',
    ])
      expect(ids).toContain(id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('declares every path parameter, a success answer and the error envelope on every API operation', () => {
    for (const [path, item] of Object.entries(doc.paths)) {
      const inPath = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      for (const [method, op] of Object.entries(item)) {
        const where = `${method} ${path}`;
        const declared = (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name);
        expect(declared.sort(), where).toEqual(inPath.sort());
        const statuses = Object.keys(op.responses);
        expect(
          statuses.some((s) => s.startsWith('2')),
          where,
        ).toBe(true);
        if (!path.startsWith('/v2/key-value-stores')) continue;
        for (const status of ['401', '429', '500', '503']) {
          expect(op.responses[status]?.content?.['application/json']?.schema?.$ref, `${where} ${status}`).toBe(
            '#/components/schemas/Error',
          );
        }
      }
    }
  });

  it('documents every field the API answers with', async () => {
    const store = await ctx.createStore('documented');
    const got = (await ctx.request({ method: 'GET', url: `/v2/key-value-stores/${store.id}`, token: ctx.alice })).json().data;
    const storeSchema = doc.components.schemas.Store!;
    expect(Object.keys(got).sort()).toEqual([...(storeSchema.required ?? [])].sort());
    expect(Object.keys(storeSchema.properties ?? {}).sort()).toEqual(Object.keys(got).sort());

    const keys = (await ctx.request({ method: 'GET', url: `/v2/key-value-stores/${store.id}/keys`, token: ctx.alice })).json()
      .data;
    expect(keys.nextExclusiveStartKey).toBeNull();
    expect(Object.keys(keys).sort()).toEqual([...(doc.components.schemas.KeyList!.required ?? [])].sort());

    const error = (await ctx.request({ method: 'GET', url: '/v2/key-value-stores/nonexistent0000000' })).json();
    expect(Object.keys(error)).toEqual(doc.components.schemas.Error!.required);
  });

  it('keeps the error types of invalid requests: the record key first, then the query', async () => {
    const store = await ctx.createStore('validation-order');
    const base = `/v2/key-value-stores/${store.id}`;
    const badKey = await ctx.request({ method: 'GET', url: `${base}/records/bad%20key?attachment=maybe`, token: ctx.alice });
    expect(badKey.statusCode).toBe(400);
    expect(badKey.json().error.type).toBe('invalid-record-key');
    const badQuery = await ctx.request({ method: 'GET', url: `${base}/records/good-key?attachment=maybe`, token: ctx.alice });
    expect(badQuery.statusCode).toBe(400);
    expect(badQuery.json().error.type).toBe('invalid-parameter');
    const badLimit = await ctx.request({ method: 'GET', url: `${base}/keys?limit=ten`, token: ctx.alice });
    expect(badLimit.json().error.type).toBe('invalid-parameter');
    const longKey = await ctx.request({
      method: 'PUT',
      url: `${base}/records/${'k'.repeat(257)}`,
      token: ctx.alice,
      payload: 'x',
    });
    expect(longKey.json().error.type).toBe('invalid-record-key');
  });
});

describe('the documentation page at /docs', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(() => ctx.close());

  it('serves Swagger UI from openkvs itself, with a policy that loads nothing from other hosts', async () => {
    const page = await ctx.request({ method: 'GET', url: '/docs/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toContain("default-src 'none'");
    // Every source the policy allows is this origin, data: or blob: URLs.
    for (const directive of csp.split(';')) {
      const [, ...sources] = directive.trim().split(/\s+/);
      for (const s of sources) expect(["'self'", "'none'", 'data:', 'blob:']).toContain(s);
    }
    const assets = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThan(2);
    for (const asset of assets) {
      expect(asset).not.toMatch(/^(?:[a-z]+:)?\/\//i);
      const res = await ctx.request({ method: 'GET', url: new URL(asset, 'http://openkvs.test/docs/').pathname });
      expect(res.statusCode, asset).toBe(200);
    }
    const spec = await ctx.request({ method: 'GET', url: '/docs/json' });
    expect(spec.json().openapi).toBe('3.1.0');
  });
});
