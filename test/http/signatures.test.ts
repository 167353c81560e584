/**
 * Signed URLs over HTTP (spec §2.4, decision 3): a per-record HMAC opens one record, a
 * storage-content signature opens the key list of one store, for reading only and for nothing else.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hmacSig, storageContentSignature } from '../../src/domain/signing.js';
import { PUBLIC_URL } from '../helpers/context.js';
import {
  type AuthContext,
  createAuthContext,
  createFixture,
  expectAnswer,
  expectUnchanged,
  type Fixture,
  RECORD_KEY,
  send,
} from './auth-fixtures.js';

const OTHER_KEY = "it's-(another)_key!.txt";
const OTHER_VALUE = 'the other record';

let a: AuthContext;
let f: Fixture;
let other: Fixture;

const recordUrl = (id: string, key: string, signature: string) =>
  `/v2/key-value-stores/${id}/records/${key}?signature=${encodeURIComponent(signature)}`;
const keysUrl = (id: string, signature: string) => `/v2/key-value-stores/${id}/keys?signature=${encodeURIComponent(signature)}`;

/** Python's `urlsafe_b64encode`: base64url with `=` padding kept. */
const pythonStyle = (sig: string) => Buffer.from(sig, 'base64url').toString('base64').replace(/\+/g, '-').replace(/\//g, '_');

/** A full public URL, made into what `inject` takes, after checking it points at this server. */
function localPath(url: string): string {
  const u = new URL(url);
  expect(u.origin).toBe(PUBLIC_URL);
  return `${u.pathname}${u.search}`;
}

beforeAll(async () => {
  a = await createAuthContext();
  f = await createFixture(a, 'RESTRICTED');
  other = await createFixture(a, 'RESTRICTED');
  const put = await a.ctx.request({
    method: 'PUT',
    url: `/v2/key-value-stores/${f.id}/records/${OTHER_KEY}`,
    token: a.ctx.alice,
    headers: { 'content-type': 'text/plain' },
    payload: OTHER_VALUE,
  });
  expect(put.statusCode).toBe(201);
  // The secret the tests sign with is the one the owner is shown.
  const store = await a.ctx.request({ method: 'GET', url: `/v2/key-value-stores/${f.id}`, token: a.ctx.alice });
  expect(store.json().data.urlSigningSecretKey).toBe(f.secret);
});
afterAll(() => a.ctx.close());

describe('record signatures', () => {
  it('a token-less GET of a RESTRICTED store is refused without a signature, and served with one', async () => {
    const unsigned = await send(a, 'none', { method: 'GET', url: `/v2/key-value-stores/${f.id}/records/${RECORD_KEY}` });
    expectAnswer(unsigned, 'GET', { status: 404, type: 'record-or-token-not-found' });
    const res = await send(a, 'none', { method: 'GET', url: recordUrl(f.id, RECORD_KEY, hmacSig(f.secret, RECORD_KEY)) });
    expectAnswer(res, 'GET', { status: 200 });
    expect(res.body).toBe(f.value);
    expect(res.headers['content-type']).toBe('text/plain');
  });

  it('a key with the other allowed characters is served with its signature', async () => {
    const res = await send(a, 'none', { method: 'GET', url: recordUrl(f.id, OTHER_KEY, hmacSig(f.secret, OTHER_KEY)) });
    expectAnswer(res, 'GET', { status: 200 });
    expect(res.body).toBe(OTHER_VALUE);
  });

  it('a token-less HEAD with the signature answers 200 with the headers of the record', async () => {
    const res = await send(a, 'none', { method: 'HEAD', url: recordUrl(f.id, RECORD_KEY, hmacSig(f.secret, RECORD_KEY)) });
    expectAnswer(res, 'HEAD', { status: 200 });
    expect(res.headers['content-type']).toBe('text/plain');
    expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(f.value));
  });

  it("bob's token with a valid signature reads the record: the signature is the permission", async () => {
    const res = await send(a, 'bob', { method: 'GET', url: recordUrl(f.id, RECORD_KEY, hmacSig(f.secret, RECORD_KEY)) });
    expectAnswer(res, 'GET', { status: 200 });
    expect(res.body).toBe(f.value);
  });

  it.each([
    ['the signature of another key', () => hmacSig(f.secret, OTHER_KEY)],
    ['a signature made with another secret', () => hmacSig('not-the-secret', RECORD_KEY)],
    ['the signature of the same key in another store', () => hmacSig(other.secret, RECORD_KEY)],
    ['a valid signature with a character added', () => `${hmacSig(f.secret, RECORD_KEY)}x`],
    ['a valid signature cut short', () => hmacSig(f.secret, RECORD_KEY).slice(0, -1)],
    ['garbage', () => 'garbage'],
    ['the storage-content signature of the store', () => storageContentSignature(f.secret, f.id, 0)],
  ])('%s is 403 insufficient-permissions on GET and HEAD', async (_label, sig) => {
    for (const method of ['GET', 'HEAD'] as const) {
      const res = await send(a, 'none', { method, url: recordUrl(f.id, RECORD_KEY, sig()) });
      expectAnswer(res, method, { status: 403, type: 'insufficient-permissions' });
      expect(res.body).not.toContain(f.value);
    }
  });

  it('a bad token with a valid signature is still 401: a bad token never falls back', async () => {
    const res = await send(a, 'unknown', { method: 'GET', url: recordUrl(f.id, RECORD_KEY, hmacSig(f.secret, RECORD_KEY)) });
    expectAnswer(res, 'GET', { status: 401, type: 'user-or-token-not-found' });
    expect(res.body).not.toContain(f.value);
  });

  it.each([
    ['PUT', 'none', 401, 'token-not-provided'],
    ['POST', 'none', 401, 'token-not-provided'],
    ['DELETE', 'none', 401, 'token-not-provided'],
    ['PUT', 'bob', 403, 'insufficient-permissions'],
    ['POST', 'bob', 403, 'insufficient-permissions'],
    ['DELETE', 'bob', 403, 'insufficient-permissions'],
  ] as const)('a valid record signature does not allow %s (caller: %s)', async (method, caller, status, type) => {
    const res = await send(a, caller, {
      method,
      url: recordUrl(f.id, RECORD_KEY, hmacSig(f.secret, RECORD_KEY)),
      headers: { 'content-type': 'text/plain' },
      payload: method === 'DELETE' ? undefined : 'overwritten through a signature',
    });
    expectAnswer(res, method, { status, type });
    await expectUnchanged(a, f);
  });

  it('a signature does not open a store that does not exist, nor ~name without a token', async () => {
    const missing = await send(a, 'none', { method: 'GET', url: recordUrl('AAAAAAAAAAAAAAAAA', RECORD_KEY, 'x') });
    expectAnswer(missing, 'GET', { status: 404, type: 'record-or-token-not-found' });
    const tilde = await send(a, 'none', {
      method: 'GET',
      url: recordUrl(`~${f.name}`, RECORD_KEY, hmacSig(f.secret, RECORD_KEY)),
    });
    expectAnswer(tilde, 'GET', { status: 404, type: 'record-or-token-not-found' });
    expect(tilde.body).not.toContain(f.value);
  });
});

