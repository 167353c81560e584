/**
 * What apify-client-python sends, reproduced with raw HTTP against a real `openkvs serve`:
 * booleans as `true`/`false`, every request body gzip-compressed (`{}` on create included),
 * an `Accept: application/json` header (plus any type), and storage-content signatures base64url-encoded WITH `=`
 * padding (`urlsafe_b64encode`), percent-encoded by `urlencode`. (Python itself is not needed:
 * the client's conventions are spelled out here from its sources.)
 */
import { createHmac } from 'node:crypto';
import { brotliDecompressSync, gunzipSync, gzipSync, inflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fetched, fetchRaw, json } from './http.js';
import { type CompatServer, startOpenkvs } from './server.js';

let server: CompatServer;

const PYTHON_HEADERS = {
  accept: 'application/json, */*',
  'accept-encoding': 'gzip, deflate, br, zstd',
  'user-agent': 'ApifyClient/2.5.0 (linux; Python/3.12.3); isAtHome/False',
};

/** A request as the Python client makes it: `json` or `data` bodies always go out gzip-compressed. */
function py(
  path: string,
  options: { method?: string; token?: string | null; json?: unknown; data?: Buffer | string; contentType?: string } = {},
) {
  const headers: Record<string, string> = { ...PYTHON_HEADERS };
  const token = options.token === undefined ? server.token('py') : options.token;
  if (token) headers.authorization = `Bearer ${token}`;
  let body: Buffer | undefined;
  if (options.json !== undefined) {
    body = gzipSync(Buffer.from(JSON.stringify(options.json)));
    headers['content-type'] = 'application/json';
  } else if (options.data !== undefined) {
    body = gzipSync(Buffer.from(options.data));
    headers['content-type'] = options.contentType ?? 'application/octet-stream';
  }
  if (body) headers['content-encoding'] = 'gzip';
  return fetchRaw(`${server.origin}${path}`, { method: options.method ?? 'GET', headers, body });
}

/** The body with its Content-Encoding undone, as httpx/impit hand it to the Python client. */
function decoded(res: Fetched): Buffer {
  const encoding = res.headers['content-encoding'];
  if (encoding === 'gzip') return gunzipSync(res.body);
  if (encoding === 'br') return brotliDecompressSync(res.body);
  if (encoding === 'deflate') return inflateSync(res.body);
  expect(encoding ?? 'identity').toBe('identity');
  return res.body;
}

