import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestContext, TEST_DRIVER, type TestContext } from '../helpers/context.js';
import {
  asUrlClientSends,
  type FuzzTargets,
  HOSTILE_ESCAPES,
  HOSTILE_NUMBERS,
  hostileTargets,
  routeOf,
} from './fuzz-arbitraries.js';
import { type FuzzFixture, integrityProblems, seedFuzzStores } from './fuzz-fixture.js';
import {
  collectionHolding,
  collectionSchema,
  DEPTHS,
  deepJson,
  HOSTILE_CHARS,
  jsonObject,
  jsonText,
  RAW_BAD_UTF8,
} from './fuzz-json.js';
import { type Answer, FuzzJudge } from './fuzz-judge.js';
import { type FuzzRequest, fuzzRequest, OBS_TEXT } from './fuzz-requests.js';

/**
 * Property-based fuzzing of every endpoint in process: hostile paths, keys, query strings,
 * headers, bodies and encodings. No answer is a 5xx, every refusal is the Apify error envelope,
 * no write lands without the owner's token, a store update or creation reads back exactly as sent
 * (and a refused one changes nothing), and afterwards the stores that existed are byte-exact,
 * every acknowledged write is there and the stats add up. A fixed list of the hostile values
 * (NUL and controls, surrogates, broken UTF-8, huge numbers, deep nesting) in every position is
 * sent first, on every run.
 *
 * OPENKVS_FUZZ_SEED replays a run; OPENKVS_FUZZ_MS sets how long it runs (default 15 s).
 */

const FUZZ_MS = Number(process.env.OPENKVS_FUZZ_MS ?? 15_000);
const SEED = Number(process.env.OPENKVS_FUZZ_SEED ?? Date.now() % 2 ** 31);

let ctx: TestContext;
let fx: FuzzFixture;
let judge: FuzzJudge;
let inFlight: Promise<unknown> = Promise.resolve();
/** How often each status was answered (shown after each run, cleared between them). */
const statuses = new Map<number, number>();
const tally = () =>
  [...statuses]
    .sort(([a], [b]) => a - b)
    .map(([s, n]) => `${s}×${n}`)
    .join(' ');

beforeAll(async () => {
  ctx = await createTestContext();
  fx = await seedFuzzStores(ctx);
  judge = new FuzzJudge(fx.targets, fx.playground, fx.playgroundFields, fx.datasetPlayground);
});
afterAll(() => ctx.close());

const read = async (url: string, token: string): Promise<Answer> => {
  const res = await ctx.request({ method: 'GET', url, token });
  return { status: res.statusCode, headers: res.headers, body: res.rawPayload };
};

async function fuzzOne(generated: FuzzRequest): Promise<void> {
  // The policy must see the path the server will see: light-my-request resolves dot segments.
  const req = judge.prepare({ ...generated, route: asUrlClientSends(generated.route) });
  const res = await ctx.app.inject({
    method: req.method as 'GET',
    url: req.query ? `${req.route.path}?${req.query}` : req.route.path,
    headers: req.headers,
    payload: req.body.length > 0 ? req.body : undefined,
  });
  const answer = { status: res.statusCode, headers: res.headers, body: res.rawPayload };
  statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
  judge.judge(req, answer);
  await judge.followUp(req, answer, read);
}

const STORES = '/v2/key-value-stores';
const NO_BODY = Buffer.alloc(0);

/** Reads of every hostile URL (alice's token but where the list says anonymous), and the same keys written and names created. */
function hostileUrls(t: FuzzTargets): FuzzRequest[] {
  const request = (method: string, path: string, query: string, anonymous = false): FuzzRequest => ({
    method,
    route: routeOf(path),
    query,
    headers: anonymous ? {} : { authorization: `Bearer ${t.alice}` },
    body: NO_BODY,
  });
  const out = hostileTargets(t).map(({ path, query, anonymous }) => request('GET', path, query, anonymous));
  for (const h of HOSTILE_ESCAPES) {
    out.push(
      request('PUT', `${STORES}/${t.playgroundId}/records/k${h}`, ''),
      request('DELETE', `${STORES}/${t.playgroundId}/records/${h}`, ''),
      request('POST', STORES, `name=${h}`),
      request('POST', STORES, `name=a${h}b`),
      request('PUT', `${STORES}/${t.playgroundId}`, `name=${h}`),
    );
  }
  return out;
}

/** Header values a real socket can carry (obs-text, a tab, escapes) where the server reads them. */
function hostileHeaders(t: FuzzTargets): FuzzRequest[] {
  return OBS_TEXT.flatMap((junk, i): FuzzRequest[] => {
    const record = (method: string, store: string, key: string, headers: Record<string, string>): FuzzRequest => ({
      method,
      route: routeOf(`${STORES}/${store}/records/${key}`),
      query: '',
      headers: { authorization: `Bearer ${t.alice}`, ...headers },
      body: method === 'PUT' ? Buffer.from('x') : NO_BODY,
    });
    return [
      record('PUT', t.playgroundId, `hdr-${i}`, { 'content-type': `text/plain; charset=${junk}` }),
      record('PUT', t.playgroundId, `hdr-enc-${i}`, { 'content-type': 'text/plain', 'content-encoding': junk }),
      record('GET', t.protectedId, 'json', { 'if-none-match': `"${junk}"` }),
      record('PUT', t.playgroundId, 'w1', { 'if-match': `"${junk}"` }),
      record('GET', t.protectedId, 'binary', { range: `bytes=0-${junk}` }),
      record('GET', t.protectedId, 'gz', { 'accept-encoding': `gzip${junk}` }),
      record('GET', t.protectedId, 'json', { authorization: `Bearer ${t.alice}${junk}` }),
    ];
  });
}

