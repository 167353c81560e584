/**
 * Authorization matrix: every endpoint × every kind of caller × every general access × every way
 * of naming the store, held to spec §2 and the openkvs decisions 1, 2, 3, 9 and 11.
 */
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/domain/ids.js';
import {
  ACCESS_CASES,
  type AuthContext,
  CALLERS,
  type CallerId,
  createAuthContext,
  createFixture,
  expectAnswer,
  expectedOutcome,
  expectUnchanged,
  type Fixture,
  isBadToken,
  isOwner,
  NEW_TITLE,
  NEW_VALUE,
  ownerView,
  RECORD_KEY,
  type RefForm,
  refOf,
  STORE_ENDPOINTS,
  type StoreEndpoint,
  send,
} from './auth-fixtures.js';

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
      throw new Error(`no success check for ${ep.name}`);
  }
}

describe.each(ACCESS_CASES)('store with generalAccess $label', (access) => {
  let a: AuthContext;
  beforeAll(async () => {
    a = await createAuthContext(access.accountAccess);
  });
  afterAll(() => a.ctx.close());

  describe.each(FORMS)('referenced by $label', ({ form }) => {
    describe.each(STORE_ENDPOINTS)('$name', (ep) => {
      it.each(CALLERS)('$label', async ({ caller }) => {
        const f = await createFixture(a, access.generalAccess);
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
        // A refusal shows nothing of the store and changes nothing.
        for (const secret of [f.value, f.secret, f.id]) expect(res.body).not.toContain(secret);
        await expectUnchanged(a, f);
      });
    });
  });
});

const MISSING: readonly { label: string; form: RefForm; ref: () => string }[] = [
  { label: 'an id that does not exist', form: 'id', ref: () => newId() },
  { label: 'a string that is not an id', form: 'id', ref: () => 'not-an-id' },
  { label: 'alice~<missing name>', form: 'user~name', ref: () => 'alice~no-such-store' },
  { label: '~<missing name>', form: '~name', ref: () => '~no-such-store' },
  { label: 'a user that does not exist', form: 'user~name', ref: () => 'carol~no-such-store' },
];

async function storeCount(a: AuthContext, token: string): Promise<number> {
  const res = await a.ctx.request({ method: 'GET', url: '/v2/key-value-stores?unnamed=1', token });
  expect(res.statusCode).toBe(200);
  return res.json().data.total;
}

describe.each([
  { label: 'server default', accountAccess: undefined },
  { label: 'account RESTRICTED', accountAccess: 'RESTRICTED' as const },
])('a store that does not exist ($label)', ({ accountAccess }) => {
  let a: AuthContext;
  beforeAll(async () => {
    a = await createAuthContext(accountAccess);
    // Stores that exist, so that "missing" is not "the database is empty".
    await createFixture(a, 'ANYONE_WITH_NAME_CAN_READ');
    await a.ctx.createStore('bobs-store', a.ctx.bob);
  });
  afterAll(() => a.ctx.close());

  describe.each(MISSING)('referenced by $label', ({ form, ref }) => {
    describe.each(STORE_ENDPOINTS)('$name', (ep) => {
      it.each(CALLERS)('$label', async ({ caller }) => {
        const before = [await storeCount(a, a.ctx.alice), await storeCount(a, a.ctx.bob)];
        const res = await send(a, caller, { method: ep.method, url: ep.path(ref()), payload: ep.payload, headers: ep.headers });
        // Whether a store is missing or just hidden is not told to a caller without a token.
        expectAnswer(res, ep.method, expectedOutcome(ep, caller, 'NAME', form, false));
        expect([await storeCount(a, a.ctx.alice), await storeCount(a, a.ctx.bob)], 'no store was created').toEqual(before);
      });
    });
  });
});

describe('list stores and create store', () => {
  let a: AuthContext;
  let aliceIds: string[];
  let bobIds: string[];
  let n = 0;
  beforeAll(async () => {
    a = await createAuthContext();
    const restricted = await createFixture(a, 'RESTRICTED');
    const byName = await createFixture(a, 'ANYONE_WITH_NAME_CAN_READ');
    const unnamed = await a.ctx.createStore();
    aliceIds = [restricted.id, byName.id, unnamed.id];
    bobIds = [(await a.ctx.createStore('bobs-store', a.ctx.bob)).id];
  });
  afterAll(() => a.ctx.close());

  it.each(CALLERS)('GET /v2/key-value-stores with $label', async ({ caller }) => {
    const res = await send(a, caller, { method: 'GET', url: '/v2/key-value-stores?unnamed=1' });
    if (isBadToken(caller)) return expectAnswer(res, 'GET', { status: 401, type: 'user-or-token-not-found' });
    if (caller === 'none') return expectAnswer(res, 'GET', { status: 401, type: 'token-not-provided' });
    expectAnswer(res, 'GET', { status: 200 });
    const items: { id: string; userId: string; urlSigningSecretKey: string | null }[] = res.json().data.items;
    const ids = items.map((i) => i.id);
    // Only the caller's own stores, even those of alice that anyone may read.
    expect(ids.sort()).toEqual((caller === 'bob' ? [...bobIds] : [...aliceIds]).sort());
    for (const item of items) {
      expect(item.userId).toBe(caller === 'bob' ? a.bobId : a.aliceId);
      expect(typeof item.urlSigningSecretKey).toBe('string');
    }
  });

  it.each(CALLERS)('POST /v2/key-value-stores with $label', async ({ caller }) => {
    n += 1;
    const name = `created-${n}`;
    const res = await send(a, caller, { method: 'POST', url: `/v2/key-value-stores?name=${name}` });
    const aliceView = await a.ctx.request({ method: 'GET', url: `/v2/key-value-stores/~${name}`, token: a.ctx.alice });
    const bobView = await a.ctx.request({ method: 'GET', url: `/v2/key-value-stores/~${name}`, token: a.ctx.bob });
    if (isBadToken(caller) || caller === 'none') {
      const type = caller === 'none' ? 'token-not-provided' : 'user-or-token-not-found';
      expectAnswer(res, 'POST', { status: 401, type });
      expect([aliceView.statusCode, bobView.statusCode], 'no store was created').toEqual([404, 404]);
      return;
    }
    expectAnswer(res, 'POST', { status: 201 });
    const data = res.json().data;
    const [mine, theirs] = caller === 'bob' ? [bobView, aliceView] : [aliceView, bobView];
    expect(data.userId).toBe(caller === 'bob' ? a.bobId : a.aliceId);
    expect(data.username).toBe(caller === 'bob' ? 'bob' : 'alice');
    expect(typeof data.urlSigningSecretKey).toBe('string');
    expect(mine.statusCode).toBe(200);
    expect(mine.json().data.id).toBe(data.id);
    expect(theirs.statusCode).toBe(404);
  });
});
