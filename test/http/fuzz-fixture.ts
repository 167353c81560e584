import { brotliCompressSync, gzipSync } from 'node:zlib';
import { recordSignature } from '../../src/domain/signing.js';
import type { TestContext } from '../helpers/context.js';
import { pseudoRandomBytes, recordUrl } from '../helpers/records.js';
import type { FuzzTargets } from './fuzz-arbitraries.js';
import { pickFields, type StoreFields, sameJson } from './fuzz-judge.js';
import { type FuzzQueues, queueProblems, seedFuzzQueues } from './fuzz-queues.js';

/**
 * The fuzz tests' world: stores seeded before the run and the check that nothing was lost (the
 * judgement of every answer is in fuzz-judge.ts).
 */

/** Asks for records as stored (no decoding on the way out). */
const AS_STORED = { 'accept-encoding': 'gzip, deflate, br' };

export interface RecordCopy {
  contentType: string;
  contentEncoding: string | null;
  bytes: Buffer;
  etag?: string;
}

export interface StoreCopy {
  /** The fields of the store object that reads must not change. */
  fields: Record<string, unknown>;
  records: Map<string, RecordCopy>;
}

export interface FuzzFixture {
  targets: FuzzTargets;
  protectedBefore: StoreCopy;
  bobBefore: StoreCopy;
  /** What the playground store holds before the run (the start of the judge's model). */
  playground: Map<string, RecordCopy>;
  /** The playground store's fields that an update may change, before the run. */
  playgroundFields: StoreFields;
  /** The protected dataset before the run. */
  datasetBefore: DatasetCopy;
  /** The items of the playground dataset before the run (the start of the judge's model). */
  datasetPlayground: unknown[];
  /** The request queues and the protected one's copy. */
  queues: FuzzQueues;
}

export interface DatasetCopy {
  /** The fields of the dataset object that reads must not change. */
  fields: Record<string, unknown>;
  /** The items as the owner reads them (JSON, as stored). */
  items: string;
}

/** Items whose text reads back right only if stored as pushed, and one of hidden fields only. */
const DATASET_SEED = '[{"z":1,"a":1.0,"big":123456789012345678901234567890,"u":"\\u00e9é"},{"#h":1},{"n":{"x":[1,{"y":null}]}}]';

/** A dataset and its items, as its owner reads them, without what reads change. */
export async function copyDataset(ctx: TestContext, id: string, token: string): Promise<DatasetCopy> {
  const res = await ctx.request({ method: 'GET', url: `/v2/datasets/${id}`, token });
  if (res.statusCode !== 200) throw new Error(`reading dataset ${id}: ${res.statusCode} ${res.body}`);
  const {
    accessedAt: _a,
    itemsPublicUrl: _i,
    stats,
    ...rest
  } = res.json().data as Record<string, unknown> & {
    stats: Record<string, number>;
  };
  const { readCount: _rc, ...kept } = stats;
  const items = await ctx.request({ method: 'GET', url: `/v2/datasets/${id}/items`, token });
  if (items.statusCode !== 200) throw new Error(`reading the items of ${id}: ${items.statusCode} ${items.body}`);
  return { fields: { ...rest, stats: kept }, items: items.body };
}

async function createDataset(ctx: TestContext, name: string, items: string): Promise<string> {
  const res = await ctx.request({ method: 'POST', url: `/v2/datasets?name=${name}`, token: ctx.alice });
  if (res.statusCode !== 201) throw new Error(`creating dataset ${name}: ${res.statusCode} ${res.body}`);
  const id = res.json().data.id as string;
  const push = await ctx.request({
    method: 'POST',
    url: `/v2/datasets/${id}/items`,
    token: ctx.alice,
    headers: { 'content-type': 'application/json' },
    payload: items,
  });
  if (push.statusCode !== 201) throw new Error(`seeding dataset ${name}: ${push.statusCode} ${push.body}`);
  return id;
}

const TEXT = Buffer.from('Some text that is stored compressed. '.repeat(40));

