import type { IncomingHttpHeaders } from 'node:http';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { recordSignature } from '../../src/domain/signing.js';
import type { TestContext } from '../helpers/context.js';
import { pseudoRandomBytes, recordUrl } from '../helpers/records.js';
import type { FuzzRoute, FuzzTargets } from './fuzz-arbitraries.js';
import type { FuzzRequest } from './fuzz-requests.js';

/**
 * The fuzz tests' world: stores seeded before the run, the rules that keep the fuzz from making
 * legitimate changes to them, the judgement of every answer, and the check that nothing was lost.
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
  for (const [key, rec] of (await copyStore(ctx, play.id, ctx.alice)).records) playground.set(key, rec);
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
    },
    protectedBefore,
    bobBefore: await copyStore(ctx, bobs.id, ctx.bob),
    playground,
  };
}

type Target = 'P' | 'B' | 'W' | 'named' | 'other' | 'none';
const WRITES = new Set(['PUT', 'POST', 'DELETE', 'PATCH']);

/** Which seeded store a route names (as the router would decode it). */
function targetOf(t: FuzzTargets, r: FuzzRoute): Target {
  if (r.kind === 'collection') return 'none';
  if (r.ref === undefined) return 'other';
  let ref: string;
  try {
    ref = decodeURIComponent(r.ref);
  } catch {
    return 'other';
  }
  if (ref === t.protectedId || ref === `alice~${t.protectedName}`) return 'P';
  if (ref === t.bobStoreId || ref === `bob~${t.bobStoreName}`) return 'B';
  if (ref === t.playgroundId) return 'W';
  // `~name` means a store of the caller: which one depends on the token.
  return ref.includes('~') ? 'named' : 'other';
}

/** A token that is almost `token` and therefore invalid. */
const nearMiss = (token: string) => `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;

/** The encoding a record is stored with, given the Content-Encoding its upload declared (when accepted). */
export function storedEncoding(value: string | undefined): string | null {
  const v = (value ?? '').trim().toLowerCase();
  if (v === '' || v === 'identity') return null;
  return v === 'x-gzip' ? 'gzip' : v;
}

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders | Record<string, unknown>;
  body: Buffer;
}

/** A short, readable account of a request, for failure messages. */
export function describe(req: FuzzRequest): string {
  const url = req.query ? `${req.route.path}?${req.query}` : req.route.path;
  const body =
    req.body.length === 0 ? '' : ` body(${req.body.length} B)=${JSON.stringify(req.body.subarray(0, 60).toString('latin1'))}`;
  return `${req.method} ${url.slice(0, 300)} ${JSON.stringify(req.headers).slice(0, 400)}${body}`;
}

/**
 * Keeps the fuzz from making legitimate changes to the seeded stores, judges every answer, and
 * models what the playground store must hold after the run.
 */
export class FuzzJudge {
  requests = 0;
  readonly model: Map<string, RecordCopy>;
  readonly #t: FuzzTargets;
  readonly #violations = new Map<string, { count: number; sample: string }>();

  constructor(targets: FuzzTargets, playground: Map<string, RecordCopy>) {
    this.#t = targets;
    this.model = new Map(playground);
  }

  /**
   * A write may carry the owner's token only towards the playground by its literal id (and not to
   * delete it); elsewhere the owner's token is replaced by an invalid near-miss.
   */
  prepare(req: FuzzRequest): FuzzRequest {
    if (!WRITES.has(req.method)) return req;
    const target = targetOf(this.#t, req.route);
    const banned: string[] = [];
    if (target === 'P') banned.push(this.#t.alice);
    else if (target === 'B') banned.push(this.#t.bob);
    else if (target === 'W') {
      if (req.route.kind === 'store' && req.method === 'DELETE') banned.push(this.#t.alice);
    } else if (target !== 'none') banned.push(this.#t.alice, this.#t.bob);
    if (banned.length === 0) return req;
    const scrub = (s: string) => banned.reduce((acc, tok) => acc.split(tok).join(nearMiss(tok)), s);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) headers[k] = scrub(v);
    return { ...req, query: scrub(req.query), headers, body: req.body };
  }

  judge(req: FuzzRequest, res: Answer): void {
    this.requests++;
    const kind = `${req.method} ${req.route.kind}`;
    if (res.status >= 500) this.#add(`${res.status} answer (${kind})`, req, res);
    if (res.status >= 400 && req.method !== 'HEAD' && !isEnvelope(res)) {
      this.#add(`${res.status} without the error envelope, ${String(res.headers['content-type'])} (${req.method})`, req, res);
    }
    if (req.method === 'HEAD' && res.body.length > 0) this.#add(`HEAD answered with a body (${kind})`, req, res);
    const target = targetOf(this.#t, req.route);
    const carriesAlice = req.query.includes(this.#t.alice) || Object.values(req.headers).some((v) => v.includes(this.#t.alice));
    if (WRITES.has(req.method) && target !== 'none') {
      if (res.status < 400 && !(target === 'W' && carriesAlice)) {
        this.#add(`write accepted without the owner's token: ${res.status} (${kind} on ${target})`, req, res);
      }
      if (target === 'W' && carriesAlice && req.route.kind === 'record') this.#model(req, res);
    }
  }

  #model(req: FuzzRequest, res: Answer): void {
    if (res.status >= 300) return;
    let key: string;
    try {
      key = decodeURIComponent(req.route.key ?? '');
    } catch {
      this.#add(`write acknowledged for a key that does not decode: ${res.status}`, req, res);
      return;
    }
    if (req.method === 'DELETE') {
      if (res.status !== 204) this.#add(`record DELETE answered ${res.status}`, req, res);
      this.model.delete(key);
      return;
    }
    if (res.status !== 201) this.#add(`record write answered ${res.status}`, req, res);
    this.model.set(key, {
      contentType: req.headers['content-type'] || 'application/octet-stream',
      contentEncoding: storedEncoding(req.headers['content-encoding']),
      bytes: req.body,
    });
  }

  #add(what: string, req: FuzzRequest, res: Answer): void {
    const seen = this.#violations.get(what);
    if (seen) seen.count++;
    else {
      const answer = `${res.status} ${res.body.subarray(0, 160).toString('utf8')}`;
      this.#violations.set(what, { count: 1, sample: `${describe(req)}\n      → ${answer}` });
    }
  }

  /** One line per kind of violation, with how often it happened and one request that caused it. */
  violations(): string[] {
    return [...this.#violations].map(([what, v]) => `${what} ×${v.count}\n      e.g. ${v.sample}`);
  }
}

/** Whether an answer is the Apify error envelope `{"error":{"type","message"}}`. */
export function isEnvelope(res: Answer): boolean {
  if (!/^application\/json/.test(String(res.headers['content-type'] ?? ''))) return false;
  try {
    const body = JSON.parse(res.body.toString('utf8')) as { error?: { type?: unknown; message?: unknown } };
    return typeof body.error?.type === 'string' && typeof body.error.message === 'string';
  } catch {
    return false;
  }
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
  problems.push(...(await statsProblems(ctx, t.alice)), ...(await statsProblems(ctx, t.bob)));
  return problems;
}
