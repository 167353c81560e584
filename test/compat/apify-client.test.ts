/**
 * apify-client 2.25.0, unmodified, against a real `openkvs serve`: the store calls and the public
 * (signed) URLs. Records and key lists are in apify-client-records.test.ts.
 */
import { ApifyApiError, ApifyClient } from 'apify-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../helpers/time.js';
import { binary, fetchRaw, json } from './http.js';
import { type CompatServer, startOpenkvs } from './server.js';

let server: CompatServer;
let alice: ApifyClient;

/** A client as the README configures it; no retries, so that a failure shows at once. */
const clientFor = (token?: string) =>
  new ApifyClient({ baseUrl: server.origin, publicBaseUrl: server.origin, token, maxRetries: 0, timeoutSecs: 60 });

async function apiError(promise: Promise<unknown>): Promise<ApifyApiError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApifyApiError);
  return err as ApifyApiError;
}

beforeAll(async () => {
  server = await startOpenkvs(['alice', 'lister']);
  alice = clientFor(server.token('alice'));
});
afterAll(() => server?.close());

describe('keyValueStores()', () => {
  it('getOrCreate(name) twice gives the same store; getOrCreate() makes a new unnamed one each time', async () => {
    const first = await alice.keyValueStores().getOrCreate('twice');
    const second = await alice.keyValueStores().getOrCreate('twice');
    expect(first.id).toMatch(/^[a-zA-Z0-9]{17}$/);
    expect(second.id).toBe(first.id);
    expect(second).toMatchObject({ name: 'twice', username: 'alice' });
    expect(first.createdAt).toBeInstanceOf(Date);
    expect(typeof first.urlSigningSecretKey).toBe('string');

    const a = await alice.keyValueStores().getOrCreate();
    const b = await alice.keyValueStores().getOrCreate();
    expect(a.name ?? null).toBeNull();
    expect(b.id).not.toBe(a.id);
  });

  it('getOrCreate(name, { schema }) keeps the schema (a body over 1 KiB, sent Brotli-compressed); listKeys({ collection }) uses it', async () => {
    const schema = {
      actorKeyValueStoreSchemaVersion: 1,
      title: 'Crawl results',
      description: 'Screenshots and pages of a crawl. '.repeat(40),
      collections: {
        screenshots: { title: 'Screenshots', contentTypes: ['image/png'], keyPrefix: 'shot-' },
        input: { title: 'Input', contentTypes: ['application/json'], key: 'INPUT' },
      },
    };
    expect(JSON.stringify({ schema }).length).toBeGreaterThan(1024);
    const created = await alice.keyValueStores().getOrCreate('with-schema', { schema });
    expect((created as typeof created & { schema?: unknown }).schema).toEqual(schema);
    const store = alice.keyValueStore(created.id);
    for (const key of ['INPUT', 'INPUT-old', 'page-1', 'shot-1', 'shot-2', 'shots']) await store.setRecord({ key, value: key });
    expect((await store.listKeys({ collection: 'screenshots' })).items.map((i) => i.key)).toEqual(['shot-1', 'shot-2']);
    const input: string[] = [];
    for await (const item of store.listKeys({ collection: 'input' })) input.push(item.key);
    expect(input).toEqual(['INPUT']);
  });

  describe('list', () => {
    type Made = { id: string; name?: string | null; createdAt: Date };
    /** The API order: createdAt, ties (same millisecond) broken by id. */
    const oldestFirst = (stores: Made[]) =>
      [...stores].sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    let named: Made[] = [];
    let all: Made[] = [];
    let lister: ApifyClient;

    beforeAll(async () => {
      // 1,008 stores of a user of their own, so that the iteration needs more than one page of 1000.
      lister = clientFor(server.token('lister'));
      const made: Made[] = [];
      for (const name of ['list-a', 'list-b', 'list-c']) made.push(await lister.keyValueStores().getOrCreate(name));
      let left = 1004;
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (left-- > 0) made.push(await lister.keyValueStores().getOrCreate());
        }),
      );
      made.push(await lister.keyValueStores().getOrCreate('list-d'));
      all = oldestFirst(made);
      named = all.filter((s) => s.name);
    }, 120_000);

    it('lists named stores only by default, oldest first, with total/offset/limit/count', async () => {
      const page = await lister.keyValueStores().list();
      expect(page.items.map((s) => s.id)).toEqual(named.map((s) => s.id));
      expect(page).toMatchObject({ total: 4, offset: 0, count: 4, desc: false });
      expect(named.at(-1)?.name).toBe('list-d');
    });

    it('offset, limit and desc page through them', async () => {
      const page = await lister.keyValueStores().list({ offset: 1, limit: 2 });
      expect(page.items.map((s) => s.id)).toEqual(named.slice(1, 3).map((s) => s.id));
      expect(page).toMatchObject({ total: 4, offset: 1, limit: 2, count: 2 });
      const desc = await lister.keyValueStores().list({ desc: true, limit: 3 });
      expect(desc.items.map((s) => s.id)).toEqual(
        [...named]
          .reverse()
          .slice(0, 3)
          .map((s) => s.id),
      );
      expect(desc.items[0]?.name).toBe('list-d');
    });

    it('unnamed: true includes the unnamed stores, and the async iteration walks past the first 1000', async () => {
      const page = await lister.keyValueStores().list({ unnamed: true });
      expect(page.total).toBe(1008);
      expect(page.count).toBe(1000);
      const ids: string[] = [];
      for await (const store of lister.keyValueStores().list({ unnamed: true })) ids.push(store.id);
      expect(ids).toEqual(all.map((s) => s.id));
    });

    it('the async iteration honours offset, limit and desc', async () => {
      const ids: string[] = [];
      for await (const store of lister.keyValueStores().list({ unnamed: true, desc: true, offset: 2, limit: 1003 }))
        ids.push(store.id);
      expect(ids).toEqual(
        [...all]
          .reverse()
          .slice(2, 1005)
          .map((s) => s.id),
      );
    });
  });
});

