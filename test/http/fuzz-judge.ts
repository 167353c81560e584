import type { IncomingHttpHeaders } from 'node:http';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import type { FuzzRoute, FuzzTargets } from './fuzz-arbitraries.js';
import type { RecordCopy } from './fuzz-fixture.js';
import type { FuzzRequest } from './fuzz-requests.js';

/** The fuzz tests' judge: what each answer may be, given who asked for what. */

/** The fields of a store that `PUT /v2/key-value-stores/{storeId}` may change. */
export interface StoreFields {
  name: unknown;
  title: unknown;
  generalAccess: unknown;
}

export const pickFields = (data: Record<string, unknown>): StoreFields => ({
  name: data.name,
  title: data.title,
  generalAccess: data.generalAccess,
});

/**
 * P, B, W: the protected, bob's and the playground store; D, DW: the protected and the playground
 * dataset; Q, QW: the protected and the playground request queue.
 */
type Target = 'P' | 'B' | 'W' | 'D' | 'DW' | 'Q' | 'QW' | 'named' | 'other' | 'none';
const WRITES = new Set(['PUT', 'POST', 'DELETE', 'PATCH']);
const DATASET_KINDS = new Set(['dataset', 'items', 'statistics']);
const QUEUE_KINDS = new Set(['queue', 'queue-content']);