/** Records of every shape: JSON, binary, compressed, empty, a value stored in chunks on PostgreSQL, odd keys. */
const SEED: [string, RecordCopy][] = [
  [
    'json',
    {
      contentType: 'application/json; charset=utf-8',
      contentEncoding: null,
      bytes: Buffer.from('{"hello":"world","n":[1,2,3]}'),
    },
  ],
  ['binary', { contentType: 'application/octet-stream', contentEncoding: null, bytes: pseudoRandomBytes(5000, 7) }],
  ['gz', { contentType: 'text/plain; charset=utf-8', contentEncoding: 'gzip', bytes: gzipSync(TEXT) }],
  ['br', { contentType: 'text/html', contentEncoding: 'br', bytes: brotliCompressSync(TEXT) }],
  ['empty', { contentType: 'text/plain', contentEncoding: null, bytes: Buffer.alloc(0) }],
  ['big', { contentType: 'image/png', contentEncoding: null, bytes: pseudoRandomBytes(300_000, 11) }],
  ["a!-_.'()Z9", { contentType: 'x/y; q="1"', contentEncoding: null, bytes: Buffer.from('odd key') }],
  ['k'.repeat(256), { contentType: 'text/plain', contentEncoding: null, bytes: Buffer.from('longest key') }],
];

async function put(ctx: TestContext, token: string, storeId: string, key: string, rec: RecordCopy): Promise<void> {
  const headers: Record<string, string> = { 'content-type': rec.contentType };
  if (rec.contentEncoding) headers['content-encoding'] = rec.contentEncoding;
  const res = await ctx.request({ method: 'PUT', url: recordUrl(storeId, key), token, headers, payload: rec.bytes });
  if (res.statusCode !== 201) throw new Error(`seeding ${key} failed: ${res.statusCode} ${res.body}`);
}

/** Every key of a store with its size, through the API. */
export async function listKeys(ctx: TestContext, storeId: string, token: string): Promise<{ key: string; size: number }[]> {
  const items: { key: string; size: number }[] = [];
  let after = '';
  for (;;) {
    const query = after ? `?exclusiveStartKey=${encodeURIComponent(after)}` : '';
    const res = await ctx.request({ method: 'GET', url: `/v2/key-value-stores/${storeId}/keys${query}`, token });
    if (res.statusCode !== 200) throw new Error(`listing keys of ${storeId}: ${res.statusCode} ${res.body}`);
    const data = res.json().data as {
      items: { key: string; size: number }[];
      isTruncated: boolean;
      nextExclusiveStartKey: string;
    };
    items.push(...data.items.map((i) => ({ key: i.key, size: i.size })));
    if (!data.isTruncated) return items;
    after = data.nextExclusiveStartKey;
  }
}

async function readRecord(ctx: TestContext, storeId: string, key: string, token: string): Promise<RecordCopy> {
  const res = await ctx.request({ method: 'GET', url: recordUrl(storeId, key), token, headers: AS_STORED });
  if (res.statusCode !== 200) throw new Error(`reading ${key}: ${res.statusCode} ${res.body}`);
  return {
    contentType: String(res.headers['content-type']),
    contentEncoding: (res.headers['content-encoding'] as string | undefined) ?? null,
    bytes: res.rawPayload,
    etag: res.headers.etag as string | undefined,
  };
}

/** The store object without what reads change (accessedAt, read and list counts, links signed with an expiry). */
async function storeFields(ctx: TestContext, storeId: string, token: string): Promise<Record<string, unknown>> {
  const res = await ctx.request({ method: 'GET', url: `/v2/key-value-stores/${storeId}`, token });
  if (res.statusCode !== 200) throw new Error(`reading store ${storeId}: ${res.statusCode} ${res.body}`);
  const {
    accessedAt: _a,
    keysPublicUrl: _k,
    recordsPublicUrl: _r,
    stats,
    ...rest
  } = res.json().data as Record<string, unknown> & {
    stats: Record<string, number>;
  };
  const { readCount: _rc, listCount: _lc, ...kept } = stats;
  return { ...rest, stats: kept };
}

