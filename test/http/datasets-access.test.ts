/**
 * Access to datasets beyond the matrix (auth-matrix.test.ts): signed items URLs for every caller,
 * general access and way of naming; a signature opens the items and nothing else; the kinds are
 * separate (ids, names, signatures); `?method=` never turns a GET into a write.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hmacSig, storageContentSignature } from '../../src/domain/signing.js';
import { PUBLIC_URL } from '../helpers/context.js';
import {
  ACCESS_CASES,
  type AuthContext,
  CALLERS,
  type CallerId,
  COLLECTION,
  createAuthContext,
  createFixture,
  createStorage,
  datasetView,
  type Effective,
  type Expected,
  expectAnswer,
  expectUnchanged,
  type Fixture,
  isBadToken,
  isOwner,
  ownerView,
  RECORD_KEY,
  type RefForm,
  refOf,
  send,
} from './auth-fixtures.js';

const FORMS: readonly RefForm[] = ['id', 'user~name', '~name'];

const itemsUrl = (ref: string, signature: string, query = '') =>
  `/v2/datasets/${ref}/items?signature=${encodeURIComponent(signature)}${query}`;

/** A full public URL, made into what `inject` takes, after checking it points at this server. */
function localPath(url: string): string {
  const u = new URL(url);
  expect(u.origin).toBe(PUBLIC_URL);
  return `${u.pathname}${u.search}`;
}

/** The signature of a dataset object's `itemsPublicUrl`, as its owner is shown it. */
async function publicSignature(a: AuthContext, f: Fixture): Promise<string> {
  const res = await send(a, 'alice', { method: 'GET', url: `/v2/datasets/${f.id}` });
  return new URL(res.json().data.itemsPublicUrl).searchParams.get('signature') ?? '';
}

interface SignatureCase {
  label: string;
  /** Whether the signature is valid for the dataset; undefined when it counts as absent. */
  valid: boolean | undefined;
  make: (w: World) => string | Promise<string>;
}

/** The dataset under test (`f`), another dataset of alice's (`g`) and a key-value store of alice's (`k`). */
interface World {
  a: AuthContext;
  f: Fixture;
  g: Fixture;
  k: Fixture;
}

const HOUR = 3_600_000;

const SIGNATURES: readonly SignatureCase[] = [
  { label: 'the signature of its itemsPublicUrl', valid: true, make: (w) => publicSignature(w.a, w.f) },
  { label: 'a permanent signature', valid: true, make: (w) => storageContentSignature(w.f.secret, w.f.id, 0) },
  {
    label: 'a signature that expires in an hour',
    valid: true,
    make: (w) => storageContentSignature(w.f.secret, w.f.id, Date.now() + HOUR),
  },
  {
    label: 'a signature that expired a second ago',
    valid: false,
    make: (w) => storageContentSignature(w.f.secret, w.f.id, Date.now() - 1000),
  },
  { label: "another dataset's own signature", valid: false, make: (w) => storageContentSignature(w.g.secret, w.g.id, 0) },
  { label: "another dataset's secret over this id", valid: false, make: (w) => storageContentSignature(w.g.secret, w.f.id, 0) },
  {
    label: "a key-value store's keysPublicUrl signature",
    valid: false,
    make: (w) => storageContentSignature(w.k.secret, w.k.id, 0),
  },
  { label: "a key-value store's secret over this id", valid: false, make: (w) => storageContentSignature(w.k.secret, w.f.id, 0) },
  { label: "a record signature made with the dataset's secret", valid: false, make: (w) => hmacSig(w.f.secret, w.f.id) },
  { label: 'garbage', valid: false, make: () => 'garbage' },
  { label: 'an empty signature (counts as none)', valid: undefined, make: () => '' },
];

/** What a read of the items answers: the matrix's rules, where a signature may stand in for permission. */
function expectedSigned(caller: CallerId, effective: Effective, form: RefForm, valid: boolean | undefined): Expected {
  if (isBadToken(caller)) return { status: 401, type: 'user-or-token-not-found' };
  // `~name` is the caller's own dataset: without a token there is none, and bob has none of that name.
  if (form === '~name' && caller === 'none') return { status: 404, type: 'record-or-token-not-found' };
  if (form === '~name' && caller === 'bob') return { status: 404, type: 'record-not-found' };
  if (isOwner(caller)) return { status: 200 };
  const open = form === 'id' ? effective !== 'RESTRICTED' : form === 'user~name' && effective === 'NAME';
  if (open || valid === true) return { status: 200 };
  if (valid === false) return { status: 403, type: 'insufficient-permissions' };
  return caller === 'none'
    ? { status: 404, type: 'record-or-token-not-found' }
    : { status: 403, type: 'insufficient-permissions' };
}

