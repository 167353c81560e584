/**
 * apify-client 2.25.0, unmodified, against a real `openkvs serve`: records (JSON, text, binary,
 * large, streamed) and key lists. Bodies of 1 KiB or more go out Brotli-compressed (the client
 * does that by itself), so these tests also cover compressed uploads end to end.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { ApifyApiError, ApifyClient, type KeyValueStoreClient } from 'apify-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binary, fetchRaw, putRecords } from './http.js';
import { type CompatServer, startOpenkvs } from './server.js';

let server: CompatServer;
let store: KeyValueStoreClient;
let storeId: string;

/** The record's bytes as openkvs serves them to a client that accepts no compression. */
async function storedBytes(key: string, id = storeId): Promise<{ contentType: string | undefined; body: Buffer }> {
  const res = await fetchRaw(`${server.origin}/v2/key-value-stores/${id}/records/${key}`, {
    headers: { authorization: `Bearer ${server.token('alice')}`, 'accept-encoding': 'identity' },
  });
  expect(res.status).toBe(200);
  return { contentType: res.headers['content-type'], body: res.body };
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

beforeAll(async () => {
  server = await startOpenkvs(['alice']);
  const client = new ApifyClient({ baseUrl: server.origin, token: server.token('alice'), maxRetries: 0, timeoutSecs: 60 });
  storeId = (await client.keyValueStores().getOrCreate('records')).id;
  store = client.keyValueStore(storeId);
});
afterAll(() => server?.close());

describe('setRecord / getRecord', () => {
  it('an object is stored as 2-space JSON and read back as the object', async () => {
    const value = { hello: 'world', n: [1, 2, 3], nested: { ok: true, text: 'žluťoučký kůň' } };
    await store.setRecord({ key: 'obj', value });
    const record = await store.getRecord('obj');
    expect(record).toEqual({ key: 'obj', value, contentType: 'application/json; charset=utf-8' });
    expect(await storedBytes('obj')).toEqual({
      contentType: 'application/json; charset=utf-8',
      body: Buffer.from(JSON.stringify(value, null, 2)),
    });
  });

  it('a large object (sent Brotli-compressed) reads back whole', async () => {
    const value = { rows: Array.from({ length: 2000 }, (_, i) => ({ i, label: `row ${i}` })) };
    await store.setRecord({ key: 'big-obj', value });
    expect((await store.getRecord('big-obj'))?.value).toEqual(value);
    expect((await storedBytes('big-obj')).body.toString()).toBe(JSON.stringify(value, null, 2));
  });

  it('a string is stored as text/plain; charset=utf-8', async () => {
    await store.setRecord({ key: 'txt', value: 'Hello, openkvs ✓' });
    expect(await store.getRecord('txt')).toEqual({
      key: 'txt',
      value: 'Hello, openkvs ✓',
      contentType: 'text/plain; charset=utf-8',
    });
  });

  it('a 1 MB random Buffer reads back byte-exact, plain, as { buffer: true } and to a client without compression', async () => {
    const value = randomBytes(1024 * 1024);
    await store.setRecord({ key: 'random-1mb', value: binary(value) });
    const plain = await store.getRecord('random-1mb');
    expect(plain?.contentType).toBe('application/octet-stream');
    expect(Buffer.isBuffer(plain?.value) && plain.value.equals(value)).toBe(true);
    const buffered = await store.getRecord('random-1mb', { buffer: true });
    expect(buffered?.value.equals(value)).toBe(true);
    expect((await storedBytes('random-1mb')).body.equals(value)).toBe(true);
  });

  it('a 20 MB Buffer reads back byte-exact as a buffer and as a stream', async () => {
    const value = randomBytes(20 * 1024 * 1024);
    await store.setRecord({ key: 'random-20mb', value: binary(value) });
    const buffered = await store.getRecord('random-20mb', { buffer: true });
    expect(buffered?.value.length).toBe(value.length);
    expect(buffered?.value.equals(value)).toBe(true);
    const streamed = await store.getRecord('random-20mb', { stream: true });
    expect(streamed?.contentType).toBe('application/octet-stream');
    expect((await readAll(streamed!.value)).equals(value)).toBe(true);
  });

  it('an image/png value keeps its content type', async () => {
    const png = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), randomBytes(3000)]);
    await store.setRecord({ key: 'screenshot.png', value: binary(png), contentType: 'image/png' });
    const record = await store.getRecord('screenshot.png');
    expect(record?.contentType).toBe('image/png');
    expect(Buffer.isBuffer(record?.value) && record.value.equals(png)).toBe(true);
    expect(await storedBytes('screenshot.png')).toEqual({ contentType: 'image/png', body: png });
  });

  it('a Readable stream is stored as the concatenation of its chunks', async () => {
    const parts = [Buffer.from('first chunk, '), randomBytes(256 * 1024), Buffer.from(' last chunk')];
    await store.setRecord({ key: 'streamed', value: binary(Readable.from(parts)), contentType: 'application/x-ndjson' });
    const record = await store.getRecord('streamed', { buffer: true });
    expect(record?.contentType).toBe('application/x-ndjson');
    expect(record?.value.equals(Buffer.concat(parts))).toBe(true);
  });

  it('getRecord of a JSON record: plain gives the value, buffer the bytes, stream the same bytes', async () => {
    const value = { plain: 'vs', buffer: 'vs', stream: true };
    await store.setRecord({ key: 'three-ways', value });
    const bytes = Buffer.from(JSON.stringify(value, null, 2));
    expect((await store.getRecord('three-ways'))?.value).toEqual(value);
    expect((await store.getRecord('three-ways', { buffer: true }))?.value.equals(bytes)).toBe(true);
    const streamed = await store.getRecord('three-ways', { stream: true });
    expect(streamed?.contentType).toBe('application/json; charset=utf-8');
    expect((await readAll(streamed!.value)).equals(bytes)).toBe(true);
  });

  it('null and the empty string are records too', async () => {
    await store.setRecord({ key: 'null', value: null });
    expect((await store.getRecord('null'))?.value).toBeNull();
    await store.setRecord({ key: 'empty', value: '' });
    const empty = await store.getRecord('empty');
    expect(empty).toBeDefined();
    expect(empty?.value).toBeUndefined();
    expect(await store.recordExists('empty')).toBe(true);
  });

  it("keys with every allowed punctuation character work unencoded: it's-(a)_key!.txt", async () => {
    const key = "it's-(a)_key!.txt";
    await store.setRecord({ key, value: 'punctuated' });
    expect((await store.getRecord(key))?.value).toBe('punctuated');
    expect(await store.recordExists(key)).toBe(true);
    expect((await store.listKeys({ prefix: "it's" })).items.map((i) => i.key)).toEqual([key]);
    await store.deleteRecord(key);
    expect(await store.recordExists(key)).toBe(false);
  });

  it('an invalid key is an ApifyApiError 400 invalid-record-key, a missing record is undefined', async () => {
    const err = await store.setRecord({ key: 'no spaces', value: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApifyApiError);
    expect(err).toMatchObject({ statusCode: 400, type: 'invalid-record-key' });
    expect(await store.getRecord('never-written')).toBeUndefined();
    expect(await store.getRecord('never-written', { buffer: true })).toBeUndefined();
  });
});

