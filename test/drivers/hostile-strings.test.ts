import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';

/**
 * Strings only one database refuses (NUL, unpaired surrogates, bad UTF-8, numbers out of range,
 * deep JSON), sent in every position to SQLite and PostgreSQL side by side: no answer is a 5xx,
 * both drivers give the same status and error type, a refused request changes nothing, and an
 * accepted value reads back exactly as sent.
 */

type Driver = 'sqlite' | 'postgres';
const DRIVERS: Driver[] = ['sqlite', 'postgres'];
const NAME = 'hostile';
const RECORDS: Record<string, string> = { a: 'A', k: 'K', k0: 'K0', ka: 'KA', 'k(1)': 'K1', b: 'B' };
const SCHEMA = { collections: { c: { keyPrefix: 'k' }, one: { key: 'b' } } };

interface Side {
  ctx: TestContext;
  id: string;
}

interface Case {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE';
  /** `{id}` stands for the store's id on each driver. */
  url: string;
  token?: 'alice' | 'none';
  body?: string | Buffer;
  headers?: Record<string, string>;
}

interface Answer {
  status: number;
  type: string | undefined;
}

const sides = {} as Record<Driver, Side>;

beforeAll(async () => {
  for (const driver of DRIVERS) {
    const ctx = await createTestContext({ driver });
    const created = await ctx.request({
      method: 'POST',
      url: `/v2/key-value-stores?name=${NAME}`,
      token: ctx.alice,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ schema: SCHEMA }),
    });
    expect(created.statusCode, created.body).toBe(201);
    const id = created.json().data.id as string;
    for (const [key, value] of Object.entries(RECORDS)) {
      const put = await ctx.request({
        method: 'PUT',
        url: `/v2/key-value-stores/${id}/records/${key}`,
        token: ctx.alice,
        headers: { 'content-type': 'text/plain' },
        payload: value,
      });
      expect(put.statusCode, put.body).toBe(201);
    }
    const titled = await ctx.request({
      method: 'PUT',
      url: `/v2/key-value-stores/${id}`,
      token: ctx.alice,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ title: 'before' }),
    });
    expect(titled.statusCode, titled.body).toBe(200);
    sides[driver] = { ctx, id };
  }
});

afterAll(async () => {
  for (const side of Object.values(sides)) await side.ctx.close();
});

async function send(side: Side, c: Case): Promise<Answer & { body: string }> {
  const res = await side.ctx.request({
    method: c.method,
    url: c.url.replaceAll('{id}', side.id),
    token: c.token === 'none' ? undefined : side.ctx.alice,
    headers: { ...(c.body !== undefined ? { 'content-type': 'application/json' } : {}), ...c.headers },
    payload: c.body,
  });
  let type: string | undefined;
  if (res.statusCode >= 400 && c.method !== 'HEAD') {
    // Every refusal is the Apify envelope.
    type = (res.json() as { error: { type: string; message: string } }).error.type;
    expect(typeof type, `${c.method} ${c.url}: ${res.body}`).toBe('string');
  }
  return { status: res.statusCode, type, body: res.body };
}

/** What a user can see of the store: its fields, key list and every record's bytes. */
async function snapshot(side: Side): Promise<unknown> {
  const { ctx, id } = side;
  const store = (await ctx.request({ method: 'GET', url: `/v2/key-value-stores/${id}`, token: ctx.alice })).json().data;
  const keys = (await ctx.request({ method: 'GET', url: `/v2/key-value-stores/${id}/keys`, token: ctx.alice })).json().data;
  const records: Record<string, string> = {};
  for (const item of keys.items as { key: string }[]) {
    const res = await ctx.request({ method: 'GET', url: `/v2/key-value-stores/${id}/records/${item.key}`, token: ctx.alice });
    records[item.key] = `${res.headers['content-type']}: ${res.body}`;
  }
  const names = (await ctx.request({ method: 'GET', url: '/v2/key-value-stores?unnamed=1', token: ctx.alice }))
    .json()
    .data.items.map((s: { name: string | null; title: string | null }) => `${s.name}/${s.title}`);
  return { name: store.name, title: store.title, access: store.generalAccess, schema: store.schema, records, names };
}