const BASE62 = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
/** apify_client._utils.crypto.create_hmac_signature */
function createHmacSignature(secret: string, message: string): string {
  let n = BigInt(`0x${createHmac('sha256', secret).update(message).digest('hex').slice(0, 30)}`);
  if (n === 0n) return '0';
  let out = '';
  for (; n > 0n; n /= 62n) out = BASE62[Number(n % 62n)] + out;
  return out;
}
/** apify_client._utils.crypto.create_storage_content_signature, with `expires_at` given. */
function createStorageContentSignature(storeId: string, secret: string, expiresAt: number): string {
  const payload = `0.${expiresAt}.${createHmacSignature(secret, `0.${expiresAt}.${storeId}`)}`;
  return Buffer.from(payload).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

interface Store {
  id: string;
  name: string | null;
  createdAt: string;
  modifiedAt: string;
  accessedAt: string;
  urlSigningSecretKey: string;
}

beforeAll(async () => {
  server = await startOpenkvs(['py', 'pylist']);
});
afterAll(() => server?.close());

describe('signature helpers of this file', () => {
  it('match the published test vectors', () => {
    expect(createHmacSignature('hmac-secret-key', 'hmac-message-to-be-authenticated')).toBe('pcVagAsudj8dFqdlg7mG');
    expect(createStorageContentSignature('resource-id', 'hmac-secret-key', 0)).toBe('MC4wLjNUd2ZFRTY1OXVmU05zbVM0N2xS');
  });
});

describe('stores', () => {
  it('get_or_create sends a gzip-compressed {} body: 201, then 200 with the same store', async () => {
    const first = await py('/v2/key-value-stores?name=py-store', { method: 'POST', json: {} });
    expect(first.status).toBe(201);
    expect(first.headers.location).toMatch(/\/v2\/key-value-stores\/[a-zA-Z0-9]{17}$/);
    const store = json<{ data: Store }>(first).data;
    // The fields the Python client's model requires.
    for (const field of ['createdAt', 'modifiedAt', 'accessedAt'] as const) expect(Date.parse(store[field])).not.toBeNaN();
    expect(store.name).toBe('py-store');
    const second = await py('/v2/key-value-stores?name=py-store', { method: 'POST', json: {} });
    expect(second.status).toBe(200);
    expect(json<{ data: Store }>(second).data.id).toBe(store.id);

    const plainBody = await fetchRaw(`${server.origin}/v2/key-value-stores?name=py-store`, {
      method: 'POST',
      headers: { ...PYTHON_HEADERS, authorization: `Bearer ${server.token('py')}`, 'content-type': 'application/json' },
      body: Buffer.from('{}'),
    });
    expect(plainBody.status).toBe(200);
    const unnamed = await py('/v2/key-value-stores', { method: 'POST', json: {} });
    expect(unnamed.status).toBe(201);
    expect(json<{ data: Store }>(unnamed).data.name).toBeNull();
  });

  it('list takes unnamed=true/false and desc=true/false like 1/0', async () => {
    // A user of its own, so that the list holds exactly these three.
    const token = server.token('pylist');
    const made: Store[] = [];
    for (const query of ['?name=py-list-a', '', '?name=py-list-b']) {
      const res = await py(`/v2/key-value-stores${query}`, { method: 'POST', json: {}, token });
      expect(res.status).toBe(201);
      made.push(json<{ data: Store }>(res).data);
    }
    const byAge = made.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || (a.id < b.id ? -1 : 1)).map((s) => s.id);
    const list = async (query: string) => {
      const res = await py(`/v2/key-value-stores?${query}`, { token });
      expect(res.status, query).toBe(200);
      const { data } = json<{ data: { items: Store[]; total: number; desc: boolean } }>(res);
      return { ids: data.items.map((s) => s.id), total: data.total, desc: data.desc };
    };
    const namedAsc = await list('unnamed=false&desc=false');
    expect(namedAsc).toEqual({ ids: byAge.filter((id) => made.find((s) => s.id === id)?.name), total: 2, desc: false });
    const allDesc = await list('unnamed=true&desc=true');
    expect(allDesc).toEqual({ ids: [...byAge].reverse(), total: 3, desc: true });
    expect(await list('unnamed=1&desc=1')).toEqual(allDesc);
    expect(await list('unnamed=false&desc=true')).toEqual(await list('desc=1'));
    expect((await list('unnamed=true&desc=false&limit=2&offset=1')).ids).toEqual(byAge.slice(1, 3));
  });

  it('update takes a gzip-compressed JSON body', async () => {
    const { id } = json<{ data: Store }>(await py('/v2/key-value-stores?name=py-rename', { method: 'POST', json: {} })).data;
    const res = await py(`/v2/key-value-stores/${id}`, {
      method: 'PUT',
      json: { name: 'py-renamed', generalAccess: 'RESTRICTED' },
    });
    expect(res.status).toBe(200);
    expect(json<{ data: Store & { generalAccess: string } }>(res).data).toMatchObject({
      name: 'py-renamed',
      generalAccess: 'RESTRICTED',
    });
  });
});

describe('records', () => {
  let store: Store;
  beforeAll(async () => {
    store = json<{ data: Store }>(await py('/v2/key-value-stores?name=py-records', { method: 'POST', json: {} })).data;
  });

  it('set_record gzips even a 3-byte body; the record is served decoded to a client that does not accept gzip', async () => {
    const put = await py(`/v2/key-value-stores/${store.id}/records/tiny`, {
      method: 'PUT',
      data: 'abc',
      contentType: 'text/plain; charset=utf-8',
    });
    expect(put.status).toBe(201);
    const res = await fetchRaw(`${server.origin}/v2/key-value-stores/${store.id}/records/tiny`, {
      headers: { authorization: `Bearer ${server.token('py')}`, 'accept-encoding': 'identity' },
    });
    expect(res.headers['content-encoding'] ?? 'identity').toBe('identity');
    expect(res.body.toString()).toBe('abc');
  });

  it('get_record sends attachment=true: Content-Disposition attachment and the exact JSON', async () => {
    // json.dumps(value, ensure_ascii=False, indent=2), as encode_key_value_store_record_value does.
    const text = '{\n  "city": "Plzeň",\n  "tags": [\n    "pivo",\n    "🍺"\n  ]\n}';
    const put = await py(`/v2/key-value-stores/${store.id}/records/OUTPUT`, {
      method: 'PUT',
      data: text,
      contentType: 'application/json; charset=utf-8',
    });
    expect(put.status).toBe(201);
    const res = await py(`/v2/key-value-stores/${store.id}/records/OUTPUT?attachment=true`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.headers['content-disposition']).toMatch(/^attachment/);
    expect(decoded(res).toString('utf8')).toBe(text);
    const inline = await py(`/v2/key-value-stores/${store.id}/records/OUTPUT?attachment=false`);
    expect(inline.status).toBe(200);
    expect(inline.headers['content-disposition']).toBeUndefined();
  });

  it('record_exists (HEAD) is 200 for a record and 404 for a missing one', async () => {
    expect((await py(`/v2/key-value-stores/${store.id}/records/tiny`, { method: 'HEAD' })).status).toBe(200);
    expect((await py(`/v2/key-value-stores/${store.id}/records/nope`, { method: 'HEAD' })).status).toBe(404);
  });
});