describe('recordExists / deleteRecord', () => {
  it('recordExists is true for a record and false for a missing key or a missing store', async () => {
    await store.setRecord({ key: 'exists', value: 'yes' });
    expect(await store.recordExists('exists')).toBe(true);
    expect(await store.recordExists('does-not-exist')).toBe(false);
    const client = new ApifyClient({ baseUrl: server.origin, token: server.token('alice'), maxRetries: 0 });
    expect(await client.keyValueStore('aaaaaaaaaaaaaaaaa').recordExists('exists')).toBe(false);
  });

  it('deleteRecord removes an existing record and resolves for a key that was never there', async () => {
    await store.setRecord({ key: 'doomed', value: 'bye' });
    await store.deleteRecord('doomed');
    expect(await store.recordExists('doomed')).toBe(false);
    expect(await store.getRecord('doomed')).toBeUndefined();
    await expect(store.deleteRecord('was-never-there')).resolves.toBeUndefined();
  });
});

describe('listKeys', () => {
  let keys: KeyValueStoreClient;
  const all = Array.from({ length: 2500 }, (_, i) => `k-${String(i).padStart(5, '0')}`);

  beforeAll(async () => {
    const client = new ApifyClient({ baseUrl: server.origin, token: server.token('alice'), maxRetries: 0 });
    const { id } = await client.keyValueStores().getOrCreate('many-keys');
    keys = client.keyValueStore(id);
    // Stored in a shuffled order: the listing must come out sorted anyway.
    const shuffled = [...all].sort(() => Math.random() - 0.5);
    await putRecords(
      server.origin,
      server.token('alice'),
      id,
      shuffled.map((key) => ({ key, value: `value of ${key}` })),
    );
  }, 60_000);

  it('one call gives the first 1000 keys and where to go on', async () => {
    const page = await keys.listKeys();
    expect(page.items.map((i) => i.key)).toEqual(all.slice(0, 1000));
    expect(page).toMatchObject({ count: 1000, limit: 1000, isTruncated: true, nextExclusiveStartKey: all[999] });
    expect(page.items[0]).toMatchObject({ key: 'k-00000', size: 'value of k-00000'.length });
  });

  it('the async iteration yields all 2,500 keys, in order, each once', async () => {
    const seen: string[] = [];
    for await (const item of keys.listKeys()) seen.push(item.key);
    expect(seen).toEqual(all);
  });

  it('iteration with a limit stops there, across pages', async () => {
    const seen: string[] = [];
    for await (const item of keys.listKeys({ limit: 1500, exclusiveStartKey: 'k-00099' })) seen.push(item.key);
    expect(seen).toEqual(all.slice(100, 1600));
  });

  it('prefix narrows the listing and the iteration', async () => {
    const page = await keys.listKeys({ prefix: 'k-020', limit: 10 });
    expect(page.items.map((i) => i.key)).toEqual(all.slice(2000, 2010));
    expect(page.isTruncated).toBe(true);
    const seen: string[] = [];
    for await (const item of keys.listKeys({ prefix: 'k-01' })) seen.push(item.key);
    expect(seen).toEqual(all.slice(1000, 2000));
    const few: string[] = [];
    for await (const item of keys.listKeys({ prefix: 'k-0249' })) few.push(item.key);
    expect(few).toEqual(all.slice(2490));
    expect((await keys.listKeys({ prefix: 'nothing-' })).items).toEqual([]);
  });
});