describe('storage-content signatures on the key list', () => {
  const listedKeys = (body: string) => JSON.parse(body).data.items.map((i: { key: string }) => i.key);

  it('a token-less key list of a RESTRICTED store is refused without a signature', async () => {
    const res = await send(a, 'none', { method: 'GET', url: `/v2/key-value-stores/${f.id}/keys` });
    expectAnswer(res, 'GET', { status: 404, type: 'record-or-token-not-found' });
  });

  it.each([
    ['expiresAt 0 (permanent)', () => storageContentSignature(f.secret, f.id, 0)],
    ['an expiry a minute ahead', () => storageContentSignature(f.secret, f.id, Date.now() + 60_000)],
    ['an expiry in 2100', () => storageContentSignature(f.secret, f.id, Date.UTC(2100, 0, 1))],
  ])('a signature with %s lists the keys', async (_label, sig) => {
    const res = await send(a, 'none', { method: 'GET', url: keysUrl(f.id, sig()) });
    expectAnswer(res, 'GET', { status: 200 });
    expect(listedKeys(res.body)).toEqual([RECORD_KEY, OTHER_KEY].sort());
  });

  it('a padded (Python-style) signature is accepted, with = raw or percent-encoded', async () => {
    let expiresAt = Date.now() + 3_600_000;
    let padded = pythonStyle(storageContentSignature(f.secret, f.id, expiresAt));
    while (!padded.endsWith('=')) {
      expiresAt += 1;
      padded = pythonStyle(storageContentSignature(f.secret, f.id, expiresAt));
    }
    for (const url of [keysUrl(f.id, padded), `/v2/key-value-stores/${f.id}/keys?signature=${padded}`]) {
      const res = await send(a, 'none', { method: 'GET', url });
      expectAnswer(res, 'GET', { status: 200 });
      expect(listedKeys(res.body)).toContain(RECORD_KEY);
    }
  });

  it.each([
    ['an expiry a second ago', () => storageContentSignature(f.secret, f.id, Date.now() - 1000)],
    ['an expiry in 2001', () => storageContentSignature(f.secret, f.id, Date.UTC(2001, 0, 1))],
    ["this store's secret with another store's id", () => storageContentSignature(f.secret, other.id, 0)],
    ["another store's own valid signature", () => storageContentSignature(other.secret, other.id, 0)],
    ['another secret', () => storageContentSignature('not-the-secret', f.id, 0)],
    ['a record signature', () => hmacSig(f.secret, RECORD_KEY)],
    ['version 1', () => Buffer.from(`1.0.${hmacSig(f.secret, `1.0.${f.id}`)}`).toString('base64url')],
    ['garbage', () => 'garbage'],
  ])('a signature with %s is 403 insufficient-permissions', async (_label, sig) => {
    const res = await send(a, 'none', { method: 'GET', url: keysUrl(f.id, sig()) });
    expectAnswer(res, 'GET', { status: 403, type: 'insufficient-permissions' });
    expect(res.body).not.toContain(RECORD_KEY);
  });

  it('the keysPublicUrl of the store object lists the keys without a token, and expires in 14 days', async () => {
    const store = await send(a, 'alice', { method: 'GET', url: `/v2/key-value-stores/${f.id}` });
    const url: string = store.json().data.keysPublicUrl;
    const signature = new URL(url).searchParams.get('signature') ?? '';
    const expiresAt = Number(Buffer.from(signature, 'base64url').toString().split('.')[1]);
    const fourteenDays = 14 * 24 * 3600 * 1000;
    expect(Math.abs(expiresAt - (Date.now() + fourteenDays))).toBeLessThan(60_000);
    const res = await send(a, 'none', { method: 'GET', url: localPath(url) });
    expectAnswer(res, 'GET', { status: 200 });
    expect(listedKeys(res.body)).toEqual([RECORD_KEY, OTHER_KEY].sort());
  });

  it('the recordPublicUrl of every listed key serves that record without a token', async () => {
    const list = await send(a, 'alice', { method: 'GET', url: `/v2/key-value-stores/${f.id}/keys` });
    const items: { key: string; recordPublicUrl: string }[] = list.json().data.items;
    expect(items).toHaveLength(2);
    const values: Record<string, string> = { [RECORD_KEY]: f.value, [OTHER_KEY]: OTHER_VALUE };
    for (const item of items) {
      const res = await send(a, 'none', { method: 'GET', url: localPath(item.recordPublicUrl) });
      expectAnswer(res, 'GET', { status: 200 });
      expect(res.body).toBe(values[item.key]);
    }
  });

  it('a shared keysPublicUrl leads to record URLs that work without a token', async () => {
    const store = await send(a, 'alice', { method: 'GET', url: `/v2/key-value-stores/${f.id}` });
    const list = await send(a, 'none', { method: 'GET', url: localPath(store.json().data.keysPublicUrl) });
    expectAnswer(list, 'GET', { status: 200 });
    const item = list.json().data.items.find((i: { key: string }) => i.key === RECORD_KEY);
    const res = await send(a, 'none', { method: 'GET', url: localPath(item.recordPublicUrl) });
    expectAnswer(res, 'GET', { status: 200 });
    expect(res.body).toBe(f.value);
  });
});

