/**
 * Hostile input to datasets, in process, on the driver of the project (both run): push bodies that
 * are not a JSON object or an array of objects, too large (also once decoded), badly encoded; query
 * values the items route must refuse; odd paths. Every refusal is a 4xx in the Apify envelope and
 * leaves the dataset's items and counts as they were; what is accepted reads back exactly as sent.
 * Compression bombs over a real connection are in hostile.test.ts.
 */
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_JSON_BODY_BYTES } from '../../src/http/body.js';
import { createTestContext, type TestContext } from '../helpers/context.js';

let ctx: TestContext;

const JSON_HEADERS = { 'content-type': 'application/json' };

/** Items whose text only reads back right if it is stored as pushed: key order, number spellings, escapes. */
const SEED_TEXTS = [
  '{"z":1,"a":1.0,"big":123456789012345678901234567890,"e":1E5,"u":"\\u00e9é😀"}',
  '{"#hidden":true}',
  '{"nested":{"x":[1,{"y":null}],"s":"<x>&\\"\'"}}',
];

interface Snapshot {
  itemCount: number;
  cleanItemCount: number;
  items: string;
}

async function createDataset(name: string): Promise<string> {
  const res = await ctx.request({ method: 'POST', url: `/v2/datasets?name=${name}`, token: ctx.alice });
  expect(res.statusCode, res.body).toBe(201);
  return res.json().data.id;
}

async function push(id: string, payload: string | Buffer, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return ctx.request({
    method: 'POST',
    url: `/v2/datasets/${id}/items`,
    token: ctx.alice,
    headers: { ...JSON_HEADERS, ...headers },
    payload,
  });
}

async function snapshot(id: string): Promise<Snapshot> {
  const ds = await ctx.request({ method: 'GET', url: `/v2/datasets/${id}`, token: ctx.alice });
  expect(ds.statusCode, ds.body).toBe(200);
  const items = await ctx.request({ method: 'GET', url: `/v2/datasets/${id}/items`, token: ctx.alice });
  expect(items.statusCode, items.body.slice(0, 300)).toBe(200);
  const { itemCount, cleanItemCount } = ds.json().data;
  return { itemCount, cleanItemCount, items: items.body };
}

function expectEnvelope(res: LightMyRequestResponse, status: number, type?: string): void {
  const summary = `${res.statusCode} ${res.body.slice(0, 300)}`;
  expect(res.statusCode, summary).toBe(status);
  expect(res.headers['content-type'], summary).toMatch(/^application\/json/);
  const error = res.json().error;
  if (type !== undefined) expect(error?.type, summary).toBe(type);
  expect(typeof error?.type, summary).toBe('string');
  expect(typeof error?.message, summary).toBe('string');
}

/**
 * The exact texts `texts` are the items at `offset` onwards, in this order, and nothing follows.
 * The JSON answer carries each stored text as it is (no transformation asked for).
 */
async function expectItemsAt(id: string, offset: number, texts: readonly string[]): Promise<void> {
  const res = await ctx.request({ method: 'GET', url: `/v2/datasets/${id}/items?offset=${offset}`, token: ctx.alice });
  expect(res.statusCode).toBe(200);
  expect(JSON.parse(res.body)).toHaveLength(texts.length);
  let at = 0;
  for (const text of texts) {
    const found = res.body.indexOf(text, at);
    expect(found, `item ${text.slice(0, 80)} is not where it belongs`).toBeGreaterThanOrEqual(0);
    at = found + text.length;
  }
}

const bytes = (...parts: (string | number[])[]) =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));

/** `{"a":{"a":…1…}}`: one object `levels` deep. */
const nestedObject = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;
const DEEP = 100_000;
const MiB = 1024 * 1024;
/** One item whose text is exactly `size` bytes. */
const itemOfSize = (size: number) => `{"s":"${'x'.repeat(size - 8)}"}`;

beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx.close());