export async function copyStore(ctx: TestContext, storeId: string, token: string): Promise<StoreCopy> {
  const records = new Map<string, RecordCopy>();
  for (const { key } of await listKeys(ctx, storeId, token)) records.set(key, await readRecord(ctx, storeId, key, token));
  return { fields: await storeFields(ctx, storeId, token), records };
}

/** Creates alice's protected and playground stores and bob's store, fills them, and copies them. */
export async function seedFuzzStores(ctx: TestContext): Promise<FuzzFixture> {
  const prot = await ctx.createStore('fuzz-protected');
  const play = await ctx.createStore('fuzz-playground');
  const bobs = await ctx.createStore('fuzz-bob', ctx.bob);
  for (const [key, rec] of SEED) await put(ctx, ctx.alice, prot.id, key, rec);
  await put(ctx, ctx.bob, bobs.id, 'bob-record', SEED[0]![1]);
  await put(ctx, ctx.bob, bobs.id, 'gz', SEED[2]![1]);
  await put(ctx, ctx.alice, play.id, 'w1', SEED[1]![1]);
  await put(ctx, ctx.alice, play.id, 'gz', SEED[2]![1]);
  const protectedBefore = await copyStore(ctx, prot.id, ctx.alice);
  const keysUrl = (await ctx.request({ method: 'GET', url: `/v2/key-value-stores/${prot.id}`, token: ctx.alice })).json().data
    .keysPublicUrl as string;
  const signatures = [
    ...SEED.map(([key]) => recordSignature(prot.urlSigningSecretKey, key)),
    new URL(keysUrl).searchParams.get('signature')!,
  ];
  const playground = new Map<string, RecordCopy>();
  const playCopy = await copyStore(ctx, play.id, ctx.alice);
  for (const [key, rec] of playCopy.records) playground.set(key, rec);
  const datasetId = await createDataset(ctx, 'fuzz-protected-ds', DATASET_SEED);
  const datasetPlaygroundId = await createDataset(ctx, 'fuzz-ds-playground', '{"seeded":true}');
  const queues = await seedFuzzQueues(ctx);
  const { queueBefore: _q, ...queueTargets } = queues;
  return {
    targets: {
      alice: ctx.alice,
      bob: ctx.bob,
      protectedId: prot.id,
      protectedName: 'fuzz-protected',
      bobStoreId: bobs.id,
      bobStoreName: 'fuzz-bob',
      playgroundId: play.id,
      playgroundName: 'fuzz-playground',
      signatures,
      etags: [...protectedBefore.records.values()].map((r) => r.etag ?? '"none"'),
      datasetId,
      datasetName: 'fuzz-protected-ds',
      datasetPlaygroundId,
      ...queueTargets,
    },
    protectedBefore,
    bobBefore: await copyStore(ctx, bobs.id, ctx.bob),
    playground,
    playgroundFields: pickFields(playCopy.fields),
    datasetBefore: await copyDataset(ctx, datasetId, ctx.alice),
    datasetPlayground: [{ seeded: true }],
    queues,
  };
}

function compareRecords(where: string, expected: Map<string, RecordCopy>, actual: Map<string, RecordCopy>): string[] {
  const problems: string[] = [];
  const missing = [...expected.keys()].filter((k) => !actual.has(k));
  const unexpected = [...actual.keys()].filter((k) => !expected.has(k));
  if (missing.length > 0) problems.push(`${where}: records missing: ${missing.join(', ')}`);
  if (unexpected.length > 0) problems.push(`${where}: records nobody was told were stored: ${unexpected.join(', ')}`);
  for (const [key, want] of expected) {
    const got = actual.get(key);
    if (!got) continue;
    if (!got.bytes.equals(want.bytes))
      problems.push(`${where}/${key}: ${got.bytes.length} bytes differ from the ${want.bytes.length} expected`);
    if (got.contentType !== want.contentType)
      problems.push(`${where}/${key}: Content-Type ${got.contentType}, expected ${want.contentType}`);
    if (got.contentEncoding !== want.contentEncoding)
      problems.push(`${where}/${key}: Content-Encoding ${got.contentEncoding}, expected ${want.contentEncoding}`);
    if (want.etag !== undefined && got.etag !== want.etag)
      problems.push(`${where}/${key}: ETag ${got.etag}, expected ${want.etag}`);
  }
  return problems;
}