/** Sends every case to both drivers; returns the answers per case, after checking they agree. */
async function sendAll(cases: Case[]): Promise<Map<Case, Answer>> {
  const answers = new Map<Case, Answer>();
  const problems: string[] = [];
  for (const c of cases) {
    const [lite, pg] = [await send(sides.sqlite, c), await send(sides.postgres, c)];
    const what = `${c.method} ${c.url}${c.token === 'none' ? ' (no token)' : ''}${c.body === undefined ? '' : ` ${JSON.stringify(String(c.body).slice(0, 60))}`}`;
    if (lite.status >= 500 || pg.status >= 500) problems.push(`${what}: 5xx (sqlite ${lite.body}, postgres ${pg.body})`);
    if (lite.status !== pg.status || lite.type !== pg.type)
      problems.push(`${what}: sqlite ${lite.status} ${lite.type}, postgres ${pg.status} ${pg.type}`);
    answers.set(c, { status: lite.status, type: lite.type });
  }
  expect(problems).toEqual([]);
  return answers;
}

async function unchanged(run: () => Promise<void>): Promise<void> {
  const before = await Promise.all(DRIVERS.map((d) => snapshot(sides[d])));
  await run();
  const after = await Promise.all(DRIVERS.map((d) => snapshot(sides[d])));
  expect(after).toEqual(before);
  expect(after[0]).toEqual(after[1]);
}

const BAD_TEXT = ['%00', 'a%00b', '%00%00', 'k%00'];
const BASE = '/v2/key-value-stores';

describe('the same answer on SQLite and PostgreSQL, no 5xx, nothing changed', () => {
  it('store references holding NUL: 400 invalid-parameter, before any lookup', async () => {
    const refs = ['~%00', 'admin%00~x', 'alice%00~hostile', '~hostile%00', '~a%00b', '%00', '{id}%00', 'alice~%00', '%00~'];
    const cases: Case[] = [];
    for (const ref of refs) {
      for (const token of ['alice', 'none'] as const) {
        for (const tail of ['', '/keys', '/records', '/records/k'])
          cases.push({ method: 'GET', url: `${BASE}/${ref}${tail}`, token });
        cases.push({ method: 'HEAD', url: `${BASE}/${ref}/records/k`, token });
        cases.push({ method: 'PUT', url: `${BASE}/${ref}`, token, body: '{"title":"changed"}' });
        cases.push({ method: 'PUT', url: `${BASE}/${ref}/records/k`, token, body: 'changed' });
        cases.push({ method: 'DELETE', url: `${BASE}/${ref}`, token });
        cases.push({ method: 'DELETE', url: `${BASE}/${ref}/records/k`, token });
      }
    }
    await unchanged(async () => {
      const answers = await sendAll(cases);
      for (const c of cases) {
        // Checked by the route's schema, before the token: the same answer with and without one.
        if (c.method !== 'HEAD') expect([c.url, answers.get(c)?.type]).toEqual([c.url, 'invalid-parameter']);
        expect(answers.get(c)?.status).toBe(400);
      }
    });
  });

  it('key-list and archive parameters holding NUL: 400 invalid-parameter; other odd text is a query like any other', async () => {
    const cases: Case[] = [];
    const refused: Case[] = [];
    for (const path of ['keys', 'records']) {
      const names =
        path === 'keys' ? ['prefix', 'exclusiveStartKey', 'collection', 'signature'] : ['prefix', 'collection', 'signature'];
      for (const name of names) {
        for (const token of ['alice', 'none'] as const) {
          for (const v of BAD_TEXT) refused.push({ method: 'GET', url: `${BASE}/{id}/${path}?${name}=${v}`, token });
          for (const v of ['%01', '%1F', '%7F', '%C0%80', '%FF', '%ED%A0%80', '%E2%82', '%F0%9F%98%80', 'k%20'])
            cases.push({ method: 'GET', url: `${BASE}/{id}/${path}?${name}=${v}`, token });
        }
      }
      for (const v of ['1e400', '-1e400', '%00', 'NaN', '123456789012345678901234567890'])
        cases.push({ method: 'GET', url: `${BASE}/{id}/${path}?limit=${v}` });
    }
    await unchanged(async () => {
      const answers = await sendAll([...refused, ...cases]);
      for (const c of refused) expect([c.url, answers.get(c)]).toEqual([c.url, { status: 400, type: 'invalid-parameter' }]);
    });
  });

  it('a start key or prefix with NUL is refused, not read as a shorter one', async () => {
    const page = async (side: Side, query: string) =>
      (await side.ctx.request({ method: 'GET', url: `${BASE}/${side.id}/keys?${query}`, token: side.ctx.alice })).json();
    for (const d of DRIVERS) {
      expect((await page(sides[d], 'exclusiveStartKey=k')).data.items.map((i: { key: string }) => i.key)).toEqual([
        'k(1)',
        'k0',
        'ka',
      ]);
      expect((await page(sides[d], 'exclusiveStartKey=k%00')).error.type).toBe('invalid-parameter');
      expect((await page(sides[d], 'prefix=k%00')).error.type).toBe('invalid-parameter');
    }
  });

  it('record keys with NUL, control characters and bad escapes: 400 invalid-record-key', async () => {
    const keys = ['a%00b', '%00', '%01', '%1F', '%7F', '%C0%80', '%FF', '%ED%A0%80', '%E2%82', 'k%00', '%F0%9F%98%80'];
    const cases: Case[] = [];
    for (const key of keys) {
      for (const method of ['GET', 'HEAD', 'PUT', 'DELETE'] as const) {
        cases.push({ method, url: `${BASE}/{id}/records/${key}`, body: method === 'PUT' ? 'changed' : undefined });
        cases.push({ method, url: `${BASE}/~${NAME}/records/${key}`, body: method === 'PUT' ? 'changed' : undefined });
      }
    }
    await unchanged(async () => {
      const answers = await sendAll(cases);
      for (const c of cases) expect([c.method, c.url, answers.get(c)?.status]).toEqual([c.method, c.url, 400]);
    });
  });

  it('tokens holding NUL or bad escapes: 401; signatures holding NUL: 400 invalid-parameter', async () => {
    const tokens: Case[] = [];
    const signatures: Case[] = [];
    for (const v of [...BAD_TEXT, '%ED%A0%80', '%C0%80', '%FF', '%01']) {
      for (const path of ['', '/keys', '/records/k', '/records']) {
        tokens.push({ method: 'GET', url: `${BASE}/{id}${path}?token=${v}`, token: 'none' });
        tokens.push({ method: 'GET', url: `${BASE}/~${NAME}${path}?token=${v}`, token: 'none' });
      }
      tokens.push({ method: 'PUT', url: `${BASE}/{id}/records/k?token=${v}`, token: 'none', body: 'changed' });
      signatures.push({ method: 'GET', url: `${BASE}/~${NAME}/records/k?signature=${v}`, token: 'none' });
      signatures.push({ method: 'GET', url: `${BASE}/alice~${NAME}/keys?signature=${v}`, token: 'none' });
    }
    await unchanged(async () => {
      const answers = await sendAll([...tokens, ...signatures]);
      for (const c of tokens) expect([c.method, c.url, answers.get(c)?.status]).toEqual([c.method, c.url, 401]);
      for (const c of signatures) {
        const nul = c.url.includes('%00');
        expect([c.url, answers.get(c)?.type]).toEqual([c.url, nul ? 'invalid-parameter' : answers.get(c)?.type]);
        expect(answers.get(c)?.status).toBeGreaterThanOrEqual(400);
      }
    });
  });
});