describe.each(ACCESS_CASES)('signed items URL of a dataset with generalAccess $label', (access) => {
  const w = {} as World;
  beforeAll(async () => {
    w.a = await createAuthContext(access.accountAccess);
    w.f = await createFixture(w.a, access.generalAccess, 'dataset');
    w.g = await createFixture(w.a, 'RESTRICTED', 'dataset');
    w.k = await createFixture(w.a, 'RESTRICTED', 'kvs');
  });
  afterAll(() => w.a.ctx.close());

  describe.each(FORMS)('referenced by %s', (form) => {
    describe.each(SIGNATURES)('$label', (sig) => {
      it.each(CALLERS)('$label', async ({ caller }) => {
        const res = await send(w.a, caller, { method: 'GET', url: itemsUrl(refOf(w.f, form), await sig.make(w)) });
        const expected = expectedSigned(caller, access.effective, form, sig.valid);
        expectAnswer(res, 'GET', expected);
        if (expected.status === 200) expect(res.json()).toEqual(w.f.items);
        else expect(res.body).not.toContain(w.f.value);
      });
    });
  });
});

describe('a signature opens the items and nothing else', () => {
  const w = {} as World;
  let sigs: string[];
  beforeAll(async () => {
    w.a = await createAuthContext();
    w.f = await createFixture(w.a, 'RESTRICTED', 'dataset');
    w.k = await createFixture(w.a, 'RESTRICTED', 'kvs');
    sigs = [await publicSignature(w.a, w.f), storageContentSignature(w.f.secret, w.f.id, 0)];
  });
  afterAll(() => w.a.ctx.close());

  it.each([
    ['csv', /^text\/csv/],
    ['jsonl', /^application\/(jsonl|x-ndjson)/],
  ])('the itemsPublicUrl with format=%s serves the items without a token', async (format, type) => {
    const res = await send(w.a, 'none', { method: 'GET', url: itemsUrl(w.f.id, sigs[0] ?? '', `&format=${format}`) });
    expectAnswer(res, 'GET', { status: 200 });
    expect(res.headers['content-type']).toMatch(type);
    expect(res.body).toContain(w.f.value);
  });

  it('the itemsPublicUrl of the dataset object expires in the future and serves the items as they are now', async () => {
    const res = await send(w.a, 'alice', { method: 'GET', url: `/v2/datasets/${w.f.id}` });
    const url: string = res.json().data.itemsPublicUrl;
    const expiresAt = Number(
      Buffer.from(new URL(url).searchParams.get('signature') ?? '', 'base64url')
        .toString()
        .split('.')[1],
    );
    expect(expiresAt === 0 || expiresAt > Date.now() + HOUR).toBe(true);
    const items = await send(w.a, 'none', { method: 'GET', url: localPath(url) });
    expectAnswer(items, 'GET', { status: 200 });
    expect(items.json()).toEqual(w.f.items);
  });

  it.each([
    ['get dataset', 'GET', (id: string) => `/v2/datasets/${id}`],
    ['get statistics', 'GET', (id: string) => `/v2/datasets/${id}/statistics`],
  ] as const)('%s with a valid signature: 404 without a token, 403 with bob’s', async (_label, method, path) => {
    for (const sig of sigs) {
      const none = await send(w.a, 'none', { method, url: `${path(w.f.id)}?signature=${sig}` });
      expectAnswer(none, method, { status: 404, type: 'record-or-token-not-found' });
      const bob = await send(w.a, 'bob', { method, url: `${path(w.f.id)}?signature=${sig}` });
      expectAnswer(bob, method, { status: 403, type: 'insufficient-permissions' });
      for (const res of [none, bob]) expect(res.body).not.toContain(w.f.secret);
    }
  });

  it.each([
    ['push items', 'POST', (id: string) => `/v2/datasets/${id}/items`, JSON.stringify({ through: 'a signature' })],
    ['update dataset', 'PUT', (id: string) => `/v2/datasets/${id}`, JSON.stringify({ title: 'through a signature' })],
    ['delete dataset', 'DELETE', (id: string) => `/v2/datasets/${id}`, undefined],
  ] as const)(
    '%s with a valid signature: 401 without a token, 403 with bob’s; nothing changes',
    async (_l, method, path, payload) => {
      for (const sig of sigs) {
        const opts = {
          method,
          url: `${path(w.f.id)}?signature=${sig}`,
          payload,
          headers: { 'content-type': 'application/json' },
        };
        expectAnswer(await send(w.a, 'none', opts), method, { status: 401, type: 'token-not-provided' });
        expectAnswer(await send(w.a, 'bob', opts), method, { status: 403, type: 'insufficient-permissions' });
      }
      await expectUnchanged(w.a, w.f);
    },
  );

  it("a dataset's signature does not open its id on the key-value store routes", async () => {
    for (const sig of sigs) {
      for (const path of [`keys`, `records`, `records/${RECORD_KEY}`]) {
        const res = await send(w.a, 'none', { method: 'GET', url: `/v2/key-value-stores/${w.f.id}/${path}?signature=${sig}` });
        expectAnswer(res, 'GET', { status: 404, type: 'record-or-token-not-found' });
      }
    }
  });

  it("a key-value store's signatures do not open its id on the dataset routes", async () => {
    for (const sig of [storageContentSignature(w.k.secret, w.k.id, 0), hmacSig(w.k.secret, RECORD_KEY)]) {
      const res = await send(w.a, 'none', { method: 'GET', url: itemsUrl(w.k.id, sig) });
      expectAnswer(res, 'GET', { status: 404, type: 'record-or-token-not-found' });
      expect(res.body).not.toContain(w.k.value);
    }
    await expectUnchanged(w.a, w.k);
  });
});

