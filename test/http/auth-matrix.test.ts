/**
 * Authorization matrix: every endpoint of key-value stores, datasets and request queues × every kind
 * of caller × every general access × every way of naming the storage, held to spec §2 and the
 * openkvs decisions 1, 2, 3, 9 and 11 (the same rules for every kind; taking a queue's head is a
 * write, as it locks).
 */
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/domain/ids.js';
import type { StorageKind } from '../../src/model.js';
import {
  ACCESS_CASES,
  type AuthContext,
  CALLERS,
  type CallerId,
  COLLECTION,
  countClean,
  createAuthContext,
  createFixture,
  createStorage,
  datasetView,
  ENDPOINTS,
  expectAnswer,
  expectedOutcome,
  expectUnchanged,
  type Fixture,
  isBadToken,
  isOwner,
  KINDS,
  NEW_ITEMS,
  NEW_TITLE,
  NEW_VALUE,
  otherKinds,
  ownerView,
  RECORD_KEY,
  type RefForm,
  refOf,
  type StoreEndpoint,
  send,
} from './auth-fixtures.js';
import { expectQueueSuccess } from './auth-queue-success.js';

const FORMS: readonly { form: RefForm; label: string }[] = [
  { form: 'id', label: 'its id' },
  { form: 'user~name', label: 'alice~name' },
  { form: '~name', label: '~name' },
];

/** What a successful request must have returned and done. */
async function expectSuccess(a: AuthContext, ep: StoreEndpoint, f: Fixture, caller: CallerId, res: LightMyRequestResponse) {
  const owner = isOwner(caller);
  if (!owner) expect(res.body, 'the signing secret leaked').not.toContain(f.secret);
  switch (ep.name) {
    case 'get store': {
      const data = res.json().data;
      expect(data.id).toBe(f.id);
      expect(data.name).toBe(f.name);
      expect(data.username).toBe('alice');
      // Spec §1.0: the secret only for callers who may write; null (or absent) for everyone else.
      expect(data.urlSigningSecretKey ?? null).toBe(owner ? f.secret : null);
      return;
    }
    case 'update store': {
      expect(res.json().data.title).toBe(NEW_TITLE);
      expect(res.json().data.urlSigningSecretKey).toBe(f.secret);
      const { store } = await ownerView(a, f.id);
      expect(store.json().data.title).toBe(NEW_TITLE);
      return;
    }
    case 'delete store': {
      expect(res.body).toBe('');
      const { store } = await ownerView(a, f.id);
      expect(store.statusCode).toBe(404);
      expect(store.json().error.type).toBe('record-not-found');
      return;
    }
    case 'list keys':
      expect(res.json().data.items.map((i: { key: string }) => i.key)).toEqual([RECORD_KEY]);
      return;
    case 'get record':
      expect(res.body).toBe(f.value);
      expect(res.headers['content-type']).toBe('text/plain');
      return;
    case 'head record':
      expect(res.body).toBe('');
      expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(f.value));
      return;
    case 'put record':
    case 'post record': {
      const { record } = await ownerView(a, f.id);
      expect(record.body).toBe(NEW_VALUE);
      return;
    }
    case 'delete record': {
      const { store, record } = await ownerView(a, f.id);
      expect(store.statusCode).toBe(200);
      expect(record.statusCode).toBe(404);
      return;
    }
    default:
      return expectDatasetSuccess(a, ep, f, owner, res);
  }
}

async function expectDatasetSuccess(a: AuthContext, ep: StoreEndpoint, f: Fixture, owner: boolean, res: LightMyRequestResponse) {
  switch (ep.name) {
    case 'get dataset': {
      const data = res.json().data;
      expect([data.id, data.name, data.username]).toEqual([f.id, f.name, 'alice']);
      expect([data.itemCount, data.cleanItemCount]).toEqual([f.items.length, countClean(f.items)]);
      expect(data.urlSigningSecretKey ?? null).toBe(owner ? f.secret : null);
      return;
    }
    case 'update dataset': {
      expect(res.json().data.title).toBe(NEW_TITLE);
      expect(res.json().data.urlSigningSecretKey).toBe(f.secret);
      const { dataset, items } = await datasetView(a, f.id);
      expect(dataset.json().data.title).toBe(NEW_TITLE);
      expect(items.json()).toEqual(f.items);
      return;
    }
    case 'delete dataset': {
      expect(res.body).toBe('');
      const { dataset, items } = await datasetView(a, f.id);
      expectAnswer(dataset, 'GET', { status: 404, type: 'record-not-found' });
      expectAnswer(items, 'GET', { status: 404, type: 'record-not-found' });
      return;
    }
    case 'push items': {
      expect(res.body).toBe('');
      const { dataset, items } = await datasetView(a, f.id);
      const all = [...f.items, ...NEW_ITEMS];
      expect(items.json()).toEqual(all);
      expect([dataset.json().data.itemCount, dataset.json().data.cleanItemCount]).toEqual([all.length, countClean(all)]);
      return;
    }
    case 'get items':
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.json()).toEqual(f.items);
      expect(res.headers['x-apify-pagination-total']).toBe(String(f.items.length));
      return;
    case 'head items':
      expect(res.body).toBe('');
      expect(res.headers['x-apify-pagination-total']).toBe(String(f.items.length));
      return;
    case 'get items as csv':
      expect(res.headers['content-type']).toMatch(/^text\/csv/);
      expect(res.body).toContain(f.value);
      expect(res.headers['x-apify-pagination-total']).toBe(String(f.items.length));
      return;
    case 'get statistics':
      expect(res.json().data).toHaveProperty('fieldStatistics');
      return;
    default:
      return expectQueueSuccess(a, ep, f, owner, res);
  }
}