/** `storageBytes` of each of the user's stores equals the sum of its record sizes. */
async function statsProblems(ctx: TestContext, token: string): Promise<string[]> {
  const problems: string[] = [];
  for (let offset = 0; ; offset += 1000) {
    const res = await ctx.request({ method: 'GET', url: `/v2/key-value-stores?unnamed=1&offset=${offset}&limit=1000`, token });
    const data = res.json().data as { items: { id: string; stats: { storageBytes: number } }[] };
    for (const store of data.items) {
      try {
        const sum = (await listKeys(ctx, store.id, token)).reduce((n, i) => n + i.size, 0);
        if (sum !== store.stats.storageBytes)
          problems.push(`store ${store.id}: storageBytes ${store.stats.storageBytes}, records sum to ${sum}`);
      } catch (err) {
        problems.push(`store ${store.id} is listed, but ${(err as Error).message}`);
      }
    }
    if (data.items.length < 1000) return problems;
  }
}

/** Everything that must hold after a fuzz run; an empty list when it all does. */
export async function integrityProblems(
  ctx: TestContext,
  fx: FuzzFixture,
  playground: Map<string, RecordCopy>,
  playgroundFields?: StoreFields,
  datasetPlayground: unknown[] = fx.datasetPlayground,
): Promise<string[]> {
  const t = fx.targets;
  const problems: string[] = [];
  const prot = await copyStore(ctx, t.protectedId, t.alice);
  problems.push(...compareRecords('protected', fx.protectedBefore.records, prot.records));
  if (JSON.stringify(prot.fields) !== JSON.stringify(fx.protectedBefore.fields))
    problems.push(`protected store changed: ${JSON.stringify(prot.fields)}, was ${JSON.stringify(fx.protectedBefore.fields)}`);
  const bobs = await copyStore(ctx, t.bobStoreId, t.bob);
  problems.push(...compareRecords('bob', fx.bobBefore.records, bobs.records));
  if (JSON.stringify(bobs.fields) !== JSON.stringify(fx.bobBefore.fields))
    problems.push(`bob's store changed: ${JSON.stringify(bobs.fields)}, was ${JSON.stringify(fx.bobBefore.fields)}`);
  const play = await copyStore(ctx, t.playgroundId, t.alice);
  problems.push(...compareRecords('playground', playground, play.records));
  if (playgroundFields && !sameJson(pickFields(play.fields), playgroundFields))
    problems.push(`playground store: ${JSON.stringify(pickFields(play.fields))}, expected ${JSON.stringify(playgroundFields)}`);
  problems.push(...(await statsProblems(ctx, t.alice)), ...(await statsProblems(ctx, t.bob)));
  problems.push(...(await datasetProblems(ctx, fx, datasetPlayground)));
  problems.push(...(await queueProblems(ctx, fx.queues)));
  return problems;
}

/** The protected dataset is as it was; the playground dataset holds exactly the items pushed with a 201. */
async function datasetProblems(ctx: TestContext, fx: FuzzFixture, model: unknown[]): Promise<string[]> {
  const t = fx.targets;
  const problems: string[] = [];
  const prot = await copyDataset(ctx, t.datasetId, t.alice);
  if (prot.items !== fx.datasetBefore.items) problems.push(`protected dataset items: ${prot.items.slice(0, 300)}`);
  if (JSON.stringify(prot.fields) !== JSON.stringify(fx.datasetBefore.fields))
    problems.push(`protected dataset changed: ${JSON.stringify(prot.fields)}, was ${JSON.stringify(fx.datasetBefore.fields)}`);
  const play = await copyDataset(ctx, t.datasetPlaygroundId, t.alice);
  const items = JSON.parse(play.items) as unknown[];
  if (play.fields.itemCount !== model.length || items.length !== model.length)
    problems.push(`playground dataset: itemCount ${play.fields.itemCount}, ${items.length} items read, ${model.length} pushed`);
  else if (!sameJson(items, model)) problems.push('playground dataset: the items read back are not the ones pushed');
  return problems;
}