describe('the kinds are separate', () => {
  let a: AuthContext;
  beforeAll(async () => {
    a = await createAuthContext();
  });
  afterAll(() => a.ctx.close());

  it("the owner's requests for a dataset id on key-value store routes are 404 and change nothing", async () => {
    const ds = await createFixture(a, 'ANYONE_WITH_ID_CAN_READ', 'dataset');
    const base = `/v2/key-value-stores/${ds.id}`;
    const requests = [
      { method: 'GET', url: base },
      { method: 'GET', url: `${base}/keys` },
      { method: 'GET', url: `${base}/records` },
      { method: 'GET', url: `${base}/records/${RECORD_KEY}` },
      { method: 'HEAD', url: `${base}/records/${RECORD_KEY}` },
      { method: 'PUT', url: `${base}/records/${RECORD_KEY}`, payload: 'x', headers: { 'content-type': 'text/plain' } },
      { method: 'DELETE', url: `${base}/records/${RECORD_KEY}` },
      {
        method: 'PUT',
        url: base,
        payload: JSON.stringify({ title: 'via kvs' }),
        headers: { 'content-type': 'application/json' },
      },
      { method: 'DELETE', url: base },
    ] as const;
    for (const req of requests) {
      const res = await send(a, 'alice', req);
      expectAnswer(res, req.method, { status: 404, type: 'record-not-found' });
    }
    await expectUnchanged(a, ds);
  });

  it("the owner's requests for a key-value store id on dataset routes are 404 and change nothing", async () => {
    const kvs = await createFixture(a, 'ANYONE_WITH_ID_CAN_READ', 'kvs');
    const base = `/v2/datasets/${kvs.id}`;
    const json = { 'content-type': 'application/json' };
    const requests = [
      { method: 'GET', url: base },
      { method: 'GET', url: `${base}/items` },
      { method: 'GET', url: `${base}/items?format=csv` },
      { method: 'GET', url: `${base}/statistics` },
      { method: 'POST', url: `${base}/items`, payload: JSON.stringify([{ a: 1 }]), headers: json },
      { method: 'PUT', url: base, payload: JSON.stringify({ title: 'via datasets' }), headers: json },
      { method: 'DELETE', url: base },
    ] as const;
    for (const req of requests) {
      const res = await send(a, 'alice', req);
      expectAnswer(res, req.method, { status: 404, type: 'record-not-found' });
    }
    await expectUnchanged(a, kvs);
    const store = (await ownerView(a, kvs.id)).store.json().data;
    expect(store.stats.writeCount, 'no write reached the store').toBe(1);
  });

  it('names are per kind: a dataset and a key-value store of one name are two storages', async () => {
    const kvs = await createStorage(a, 'kvs', 'shared-name');
    const created = await send(a, 'alice', { method: 'POST', url: '/v2/datasets?name=shared-name' });
    expectAnswer(created, 'POST', { status: 201 });
    const ds = created.json().data;
    expect(ds.id).not.toBe(kvs.id);
    const again = await send(a, 'alice', { method: 'POST', url: '/v2/datasets?name=shared-name' });
    expectAnswer(again, 'POST', { status: 200 });
    expect(again.json().data.id).toBe(ds.id);
    const againKvs = await send(a, 'alice', { method: 'POST', url: '/v2/key-value-stores?name=shared-name' });
    expectAnswer(againKvs, 'POST', { status: 200 });
    expect(againKvs.json().data.id).toBe(kvs.id);
    for (const ref of ['~shared-name', 'alice~shared-name']) {
      expect((await send(a, 'alice', { method: 'GET', url: `/v2/datasets/${ref}` })).json().data.id).toBe(ds.id);
      expect((await send(a, 'alice', { method: 'GET', url: `/v2/key-value-stores/${ref}` })).json().data.id).toBe(kvs.id);
    }
    // Deleting the dataset leaves the store of the same name.
    expectAnswer(await send(a, 'alice', { method: 'DELETE', url: '/v2/datasets/~shared-name' }), 'DELETE', { status: 204 });
    expectAnswer(await send(a, 'alice', { method: 'GET', url: '/v2/key-value-stores/~shared-name' }), 'GET', { status: 200 });
    expectAnswer(await send(a, 'alice', { method: 'GET', url: '/v2/datasets/~shared-name' }), 'GET', {
      status: 404,
      type: 'record-not-found',
    });
  });

  it('a rename may take the name of a storage of the other kind, not of one of its own kind', async () => {
    const kvs = await createFixture(a, 'RESTRICTED', 'kvs');
    const ds = await createFixture(a, 'RESTRICTED', 'dataset');
    const other = await createFixture(a, 'RESTRICTED', 'dataset');
    const rename = (kind: 'kvs' | 'dataset', id: string, name: string) =>
      send(a, 'alice', {
        method: 'PUT',
        url: `${COLLECTION[kind]}/${id}`,
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ name }),
      });
    const clash = await rename('dataset', ds.id, other.name);
    expectAnswer(clash, 'PUT', { status: 400, type: 'name-not-unique' });
    expect(clash.json().error.message, 'the message names the kind that clashed').not.toMatch(/key-value store/i);
    expectAnswer(await rename('dataset', ds.id, kvs.name), 'PUT', { status: 200 });
    expect((await send(a, 'alice', { method: 'GET', url: `/v2/datasets/~${kvs.name}` })).json().data.id).toBe(ds.id);
    expectAnswer(await rename('kvs', kvs.id, other.name), 'PUT', { status: 200 });
    expect((await send(a, 'alice', { method: 'GET', url: `/v2/key-value-stores/~${other.name}` })).json().data.id).toBe(kvs.id);
    expect((await send(a, 'alice', { method: 'GET', url: `/v2/datasets/~${other.name}` })).json().data.id).toBe(other.id);
    expect((await datasetView(a, other.id)).items.json()).toEqual(other.items);
  });

  it("~name is always the caller's own dataset, even when another user has one of that name", async () => {
    const mine = await createStorage(a, 'dataset', 'same-dataset-name');
    const theirs = await createStorage(a, 'dataset', 'same-dataset-name', a.ctx.bob);
    expect(theirs.id).not.toBe(mine.id);
    const push = await send(a, 'bob', {
      method: 'POST',
      url: '/v2/datasets/~same-dataset-name/items',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ by: 'bob' }),
    });
    expectAnswer(push, 'POST', { status: 201 });
    const bobs = await send(a, 'bob', { method: 'GET', url: `/v2/datasets/${theirs.id}/items` });
    expect(bobs.json()).toEqual([{ by: 'bob' }]);
    const alices = await send(a, 'alice', { method: 'GET', url: `/v2/datasets/${mine.id}/items` });
    expect(alices.json()).toEqual([]);
    const viaName = await send(a, 'bob', { method: 'GET', url: '/v2/datasets/alice~same-dataset-name/items' });
    expectAnswer(viaName, 'GET', { status: 403, type: 'insufficient-permissions' });
  });
});

