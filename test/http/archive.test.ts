import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import yauzl from 'yauzl';
import { hmacSig, storageContentSignature } from '../../src/domain/signing.js';
import { createTestContext, type TestContext } from '../helpers/context.js';

/** Unzips a buffer into a map of file name → bytes. */
function unzip(data: Buffer): Promise<Map<string, Buffer>> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(data, { lazyEntries: true }, (err, zip) => {
      if (err || !zip) return reject(err);
      const files = new Map<string, Buffer>();
      zip.on('entry', (entry: yauzl.Entry) => {
        zip.openReadStream(entry, (e, stream) => {
          if (e || !stream) return reject(e);
          const parts: Buffer[] = [];
          stream.on('data', (c: Buffer) => parts.push(c));
          stream.on('end', () => {
            files.set(entry.fileName, Buffer.concat(parts));
            zip.readEntry();
          });
        });
      });
      zip.on('end', () => resolve(files));
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}

describe('GET /v2/key-value-stores/{storeId}/records (ZIP download)', () => {
  let ctx: TestContext;
  let origin: string;
  let store: { id: string; urlSigningSecretKey: string };
  const auth = () => ({ authorization: `Bearer ${ctx.alice}` });

  beforeEach(async () => {
    ctx = await createTestContext();
    store = await ctx.createStore('zipped');
    const put = (key: string, payload: Buffer | string, headers: Record<string, string> = {}) =>
      ctx.request({ method: 'PUT', url: `/v2/key-value-stores/${store.id}/records/${key}`, token: ctx.alice, headers, payload });
    for (let i = 0; i < 1203; i++) await put(`item-${String(i).padStart(4, '0')}`, `value ${i}`);
    await put('packed', gzipSync('decoded in the archive'), { 'content-encoding': 'gzip' });
    await put('large', Buffer.alloc(600 * 1024, 'x'));
    origin = await ctx.listen();
  });
  afterEach(() => ctx.close());

  it('holds every record, decoded, one file per key, across several key pages', async () => {
    const res = await fetch(`${origin}/v2/key-value-stores/${store.id}/records`, { headers: auth() });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/zip');
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="zipped.zip"');
    const files = await unzip(Buffer.from(await res.arrayBuffer()));
    expect(files.size).toBe(1205);
    expect(files.get('item-1202')?.toString()).toBe('value 1202');
    expect(files.get('packed')?.toString()).toBe('decoded in the archive');
    expect(files.get('large')?.equals(Buffer.alloc(600 * 1024, 'x'))).toBe(true);
  });

  it('narrows by prefix', async () => {
    const res = await fetch(`${origin}/v2/key-value-stores/${store.id}/records?prefix=item-11`, { headers: auth() });
    const files = await unzip(Buffer.from(await res.arrayBuffer()));
    expect([...files.keys()].sort()).toEqual(Array.from({ length: 100 }, (_, i) => `item-${1100 + i}`));
  });

  it('is readable with the signed recordsPublicUrl on a restricted store, and not without it', async () => {
    await ctx.request({
      method: 'PUT',
      url: `/v2/key-value-stores/${store.id}`,
      token: ctx.alice,
      headers: { 'content-type': 'application/json' },
      payload: { generalAccess: 'RESTRICTED' },
    });
    const got = await ctx.request({ method: 'GET', url: `/v2/key-value-stores/${store.id}`, token: ctx.alice });
    const url = new URL(got.json().data.recordsPublicUrl);
    expect(url.origin + url.pathname).toBe(`http://openkvs.test/v2/key-value-stores/${store.id}/records`);
    const signed = await fetch(`${origin}${url.pathname}${url.search}&prefix=packed`);
    expect(signed.status).toBe(200);
    expect((await unzip(Buffer.from(await signed.arrayBuffer()))).get('packed')?.toString()).toBe('decoded in the archive');
    const anonymous = await fetch(`${origin}/v2/key-value-stores/${store.id}/records`);
    expect(anonymous.status).toBe(404);
    expect(((await anonymous.json()) as { error: { type: string } }).error.type).toBe('record-or-token-not-found');
    const wrong = storageContentSignature('not-the-secret', store.id, 0);
    const forged = await fetch(`${origin}/v2/key-value-stores/${store.id}/records?signature=${wrong}`);
    expect(forged.status).toBe(403);
    const recordSig = hmacSig(store.urlSigningSecretKey, 'packed');
    expect((await fetch(`${origin}/v2/key-value-stores/${store.id}/records?signature=${recordSig}`)).status).toBe(403);
  });

  it('answers 404 for a missing store and 400 for an unknown collection', async () => {
    const missing = await fetch(`${origin}/v2/key-value-stores/AAAAAAAAAAAAAAAAA/records`, { headers: auth() });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { type: string } }).error.type).toBe('record-not-found');
    const bad = await fetch(`${origin}/v2/key-value-stores/${store.id}/records?collection=nope`, { headers: auth() });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { type: string } }).error.type).toBe('invalid-collection');
  });
});
