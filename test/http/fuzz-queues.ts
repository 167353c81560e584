import fc from 'fast-check';
import { requestId } from '../../src/domain/queues/requests.js';
import type { TestContext } from '../helpers/context.js';
import { type FuzzTargets, HOSTILE_NUMBERS, hostileSegment, routeOf } from './fuzz-arbitraries.js';
import { hostileJsonValue, hostileStoreBody, jsonObject, jsonText } from './fuzz-json.js';
import type { FuzzRequest } from './fuzz-requests.js';

/**
 * The request queues of the fuzz tests: the queues seeded before the run, hostile writes to the
 * playground queue, and the checks afterwards (the protected queue as it was, the playground's
 * counts in agreement with its requests).
 */

const Q = '/v2/request-queues';

/** The protected queue as its owner reads it, without what reads change. */
export interface QueueCopy {
  fields: Record<string, unknown>;
  requests: string;
  locked: string;
}

export interface FuzzQueues {
  queueId: string;
  queueName: string;
  queuePlaygroundId: string;
  queueRequestIds: string[];
  queueBefore: QueueCopy;
}

const seedRequest = (n: number) => ({ uniqueKey: `https://example.com/fuzz/${n}`, url: `https://example.com/fuzz/${n}` });
/** uniqueKeys the writes draw from, so that adds, updates and deletes meet the same requests. */
const KEYS = [0, 1, 2, 3, 4, 5].map((n) => seedRequest(n).uniqueKey);

async function get(ctx: TestContext, url: string) {
  const res = await ctx.request({ method: 'GET', url, token: ctx.alice });
  if (res.statusCode !== 200) throw new Error(`GET ${url}: ${res.statusCode} ${res.body.slice(0, 300)}`);
  return res;
}

export async function copyQueue(ctx: TestContext, id: string): Promise<QueueCopy> {
  const { accessedAt: _a, stats: _s, ...fields } = (await get(ctx, `${Q}/${id}`)).json().data as Record<string, unknown>;
  const requests = (await get(ctx, `${Q}/${id}/requests?limit=10000`)).body;
  const locked = (await get(ctx, `${Q}/${id}/requests?filter=locked&limit=10000`)).body;
  return { fields, requests, locked };
}

async function createQueue(ctx: TestContext, name: string, requests: unknown[]): Promise<string> {
  const created = await ctx.request({ method: 'POST', url: `${Q}?name=${name}`, token: ctx.alice });
  if (created.statusCode !== 201) throw new Error(`creating queue ${name}: ${created.statusCode} ${created.body}`);
  const id = created.json().data.id as string;
  const add = await ctx.request({
    method: 'POST',
    url: `${Q}/${id}/requests/batch`,
    token: ctx.alice,
    payload: requests as object,
  });
  if (add.statusCode !== 201) throw new Error(`seeding queue ${name}: ${add.statusCode} ${add.body}`);
  return id;
}

/** alice's protected queue (3 requests, one locked for a week, one handled) and her playground queue. */
export async function seedFuzzQueues(ctx: TestContext): Promise<FuzzQueues> {
  const protectedRequests = [seedRequest(0), { ...seedRequest(1), userData: { a: [1] } }, { ...seedRequest(2), handledAt: 0 }];
  const queueId = await createQueue(ctx, 'fuzz-queue', protectedRequests);
  const lock = await ctx.request({
    method: 'POST',
    url: `${Q}/${queueId}/head/lock?lockSecs=604800&limit=1&clientKey=c1`,
    token: ctx.alice,
  });
  if (lock.statusCode !== 201) throw new Error(`locking: ${lock.statusCode} ${lock.body}`);
  const queuePlaygroundId = await createQueue(ctx, 'fuzz-queue-playground', [seedRequest(3), seedRequest(4)]);
  return {
    queueId,
    queueName: 'fuzz-queue',
    queuePlaygroundId,
    queueRequestIds: KEYS.map(requestId),
    queueBefore: await copyQueue(ctx, queueId),
  };
}

const uniqueKey = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...KEYS) },
  { weight: 2, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 1, arbitrary: fc.constantFrom('', 'k'.repeat(3000)) },
  // Long URLs of random characters: a btree index entry has a size limit.
  { weight: 1, arbitrary: fc.string({ minLength: 4000, maxLength: 8000 }) },
);

/** Mostly `usual`, now and then `hostile`. */
const mostly = <T>(usual: fc.Arbitrary<T>, hostile: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 8, arbitrary: usual }, { weight: 1, arbitrary: hostile });

/** A request object, mostly well-formed (so that most writes land), with hostile values now and then. */
const request = fc
  .record(
    {
      uniqueKey,
      url: mostly(fc.constant('https://example.com/x'), fc.oneof(fc.constant(''), fc.string({ maxLength: 20 }))),
      method: mostly(fc.constantFrom('GET', 'POST'), fc.jsonValue({ maxDepth: 1 })),
      userData: fc.jsonValue({ maxDepth: 3 }),
      handledAt: mostly(
        fc.oneof(
          fc.constant(null),
          fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
        ),
        fc.jsonValue({ maxDepth: 1 }),
      ),
      retryCount: fc.oneof(fc.nat(), fc.constant(-1)),
      id: mostly(fc.constant('right'), fc.string({ maxLength: 16 })),
    },
    { requiredKeys: ['uniqueKey', 'url'] },
  )
  .map(({ id, ...r }) =>
    id === undefined ? r : { ...r, id: id === 'right' && typeof r.uniqueKey === 'string' ? requestId(r.uniqueKey) : id },
  );