describe('decision 18 for datasets: ?method= is not a method override', () => {
  let a: AuthContext;
  let open: Fixture;
  beforeAll(async () => {
    a = await createAuthContext();
    open = await createFixture(a, 'ANYONE_WITH_ID_CAN_READ', 'dataset');
  });
  afterAll(() => a.ctx.close());

  it.each(['none', 'alice'] as const)('GETs with ?method=POST/PUT/DELETE only read (caller: %s)', async (caller) => {
    for (const m of ['POST', 'PUT', 'DELETE', 'delete']) {
      const ds = await send(a, caller, { method: 'GET', url: `/v2/datasets/${open.id}?method=${m}` });
      expectAnswer(ds, 'GET', { status: 200 });
      expect(ds.json().data.id).toBe(open.id);
      const items = await send(a, caller, { method: 'GET', url: `/v2/datasets/${open.id}/items?method=${m}` });
      expectAnswer(items, 'GET', { status: 200 });
      expect(items.json()).toEqual(open.items);
    }
    await expectUnchanged(a, open);
  });

  it('GET /v2/datasets?method=POST&name= lists and creates nothing', async () => {
    const res = await send(a, 'alice', { method: 'GET', url: '/v2/datasets?method=POST&name=via-override' });
    expectAnswer(res, 'GET', { status: 200 });
    const created = await send(a, 'alice', { method: 'GET', url: '/v2/datasets/~via-override' });
    expectAnswer(created, 'GET', { status: 404, type: 'record-not-found' });
  });
});