describe.each(KINDS.flatMap((k) => ACCESS_CASES.map((access) => ({ ...k, access }))))(
  '$label with generalAccess $access.label',
  ({ kind, access }) => {
    let a: AuthContext;
    beforeAll(async () => {
      a = await createAuthContext(access.accountAccess);
    });
    afterAll(() => a.ctx.close());

    describe.each(FORMS)('referenced by $label', ({ form }) => {
      describe.each(ENDPOINTS[kind])('$name', (ep) => {
        it.each(CALLERS)('$label', async ({ caller }) => {
          const f = await createFixture(a, access.generalAccess, kind);
          const res = await send(a, caller, {
            method: ep.method,
            url: ep.path(refOf(f, form)),
            payload: ep.payload,
            headers: ep.headers,
          });
          const expected = expectedOutcome(ep, caller, access.effective, form, true);
          expectAnswer(res, ep.method, expected);
          if (expected.type === undefined) {
            await expectSuccess(a, ep, f, caller, res);
            return;
          }
          // A refusal shows nothing of the storage (not even how many items it holds) and changes nothing.
          for (const secret of [f.value, f.secret, f.id]) expect(res.body).not.toContain(secret);
          expect(res.headers['x-apify-pagination-total']).toBeUndefined();
          await expectUnchanged(a, f);
        });
      });
    });
  },
);

interface MissingRef {
  label: string;
  form: RefForm;
  /** `others`: alice's storages of the other kinds, open to anyone, by kind. */
  ref: (others: Partial<Record<StorageKind, Fixture>>) => string;
}

const otherFixture = (others: Partial<Record<StorageKind, Fixture>>, kind: StorageKind): Fixture => {
  const f = others[kind];
  if (!f) throw new Error(`no fixture of kind ${kind}`);
  return f;
};

/** References that name no storage of the kind asked for. */
const missingRefs = (kind: StorageKind): MissingRef[] => [
  { label: 'an id that does not exist', form: 'id', ref: () => newId() },
  { label: 'a string that is not an id', form: 'id', ref: () => 'not-an-id' },
  { label: 'alice~<missing name>', form: 'user~name', ref: () => 'alice~no-such-store' },
  { label: '~<missing name>', form: '~name', ref: () => '~no-such-store' },
  { label: 'a user that does not exist', form: 'user~name', ref: () => 'carol~no-such-store' },
  // The kinds are separate: a storage of another kind is not found, whatever its access.
  ...otherKinds(kind).flatMap((other): MissingRef[] => [
    { label: `the id of a ${other}`, form: 'id', ref: (o) => otherFixture(o, other).id },
    { label: `alice~<name of a ${other}>`, form: 'user~name', ref: (o) => `alice~${otherFixture(o, other).name}` },
    { label: `~<name of a ${other}>`, form: '~name', ref: (o) => `~${otherFixture(o, other).name}` },
  ]),
];

/** How many storages of each kind alice and bob have. */
async function storageCounts(a: AuthContext): Promise<number[]> {
  const counts: number[] = [];
  for (const token of [a.ctx.alice, a.ctx.bob]) {
    for (const { kind } of KINDS) {
      const res = await a.ctx.request({ method: 'GET', url: `${COLLECTION[kind]}?unnamed=1`, token });
      expect(res.statusCode).toBe(200);
      counts.push(res.json().data.total);
    }
  }
  return counts;
}

describe.each(
  KINDS.flatMap((k) =>
    [
      { label: 'server default', accountAccess: undefined },
      { label: 'account RESTRICTED', accountAccess: 'RESTRICTED' as const },
    ].map((access) => ({ ...k, access })),
  ),
)('a $label that does not exist ($access.label)', ({ kind, access }) => {
  let a: AuthContext;
  const others: Partial<Record<StorageKind, Fixture>> = {};
  beforeAll(async () => {
    a = await createAuthContext(access.accountAccess);
    // Storages that exist, so that "missing" is not "the database is empty".
    await createFixture(a, 'ANYONE_WITH_NAME_CAN_READ', kind);
    await createStorage(a, kind, 'bobs-store', a.ctx.bob);
    for (const other of otherKinds(kind)) others[other] = await createFixture(a, 'ANYONE_WITH_NAME_CAN_READ', other);
  });
  afterAll(() => a.ctx.close());

  describe.each(missingRefs(kind))('referenced by $label', ({ form, ref }) => {
    describe.each(ENDPOINTS[kind])('$name', (ep) => {
      it.each(CALLERS)('$label', async ({ caller }) => {
        const before = await storageCounts(a);
        const res = await send(a, caller, {
          method: ep.method,
          url: ep.path(ref(others)),
          payload: ep.payload,
          headers: ep.headers,
        });
        // Whether a storage is missing or just hidden is not told to a caller without a token.
        expectAnswer(res, ep.method, expectedOutcome(ep, caller, 'NAME', form, false));
        for (const other of Object.values(others)) {
          for (const secret of [other.value, other.secret]) expect(res.body).not.toContain(secret);
          await expectUnchanged(a, other);
        }
        expect(await storageCounts(a), 'no storage was created or deleted').toEqual(before);
      });
    });
  });
});