/** Store bodies with every hostile JSON value at the top, in every field and inside the schema. */
function hostileBodies(t: FuzzTargets): FuzzRequest[] {
  const strings = [
    ...HOSTILE_CHARS.map((c) => JSON.stringify(`a${c}b`)),
    ...RAW_BAD_UTF8.map((bad) => jsonText('"a', bad, 'b"')),
    '"a\u0000b"',
  ];
  const values = [
    ...strings,
    ...HOSTILE_NUMBERS,
    ...DEPTHS.flatMap((n) => [deepJson(n, 'array'), deepJson(n, 'object')]),
    deepJson(5000, 'object', false),
  ];
  const body = (method: 'PUT' | 'POST', payload: string | Buffer): FuzzRequest => ({
    method,
    route: method === 'PUT' ? routeOf(`${STORES}/${t.playgroundId}`) : routeOf(STORES),
    query: '',
    headers: { authorization: `Bearer ${t.alice}`, 'content-type': 'application/json' },
    body: jsonText(payload),
  });
  const out: FuzzRequest[] = [];
  for (const v of values) {
    out.push(body('PUT', v), body('POST', v));
    for (const field of ['"name"', '"title"', '"generalAccess"']) out.push(body('PUT', jsonObject([[field, v]])));
    out.push(body('POST', jsonObject([['"name"', v]])), body('POST', jsonObject([['"schema"', v]])));
    for (const schema of [
      jsonObject([['"c"', v]]),
      collectionSchema('"c"', '"key"', v),
      collectionSchema('"c"', '"keyPrefix"', v),
      collectionHolding(v),
    ]) {
      out.push(body('POST', jsonObject([['"schema"', schema]])));
    }
  }
  for (const s of strings) {
    out.push(body('POST', jsonObject([['"schema"', jsonObject([[s, '1']])]])));
    out.push(body('POST', jsonObject([['"schema"', collectionSchema(s, '"key"', '"a"')]])));
  }
  // The same values pushed as dataset items: alone, in an item, as an item's key, in an array.
  const push = (payload: Buffer): FuzzRequest => ({
    method: 'POST',
    route: routeOf(`/v2/datasets/${t.datasetPlaygroundId}/items`),
    query: '',
    headers: { authorization: `Bearer ${t.alice}`, 'content-type': 'application/json' },
    body: payload,
  });
  for (const v of values) {
    const item = jsonObject([['"a"', v]]);
    out.push(push(jsonText(v)), push(item), push(jsonText('[', v, ']')), push(jsonText('[{"ok":1},', item, ']')));
  }
  for (const s of strings) out.push(push(jsonObject([[s, '1']])));
  return out;
}

it('no fixed hostile input (controls, surrogates, broken UTF-8, huge numbers, deep nesting) gets a 5xx; refusals are the envelope', async () => {
  const fixed = [...hostileUrls(fx.targets), ...hostileHeaders(fx.targets), ...hostileBodies(fx.targets)];
  for (const req of fixed) await fuzzOne(req);
  console.info(`fuzz (${TEST_DRIVER}): ${fixed.length} fixed hostile requests: ${tally()}`);
  statuses.clear();
  expect(judge.takeViolations()).toEqual([]);
}, 120_000);

it(
  'no fuzzed request gets a 5xx, every refusal is the error envelope, no write lands without the owner token',
  async () => {
    const before = judge.requests;
    await fc.assert(
      fc.asyncProperty(fuzzRequest(fx.targets), async (generated) => {
        inFlight = fuzzOne(generated);
        await inFlight;
      }),
      { seed: SEED, numRuns: 1_000_000, plugins: [fc.interruptAfterTimeLimit(FUZZ_MS)] },
    );
    // The time limit ends the run without waiting for the request in flight.
    await inFlight;
    const count = judge.requests - before;
    console.info(`fuzz (${TEST_DRIVER}, seed ${SEED}): ${count} requests in process: ${tally()}`);
    expect(count).toBeGreaterThan(100);
    expect(judge.takeViolations(), `seed ${SEED}`).toEqual([]);
  },
  FUZZ_MS + 60_000,
);

it('afterwards the seeded stores are byte-exact, every acknowledged write is there, and the stats add up', async () => {
  expect(await integrityProblems(ctx, fx, judge.model, judge.storeModel, judge.datasetModel), `seed ${SEED}`).toEqual([]);
  const health = await ctx.request({ method: 'GET', url: '/health' });
  expect(health.statusCode).toBe(200);
});
