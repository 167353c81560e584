import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId, newSecret } from '../../src/domain/ids.js';
import type { StorageKind, StoreRow, WriteCondition } from '../../src/model.js';
import type { RecordValue, StorageDriver } from '../../src/storage/driver.js';

/** Creates a driver on empty storage; `cleanup` removes what it created. */
export type DriverFactory = () => Promise<{ driver: StorageDriver; cleanup?: () => Promise<void> }>;

export async function* chunks(data: Buffer, size = 64 * 1024): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

export const etagOf = (data: Buffer) => createHash('sha256').update(data).digest('base64url');

export async function bytesOf(value: RecordValue): Promise<Buffer> {
  if (value.kind === 'buffer') return value.data;
  const parts: Buffer[] = [];
  for await (const c of value.stream as Readable) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

export function storeRow(userId: string, name: string | null, kind: StorageKind = 'kvs'): StoreRow {
  const now = Date.now();
  return {
    id: newId(),
    kind,
    userId,
    name,
    title: null,
    createdAt: now,
    modifiedAt: now,
    accessedAt: now,
    generalAccess: 'FOLLOW_USER_SETTING',
    schema: null,
    urlSigningSecretKey: newSecret(),
    stats: { readCount: 0, writeCount: 0, deleteCount: 0, listCount: 0, storageBytes: 0 },
    itemCount: 0,
    cleanItemCount: 0,
    handledCount: 0,
    hadMultipleClients: false,
  };
}

/**
 * The behaviour every StorageDriver must show. Each test works on its own random user and store,
 * so order never matters.
 */
export function describeDriverConformance(name: string, factory: DriverFactory): void {
  describe(`StorageDriver conformance: ${name}`, () => {
    let driver: StorageDriver;
    let cleanup: (() => Promise<void>) | undefined;
    beforeAll(async () => {
      ({ driver, cleanup } = await factory());
    });
    afterAll(async () => {
      await driver.close();
      await cleanup?.();
    });

    async function freshUser() {
      const user = { id: newId(), username: `u${newId().toLowerCase()}`, createdAt: Date.now() };
      expect(await driver.createUser(user)).toBe(true);
      return user;
    }

    async function freshStore(name: string | null = null) {
      const user = await freshUser();
      const { store } = await driver.createStore(storeRow(user.id, name));
      return store;
    }

    async function put(
      storeId: string,
      key: string,
      data: Buffer,
      contentType = 'application/octet-stream',
      condition?: WriteCondition,
    ) {
      const staged = await driver.stageValue(storeId, chunks(data), data.length);
      return driver.putRecord(
        storeId,
        key,
        { contentType, contentEncoding: null, decodedSize: data.length, etag: etagOf(data), now: Date.now() },
        staged,
        condition,
      );
    }

    it('creates users once per name and finds them by id and name', async () => {
      const user = await freshUser();
      expect(await driver.createUser({ ...user, id: newId() })).toBe(false);
      expect(await driver.getUserById(user.id)).toEqual(user);
      expect(await driver.getUserByName(user.username)).toEqual(user);
      expect(await driver.getUserByName('nobody-at-all')).toBeUndefined();
      expect((await driver.listUsers()).map((u) => u.id)).toContain(user.id);
    });

    it('stores token hashes, finds them and revokes them', async () => {
      const user = await freshUser();
      const hash = createHash('sha256').update(newId()).digest('hex');
      await driver.addToken({ id: newId(), userId: user.id, hash, label: 'x', createdAt: Date.now() });
      expect((await driver.findToken(hash))?.userId).toBe(user.id);
      expect(await driver.listTokens(user.id)).toHaveLength(1);
      expect(await driver.revokeToken(hash)).toBe(true);
      expect(await driver.revokeToken(hash)).toBe(false);
      expect(await driver.findToken(hash)).toBeUndefined();
    });

    it('get-or-creates named stores per user and lists them in creation order', async () => {
      const user = await freshUser();
      const a = await driver.createStore(storeRow(user.id, 'alpha'));
      const again = await driver.createStore(storeRow(user.id, 'alpha'));
      expect(a.created).toBe(true);
      expect(again.created).toBe(false);
      expect(again.store.id).toBe(a.store.id);
      const other = await freshUser();
      expect((await driver.createStore(storeRow(other.id, 'alpha'))).created).toBe(true);
      await driver.createStore({ ...storeRow(user.id, null), createdAt: a.store.createdAt + 1 });
      const named = await driver.listStores({ userId: user.id, kind: 'kvs', offset: 0, limit: 10, desc: false, unnamed: false });
      expect(named.total).toBe(1);
      const all = await driver.listStores({ userId: user.id, kind: 'kvs', offset: 0, limit: 10, desc: true, unnamed: true });
      expect(all.total).toBe(2);
      expect(all.items[1]?.id).toBe(a.store.id);
      const page = await driver.listStores({ userId: user.id, kind: 'kvs', offset: 1, limit: 1, desc: false, unnamed: true });
      expect(page.items).toHaveLength(1);
      expect(page.total).toBe(2);
    });

    it('updates stores and refuses a name the owner already uses', async () => {
      const user = await freshUser();
      const a = (await driver.createStore(storeRow(user.id, 'one'))).store;
      await driver.createStore(storeRow(user.id, 'two'));
      expect(await driver.updateStore(a.id, { name: 'two', modifiedAt: Date.now() })).toEqual({
        ok: false,
        reason: 'name-conflict',
      });
      const renamed = await driver.updateStore(a.id, {
        name: 'three',
        title: 'T',
        generalAccess: 'RESTRICTED',
        modifiedAt: Date.now(),
      });
      expect(renamed.ok && renamed.store.name).toBe('three');
      expect(renamed.ok && renamed.store.generalAccess).toBe('RESTRICTED');
      expect(await driver.getStoreByName(user.id, 'three', 'kvs')).toBeDefined();
      expect(await driver.updateStore(newId(), { name: 'x', modifiedAt: Date.now() })).toEqual({
        ok: false,
        reason: 'not-found',
      });
    });

    it("looks up a token, its user, a store (by id, by the caller's name, by owner and name) and a record at once", async () => {
      const user = await freshUser();
      const hash = createHash('sha256').update(newId()).digest('hex');
      await driver.addToken({ id: newId(), userId: user.id, hash, label: null, createdAt: Date.now() });
      const { store } = await driver.createStore(storeRow(user.id, 'looked-up'));
      const small = randomBytes(300);
      const large = randomBytes(600 * 1024);
      expect(await put(store.id, 'small', small, 'text/x-small')).toBe('ok');
      expect(await put(store.id, 'large', large)).toBe('ok');

      const byId = await driver.lookupRequest({
        kind: 'kvs',
        tokenHash: hash,
        store: { id: store.id },
        record: { key: 'small', withValue: true },
      });
      expect(byId.token?.userId).toBe(user.id);
      expect(byId.token?.hash).toBe(hash);
      expect(byId.user).toEqual(user);
      expect(byId.store).toEqual(await driver.getStore(store.id));
      expect(byId.record?.meta).toEqual(await driver.getRecordMeta(store.id, 'small'));
      expect(byId.record?.inline?.equals(small)).toBe(true);

      const meta = await driver.lookupRequest({
        kind: 'kvs',
        tokenHash: hash,
        store: { id: store.id },
        record: { key: 'small', withValue: false },
      });
      expect(meta.record?.meta.contentType).toBe('text/x-small');
      expect(meta.record?.inline).toBeNull();
      // Bytes stored elsewhere are not in the row: the caller reads them with getRecord.
      const big = await driver.lookupRequest({ kind: 'kvs', store: { id: store.id }, record: { key: 'large', withValue: true } });
      expect(big.record?.meta.size).toBe(large.length);
      expect(big.record?.inline).toBeNull();
      expect(big.token).toBeUndefined();
      expect(big.user).toBeUndefined();

      const mine = await driver.lookupRequest({ kind: 'kvs', tokenHash: hash, store: { name: 'looked-up', owner: 'caller' } });
      expect(mine.store?.id).toBe(store.id);
      expect(mine.record).toBeUndefined();
      const theirs = await driver.lookupRequest({ kind: 'kvs', store: { name: 'looked-up', ownerName: user.username } });
      expect(theirs.store?.id).toBe(store.id);
      // Without a token, "the caller's store" names nothing.
      expect((await driver.lookupRequest({ kind: 'kvs', store: { name: 'looked-up', owner: 'caller' } })).store).toBeUndefined();

      const missing = await driver.lookupRequest({
        kind: 'kvs',
        tokenHash: `${hash}0`,
        store: { id: newId() },
        record: { key: 'small', withValue: true },
      });
      expect(missing).toEqual({});
      const noRecord = await driver.lookupRequest({
        kind: 'kvs',
        tokenHash: hash,
        store: { id: store.id },
        record: { key: 'nope', withValue: true },
      });
      expect(noRecord.store?.id).toBe(store.id);
      expect(noRecord.record).toBeUndefined();
      expect((await driver.lookupRequest({ kind: 'kvs', tokenHash: hash })).user?.id).toBe(user.id);
    });

    it('keeps small and large records byte-exact, overwrites and deletes them', async () => {
      const store = await freshStore();
      const small = randomBytes(1000);
      const large = randomBytes(3 * 1024 * 1024 + 7);
      expect(await put(store.id, 'small', small, 'text/x-small')).toBe('ok');
      expect(await put(store.id, 'large', large)).toBe('ok');
      const got = await driver.getRecord(store.id, 'small');
      expect(got?.contentType).toBe('text/x-small');
      expect((await bytesOf(got!.value)).equals(small)).toBe(true);
      expect((await bytesOf((await driver.getRecord(store.id, 'large'))!.value)).equals(large)).toBe(true);
      expect((await driver.getStore(store.id))?.stats.storageBytes).toBe(small.length + large.length);
      expect(await put(store.id, 'large', small)).toBe('ok');
      expect((await bytesOf((await driver.getRecord(store.id, 'large'))!.value)).equals(small)).toBe(true);
      expect(await put(store.id, 'small', large)).toBe('ok');
      expect((await bytesOf((await driver.getRecord(store.id, 'small'))!.value)).equals(large)).toBe(true);
      expect((await driver.getRecordMeta(store.id, 'small'))?.size).toBe(large.length);
      expect(await driver.deleteRecord(store.id, 'small', Date.now())).toBe('deleted');
      expect(await driver.deleteRecord(store.id, 'small', Date.now())).toBe('absent');
      expect(await driver.getRecord(store.id, 'small')).toBeUndefined();
      const stats = (await driver.getStore(store.id))?.stats;
      expect(stats?.storageBytes).toBe(small.length);
      expect(stats?.writeCount).toBe(4);
      expect(stats?.deleteCount).toBe(1);
    });

    it('answers for a missing store without throwing', async () => {
      const missing = newId();
      expect(await driver.getStore(missing)).toBeUndefined();
      expect(await driver.getRecord(missing, 'k')).toBeUndefined();
      expect(await driver.deleteRecord(missing, 'k', Date.now())).toBe('no-store');
      expect(await put(missing, 'k', randomBytes(10))).toBe('no-store');
      expect(await put(missing, 'k', randomBytes(400 * 1024))).toBe('no-store');
      expect(await driver.deleteStore(missing)).toBe(false);
    });

    it('keeps nothing of an upload whose stream fails', async () => {
      const store = await freshStore();
      await put(store.id, 'k', Buffer.from('before'));
      async function* failing() {
        yield randomBytes(300 * 1024);
        throw new Error('client went away');
      }
      await expect(driver.stageValue(store.id, failing())).rejects.toThrow('client went away');
      const staged = await driver.stageValue(store.id, chunks(randomBytes(500 * 1024)));
      await driver.discardValue(staged);
      expect((await bytesOf((await driver.getRecord(store.id, 'k'))!.value)).toString()).toBe('before');
    });

    it('lists keys in byte order, paged, with prefixes', async () => {
      const store = await freshStore();
      const keys = ['b', 'B', 'a', '0', 'a-1', 'a.1', 'a_1', 'ab', "a'", 'a(', 'Z', 'z'];
      for (const k of keys) await put(store.id, k, Buffer.from(k));
      const sorted = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
      const seen: string[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await driver.listKeys(store.id, { exclusiveStartKey: after, limit: 5 });
        seen.push(...page.items.map((i) => i.key));
        if (!page.isTruncated) break;
        after = page.items[page.items.length - 1]?.key;
      }
      expect(seen).toEqual(sorted);
      const prefixed = await driver.listKeys(store.id, { prefix: 'a', limit: 100 });
      expect(prefixed.items.map((i) => i.key)).toEqual(sorted.filter((k) => k.startsWith('a')));
      const mid = await driver.listKeys(store.id, { prefix: 'a', exclusiveStartKey: 'a.1', limit: 1 });
      expect(mid.items.map((i) => i.key)).toEqual(sorted.filter((k) => k.startsWith('a') && k > 'a.1').slice(0, 1));
      expect(mid.isTruncated).toBe(true);
      expect((await driver.listKeys(store.id, { exclusiveStartKey: 'zz', limit: 10 })).items).toEqual([]);
      expect((await driver.listKeys(store.id, { prefix: 'b', limit: 10 })).items).toEqual([{ key: 'b', size: 1 }]);
    });

    it('writes and deletes only when the precondition on the etag holds', async () => {
      const store = await freshStore();
      const first = Buffer.from('first');
      expect(await put(store.id, 'k', first, 'text/plain', { ifMatch: ['*'] })).toBe('precondition-failed');
      expect(await put(store.id, 'k', first, 'text/plain', { ifNoneMatch: ['*'] })).toBe('ok');
      expect((await driver.getRecordMeta(store.id, 'k'))?.etag).toBe(etagOf(first));
      expect(await put(store.id, 'k', randomBytes(400 * 1024), 'text/plain', { ifNoneMatch: ['*'] })).toBe('precondition-failed');
      expect(await put(store.id, 'k', Buffer.from('x'), 'text/plain', { ifMatch: ['not-the-etag'] })).toBe('precondition-failed');
      const second = Buffer.from('second');
      expect(await put(store.id, 'k', second, 'text/plain', { ifMatch: [etagOf(first)] })).toBe('ok');
      expect(await driver.deleteRecord(store.id, 'k', Date.now(), { ifMatch: [etagOf(first)] })).toBe('precondition-failed');
      expect((await bytesOf((await driver.getRecord(store.id, 'k'))!.value)).equals(second)).toBe(true);
      const stats = (await driver.getStore(store.id))?.stats;
      expect(stats?.writeCount).toBe(2);
      expect(stats?.storageBytes).toBe(second.length);
      expect(await driver.deleteRecord(store.id, 'k', Date.now(), { ifMatch: [etagOf(second)] })).toBe('deleted');
    });

    it('applies batched read statistics and deletes stores with their records', async () => {
      const store = await freshStore('stats');
      await put(store.id, 'k', randomBytes(600 * 1024));
      const later = Date.now() + 5000;
      await driver.applyStats([{ storeId: store.id, readCount: 3, listCount: 2, accessedAt: later }]);
      const row = await driver.getStore(store.id);
      expect(row?.stats.readCount).toBe(3);
      expect(row?.stats.listCount).toBe(2);
      expect(row?.accessedAt).toBe(later);
      expect(await driver.deleteStore(store.id)).toBe(true);
      expect(await driver.getStore(store.id)).toBeUndefined();
      expect(await driver.getRecord(store.id, 'k')).toBeUndefined();
    });
  });
}