describe('keyValueStore(id)', () => {
  it('get() by id and by "username/name" return the same store; a missing one is undefined', async () => {
    const created = await alice.keyValueStores().getOrCreate('by-name');
    const byId = await alice.keyValueStore(created.id).get();
    const byName = await alice.keyValueStore('alice/by-name').get();
    expect(byId?.id).toBe(created.id);
    expect(byName?.id).toBe(created.id);
    expect(byName?.name).toBe('by-name');
    expect(await alice.keyValueStore('aaaaaaaaaaaaaaaaa').get()).toBeUndefined();
    expect(await alice.keyValueStore('alice/no-such-store').get()).toBeUndefined();
  });

  it('update() renames, titles and restricts, and get() shows it; a taken name is refused', async () => {
    const { id } = await alice.keyValueStores().getOrCreate('before-rename');
    await alice.keyValueStores().getOrCreate('taken');
    const updated = await alice
      .keyValueStore(id)
      .update({ name: 'after-rename', title: 'My store', generalAccess: 'RESTRICTED' });
    expect(updated).toMatchObject({ id, name: 'after-rename', title: 'My store', generalAccess: 'RESTRICTED' });
    expect(await alice.keyValueStore(id).get()).toMatchObject({ name: 'after-rename', title: 'My store' });
    expect((await alice.keyValueStore('alice/after-rename').get())?.id).toBe(id);

    const err = await apiError(alice.keyValueStore(id).update({ name: 'taken' }));
    expect(err).toMatchObject({ statusCode: 400, type: 'name-not-unique' });
    expect((await alice.keyValueStore(id).get())?.name).toBe('after-rename');
  });

  it('delete() removes the store; deleting it again still resolves', async () => {
    const { id } = await alice.keyValueStores().getOrCreate('to-delete');
    await alice.keyValueStore(id).setRecord({ key: 'a', value: 'x' });
    await alice.keyValueStore(id).delete();
    expect(await alice.keyValueStore(id).get()).toBeUndefined();
    expect(await alice.keyValueStore(id).getRecord('a')).toBeUndefined();
    await expect(alice.keyValueStore(id).delete()).resolves.toBeUndefined();
    expect((await alice.keyValueStores().getOrCreate('to-delete')).id).not.toBe(id);
  });

  it('a client without a token reads what general access allows, and nothing else', async () => {
    const anonymous = clientFor(undefined);
    const { id: byIdStore } = await alice.keyValueStores().getOrCreate('readable-by-id');
    const { id: byNameStore } = await alice.keyValueStores().getOrCreate('readable-by-name');
    const { id: closed } = await alice.keyValueStores().getOrCreate('closed');
    await alice.keyValueStore(byNameStore).update({ generalAccess: 'ANYONE_WITH_NAME_CAN_READ' });
    await alice.keyValueStore(closed).update({ generalAccess: 'RESTRICTED' });
    for (const id of [byIdStore, byNameStore, closed]) await alice.keyValueStore(id).setRecord({ key: 'hello', value: 'world' });

    expect((await anonymous.keyValueStore(byIdStore).getRecord('hello'))?.value).toBe('world');
    expect((await anonymous.keyValueStore('alice/readable-by-name').getRecord('hello'))?.value).toBe('world');
    expect(await anonymous.keyValueStore('alice/readable-by-id').get()).toBeUndefined();
    expect(await anonymous.keyValueStore(closed).get()).toBeUndefined();
    expect(await anonymous.keyValueStore(closed).getRecord('hello')).toBeUndefined();
    expect(await anonymous.keyValueStore(closed).recordExists('hello')).toBe(false);
    const err = await apiError(anonymous.keyValueStore(byIdStore).setRecord({ key: 'hello', value: 'mine' }));
    expect(err).toMatchObject({ statusCode: 401, type: 'token-not-provided' });
  });
});