/** Which seeded store or dataset a route names (as the router would decode it). */
function targetOf(t: FuzzTargets, r: FuzzRoute): Target {
  if (r.kind === 'collection' || r.kind === 'datasets' || r.kind === 'queues') return 'none';
  if (r.ref === undefined) return 'other';
  let ref: string;
  try {
    ref = decodeURIComponent(r.ref);
  } catch {
    return 'other';
  }
  if (QUEUE_KINDS.has(r.kind)) {
    if (ref === t.queueId || ref === `alice~${t.queueName}`) return 'Q';
    if (ref === t.queuePlaygroundId) return 'QW';
    return ref.includes('~') ? 'named' : 'other';
  }
  if (DATASET_KINDS.has(r.kind)) {
    if (ref === t.datasetId || ref === `alice~${t.datasetName}`) return 'D';
    if (ref === t.datasetPlaygroundId) return 'DW';
    return ref.includes('~') ? 'named' : 'other';
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
  /** What the playground store's fields must read back as. */
  #store: StoreFields;
  /** An update was accepted whose body the judge cannot read: the next read-back becomes the model. */
  #storeUnknown = false;
  /** The items the playground dataset must hold: those it held, then those of every push answered 201. */
  readonly datasetModel: unknown[];

  constructor(
    targets: FuzzTargets,
    playground: Map<string, RecordCopy>,
    playgroundFields: StoreFields,
    datasetPlayground: unknown[] = [],
  ) {
    this.#t = targets;
    this.model = new Map(playground);
    this.#store = { ...playgroundFields };
    this.datasetModel = [...datasetPlayground];
  }

  /** The playground store's fields as the updates so far must have left them (undefined when unknown). */
  get storeModel(): StoreFields | undefined {
    return this.#storeUnknown ? undefined : this.#store;
  }

  /**
   * A write may carry the owner's token only towards the playgrounds by their literal ids (not to
   * delete the store; only to push items to the dataset); elsewhere the owner's token is replaced
   * by an invalid near-miss.
   */
  prepare(req: FuzzRequest): FuzzRequest {
    if (!WRITES.has(req.method)) return req;
    const target = targetOf(this.#t, req.route);
    const banned: string[] = [];
    if (target === 'P' || target === 'D' || target === 'Q') banned.push(this.#t.alice);
    else if (target === 'QW') {
      if (req.route.kind !== 'queue-content') banned.push(this.#t.alice);
    } else if (target === 'B') banned.push(this.#t.bob);
    else if (target === 'W') {
      if (req.route.kind === 'store' && req.method === 'DELETE') banned.push(this.#t.alice);
    } else if (target === 'DW') {
      if (!this.#isDatasetPush(req)) banned.push(this.#t.alice);
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
    const carriesAlice = carries(req, this.#t.alice);
    if (WRITES.has(req.method) && target !== 'none') {
      const mayWrite =
        (target === 'W' ||
          (target === 'DW' && this.#isDatasetPush(req)) ||
          (target === 'QW' && req.route.kind === 'queue-content')) &&
        carriesAlice;
      if (res.status < 400 && !mayWrite) {
        this.#add(`write accepted without the owner's token: ${res.status} (${kind} on ${target})`, req, res);
      }
      if (target === 'DW' && mayWrite) this.#modelPush(req, res);
      if (target === 'W' && carriesAlice && req.route.kind === 'record') this.#model(req, res);
      if (this.#isPlaygroundUpdate(req) && res.status < 300) this.#modelStore(req, res);
    }
  }

  /**
   * Reads back what an answered store write must have left: the playground's fields after any
   * update (accepted or refused), a new store's name and schema exactly as sent.
   */
  async followUp(req: FuzzRequest, res: Answer, read: (url: string, token: string) => Promise<Answer>): Promise<void> {
    if (this.#isPlaygroundUpdate(req)) {
      const back = await read(`/v2/key-value-stores/${this.#t.playgroundId}`, this.#t.alice);
      const data = dataOf(back);
      if (!data) {
        this.#add(`playground store unreadable after an update answered ${res.status}`, req, back);
        return;
      }
      const got = pickFields(data);
      if (!this.#storeUnknown && !sameJson(got, this.#store)) {
        const what = res.status < 300 ? `accepted (${res.status})` : `refused (${res.status})`;
        this.#add(`playground store reads back other fields than expected after an update ${what}`, req, back, {
          expected: this.#store,
          got,
        });
      }
      this.#store = got;
      this.#storeUnknown = false;
    }
    if (req.method === 'POST' && req.route.kind === 'collection' && res.status === 201) await this.#checkCreated(req, res, read);
  }

  #isDatasetPush(req: FuzzRequest): boolean {
    return req.method === 'POST' && req.route.kind === 'items';
  }

  /** A push to the playground dataset: 201 only for a JSON object or an array of objects, which the model then takes. */
  #modelPush(req: FuzzRequest, res: Answer): void {
    if (res.status >= 300) return;
    if (res.status !== 201) this.#add(`push answered ${res.status}`, req, res);
    // A push body may start with a byte order mark, which is not part of it.
    const sent = sentJson(req, true);
    const items = Array.isArray(sent.value) ? sent.value : [sent.value];
    const objects = items.every((i) => typeof i === 'object' && i !== null && !Array.isArray(i));
    if (sent.problem || sent.value === undefined || !objects) {
      this.#add(
        `push accepted (${res.status}) a body that ${sent.problem ?? 'is not an object or an array of objects'}`,
        req,
        res,
      );
      return;
    }
    this.datasetModel.push(...items);
  }

  #isPlaygroundUpdate(req: FuzzRequest): boolean {
    return (
      req.method === 'PUT' && req.route.kind === 'store' && targetOf(this.#t, req.route) === 'W' && carries(req, this.#t.alice)
    );
  }

  /** An accepted update of the playground: the answer shows exactly the fields sent, and the model takes them. */
  #modelStore(req: FuzzRequest, res: Answer): void {
    const sent = sentJson(req);
    const body = sent.value;
    if (sent.problem || typeof body !== 'object' || body === null || Array.isArray(body)) {
      this.#add(`store update accepted (${res.status}) a body that ${sent.problem ?? 'is not a JSON object'}`, req, res);
      this.#storeUnknown = true;
      return;
    }
    const b = body as Record<string, unknown>;
    const next = { ...this.#store };
    if ('name' in b) next.name = b.name;
    if ('title' in b) next.title = b.title;
    if (b.generalAccess !== null && b.generalAccess !== undefined) next.generalAccess = b.generalAccess;
    const answered = dataOf(res);
    if (!answered || !sameJson(pickFields(answered), next)) {
      this.#add('store update answered other fields than were sent', req, res, { expected: next });
    }
    this.#store = next;
  }

  /** A store created from a body: its name and schema, in the answer and read back, are the ones sent. */
  async #checkCreated(req: FuzzRequest, res: Answer, read: (url: string, token: string) => Promise<Answer>): Promise<void> {
    const created = dataOf(res);
    if (!created) {
      this.#add('store creation answered 201 without a store', req, res);
      return;
    }
    const sent = sentJson(req);
    const body = sent.value ?? {};
    if (sent.problem || typeof body !== 'object' || body === null || Array.isArray(body)) {
      this.#add(`store creation accepted a body that ${sent.problem ?? 'is not a JSON object'}`, req, res);
      return;
    }
    const b = body as Record<string, unknown>;
    const expected: Record<string, unknown> = { schema: b.schema ?? null };
    // A `name` in the query wins over the body's; the query parser's view of a hostile query is not modelled.
    if (!req.query.includes('name')) expected.name = typeof b.name === 'string' && b.name !== '' ? b.name : null;
    const token = created.username === 'alice' ? this.#t.alice : created.username === 'bob' ? this.#t.bob : undefined;
    const back = token ? await read(`/v2/key-value-stores/${String(created.id)}`, token) : undefined;
    const readBack = back ? dataOf(back) : undefined;
    if (!readBack) this.#add(`new store unreadable by its owner (${created.username})`, req, back ?? res);
    for (const [how, data, answer] of [
      ['answers', created, res],
      ['reads back', readBack, back],
    ] as const) {
      if (!data || !answer) continue;
      for (const [field, want] of Object.entries(expected)) {
        if (!sameJson(data[field], want))
          this.#add(`new store ${how} another ${field} than was sent`, req, answer, { expected: want, got: data[field] });
      }
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

  #add(what: string, req: FuzzRequest, res: Answer, detail?: Record<string, unknown>): void {
    const seen = this.#violations.get(what);
    if (seen) seen.count++;
    else {
      const answer = `${res.status} ${res.body.subarray(0, 160).toString('utf8')}`;
      const more = detail ? `\n      ${JSON.stringify(detail, showNonFinite).slice(0, 300)}` : '';
      this.#violations.set(what, { count: 1, sample: `${describe(req)}\n      → ${answer}${more}` });
    }
  }

  /** One line per kind of violation, with how often it happened and one request that caused it. */
  violations(): string[] {
    return [...this.#violations].map(([what, v]) => `${what} ×${v.count}\n      e.g. ${v.sample}`);
  }

  /** The violations so far, forgotten afterwards (for a test that shares the judge with the next). */
  takeViolations(): string[] {
    const found = this.violations();
    this.#violations.clear();
    return found;
  }
}

/** JSON.stringify would show Infinity as the null it is stored as. */
const showNonFinite = (_key: string, value: unknown) =>
  typeof value === 'number' && !Number.isFinite(value) ? String(value) : value;

const carries = (req: FuzzRequest, token: string) =>
  req.query.includes(token) || Object.values(req.headers).some((v) => v.includes(token));

/** `data` of a JSON answer, when it is one. */
function dataOf(res: Answer): Record<string, unknown> | undefined {
  try {
    const data = (JSON.parse(res.body.toString('utf8')) as { data?: unknown }).data;
    return typeof data === 'object' && data !== null ? (data as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Strict UTF-8 that keeps a byte order mark, as the server reads JSON bodies. */
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The JSON value a request body carries, decoded as the server must decode it; `problem` says why it
 * cannot be. `skipBom`: a leading byte order mark is dropped (dataset pushes), not refused.
 */
export function sentJson(req: FuzzRequest, skipBom = false): { value?: unknown; problem?: string } {
  let bytes = req.body;
  const encoding = storedEncoding(req.headers['content-encoding']);
  try {
    if (encoding === 'gzip') bytes = gunzipSync(bytes);
    else if (encoding === 'deflate') bytes = inflateSync(bytes);
    else if (encoding === 'br') bytes = brotliDecompressSync(bytes);
    else if (encoding !== null) return { problem: `claims Content-Encoding ${encoding}` };
  } catch {
    return { problem: 'does not decompress' };
  }
  if (bytes.length === 0) return {};
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    return { problem: 'is not UTF-8' };
  }
  try {
    return { value: JSON.parse(skipBom && text.startsWith('\uFEFF') ? text.slice(1) : text) };
  } catch {
    return { problem: 'is not JSON' };
  }
}

/**
 * Deep equality of parsed JSON: key order aside, the same values (Infinity is not the null it is
 * stored as). Walks with its own stack: bodies nest 100 000 deep.
 */
export function sameJson(a: unknown, b: unknown): boolean {
  const stack: [unknown, unknown][] = [[a, b]];
  for (let pair = stack.pop(); pair; pair = stack.pop()) {
    const [x, y] = pair;
    if (x === y) continue;
    if (typeof x !== 'object' || typeof y !== 'object' || x === null || y === null) return false;
    if (Array.isArray(x) !== Array.isArray(y)) return false;
    const xs = x as Record<string, unknown>;
    const ys = y as Record<string, unknown>;
    const keys = Object.keys(xs);
    if (keys.length !== Object.keys(ys).length) return false;
    for (const k of keys) {
      if (!Object.hasOwn(ys, k)) return false;
      stack.push([xs[k], ys[k]]);
    }
  }
  return true;
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
