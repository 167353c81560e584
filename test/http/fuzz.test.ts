import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestContext, TEST_DRIVER, type TestContext } from '../helpers/context.js';
import { asUrlClientSends } from './fuzz-arbitraries.js';
import { type FuzzFixture, FuzzJudge, integrityProblems, seedFuzzStores } from './fuzz-fixture.js';
import { type FuzzRequest, fuzzRequest } from './fuzz-requests.js';

/**
 * Property-based fuzzing of every endpoint in process: hostile paths, keys, query strings,
 * headers, bodies and encodings. No answer is a 5xx, every refusal is the Apify error envelope,
 * no write lands without the owner's token, and afterwards the stores that existed are byte-exact,
 * every acknowledged write is there and the stats add up.
 *
 * OPENKVS_FUZZ_SEED replays a run; OPENKVS_FUZZ_MS sets how long it runs (default 15 s).
 */

const FUZZ_MS = Number(process.env.OPENKVS_FUZZ_MS ?? 15_000);
const SEED = Number(process.env.OPENKVS_FUZZ_SEED ?? Date.now() % 2 ** 31);

let ctx: TestContext;
let fx: FuzzFixture;
let judge: FuzzJudge;
let inFlight: Promise<unknown> = Promise.resolve();

beforeAll(async () => {
  ctx = await createTestContext();
  fx = await seedFuzzStores(ctx);
  judge = new FuzzJudge(fx.targets, fx.playground);
});
afterAll(() => ctx.close());

async function fuzzOne(generated: FuzzRequest): Promise<void> {
  // The policy must see the path the server will see: light-my-request resolves dot segments.
  const req = judge.prepare({ ...generated, route: asUrlClientSends(generated.route) });
  const res = await ctx.app.inject({
    method: req.method as 'GET',
    url: req.query ? `${req.route.path}?${req.query}` : req.route.path,
    headers: req.headers,
    payload: req.body.length > 0 ? req.body : undefined,
  });
  judge.judge(req, { status: res.statusCode, headers: res.headers, body: res.rawPayload });
}

it(
  'no fuzzed request gets a 5xx, every refusal is the error envelope, no write lands without the owner token',
  async () => {
    await fc.assert(
      fc.asyncProperty(fuzzRequest(fx.targets), async (generated) => {
        inFlight = fuzzOne(generated);
        await inFlight;
      }),
      { seed: SEED, numRuns: 1_000_000, plugins: [fc.interruptAfterTimeLimit(FUZZ_MS)] },
    );
    // The time limit ends the run without waiting for the request in flight.
    await inFlight;
    console.info(`fuzz (${TEST_DRIVER}, seed ${SEED}): ${judge.requests} requests in process`);
    expect(judge.requests).toBeGreaterThan(100);
    expect(judge.violations(), `seed ${SEED}`).toEqual([]);
  },
  FUZZ_MS + 60_000,
);

it('afterwards the seeded stores are byte-exact, every acknowledged write is there, and the stats add up', async () => {
  expect(await integrityProblems(ctx, fx, judge.model), `seed ${SEED}`).toEqual([]);
  const health = await ctx.request({ method: 'GET', url: '/health' });
  expect(health.statusCode).toBe(200);
});