describe('a signature opens nothing but the read it signs', () => {
  const sigs = () => [storageContentSignature(f.secret, f.id, 0), hmacSig(f.secret, RECORD_KEY)];

  it('get store with a valid signature and no token is 404 record-or-token-not-found', async () => {
    for (const sig of sigs()) {
      const res = await send(a, 'none', { method: 'GET', url: `/v2/key-value-stores/${f.id}?signature=${sig}` });
      expectAnswer(res, 'GET', { status: 404, type: 'record-or-token-not-found' });
      expect(res.body).not.toContain(f.secret);
    }
  });

  it("get store with a valid signature and bob's token is 403", async () => {
    for (const sig of sigs()) {
      const res = await send(a, 'bob', { method: 'GET', url: `/v2/key-value-stores/${f.id}?signature=${sig}` });
      expectAnswer(res, 'GET', { status: 403, type: 'insufficient-permissions' });
    }
  });

  it('list stores with a valid signature and no token is 401 token-not-provided', async () => {
    for (const sig of sigs()) {
      const res = await send(a, 'none', { method: 'GET', url: `/v2/key-value-stores?signature=${sig}` });
      expectAnswer(res, 'GET', { status: 401, type: 'token-not-provided' });
    }
  });

  it.each(['PUT', 'DELETE'] as const)(
    '%s store with a valid signature and no token is 401 token-not-provided',
    async (method) => {
      for (const sig of sigs()) {
        const res = await send(a, 'none', {
          method,
          url: `/v2/key-value-stores/${f.id}?signature=${sig}`,
          headers: { 'content-type': 'application/json' },
          payload: method === 'PUT' ? JSON.stringify({ title: 'through a signature' }) : undefined,
        });
        expectAnswer(res, method, { status: 401, type: 'token-not-provided' });
      }
      await expectUnchanged(a, f);
    },
  );
});