describe('the record keys "." and ".." (valid by the key pattern, removed from URLs as dot segments)', () => {
  it('deleteRecord("..") and setRecord({ key: ".." }) leave the store, its name and its records alone', async () => {
    const client = new ApifyClient({ baseUrl: server.origin, token: server.token('alice'), maxRetries: 0, timeoutSecs: 60 });
    const dots = await client.keyValueStores().getOrCreate('dots');
    const kvs = client.keyValueStore(dots.id);
    await kvs.setRecord({ key: 'keep', value: { kept: true } });
    // The client sends DELETE /v2/key-value-stores/{id}/ — it must not delete the store.
    const deleted = await kvs.deleteRecord('..').then(
      () => 'resolved',
      (err: unknown) => err,
    );
    if (deleted !== 'resolved') expect((deleted as ApifyApiError).statusCode).toBe(400);
    // PUT /v2/key-value-stores/{id}/ with the record as the body — it must not rename the store.
    const put = await kvs.setRecord({ key: '..', value: { name: 'renamed-by-a-record' } }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(put).toBeInstanceOf(ApifyApiError);
    expect((put as ApifyApiError).statusCode).toBe(400);
    expect((put as ApifyApiError).type).toBe('invalid-request');
    const after = await kvs.get();
    expect(after?.name).toBe('dots');
    expect((await kvs.getRecord('keep'))?.value).toEqual({ kept: true });
    // "." becomes …/records/ (no key at all).
    const dot = await kvs.setRecord({ key: '.', value: 1 }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect((dot as ApifyApiError).statusCode).toBe(400);
    expect((await kvs.listKeys()).items.map((i) => i.key)).toEqual(['keep']);
  });
});