describe('refused pushes change nothing', () => {
  let id: string;
  let before: Snapshot;
  beforeAll(async () => {
    id = await createDataset('hostile-target');
    expect((await push(id, `[${SEED_TEXTS.join(',')}]`)).statusCode).toBe(201);
    before = await snapshot(id);
    expect([before.itemCount, before.cleanItemCount]).toEqual([3, 2]);
  });

  const REFUSED: [string, number, string, () => string | Buffer][] = [
    // Not JSON.
    ['an empty body', 400, 'invalid-value', () => ''],
    ['text', 400, 'invalid-value', () => 'hello'],
    ['an unclosed object', 400, 'invalid-value', () => '{"a":1'],
    ['single quotes', 400, 'invalid-value', () => "{'a':1}"],
    ['a trailing comma', 400, 'invalid-value', () => '[{"a":1},]'],
    ['two objects one after the other', 400, 'invalid-value', () => '{"a":1}{"b":2}'],
    ['an object and junk', 400, 'invalid-value', () => '{"a":1} x'],
    ['NaN as a value', 400, 'invalid-value', () => '{"a":NaN}'],
    ['a raw NUL in a string', 400, 'invalid-value', () => '{"a":"x\u0000y"}'],
    ['a raw NUL after the object', 400, 'invalid-value', () => '{"a":1}\u0000'],
    ['a raw newline in a string', 400, 'invalid-value', () => '{"a":"x\ny"}'],
    ['a lone surrogate escape cut short', 400, 'invalid-value', () => '{"a":"\\ud8"}'],
    // JSON, but not an object or an array of objects.
    ['null', 400, 'invalid-value', () => 'null'],
    ['true', 400, 'invalid-value', () => 'true'],
    ['a number', 400, 'invalid-value', () => '-1.5'],
    ['a number out of range', 400, 'invalid-value', () => '1e999'],
    ['a string', 400, 'invalid-value', () => '"x"'],
    ['an array with a number after an object', 400, 'invalid-value', () => '[{"a":1},2]'],
    ['an array with null', 400, 'invalid-value', () => '[{"a":1},null]'],
    ['an array with a string', 400, 'invalid-value', () => '[{"a":1},"s"]'],
    ['an array with an empty array', 400, 'invalid-value', () => '[{"a":1},[]]'],
    ['an array of arrays of objects', 400, 'invalid-value', () => '[[{"a":1}]]'],
    ['an array with a nested array of objects', 400, 'invalid-value', () => '[{"a":1},[{"b":2}]]'],
    // Deep nesting.
    [`${DEEP} unclosed [`, 400, 'invalid-value', () => '['.repeat(DEEP)],
    [`${DEEP} nested arrays`, 400, 'invalid-value', () => `${'['.repeat(DEEP)}${']'.repeat(DEEP)}`],
    [`an item with ${DEEP} nested arrays`, 400, 'invalid-value', () => `[{"a":${'['.repeat(DEEP)}${']'.repeat(DEEP)}}]`],
    [`an object ${DEEP} levels deep`, 400, 'invalid-value', () => nestedObject(DEEP)],
    ['an object 129 levels deep', 400, 'invalid-value', () => nestedObject(129)],
    ['an array holding an object 129 levels deep', 400, 'invalid-value', () => `[{"ok":1},${nestedObject(129)}]`],
    // Bytes that are not UTF-8.
    ['the byte FF in a string', 400, 'invalid-value', () => bytes('{"a":"', [0xff], '"}')],
    ['an overlong NUL', 400, 'invalid-value', () => bytes('{"a":"', [0xc0, 0x80], '"}')],
    ['an encoded surrogate', 400, 'invalid-value', () => bytes('{"a":"', [0xed, 0xa0, 0x80], '"}')],
    ['a cut-off sequence', 400, 'invalid-value', () => bytes('{"a":"', [0xe2, 0x82], '"}')],
    ['a code point past U+10FFFF', 400, 'invalid-value', () => bytes('{"a":"', [0xf4, 0x90, 0x80, 0x80], '"}')],
    ['a UTF-16 body', 400, 'invalid-value', () => Buffer.from('{"a":1}', 'utf16le')],
    // Too large.
    ['9 MiB + 1 byte', 413, 'request-too-large', () => itemOfSize(MAX_JSON_BODY_BYTES + 1)],
    ['a 20 MiB string', 413, 'request-too-large', () => itemOfSize(20 * MiB)],
  ];

  it.each(REFUSED)('%s → %i %s', async (_label, status, type, payload) => {
    expectEnvelope(await push(id, payload()), status, type);
    expect(await snapshot(id)).toEqual(before);
  });

  const ENCODED: [string, number, string, () => Buffer, Record<string, string>][] = [
    [
      'gzip of 9 MiB + 1 byte',
      413,
      'request-too-large',
      () => gzipSync(itemOfSize(MAX_JSON_BODY_BYTES + 1)),
      { 'content-encoding': 'gzip' },
    ],
    [
      'deflate of 9 MiB + 1 byte',
      413,
      'request-too-large',
      () => deflateSync(itemOfSize(MAX_JSON_BODY_BYTES + 1)),
      { 'content-encoding': 'deflate' },
    ],
    [
      'br of 9 MiB + 1 byte',
      413,
      'request-too-large',
      () => brotliCompressSync(itemOfSize(MAX_JSON_BODY_BYTES + 1)),
      { 'content-encoding': 'br' },
    ],
    [
      'gzip of 64 MiB of spaces',
      413,
      'request-too-large',
      () => gzipSync(Buffer.alloc(64 * MiB, 0x20)),
      { 'content-encoding': 'gzip' },
    ],
    ['gzip of text that is not JSON', 400, 'invalid-value', () => gzipSync('hello'), { 'content-encoding': 'gzip' }],
    ['gzip of a JSON scalar', 400, 'invalid-value', () => gzipSync('42'), { 'content-encoding': 'gzip' }],
    [
      'gzip of bytes that are not UTF-8',
      400,
      'invalid-value',
      () => gzipSync(bytes('{"a":"', [0xff], '"}')),
      { 'content-encoding': 'gzip' },
    ],
    ['a plain body claimed as gzip', 400, 'invalid-request', () => Buffer.from('[{"a":1}]'), { 'content-encoding': 'gzip' }],
    ['a plain body claimed as br', 400, 'invalid-request', () => Buffer.from('[{"a":1}]'), { 'content-encoding': 'br' }],
    [
      'a cut-off gzip body',
      400,
      'invalid-request',
      () => gzipSync('[{"a":1},{"b":2}]').subarray(0, 15),
      { 'content-encoding': 'gzip' },
    ],
    ['gzip twice, claimed once', 400, 'invalid-value', () => gzipSync(gzipSync('[{"a":1}]')), { 'content-encoding': 'gzip' }],
    [
      'Content-Encoding: compress',
      415,
      'unsupported-content-encoding',
      () => Buffer.from('[{"a":1}]'),
      { 'content-encoding': 'compress' },
    ],
    [
      'Content-Encoding: zstd',
      415,
      'unsupported-content-encoding',
      () => Buffer.from('[{"a":1}]'),
      { 'content-encoding': 'zstd' },
    ],
    [
      'Content-Encoding: gzip, br',
      415,
      'unsupported-content-encoding',
      () => gzipSync('[{"a":1}]'),
      { 'content-encoding': 'gzip, br' },
    ],
  ];

  it.each(ENCODED)('%s → %i %s', async (_label, status, type, payload, headers) => {
    expectEnvelope(await push(id, payload(), headers), status, type);
    expect(await snapshot(id)).toEqual(before);
  });

  it.each([
    ['POST …/items/.. (the dataset path with a trailing slash)', 'POST', (i: string) => `/v2/datasets/${i}/items/..`],
    ['PUT …/items/..', 'PUT', (i: string) => `/v2/datasets/${i}/items/..`],
    ['DELETE …/items/..', 'DELETE', (i: string) => `/v2/datasets/${i}/items/..`],
    ['DELETE …/statistics/..', 'DELETE', (i: string) => `/v2/datasets/${i}/statistics/..`],
    ['DELETE with a trailing slash', 'DELETE', (i: string) => `/v2/datasets/${i}/`],
    ['POST …/items/%2e%2e', 'POST', (i: string) => `/v2/datasets/${i}/items/%2e%2e`],
    ['DELETE …/items', 'DELETE', (i: string) => `/v2/datasets/${i}/items`],
    ['PUT …/items', 'PUT', (i: string) => `/v2/datasets/${i}/items`],
    ['POST …/items/x', 'POST', (i: string) => `/v2/datasets/${i}/items/x`],
    ['POST to the id with ~ in front', 'POST', (i: string) => `/v2/datasets/~${i}/items`],
    ['POST to …/items~', 'POST', (i: string) => `/v2/datasets/${i}~/items`],
  ] as const)('%s is a 4xx and changes nothing', async (_label, method, path) => {
    const res = await ctx.request({
      method,
      url: path(id),
      token: ctx.alice,
      headers: JSON_HEADERS,
      payload: method === 'DELETE' ? undefined : JSON.stringify([{ through: 'an odd path' }]),
    });
    expect(res.statusCode, res.body).toBeGreaterThanOrEqual(400);
    expectEnvelope(res, res.statusCode);
    expect(res.statusCode).toBeLessThan(500);
    expect(await snapshot(id)).toEqual(before);
  });

  it.each([
    ['offset=-1', 400, 'invalid-parameter'],
    ['offset=abc', 400, 'invalid-parameter'],
    ['offset=1.5', 400, 'invalid-parameter'],
    ['limit=-1', 400, 'invalid-parameter'],
    ['limit=abc', 400, 'invalid-parameter'],
    ['limit=1e3', 400, 'invalid-parameter'],
    ['desc=maybe', 400, 'invalid-parameter'],
    ['format=pdf', 400, undefined],
    ['format=JSON%00', 400, 'invalid-parameter'],
    ['delimiter=%3B%3B&format=csv', 400, undefined],
    ['delimiter=%00&format=csv', 400, undefined],
    ['xmlRoot=%3Cx%3E&format=xml', 400, undefined],
    ['xmlRow=a%20b&format=xml', 400, undefined],
    ['fields=a%00b', 400, 'invalid-parameter'],
    ['view=no-such-view', 400, 'invalid-parameter'],
    [`fields=${'x'.repeat(5000)}`, 400, 'invalid-parameter'],
    [`fields=${','.repeat(10_000)}`, 400, 'invalid-parameter'],
    [`omit=${Array.from({ length: 2000 }, (_, i) => `f${i}`).join(',')}`, 400, 'invalid-parameter'],
  ] as const)('GET items?%s → %i, and nothing changes', async (query, status, type) => {
    const res = await ctx.request({ method: 'GET', url: `/v2/datasets/${id}/items?${query}`, token: ctx.alice });
    expectEnvelope(res, status, type);
    expect(await snapshot(id)).toEqual(before);
  });

  it.each([
    ['~', 404, '/v2/datasets/~'],
    ['~~', 404, '/v2/datasets/~~'],
    ['alice~', 404, '/v2/datasets/alice~'],
    ['~/items', 404, '/v2/datasets/~/items'],
    ['..', 404, '/v2/datasets/..'],
    ['an id of 10 000 characters', 404, `/v2/datasets/${'x'.repeat(10_000)}/items`],
    ['an id of 20 000 characters', 400, `/v2/datasets/${'x'.repeat(20_000)}/items`],
    ['%zz', 400, '/v2/datasets/%zz/items'],
    ['an encoded lone surrogate', 400, '/v2/datasets/%ED%A0%80/items'],
  ] as const)('GET %s → %i; a POST there is a 4xx too', async (_label, status, url) => {
    expectEnvelope(await ctx.request({ method: 'GET', url, token: ctx.alice }), status);
    const post = await ctx.request({ method: 'POST', url, token: ctx.alice, headers: JSON_HEADERS, payload: '{"a":1}' });
    expectEnvelope(post, post.statusCode);
    expect(post.statusCode, post.body.slice(0, 200)).toBeGreaterThanOrEqual(400);
    expect(post.statusCode).toBeLessThan(500);
    expect(await snapshot(id)).toEqual(before);
    const list = await ctx.request({ method: 'GET', url: '/v2/datasets?unnamed=1', token: ctx.alice });
    expect(list.json().data.total, 'no dataset was created').toBe(1);
  });
});