describe('signed URLs as the Python client builds them', () => {
  let store: Store;
  const recordText = 'restricted but shared';

  beforeAll(async () => {
    store = json<{ data: Store }>(await py('/v2/key-value-stores?name=py-signed', { method: 'POST', json: {} })).data;
    expect((await py(`/v2/key-value-stores/${store.id}`, { method: 'PUT', json: { generalAccess: 'RESTRICTED' } })).status).toBe(
      200,
    );
    for (const key of ['report', 'report-2']) {
      const put = await py(`/v2/key-value-stores/${store.id}/records/${key}`, {
        method: 'PUT',
        data: recordText,
        contentType: 'text/plain',
      });
      expect(put.status).toBe(201);
    }
    expect((await py(`/v2/key-value-stores/${store.id}/keys`, { token: null })).status).toBe(404);
  });

  /** create_keys_public_url: `urlencode` percent-encodes the padding (`=` → `%3D`). */
  const keysUrl = (signature: string, extra = '') =>
    `/v2/key-value-stores/${store.id}/keys?${extra}signature=${encodeURIComponent(signature)}`;

  /** An expiring signature whose base64 needs `=` padding (the expiry is nudged until it does). */
  function paddedExpiring(): string {
    for (let expiresAt = Date.now() + 600_000; ; expiresAt++) {
      const signature = createStorageContentSignature(store.id, store.urlSigningSecretKey, expiresAt);
      if (signature.endsWith('=')) return signature;
    }
  }

  it('an expiring, padded keys signature (%3D-encoded) lists the keys without a token', async () => {
    const signature = paddedExpiring();
    expect(signature).toMatch(/=$/);
    const res = await py(keysUrl(signature, 'limit=1&'), { token: null });
    expect(res.status).toBe(200);
    const { data } = json<{ data: { items: { key: string; size: number; recordPublicUrl: string }[]; isTruncated: boolean } }>(
      res,
    );
    expect(data.items.map((i) => i.key)).toEqual(['report']);
    expect(data.isTruncated).toBe(true);
    // recordPublicUrl is required by the Python client's model, and opens the record.
    const record = await fetchRaw(data.items[0]!.recordPublicUrl, { headers: { 'accept-encoding': 'identity' } });
    expect(record.status).toBe(200);
    expect(record.body.toString()).toBe(recordText);
    // The same signature with its padding raw in the query, and without padding (as JS sends it).
    expect((await fetchRaw(`${server.origin}/v2/key-value-stores/${store.id}/keys?signature=${signature}`)).status).toBe(200);
    expect((await py(keysUrl(signature.replace(/=+$/, '')), { token: null })).status).toBe(200);
  });

  it('a permanent keys signature (expires_at 0) works, padded or not; an expired one is refused', async () => {
    const permanent = createStorageContentSignature(store.id, store.urlSigningSecretKey, 0);
    expect((await py(keysUrl(permanent), { token: null })).status).toBe(200);
    expect((await py(keysUrl(permanent.replace(/=+$/, '')), { token: null })).status).toBe(200);
    const expired = createStorageContentSignature(store.id, store.urlSigningSecretKey, Date.now() - 1000);
    const res = await py(keysUrl(expired), { token: null });
    expect(res.status).toBe(403);
    expect(json<{ error: { type: string } }>(res).error.type).toBe('insufficient-permissions');
  });

  it('get_record_public_url: attachment=true with the record signature opens the record without a token', async () => {
    const signature = createHmacSignature(store.urlSigningSecretKey, 'report');
    const res = await py(`/v2/key-value-stores/${store.id}/records/report?attachment=true&signature=${signature}`, {
      token: null,
    });
    expect(res.status).toBe(200);
    expect(res.headers['content-disposition']).toMatch(/^attachment/);
    expect(decoded(res).toString()).toBe(recordText);
    const wrongKey = await py(`/v2/key-value-stores/${store.id}/records/report-2?attachment=true&signature=${signature}`, {
      token: null,
    });
    expect(wrongKey.status).toBe(403);
  });
});