describe('JSON bodies of the store endpoints, on both drivers', () => {
  const deep = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;
  const deepObject = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;
  const refusedBodies: (string | Buffer)[] = [
    '{"title":"a\\u0000b"}',
    '{"title":"\\u0000"}',
    '{"title":"\\ud800"}',
    '{"title":"\\udfff"}',
    '{"title":"a\\ud800b"}',
    '{"title":"\\udc00\\ud800"}',
    '{"name":"\\u0000"}',
    '{"name":"a\\u0000"}',
    '{"generalAccess":"\\u0000"}',
    '{"generalAccess":"RESTRICTED\\u0000"}',
    '{"title":"ok","ignored":"\\u0000"}',
    '{"title":"ok","\\u0000":1}',
    '{"title":"ok","n":1e400}',
    '{"title":"ok","n":-1e400}',
    '{"title":"ok","n":[1,2,1e400]}',
    `{"title":"ok","deep":${deep(200)}}`,
    `{"title":"ok","deep":${deep(100_000)}}`,
    `{"title":"ok","deep":${deepObject(5000)}}`,
    deep(100_000),
    Buffer.concat([Buffer.from('{"title":"a'), Buffer.from([0xff]), Buffer.from('b"}')]),
    Buffer.concat([Buffer.from('{"title":"a'), Buffer.from([0xc0, 0x80]), Buffer.from('b"}')]),
    Buffer.concat([Buffer.from('{"title":"a'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('b"}')]),
    Buffer.concat([Buffer.from('{"title":"a'), Buffer.from([0xe2, 0x82]), Buffer.from('"}')]),
  ];

  it('a field that cannot be stored faithfully: 400 invalid-value, and nothing changes', async () => {
    const cases: Case[] = [];
    for (const body of refusedBodies) {
      cases.push({ method: 'PUT', url: `${BASE}/{id}`, body });
      cases.push({ method: 'PUT', url: `${BASE}/~${NAME}`, body });
      cases.push({ method: 'PUT', url: `${BASE}/{id}`, body: gzipSync(body), headers: { 'content-encoding': 'gzip' } });
      cases.push({ method: 'POST', url: BASE, body });
      cases.push({ method: 'POST', url: `${BASE}?name=other`, body });
    }
    await unchanged(async () => {
      const answers = await sendAll(cases);
      for (const c of cases)
        expect([String(c.body).slice(0, 40), answers.get(c)]).toEqual([
          String(c.body).slice(0, 40),
          { status: 400, type: 'invalid-value' },
        ]);
    });
  });

  it('schemas that cannot be stored faithfully: 400 invalid-value', async () => {
    const schemas = [
      '{"x":"\\u0000"}',
      '{"\\u0000":1}',
      '{"x":1e400}',
      '{"x":"\\ud800"}',
      '{"collections":{"c":{"keyPrefix":"\\u0000"}}}',
      '{"collections":{"c":{"key":"k\\u0000"}}}',
      `{"x":${deep(1000)}}`,
    ];
    const cases: Case[] = schemas.map((s) => ({ method: 'POST', url: `${BASE}?name=schema-test`, body: `{"schema":${s}}` }));
    await unchanged(async () => {
      const answers = await sendAll(cases);
      for (const c of cases) expect([c.body, answers.get(c)]).toEqual([c.body, { status: 400, type: 'invalid-value' }]);
    });
  });

  it('a Content-Type that could not be sent back (control characters): 415 before anything is stored', async () => {
    const cases: Case[] = ['text/plain;\u007f', 'a\u0001b', 'text/\u0000'].map((contentType) => ({
      method: 'PUT',
      url: `${BASE}/{id}/records/k`,
      headers: { 'content-type': contentType },
      body: 'changed',
    }));
    await unchanged(async () => {
      const answers = await sendAll(cases);
      for (const c of cases) expect(answers.get(c)).toEqual({ status: 415, type: 'invalid-content-type-header' });
    });
  });

  it('store names with NUL in the query: the name rule (400 invalid-value)', async () => {
    const cases: Case[] = ['%00', 'a%00b', '%00a', 'a%01b', '%ED%A0%80', '%C0%80'].map((v) => ({
      method: 'POST',
      url: `${BASE}?name=${v}`,
    }));
    await unchanged(async () => {
      const answers = await sendAll(cases);
      for (const c of cases) expect(answers.get(c)?.status).toBe(400);
    });
  });

  it('an accepted value reads back exactly as sent', async () => {
    const titles = [
      'a\u0001b',
      '\u001f\u007f',
      'tab\there',
      '😀 emoji, paired surrogates',
      '\uffff\ufffe',
      'line\nbreak',
      '\u2028\u2029',
      'x'.repeat(1024),
      '',
    ];
    for (const title of titles) {
      const body = JSON.stringify({ title });
      const answers = await sendAll([{ method: 'PUT', url: `${BASE}/{id}`, body }]);
      expect([...answers.values()][0]).toEqual({ status: 200, type: undefined });
      for (const d of DRIVERS) {
        const { ctx, id } = sides[d];
        const read = await ctx.request({ method: 'GET', url: `${BASE}/${id}`, token: ctx.alice });
        expect([d, read.json().data.title]).toEqual([d, title]);
      }
    }
    // Header values may carry bytes 0x80-0xFF (obs-text), which Node reads as Latin-1 characters.
    for (const contentType of ['text/plain; note="\u00e9\u00ff\u0080"', 'text/plain;\tx=y']) {
      for (const d of DRIVERS) {
        const { ctx, id } = sides[d];
        const url = `${BASE}/${id}/records/obs-text`;
        const put = await ctx.request({
          method: 'PUT',
          url,
          token: ctx.alice,
          headers: { 'content-type': contentType },
          payload: 'x',
        });
        expect([d, put.statusCode]).toEqual([d, 201]);
        const read = await ctx.request({ method: 'GET', url, token: ctx.alice });
        expect([d, read.statusCode, read.headers['content-type']], read.body).toEqual([d, 200, contentType]);
      }
    }
    const schema = { x: 'a\u0001', nested: [[[{ '\u007f': 1.5e300, y: -0.000001 }]]], collections: { c: { keyPrefix: '😀' } } };
    for (const d of DRIVERS) {
      const { ctx } = sides[d];
      const made = await ctx.request({
        method: 'POST',
        url: `${BASE}?name=schema-ok`,
        token: ctx.alice,
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ schema }),
      });
      expect(made.statusCode, made.body).toBe(201);
      const read = await ctx.request({ method: 'GET', url: `${BASE}/${made.json().data.id}`, token: ctx.alice });
      expect([d, read.json().data.schema]).toEqual([d, schema]);
    }
  });
});