describe('what is accepted reads back as sent', () => {
  let id: string;
  let count = 0;
  beforeAll(async () => {
    id = await createDataset('hostile-accepted');
  });

  /** Pushes `payload`, expects 201, then expects `texts` appended as they are, and the counts to add up. */
  async function accepted(payload: string | Buffer, texts: readonly string[], headers: Record<string, string> = {}) {
    const res = await push(id, payload, headers);
    expect(res.statusCode, res.body.slice(0, 300)).toBe(201);
    expect(res.body).toBe('');
    await expectItemsAt(id, count, texts);
    count += texts.length;
    const ds = await ctx.request({ method: 'GET', url: `/v2/datasets/${id}`, token: ctx.alice });
    expect(ds.json().data.itemCount).toBe(count);
  }

  it('a byte order mark before the body is not part of the item', async () => {
    await accepted(bytes([0xef, 0xbb, 0xbf], '[{"bom":1}]'), ['{"bom":1}']);
  });

  it('duplicate keys are kept as sent', async () => {
    await accepted('{"a":1,"a":2}', ['{"a":1,"a":2}']);
  });

  it('escapes of NUL and of lone surrogates are kept as sent', async () => {
    const texts = ['{"s":"x\\u0000y"}', '{"s":"\\ud800"}', '{"\\udc00":"\\udfff\\ud800"}', '{"\\u0000":0}'];
    await accepted(`[${texts.join(',')}]`, texts);
  });

  it('an empty array stores nothing', async () => {
    await accepted('[]', []);
  });

  it('whitespace around and between items is not part of them', async () => {
    await accepted(' \n\t[ {"ws":1} ,\n {"ws" : 2}\n ] \n', ['{"ws":1}', '{"ws" : 2}']);
  });

  it('an object 128 levels deep is stored, alone and in an array', async () => {
    await accepted(nestedObject(128), [nestedObject(128)]);
    await accepted(`[${nestedObject(128)}]`, [nestedObject(128)]);
  });

  it('one item of exactly 9 MiB, plain and gzip', async () => {
    const text = itemOfSize(MAX_JSON_BODY_BYTES);
    expect(Buffer.byteLength(text)).toBe(MAX_JSON_BODY_BYTES);
    await accepted(text, [text]);
    await accepted(gzipSync(text), [text], { 'content-encoding': 'gzip' });
  });

  it('200 000 items in one push are all stored, in order; empty objects are not clean', async () => {
    const texts = Array.from({ length: 200_000 }, (_, i) => (i % 2 === 0 ? '{}' : `{"i":${i}}`));
    const res = await push(id, `[${texts.join(',')}]`);
    expect(res.statusCode, res.body).toBe(201);
    const ds = (await ctx.request({ method: 'GET', url: `/v2/datasets/${id}`, token: ctx.alice })).json().data;
    expect(ds.itemCount).toBe(count + texts.length);
    const tail = await ctx.request({
      method: 'GET',
      url: `/v2/datasets/${id}/items?offset=${count + 199_997}`,
      token: ctx.alice,
    });
    expect(tail.json()).toEqual([{ i: 199_997 }, {}, { i: 199_999 }]);
    count += texts.length;
    const clean = (await ctx.request({ method: 'GET', url: `/v2/datasets/${id}`, token: ctx.alice })).json().data;
    expect(clean.itemCount - clean.cleanItemCount).toBeGreaterThanOrEqual(100_000);
  });

  it('a key of a megabyte and 10 000 keys in one item', async () => {
    const longKey = `{"${'k'.repeat(MiB)}":1}`;
    const manyKeys = `{${Array.from({ length: 10_000 }, (_, i) => `"k${i}":${i}`).join(',')}}`;
    await accepted(`[${longKey},${manyKeys}]`, [longKey, manyKeys]);
  });
});

