import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestContext, TEST_DRIVER, type TestContext } from '../helpers/context.js';
import { exchange } from '../helpers/raw-socket.js';
import { type FuzzTargets, hostileQuery, hostileTargets, printable, query, route } from './fuzz-arbitraries.js';
import { copyStore, type FuzzFixture, integrityProblems, type RecordCopy, seedFuzzStores } from './fuzz-fixture.js';
import { hostileStoreBody } from './fuzz-json.js';
import { isEnvelope, storedEncoding } from './fuzz-judge.js';
import { body as bodyArb, hostileHeader, OBS_TEXT } from './fuzz-requests.js';

/**
 * Wire-level fuzzing over real connections: request lines, header lines and body framing that
 * no HTTP client library would produce. Whatever arrives, the server never answers 5xx, every
 * refusal it writes is the error envelope, and the stores come out intact.
 *
 * OPENKVS_FUZZ_SEED replays a run; OPENKVS_FUZZ_WIRE_MS sets how long it runs (default 8 s).
 */

const FUZZ_MS = Number(process.env.OPENKVS_FUZZ_WIRE_MS ?? 8000);
const SEED = Number(process.env.OPENKVS_FUZZ_SEED ?? Date.now() % 2 ** 31);
/** Requests in flight at once (each batch of a property run). */
const PARALLEL = 16;
/** How long a request may wait for an answer; framing that promises more bytes waits this long. */
const WAIT_MS = 1500;

type Framing = 'length' | 'chunked' | 'none' | 'short-length' | 'bad-chunks' | 'length-and-chunked';

interface WireRequest {
  method: string;
  target: string;
  version: string;
  eol: string;
  host: boolean;
  auth: string | undefined;
  lines: string[];
  framing: Framing;
  body: Buffer;
  contentEncoding: string | undefined;
  /** Sent instead as an authorized PUT of a fresh key to the playground store (alice's token). */
  playgroundWrite: boolean;
  /** Sent instead as bob's creation of a store from `storeBody` (when not a playground write). */
  storeCreate: boolean;
  storeBody: Buffer;
}

const SPECIAL_LINES = [
  'NoColon',
  ': empty-name',
  'X-Fold: a\r\n  folded',
  'X-Nul: a\u0000b',
  'X-Bad\u0001: x',
  ' Leading: space',
  'Transfer-Encoding: chunked',
  'Transfer-Encoding: gzip, chunked',
  'Transfer-Encoding: chunked, identity',
  'Transfer-Encoding: xchunked',
  'Content-Length: -1',
  'Content-Length: 1e3',
  'Content-Length: 99999999999999999999',
  'Content-Length: 5, 6',
  'Content-Length: 0x10',
  'Expect: 100-continue',
  'Expect: garbage',
  'Connection: close',
  'Connection: upgrade',
  'Upgrade: h2c',
  'Host: a',
  'Host:',
  `X-Long: ${'a'.repeat(20_000)}`,
  'Accept-Encoding: gzip, br',
  'Range: bytes=0-1',
  'If-None-Match: *',
];