describe('public URLs', () => {
  let restricted: string;
  const png = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489', 'hex');

  beforeAll(async () => {
    restricted = (await alice.keyValueStores().getOrCreate('signed-links')).id;
    const store = alice.keyValueStore(restricted);
    await store.update({ generalAccess: 'RESTRICTED' });
    await store.setRecord({ key: 'shot.png', value: binary(png), contentType: 'image/png' });
    await store.setRecord({ key: 'shot-2.png', value: binary(png), contentType: 'image/png' });
    await store.setRecord({ key: 'notes', value: 'secret notes' });
  });

  it('getRecordPublicUrl() opens one record of a RESTRICTED store without a token, and only with its signature', async () => {
    const url = await alice.keyValueStore(restricted).getRecordPublicUrl('shot.png');
    expect(url).toMatch(new RegExp(`^${server.origin}/v2/key-value-stores/${restricted}/records/shot\\.png\\?signature=\\w+$`));
    const res = await fetchRaw(url);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('image/png');
    expect(res.body.equals(png)).toBe(true);

    const unsigned = await fetchRaw(url.replace(/\?.*$/, ''));
    expect(unsigned.status).toBe(404);
    expect(json<{ error: { type: string } }>(unsigned).error.type).toBe('record-or-token-not-found');
    const otherKey = await fetchRaw(url.replace('/shot.png?', '/notes?'));
    expect(otherKey.status).toBe(403);
    expect(otherKey.body.toString()).not.toContain('secret notes');
  });

  it('getRecordPublicUrl() of a store readable by id works too', async () => {
    const { id } = await alice.keyValueStores().getOrCreate('open-links');
    await alice.keyValueStore(id).setRecord({ key: 'OUTPUT', value: { ok: true } });
    const res = await fetchRaw(await alice.keyValueStore(id).getRecordPublicUrl('OUTPUT'));
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body.toString())).toEqual({ ok: true });
  });

  it('createKeysPublicUrl() lists the keys of a RESTRICTED store without a token, prefix and limit included', async () => {
    const url = await alice.keyValueStore(restricted).createKeysPublicUrl({ prefix: 'shot', limit: 1 });
    expect(url.startsWith(`${server.origin}/v2/key-value-stores/${restricted}/keys?signature=`)).toBe(true);
    const res = await fetchRaw(url);
    expect(res.status).toBe(200);
    const { data } = json<{ data: { items: { key: string; size: number; recordPublicUrl: string }[]; isTruncated: boolean } }>(
      res,
    );
    expect(data.items.map((i) => i.key)).toEqual(['shot-2.png']);
    expect(data.items[0]?.size).toBe(png.length);
    expect(data.isTruncated).toBe(true);
    // The record links in the list open without a token as well.
    const record = await fetchRaw(data.items[0]!.recordPublicUrl);
    expect(record.status).toBe(200);
    expect(record.body.equals(png)).toBe(true);
    expect((await fetchRaw(url.replace(/signature=[^&]+&/, ''))).status).toBe(404);
  });

  it('a client without a token reads a RESTRICTED store with the signatures of those URLs', async () => {
    const anonymous = clientFor(undefined).keyValueStore(restricted);
    const signatureOf = (url: string) => new URL(url).searchParams.get('signature') ?? '';
    const recordSignature = signatureOf(await alice.keyValueStore(restricted).getRecordPublicUrl('notes'));
    expect((await anonymous.getRecord('notes', { signature: recordSignature }))?.value).toBe('secret notes');
    const keysSignature = signatureOf(await alice.keyValueStore(restricted).createKeysPublicUrl());
    const keys: string[] = [];
    for await (const item of anonymous.listKeys({ signature: keysSignature, limit: 2 })) keys.push(item.key);
    expect(keys).toEqual(['notes', 'shot-2.png']);
    expect(await anonymous.getRecord('notes')).toBeUndefined();
  });

  it('createKeysPublicUrl({ expiresInSecs }) works until it expires, then is refused', async () => {
    const lasting = await alice.keyValueStore(restricted).createKeysPublicUrl({ expiresInSecs: 3600 });
    const res = await fetchRaw(lasting);
    expect(res.status).toBe(200);
    expect(json<{ data: { items: { key: string }[] } }>(res).data.items.map((i) => i.key)).toEqual([
      'notes',
      'shot-2.png',
      'shot.png',
    ]);

    const brief = await alice.keyValueStore(restricted).createKeysPublicUrl({ expiresInSecs: 0.05 });
    await sleep(200);
    const expired = await fetchRaw(brief);
    expect(expired.status).toBe(403);
    expect(json<{ error: { type: string } }>(expired).error.type).toBe('insufficient-permissions');
  });
});