const requestText = fc.oneof(
  { weight: 6, arbitrary: request.map((r) => Buffer.from(JSON.stringify(r))) },
  { weight: 1, arbitrary: hostileStoreBody },
  {
    weight: 1,
    arbitrary: hostileJsonValue.map((v) =>
      jsonObject([
        ['"uniqueKey"', v],
        ['"url"', '"u"'],
      ]),
    ),
  },
);

const batchText = fc.oneof(
  { weight: 4, arbitrary: fc.array(request, { maxLength: 30 }).map((a) => Buffer.from(JSON.stringify(a))) },
  {
    weight: 1,
    arbitrary: fc
      .array(requestText, { maxLength: 3 })
      .map((b) => jsonText('[', ...b.flatMap((x, i) => (i === 0 ? [x] : [Buffer.from(','), x])), ']')),
  },
);

const deleteText = fc.oneof(
  fc
    .array(
      fc.oneof(
        uniqueKey.map((k) => ({ uniqueKey: k })),
        fc.constantFrom(...KEYS.map(requestId)).map((id) => ({ id })),
      ),
      { maxLength: 10 },
    )
    .map((a) => Buffer.from(JSON.stringify(a))),
  hostileStoreBody,
);

const clientKey = mostly(
  fc.constantFrom('c1', 'c2', 'c3', '', 'k'.repeat(32)),
  fc.oneof(fc.constant('k'.repeat(33)), hostileSegment(fc.constantFrom('c1', 'c2'))),
);
const lockSecs = mostly(fc.constantFrom('1', '60', '0.5'), fc.constantFrom('0', '-1', 'NaN', '604801', '', ...HOSTILE_NUMBERS));

/** One write to the playground queue (alice's token, its literal id), with a hostile body or query now and then. */
export function queueWrite(t: FuzzTargets): fc.Arbitrary<FuzzRequest> {
  const base = `${Q}/${t.queuePlaygroundId}`;
  const id = fc.oneof(fc.constantFrom(...t.queueRequestIds), fc.constantFrom('x', 'nosuchrequest00'));
  type Op = [method: string, below: string, body: Buffer];
  const op: fc.Arbitrary<Op> = fc.oneof(
    requestText.map((b): Op => ['POST', '/requests', b]),
    batchText.map((b): Op => ['POST', '/requests/batch', b]),
    deleteText.map((b): Op => ['DELETE', '/requests/batch', b]),
    fc.tuple(id, requestText).map(([i, b]): Op => ['PUT', `/requests/${i}`, b]),
    id.map((i): Op => ['DELETE', `/requests/${i}`, Buffer.alloc(0)]),
    fc.constant<Op>(['POST', '/head/lock', Buffer.alloc(0)]),
    id.map((i): Op => ['PUT', `/requests/${i}/lock`, Buffer.alloc(0)]),
    id.map((i): Op => ['DELETE', `/requests/${i}/lock`, Buffer.alloc(0)]),
    fc.constant<Op>(['POST', '/requests/unlock', Buffer.alloc(0)]),
  );
  const query = fc
    .record(
      {
        clientKey,
        lockSecs,
        forefront: mostly(fc.constantFrom('1', 'true', '0', ''), fc.constantFrom('maybe', '2')),
        limit: mostly(fc.constantFrom('1', '25', '0', '26'), fc.constantFrom('-1', ...HOSTILE_NUMBERS)),
      },
      { requiredKeys: [] },
    )
    .map((q) =>
      Object.entries(q)
        .map(([k, v]) => `${k}=${v}`)
        .join('&'),
    );
  return fc.record({ op, query }).map(({ op: [method, below, body], query: q }) => ({
    method,
    route: routeOf(`${base}${below}`),
    query: q,
    headers: { authorization: `Bearer ${t.alice}`, 'content-type': 'application/json' },
    body,
  }));
}

/** The protected queue is as it was; the playground's counts agree with its requests and locks. */
export async function queueProblems(ctx: TestContext, fx: FuzzQueues): Promise<string[]> {
  const problems: string[] = [];
  const now = await copyQueue(ctx, fx.queueId);
  for (const part of ['requests', 'locked'] as const) {
    if (now[part] !== fx.queueBefore[part]) problems.push(`protected queue ${part}: ${now[part].slice(0, 300)}`);
  }
  if (JSON.stringify(now.fields) !== JSON.stringify(fx.queueBefore.fields))
    problems.push(`protected queue changed: ${JSON.stringify(now.fields)}, was ${JSON.stringify(fx.queueBefore.fields)}`);
  const play = fx.queuePlaygroundId;
  const q = (await get(ctx, `${Q}/${play}`)).json().data;
  const all: { id: string; handledAt?: unknown }[] = (await get(ctx, `${Q}/${play}/requests?limit=10000`)).json().data.items;
  const pending = new Set(
    ((await get(ctx, `${Q}/${play}/requests?filter=pending&limit=10000`)).json().data.items as { id: string }[]).map((r) => r.id),
  );
  const handled = all.filter((r) => r.handledAt !== undefined && r.handledAt !== null).length;
  const counts = [q.totalRequestCount, q.handledRequestCount, q.pendingRequestCount];
  if (JSON.stringify(counts) !== JSON.stringify([all.length, handled, all.length - handled]))
    problems.push(`playground queue counts ${counts}, but it lists ${all.length} requests, ${handled} handled`);
  if (pending.size !== all.length - handled)
    problems.push(`playground queue: ${pending.size} pending listed, ${all.length - handled} expected`);
  const head: { id: string }[] = (await get(ctx, `${Q}/${play}/head?limit=1000`)).json().data.items;
  const notPending = head.filter((r) => !pending.has(r.id));
  if (notPending.length > 0)
    problems.push(`playground queue head holds requests that are not pending: ${notPending.map((r) => r.id)}`);
  return problems;
}