function wireRequest(t: FuzzTargets): fc.Arbitrary<WireRequest> {
  // Valid tokens travel only in the Authorization header, where `encode` rules over them.
  const noTokens = (q: string) => q.split(t.alice).join('x').split(t.bob).join('x');
  const queryText = fc.oneof(printable(30), query(t).map(noTokens), hostileQuery(t));
  const target = fc.oneof(
    {
      weight: 6,
      arbitrary: fc.tuple(route(t), fc.option(queryText, { nil: undefined })).map(([r, q]) => (q ? `${r.path}?${q}` : r.path)),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '*',
        '//',
        'http://evil.example/health',
        '/health#frag',
        '/ health',
        '/\u0000',
        '/%00',
        '',
        '/?',
        `/${'a'.repeat(9000)}`,
      ),
    },
    { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 30 }) },
  );
  const line = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...SPECIAL_LINES) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(
          fc.constantFrom('Content-Type', 'Accept-Encoding', 'Range', 'If-Match', 'Origin', 'Cookie', 'X-Any'),
          printable(40),
        )
        .map(([n, v]) => `${n}: ${v}`),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.string({ unit: 'binary-ascii', maxLength: 10 }), fc.string({ unit: 'binary-ascii', maxLength: 30 }))
        .map(([n, v]) => `${n}: ${v}`),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          fc.constantFrom('Content-Type', 'Content-Encoding', 'If-Match', 'If-None-Match', 'Range', 'Origin', 'X-Any'),
          hostileHeader(printable(20)),
        )
        .map(([n, v]) => `${n}: ${v}`),
    },
  );
  return fc.record({
    method: fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom('GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'OPTIONS') },
      { weight: 1, arbitrary: fc.constantFrom('PATCH', 'TRACE', 'PROPFIND', 'CONNECT', 'get', 'G ET', '') },
      { weight: 1, arbitrary: printable(8) },
    ),
    target,
    version: fc.oneof(
      { weight: 8, arbitrary: fc.constant('HTTP/1.1') },
      { weight: 2, arbitrary: fc.constantFrom('HTTP/1.0', 'HTTP/2.0', 'HTTP/0.9', 'HTTP/1.1x', 'http/1.1', 'HTTP/1', '') },
    ),
    eol: fc.oneof({ weight: 12, arbitrary: fc.constant('\r\n') }, { weight: 1, arbitrary: fc.constantFrom('\n', '\r') }),
    host: fc.oneof({ weight: 9, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    auth: fc.oneof(
      fc.constant(undefined),
      fc.constantFrom(`Bearer ${t.bob}`, `Bearer ${t.alice.slice(0, -1)}`, 'Bearer', 'Basic Zm9vOmJhcg=='),
      printable(40),
    ),
    lines: fc.array(line, { maxLength: 4 }),
    framing: fc.constantFrom<Framing>('length', 'length', 'chunked', 'none', 'short-length', 'bad-chunks', 'length-and-chunked'),
    body: bodyArb.map((b) => b.bytes),
    contentEncoding: bodyArb.map((b) => b.contentEncoding),
    playgroundWrite: fc.oneof({ weight: 6, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    storeCreate: fc.oneof({ weight: 6, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    storeBody: hostileStoreBody,
  });
}

/** The request's bytes. Valid tokens: bob's only on GET and HEAD, alice's only on playground writes. */
function encode(req: WireRequest, t: FuzzTargets, key: string | undefined): Buffer {
  const { eol } = req;
  const create = !key && req.storeCreate;
  const fixed = key !== undefined || create;
  const method = key ? 'PUT' : create ? 'POST' : req.method;
  const target = key ? `/v2/key-value-stores/${t.playgroundId}/records/${key}` : create ? '/v2/key-value-stores' : req.target;
  const head = [`${method} ${target} ${fixed ? 'HTTP/1.1' : req.version}`];
  if (req.host || fixed) head.push('Host: 127.0.0.1');
  let auth = req.auth;
  if (key) auth = `Bearer ${t.alice}`;
  else if (create) auth = `Bearer ${t.bob}`;
  else if (auth?.includes(t.bob) && method !== 'GET' && method !== 'HEAD') auth = 'Bearer nobody';
  if (auth !== undefined) head.push(`Authorization: ${auth}`);
  if (req.contentEncoding !== undefined && !create) head.push(`Content-Encoding: ${req.contentEncoding}`);
  head.push(...(fixed ? [] : req.lines));
  if (create) head.push('Content-Type: application/json');
  const framing: Framing = fixed && req.framing !== 'chunked' ? 'length' : req.framing;
  const body = create ? req.storeBody : req.body;
  let payload: Buffer = body;
  if (framing === 'length') head.push(`Content-Length: ${body.length}`);
  if (framing === 'short-length') head.push(`Content-Length: ${body.length + 7}`);
  if (framing === 'length-and-chunked') head.push(`Content-Length: ${body.length}`, 'Transfer-Encoding: chunked');
  if (framing === 'chunked' || framing === 'length-and-chunked') {
    head.push('Transfer-Encoding: chunked');
    const half = Math.floor(body.length / 2);
    const chunk = (b: Buffer) => (b.length ? [Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from('\r\n')] : []);
    payload = Buffer.concat([...chunk(body.subarray(0, half)), ...chunk(body.subarray(half)), Buffer.from('0\r\n\r\n')]);
  }
  if (framing === 'bad-chunks') {
    head.push('Transfer-Encoding: chunked');
    payload = Buffer.concat([Buffer.from('zz\r\n'), body, Buffer.from('\r\n0\r\n\r\n')]);
  }
  return Buffer.concat([Buffer.from(head.join(eol) + eol + eol, 'latin1'), payload]);
}

let ctx: TestContext;
let port: number;
let fx: FuzzFixture;
const outcomes = { answered: 0, closedSilently: 0, timedOut: 0 };
const violations = new Map<string, { count: number; sample: string }>();
/** Playground keys whose PUT was answered 201 (with what was sent), or whose outcome is unknown (null). */
const written = new Map<string, RecordCopy | null>();

function violation(what: string, sent: Buffer, got: string): void {
  const seen = violations.get(what);
  if (seen) seen.count++;
  else violations.set(what, { count: 1, sample: `${JSON.stringify(sent.subarray(0, 300).toString('latin1'))}\n      → ${got}` });
}

beforeAll(async () => {
  ctx = await createTestContext();
  fx = await seedFuzzStores(ctx);
  port = Number(new URL(await ctx.listen()).port);
});
afterAll(() => ctx.close());

/** What a real connection answers to `bytes`, judged: no 5xx, no silent close, every refusal the envelope. */
async function judgeWire(bytes: Buffer, head = false): Promise<void> {
  const ex = await exchange(port, [bytes], { timeoutMs: WAIT_MS, head });
  const res = ex.response;
  if (!res) {
    violation(ex.closed ? 'closed without an answer' : 'no answer', bytes, ex.closed ? '(closed)' : '(timed out)');
    return;
  }
  const got = `${res.status} ${res.body.subarray(0, 160).toString('utf8')}`;
  if (res.status >= 500) violation(`answered ${res.status}`, bytes, got);
  if (res.status >= 400 && !head && !isEnvelope({ status: res.status, headers: res.headers, body: res.body })) {
    violation(`${res.status} without the error envelope (${res.headers['content-type'] ?? 'no content-type'})`, bytes, got);
  }
}

it('every fixed hostile URL and header value, sent as raw bytes: no 5xx, every refusal is the error envelope', async () => {
  const t = fx.targets;
  const requests = hostileTargets(t).map(({ path, query, anonymous }) => {
    const auth = anonymous ? '' : `Authorization: Bearer ${t.bob}\r\n`;
    return Buffer.from(`GET ${query ? `${path}?${query}` : path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}\r\n`, 'latin1');
  });
  for (const junk of OBS_TEXT) {
    for (const header of ['Content-Type', 'If-None-Match', 'If-Match', 'Range', 'Accept-Encoding', 'Origin', 'Cookie']) {
      const line = `${header}: a${junk}b`;
      const record = `/v2/key-value-stores/${t.bobStoreId}/records/bob-record`;
      requests.push(
        Buffer.from(`GET ${record} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${t.bob}\r\n${line}\r\n\r\n`, 'latin1'),
      );
    }
  }
  for (let i = 0; i < requests.length; i += PARALLEL) await Promise.all(requests.slice(i, i + PARALLEL).map((b) => judgeWire(b)));
  const report = [...violations].map(([what, v]) => `${what} ×${v.count}\n      e.g. ${v.sample}`);
  violations.clear();
  expect(report).toEqual([]);
});

it(
  'malformed requests on real connections: no 5xx, every refusal is the error envelope',
  async () => {
    let nextKey = 0;
    let inFlight: Promise<unknown> = Promise.resolve();
    const t = fx.targets;
    const run = async (req: WireRequest) => {
      const key = req.playgroundWrite ? `wire-${nextKey++}` : undefined;
      const bytes = encode(req, t, key);
      const head = !key && !req.storeCreate && req.method === 'HEAD';
      const ex = await exchange(port, [bytes], { timeoutMs: WAIT_MS, head });
      const res = ex.response;
      if (!res) {
        if (ex.closed) outcomes.closedSilently++;
        else outcomes.timedOut++;
        // node:http drops CONNECT requests (no 'connect' listener); anything else deserves an answer.
        if (ex.closed && !bytes.toString('latin1').startsWith('CONNECT '))
          violation('closed without an answer', bytes, '(closed)');
        if (key) written.set(key, null);
        return;
      }
      outcomes.answered++;
      const got = `${res.status} ${res.body.subarray(0, 160).toString('utf8')}`;
      if (!(res.status >= 100 && res.status < 500)) violation(`answered ${res.status}`, bytes, got);
      if (res.status >= 400 && !head && !isEnvelope({ status: res.status, headers: res.headers, body: res.body })) {
        violation(`${res.status} without the error envelope (${res.headers['content-type'] ?? 'no content-type'})`, bytes, got);
      }
      if (key && res.status === 201) {
        const sent = {
          contentType: 'application/octet-stream',
          contentEncoding: storedEncoding(req.contentEncoding),
          bytes: req.body,
        };
        written.set(key, req.framing === 'length' || req.framing === 'chunked' ? sent : null);
      }
      if (key && res.status !== 201 && res.status < 400) violation(`playground PUT answered ${res.status}`, bytes, got);
    };
    await fc.assert(
      fc.asyncProperty(fc.array(wireRequest(t), { minLength: PARALLEL, maxLength: PARALLEL }), async (batch) => {
        inFlight = Promise.all(batch.map(run));
        await inFlight;
      }),
      { seed: SEED, numRuns: 100_000, plugins: [fc.interruptAfterTimeLimit(FUZZ_MS)] },
    );
    // The time limit ends the run without waiting for the batch in flight.
    await inFlight;
    const total = outcomes.answered + outcomes.closedSilently + outcomes.timedOut;
    console.info(
      `wire fuzz (${TEST_DRIVER}, seed ${SEED}): ${total} requests — ${outcomes.answered} answered, ` +
        `${outcomes.closedSilently} closed without an answer, ${outcomes.timedOut} still waiting for bytes after ${WAIT_MS} ms`,
    );
    expect(outcomes.answered).toBeGreaterThan(100);
    const report = [...violations].map(([what, v]) => `${what} ×${v.count}\n      e.g. ${v.sample}`);
    expect(report, `seed ${SEED}`).toEqual([]);
  },
  FUZZ_MS + 60_000,
);

it('afterwards the seeded stores are intact, acknowledged uploads are there, and the stats add up', async () => {
  const t = fx.targets;
  // Uploads whose answer never came may or may not have landed; the rest must be exactly as acknowledged.
  const play = await copyStore(ctx, t.playgroundId, t.alice);
  const model = new Map(fx.playground);
  for (const [key, sent] of written) {
    const stored = play.records.get(key);
    if (sent) model.set(key, sent);
    else if (stored) model.set(key, stored);
  }
  expect(await integrityProblems(ctx, fx, model), `seed ${SEED}`).toEqual([]);
  const health = await ctx.request({ method: 'GET', url: '/health' });
  expect(health.statusCode).toBe(200);
});