/** A request queue's API object has no signing secret (the Apify API shows none). */
const SECRET_TYPE: Record<StorageKind, string> = { kvs: 'string', dataset: 'string', queue: 'undefined' };

describe.each(KINDS)('list and create: $label', ({ kind }) => {
  const collection = COLLECTION[kind];
  let a: AuthContext;
  let aliceIds: string[];
  let bobIds: string[];
  let n = 0;
  beforeAll(async () => {
    a = await createAuthContext();
    const restricted = await createFixture(a, 'RESTRICTED', kind);
    const byName = await createFixture(a, 'ANYONE_WITH_NAME_CAN_READ', kind);
    const unnamed = await createStorage(a, kind);
    aliceIds = [restricted.id, byName.id, unnamed.id];
    bobIds = [(await createStorage(a, kind, 'bobs-store', a.ctx.bob)).id];
    // Storages of the other kinds, which no list of this kind shows.
    for (const other of otherKinds(kind)) {
      await createFixture(a, 'ANYONE_WITH_NAME_CAN_READ', other);
      await createStorage(a, other, undefined, a.ctx.bob);
    }
  });
  afterAll(() => a.ctx.close());

  it.each(CALLERS)(`GET ${collection} with $label`, async ({ caller }) => {
    const res = await send(a, caller, { method: 'GET', url: `${collection}?unnamed=1` });
    if (isBadToken(caller)) return expectAnswer(res, 'GET', { status: 401, type: 'user-or-token-not-found' });
    if (caller === 'none') return expectAnswer(res, 'GET', { status: 401, type: 'token-not-provided' });
    expectAnswer(res, 'GET', { status: 200 });
    const items: { id: string; userId: string; urlSigningSecretKey: string | null }[] = res.json().data.items;
    const ids = items.map((i) => i.id);
    // Only the caller's own storages of this kind, even those of alice that anyone may read.
    expect(ids.sort()).toEqual((caller === 'bob' ? [...bobIds] : [...aliceIds]).sort());
    expect(res.json().data.total).toBe(ids.length);
    for (const item of items) {
      expect(item.userId).toBe(caller === 'bob' ? a.bobId : a.aliceId);
      expect(typeof item.urlSigningSecretKey).toBe(SECRET_TYPE[kind]);
    }
  });

  it.each(CALLERS)(`POST ${collection} with $label`, async ({ caller }) => {
    n += 1;
    const name = `created-${n}`;
    const res = await send(a, caller, { method: 'POST', url: `${collection}?name=${name}` });
    const view = (token: string, k: StorageKind) => a.ctx.request({ method: 'GET', url: `${COLLECTION[k]}/~${name}`, token });
    const aliceView = await view(a.ctx.alice, kind);
    const bobView = await view(a.ctx.bob, kind);
    // Names are per kind: creating one makes nothing of another kind.
    for (const other of otherKinds(kind)) {
      const otherViews = [await view(a.ctx.alice, other), await view(a.ctx.bob, other)];
      expect(otherViews.map((r) => r.statusCode)).toEqual([404, 404]);
    }
    if (isBadToken(caller) || caller === 'none') {
      const type = caller === 'none' ? 'token-not-provided' : 'user-or-token-not-found';
      expectAnswer(res, 'POST', { status: 401, type });
      expect([aliceView.statusCode, bobView.statusCode], 'nothing was created').toEqual([404, 404]);
      return;
    }
    expectAnswer(res, 'POST', { status: 201 });
    const data = res.json().data;
    const [mine, theirs] = caller === 'bob' ? [bobView, aliceView] : [aliceView, bobView];
    expect(data.userId).toBe(caller === 'bob' ? a.bobId : a.aliceId);
    expect(data.username).toBe(caller === 'bob' ? 'bob' : 'alice');
    expect(typeof data.urlSigningSecretKey).toBe(SECRET_TYPE[kind]);
    if (kind === 'dataset') expect([data.itemCount, data.cleanItemCount]).toEqual([0, 0]);
    if (kind === 'queue')
      expect([data.totalRequestCount, data.handledRequestCount, data.hadMultipleClients]).toEqual([0, 0, false]);
    expect(mine.statusCode).toBe(200);
    expect(mine.json().data.id).toBe(data.id);
    expect(theirs.statusCode).toBe(404);
  });
});
