/**
 * What the matrix does not show: nothing of alice's reaches bob, `~name` is always the caller's own
 * store, a revoked token stops at once, and `?method=` never turns a GET into a write (decision 18).
 * (The same for datasets, where it differs, is in datasets-access.test.ts.) Request queues: reads
 * with a clientKey take no lock and count no client, and a clientKey is no credential.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AuthContext,
  COLLECTION,
  createAuthContext,
  createFixture,
  expectAnswer,
  expectUnchanged,
  type Fixture,
  ownerView,
  QUEUE_CLIENT,
  QUEUE_IDS,
  queueView,
  RECORD_KEY,
  send,
} from './auth-fixtures.js';

let a: AuthContext;
beforeAll(async () => {
  a = await createAuthContext();
});
afterAll(() => a.ctx.close());

const recordUrl = (id: string, key = RECORD_KEY) => `/v2/key-value-stores/${id}/records/${key}`;

describe('decision 18: ?method= is not a method override', () => {
  let open: Fixture;
  let restricted: Fixture;
  beforeAll(async () => {
    open = await createFixture(a, 'ANYONE_WITH_ID_CAN_READ');
    restricted = await createFixture(a, 'RESTRICTED');
  });

  it.each(['DELETE', 'PUT', 'POST', 'delete'])('a token-less GET of a store with ?method=%s only reads', async (m) => {
    const res = await send(a, 'none', { method: 'GET', url: `/v2/key-value-stores/${open.id}?method=${m}` });
    expectAnswer(res, 'GET', { status: 200 });
    expect(res.json().data.id).toBe(open.id);
    await expectUnchanged(a, open);
  });

  it.each(['DELETE', 'PUT', 'POST'])('a token-less GET of a record with ?method=%s only reads', async (m) => {
    const res = await send(a, 'none', { method: 'GET', url: `${recordUrl(open.id)}?method=${m}` });
    expectAnswer(res, 'GET', { status: 200 });
    expect(res.body).toBe(open.value);
    await expectUnchanged(a, open);
  });

  it.each(['DELETE', 'PUT'])("the owner's GET of a store or record with ?method=%s only reads", async (m) => {
    const store = await send(a, 'alice', { method: 'GET', url: `/v2/key-value-stores/${open.id}?method=${m}` });
    expectAnswer(store, 'GET', { status: 200 });
    expect(store.json().data.id).toBe(open.id);
    const record = await send(a, 'alice', { method: 'GET', url: `${recordUrl(open.id)}?method=${m}` });
    expectAnswer(record, 'GET', { status: 200 });
    expect(record.body).toBe(open.value);
    await expectUnchanged(a, open);
  });

  it('GET /v2/key-value-stores?method=POST lists and creates nothing', async () => {
    const res = await send(a, 'alice', { method: 'GET', url: '/v2/key-value-stores?method=POST&name=via-override' });
    expectAnswer(res, 'GET', { status: 200 });
    expect(Array.isArray(res.json().data.items)).toBe(true);
    const created = await send(a, 'alice', { method: 'GET', url: '/v2/key-value-stores/~via-override' });
    expectAnswer(created, 'GET', { status: 404, type: 'record-not-found' });
  });

  it('a token-less GET of a RESTRICTED store with ?method=DELETE is refused and deletes nothing', async () => {
    const res = await send(a, 'none', { method: 'GET', url: `/v2/key-value-stores/${restricted.id}?method=DELETE` });
    expectAnswer(res, 'GET', { status: 404, type: 'record-or-token-not-found' });
    await expectUnchanged(a, restricted);
  });

  it('a DELETE with ?method=GET is still a DELETE', async () => {
    const f = await createFixture(a, 'RESTRICTED');
    const res = await send(a, 'alice', { method: 'DELETE', url: `${recordUrl(f.id)}?method=GET` });
    expectAnswer(res, 'DELETE', { status: 204 });
    expect((await ownerView(a, f.id)).record.statusCode).toBe(404);
  });
});

describe("nothing of alice's reaches bob", () => {
  let restricted: Fixture;
  let restrictedDataset: Fixture;
  let restrictedQueue: Fixture;
  beforeAll(async () => {
    restricted = await createFixture(a, 'RESTRICTED');
    await createFixture(a, 'ANYONE_WITH_NAME_CAN_READ');
    await a.ctx.createStore();
    await a.ctx.createStore('bobs-own', a.ctx.bob);
    restrictedDataset = await createFixture(a, 'RESTRICTED', 'dataset');
    await createFixture(a, 'ANYONE_WITH_NAME_CAN_READ', 'dataset');
    await a.ctx.request({ method: 'POST', url: '/v2/datasets?name=bobs-own', token: a.ctx.bob });
    restrictedQueue = await createFixture(a, 'RESTRICTED', 'queue');
    await createFixture(a, 'ANYONE_WITH_NAME_CAN_READ', 'queue');
    await a.ctx.request({ method: 'POST', url: '/v2/request-queues?name=bobs-own', token: a.ctx.bob });
  });

  it.each([
    ['a request that exists', `requests/${QUEUE_IDS.pending}`],
    ['a request that does not exist', 'requests/nosuchrequest00'],
    ['the head', 'head'],
    ['the head with a clientKey', `head?clientKey=${QUEUE_CLIENT}&limit=1000`],
    ['the requests', 'requests?limit=10000'],
    ['the locked requests', 'requests?filter=locked'],
  ])("bob's and a token-less GET of %s of alice's RESTRICTED queue show nothing of it", async (_label, below) => {
    const url = `${COLLECTION.queue}/${restrictedQueue.id}/${below}`;
    const asBob = await send(a, 'bob', { method: 'GET', url });
    expectAnswer(asBob, 'GET', { status: 403, type: 'insufficient-permissions' });
    const asNobody = await send(a, 'none', { method: 'GET', url });
    expectAnswer(asNobody, 'GET', { status: 404, type: 'record-or-token-not-found' });
    for (const res of [asBob, asNobody]) {
      for (const secret of [restrictedQueue.value, QUEUE_IDS.locked, QUEUE_IDS.handled, 'example.com']) {
        expect(res.body).not.toContain(secret);
      }
    }
    await expectUnchanged(a, restrictedQueue);
  });

  it.each(
    [COLLECTION.kvs, COLLECTION.dataset, COLLECTION.queue].flatMap((collection) =>
      [
        '',
        '?unnamed=1',
        '?unnamed=true&desc=1',
        '?ownership=ownedByMe&unnamed=1',
        '?ownership=sharedWithMe&unnamed=1',
        '?limit=1000&offset=0&unnamed=1',
      ].map((query) => `${collection}${query}`),
    ),
  )("bob's GET %s lists none of alice's storages", async (url) => {
    const res = await send(a, 'bob', { method: 'GET', url });
    expectAnswer(res, 'GET', { status: 200 });
    const data = res.json().data;
    for (const item of data.items) {
      expect(item.userId).toBe(a.bobId);
      expect(item.username).toBe('bob');
    }
    expect(res.body).not.toContain(a.aliceId);
    expect(data.total).toBeLessThanOrEqual(1);
  });

  it.each([
    ['GET', RECORD_KEY],
    ['GET', 'no-such-key'],
    ['HEAD', RECORD_KEY],
    ['HEAD', 'no-such-key'],
  ] as const)("bob's %s of record %s in alice's RESTRICTED store is 403, whether the key exists or not", async (method, key) => {
    const res = await send(a, 'bob', { method, url: recordUrl(restricted.id, key) });
    expectAnswer(res, method, { status: 403, type: 'insufficient-permissions' });
    expect(res.body).not.toContain(restricted.value);
  });

  it.each(['', '?format=csv', '?offset=0&limit=1', '?desc=1&fields=text'])(
    "bob's and a token-less GET of the items%s of alice's RESTRICTED dataset show none of them",
    async (query) => {
      const url = `${COLLECTION.dataset}/${restrictedDataset.id}/items${query}`;
      const asBob = await send(a, 'bob', { method: 'GET', url });
      expectAnswer(asBob, 'GET', { status: 403, type: 'insufficient-permissions' });
      const asNobody = await send(a, 'none', { method: 'GET', url });
      expectAnswer(asNobody, 'GET', { status: 404, type: 'record-or-token-not-found' });
      for (const res of [asBob, asNobody]) {
        expect(res.body).not.toContain(restrictedDataset.value);
        expect(res.headers['x-apify-pagination-total']).toBeUndefined();
      }
    },
  );

  it.each([RECORD_KEY, 'no-such-key'])(
    "a token-less GET of record %s in alice's RESTRICTED store is 404 record-or-token-not-found",
    async (key) => {
      const res = await send(a, 'none', { method: 'GET', url: recordUrl(restricted.id, key) });
      expectAnswer(res, 'GET', { status: 404, type: 'record-or-token-not-found' });
    },
  );

  it("bob can neither list the keys nor see the store object of alice's RESTRICTED store", async () => {
    const keys = await send(a, 'bob', { method: 'GET', url: `/v2/key-value-stores/${restricted.id}/keys` });
    expectAnswer(keys, 'GET', { status: 403, type: 'insufficient-permissions' });
    expect(keys.body).not.toContain(RECORD_KEY);
    const store = await send(a, 'bob', { method: 'GET', url: `/v2/key-value-stores/${restricted.id}` });
    expectAnswer(store, 'GET', { status: 403, type: 'insufficient-permissions' });
    expect(store.body).not.toContain(restricted.secret);
    expect(store.body).not.toContain(restricted.name);
  });

  it("~name is always the caller's own store, even when another user has a store of that name", async () => {
    const mine = await a.ctx.createStore('same-name', a.ctx.alice);
    const theirs = await a.ctx.createStore('same-name', a.ctx.bob);
    expect(theirs.id).not.toBe(mine.id);
    const asBob = await send(a, 'bob', { method: 'GET', url: '/v2/key-value-stores/~same-name' });
    expectAnswer(asBob, 'GET', { status: 200 });
    expect(asBob.json().data.id).toBe(theirs.id);
    const put = await send(a, 'bob', {
      method: 'PUT',
      url: '/v2/key-value-stores/~same-name/records/by-bob',
      headers: { 'content-type': 'text/plain' },
      payload: 'bob was here',
    });
    expectAnswer(put, 'PUT', { status: 201 });
    const inBobs = await send(a, 'bob', { method: 'GET', url: `${recordUrl(theirs.id, 'by-bob')}` });
    expect(inBobs.body).toBe('bob was here');
    const inAlices = await send(a, 'alice', { method: 'GET', url: `${recordUrl(mine.id, 'by-bob')}` });
    expectAnswer(inAlices, 'GET', { status: 404, type: 'record-not-found' });
  });
});

describe('tokens', () => {
  it('a token works as soon as it is added and is refused as soon as it is revoked, with no anonymous fallback', async () => {
    const f = await createFixture(a, 'ANYONE_WITH_ID_CAN_READ');
    const { token } = await a.ctx.kvs.users.addToken(a.aliceId);
    const before = await a.ctx.request({ method: 'GET', url: `/v2/key-value-stores/${f.id}`, token });
    expectAnswer(before, 'GET', { status: 200 });
    expect(before.json().data.urlSigningSecretKey).toBe(f.secret);
    expect(await a.ctx.kvs.users.revoke(token)).toBe(true);
    const ds = await createFixture(a, 'ANYONE_WITH_ID_CAN_READ', 'dataset');
    // The store is readable by anyone with its id, yet the revoked token is not treated as no token.
    const urls = [`/v2/key-value-stores/${f.id}`, `/v2/key-value-stores/${f.id}/keys`, recordUrl(f.id)];
    urls.push(`/v2/datasets/${ds.id}`, `/v2/datasets/${ds.id}/items`, `/v2/datasets/${ds.id}/statistics`);
    const queue = await createFixture(a, 'ANYONE_WITH_ID_CAN_READ', 'queue');
    const requests = `${COLLECTION.queue}/${queue.id}/requests`;
    urls.push(
      `${COLLECTION.queue}/${queue.id}`,
      `${COLLECTION.queue}/${queue.id}/head`,
      requests,
      `${requests}/${QUEUE_IDS.pending}`,
    );
    for (const url of urls) {
      const res = await a.ctx.request({ method: 'GET', url, token });
      expectAnswer(res, 'GET', { status: 401, type: 'user-or-token-not-found' });
      const viaQuery = await a.ctx.request({ method: 'GET', url: `${url}?token=${token}` });
      expectAnswer(viaQuery, 'GET', { status: 401, type: 'user-or-token-not-found' });
    }
    const write = await a.ctx.request({ method: 'DELETE', url: recordUrl(f.id), token });
    expectAnswer(write, 'DELETE', { status: 401, type: 'user-or-token-not-found' });
    const push = await a.ctx.request({
      method: 'POST',
      url: `/v2/datasets/${ds.id}/items`,
      token,
      headers: { 'content-type': 'application/json' },
      payload: '{"by":"a revoked token"}',
    });
    expectAnswer(push, 'POST', { status: 401, type: 'user-or-token-not-found' });
    const lock = await a.ctx.request({
      method: 'POST',
      url: `${COLLECTION.queue}/${queue.id}/head/lock?lockSecs=60&clientKey=${QUEUE_CLIENT}`,
      token,
    });
    expectAnswer(lock, 'POST', { status: 401, type: 'user-or-token-not-found' });
    await expectUnchanged(a, f);
    await expectUnchanged(a, ds);
    await expectUnchanged(a, queue);
    // Revoking one token leaves the user's others working.
    expectAnswer(await send(a, 'alice', { method: 'GET', url: `/v2/key-value-stores/${f.id}` }), 'GET', { status: 200 });
  });

  it('an unknown ?token= on a store anyone may read is 401, not an anonymous read', async () => {
    const f = await createFixture(a, 'ANYONE_WITH_NAME_CAN_READ');
    const res = await a.ctx.request({ method: 'GET', url: `${recordUrl(f.id)}?token=${a.unknown}` });
    expectAnswer(res, 'GET', { status: 401, type: 'user-or-token-not-found' });
    expect(res.body).not.toContain(f.value);
  });

  it("bob's token as ?token= on alice's RESTRICTED store is 403", async () => {
    const f = await createFixture(a, 'RESTRICTED');
    const res = await a.ctx.request({ method: 'GET', url: `${recordUrl(f.id)}?token=${a.ctx.bob}` });
    expectAnswer(res, 'GET', { status: 403, type: 'insufficient-permissions' });
  });
});

describe('request queues: a clientKey is no credential, and reads lock nothing', () => {
  let open: Fixture;
  beforeAll(async () => {
    open = await createFixture(a, 'ANYONE_WITH_ID_CAN_READ', 'queue');
  });
  const queueUrl = (below: string) => `${COLLECTION.queue}/${open.id}/${below}`;

  it.each(['none', 'bob'] as const)(
    "reads by %s with their own clientKey take no lock and make alice's queue no multi-client one",
    async (caller) => {
      const head = await send(a, caller, { method: 'GET', url: queueUrl('head?clientKey=reader&limit=1000') });
      expectAnswer(head, 'GET', { status: 200 });
      expect(head.json().data.items.map((r: { id: string }) => r.id)).toEqual([QUEUE_IDS.pending]);
      for (const below of ['requests?clientKey=reader', `requests/${QUEUE_IDS.pending}?clientKey=reader`]) {
        expectAnswer(await send(a, caller, { method: 'GET', url: queueUrl(below) }), 'GET', { status: 200 });
      }
      await expectUnchanged(a, open);
    },
  );

  it.each([
    ['POST', `head/lock?lockSecs=60&clientKey=${QUEUE_CLIENT}`],
    ['POST', `requests/unlock?clientKey=${QUEUE_CLIENT}`],
    ['PUT', `requests/${QUEUE_IDS.locked}/lock?lockSecs=60&clientKey=${QUEUE_CLIENT}`],
    ['DELETE', `requests/${QUEUE_IDS.locked}/lock?clientKey=${QUEUE_CLIENT}`],
    ['DELETE', `requests/${QUEUE_IDS.locked}?clientKey=${QUEUE_CLIENT}`],
  ] as const)("bob holding the lock's clientKey may still not %s …/%s", async (method, below) => {
    const res = await send(a, 'bob', { method, url: queueUrl(below) });
    expectAnswer(res, method, { status: 403, type: 'insufficient-permissions' });
    await expectUnchanged(a, open);
  });

  it.each(['DELETE', 'POST', 'PUT'])('a token-less GET of the head or a request with ?method=%s only reads', async (m) => {
    for (const below of [`head?method=${m}&lockSecs=60&clientKey=x`, `requests/${QUEUE_IDS.pending}?method=${m}`]) {
      const res = await send(a, 'none', { method: 'GET', url: queueUrl(below) });
      expectAnswer(res, 'GET', { status: 200 });
    }
    await expectUnchanged(a, open);
    const { locked } = await queueView(a, open.id);
    expect(locked.json().data.items.map((r: { id: string }) => r.id)).toEqual([QUEUE_IDS.locked]);
  });

  // As for datasets: who may write is settled before the body is read (or decompressed).
  it.each([
    ['POST', 'requests', 'hello'],
    ['POST', 'requests', '{"url":"no uniqueKey"}'],
    ['POST', 'requests/batch', '{"not":"an array"}'],
    ['DELETE', 'requests/batch', '[{}]'],
    ['PUT', `requests/${QUEUE_IDS.pending}`, '[]'],
  ] as const)('a %s …/%s with a bad body is refused for who sends it, not for the body', async (method, below, payload) => {
    const headers = { 'content-type': 'application/json' };
    const asNobody = await send(a, 'none', { method, url: queueUrl(below), headers, payload });
    expectAnswer(asNobody, method, { status: 401, type: 'token-not-provided' });
    const asBob = await send(a, 'bob', { method, url: queueUrl(below), headers, payload });
    expectAnswer(asBob, method, { status: 403, type: 'insufficient-permissions' });
    const missing = await send(a, 'bob', { method, url: `${COLLECTION.queue}/~no-such-queue/${below}`, headers, payload });
    expectAnswer(missing, method, { status: 404, type: 'record-not-found' });
    await expectUnchanged(a, open);
  });

  it("~name is the caller's own queue: bob's adds land in his queue of that name", async () => {
    const mine = await createFixture(a, 'RESTRICTED', 'queue');
    const theirs = await send(a, 'bob', { method: 'POST', url: `${COLLECTION.queue}?name=${mine.name}` });
    expectAnswer(theirs, 'POST', { status: 201 });
    const add = await send(a, 'bob', {
      method: 'POST',
      url: `${COLLECTION.queue}/~${mine.name}/requests`,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ uniqueKey: 'by-bob', url: 'https://example.com/by-bob' }),
    });
    expectAnswer(add, 'POST', { status: 201 });
    const bobs = await send(a, 'bob', { method: 'GET', url: `${COLLECTION.queue}/${theirs.json().data.id}` });
    expect(bobs.json().data.totalRequestCount).toBe(1);
    await expectUnchanged(a, mine);
  });
});