describe('reads of hostile items in every format', () => {
  let id: string;
  const TEXTS = [
    '{"s":"x\\u0000y","t":"\\ud800","\\udc00":1}',
    '{"a":1,"a":2,"=cmd|\' /C calc\'!A0":"=1+1","xml":"<x>&\\"\'</x>]]>"}',
    `{"deep":${nestedObject(120)}}`,
    '{"#hidden":1}',
    '{}',
    '{"arr":[1,[2,[3]],{"o":null}],"n":null,"b":false,"big":1e308,"neg":-0}',
    '{"k":"\\u2028\\u2029\\u0085\\u001f\\u007f"}',
  ];
  beforeAll(async () => {
    id = await createDataset('hostile-content');
    expect((await push(id, `[${TEXTS.join(',')}]`)).statusCode).toBe(201);
  });

  const FORMATS = ['json', 'jsonl', 'csv', 'xlsx', 'xml', 'html', 'rss'];
  const TRANSFORMS = [
    '',
    'clean=1',
    'fields=s,a,deep,arr',
    'omit=s,deep',
    'unwind=arr',
    'unwind=missing',
    'flatten=deep,arr',
    'flatten=s',
    'flatten=missing',
    'unwind=arr&flatten=arr',
    'desc=1&offset=1&limit=3',
    `fields=${','.repeat(4000)}`,
    `fields=${Array.from({ length: 800 }, (_, i) => `f${i}`).join(',')}`,
    'unwind=%ED%A0%80&flatten=%C0%80',
  ];

  it.each(FORMATS)('format=%s answers 200 with every transformation, and json and jsonl parse', async (format) => {
    for (const t of TRANSFORMS) {
      const res = await ctx.request({ method: 'GET', url: `/v2/datasets/${id}/items?format=${format}&${t}`, token: ctx.alice });
      expect(res.statusCode, `${format} ${t.slice(0, 40)}: ${res.body.slice(0, 200)}`).toBe(200);
      if (format === 'json') expect(Array.isArray(JSON.parse(res.body))).toBe(true);
      if (format === 'jsonl') for (const line of res.body.split('\n').filter((l) => l !== '')) JSON.parse(line);
    }
    expect(await snapshot(id)).toMatchObject({ itemCount: TEXTS.length });
  });

  it('unwind of a missing field and flatten of a scalar leave the items as they are', async () => {
    const plain = await ctx.request({ method: 'GET', url: `/v2/datasets/${id}/items`, token: ctx.alice });
    for (const t of ['unwind=missing', 'flatten=s', 'flatten=missing', `fields=${','.repeat(4000)}`, 'omit=missing']) {
      const res = await ctx.request({ method: 'GET', url: `/v2/datasets/${id}/items?${t}`, token: ctx.alice });
      expect(res.statusCode).toBe(200);
      // Compared as JSON texts: a transformation writes -0 as 0, as JSON.stringify does.
      expect(JSON.stringify(JSON.parse(res.body)), t.slice(0, 40)).toBe(JSON.stringify(JSON.parse(plain.body)));
    }
  });

  it('without a transformation, json carries every item exactly as pushed', async () => {
    await expectItemsAt(id, 0, TEXTS);
  });
});

it('after all of it the server answers as usual', async () => {
  expect((await ctx.request({ method: 'GET', url: '/health' })).statusCode).toBe(200);
  const id = await createDataset('after-hostile');
  expect((await push(id, '[{"ok":1}]')).statusCode).toBe(201);
  await expectItemsAt(id, 0, ['{"ok":1}']);
});
