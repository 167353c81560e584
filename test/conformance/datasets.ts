import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/domain/ids.js';
import type { StorageKind } from '../../src/model.js';
import type { StorageDriver } from '../../src/storage/driver.js';
import { storeRow } from './suite.js';

/**
 * Creates a driver on empty storage. `another`, where the storage can be shared, opens one more
 * driver on the same storage (another node or process); `cleanup` removes what it created.
 */
export type DatasetDriverFactory = () => Promise<{
  driver: StorageDriver;
  another?: () => Promise<StorageDriver>;
  cleanup?: () => Promise<void>;
}>;

/** Item texts that a parse and re-serialization would change: they must come back byte for byte. */
const EXACT_ITEMS = [
  '{"b":1,"a":2}',
  '{"n":1.0,"e":1e5,"E":2.50E-3,"neg":-0,"big":12345678901234567890123,"small":0.1000000000000000055511151231257827}',
  '{ "spaced" :  [ 1 ,\t2 ]\n}',
  '{"u":"žluťoučký kůň 🐴 \u{1F600}","esc":"\\u00e9\\n\\t\\"\\\\\\/","nul":"\\u0000"}',
  '{"quote":"\\"","brace":"{}","comma":",","NULL":"NULL","backslash":"\\\\"}',
  '[]',
  '{}',
  '{"#hidden":true,"visible":null}',
  `{"long":"${'x'.repeat(70_000)}"}`,
];

const utf8 = (items: readonly string[]) => items.reduce((n, s) => n + Buffer.byteLength(s), 0);

/**
 * The dataset part of the storage contract, on every driver: kinds as separate namespaces, items
 * kept exactly and contiguously, counters, deletion and retention. Each test has its own user.
 */
export function describeDatasetConformance(name: string, factory: DatasetDriverFactory): void {
  describe(`StorageDriver datasets: ${name}`, () => {
    let driver: StorageDriver;
    let another: (() => Promise<StorageDriver>) | undefined;
    let cleanup: (() => Promise<void>) | undefined;
    const others: StorageDriver[] = [];
    beforeAll(async () => {
      ({ driver, another, cleanup } = await factory());
    });
    afterAll(async () => {
      for (const d of others) await d.close();
      await driver.close();
      await cleanup?.();
    });

    async function freshUser() {
      const user = { id: newId(), username: `u${newId().toLowerCase()}`, createdAt: Date.now() };
      expect(await driver.createUser(user)).toBe(true);
      return user;
    }

    async function create(userId: string, storeName: string | null, kind: StorageKind = 'dataset') {
      const { store, created } = await driver.createStore(storeRow(userId, storeName, kind));
      expect(created).toBe(true);
      return store;
    }

    async function freshDataset(storeName: string | null = null) {
      return create((await freshUser()).id, storeName);
    }

    /** Every item of a dataset, read in pages. */
    async function readAll(id: string, page = 1000): Promise<string[]> {
      const all: string[] = [];
      for (;;) {
        const items = await driver.readItems(id, all.length, page);
        all.push(...items);
        if (items.length < page) return all;
      }
    }

    it('keeps key-value stores and datasets in separate namespaces', async () => {
      const user = await freshUser();
      const kvs = await create(user.id, 'same', 'kvs');
      const dataset = await create(user.id, 'same', 'dataset');
      expect(dataset.id).not.toBe(kvs.id);
      expect((await driver.getStore(dataset.id))?.kind).toBe('dataset');
      expect((await driver.getStore(kvs.id))?.kind).toBe('kvs');
      expect((await driver.getStoreByName(user.id, 'same', 'dataset'))?.id).toBe(dataset.id);
      expect((await driver.getStoreByName(user.id, 'same', 'kvs'))?.id).toBe(kvs.id);
      // Get-or-create finds the store of its own kind.
      const again = await driver.createStore(storeRow(user.id, 'same', 'dataset'));
      expect(again).toMatchObject({ created: false, store: { id: dataset.id, kind: 'dataset' } });

      // Renames clash within a kind only.
      const other = await create(user.id, 'other', 'dataset');
      expect(await driver.updateStore(other.id, { name: 'same', modifiedAt: Date.now() })).toEqual({
        ok: false,
        reason: 'name-conflict',
      });
      const kvsOther = await create(user.id, 'kvs-other', 'kvs');
      const renamed = await driver.updateStore(kvsOther.id, { name: 'other', modifiedAt: Date.now() });
      expect(renamed.ok && renamed.store.kind).toBe('kvs');
      expect((await driver.getStoreByName(user.id, 'other', 'dataset'))?.id).toBe(other.id);
    });

    it('finds a store by id, name or owner and name only with its own kind', async () => {
      const user = await freshUser();
      const kvs = await create(user.id, 'both', 'kvs');
      const dataset = await create(user.id, 'both', 'dataset');
      const onlyKvs = await create(user.id, 'only-kvs', 'kvs');
      // Twice each: a driver that keeps lookups in memory must answer the same the second time.
      for (let round = 0; round < 2; round++) {
        expect((await driver.lookupRequest({ kind: 'dataset', store: { id: kvs.id } })).store).toBeUndefined();
        expect((await driver.lookupRequest({ kind: 'kvs', store: { id: kvs.id } })).store?.id).toBe(kvs.id);
        expect((await driver.lookupRequest({ kind: 'kvs', store: { id: dataset.id } })).store).toBeUndefined();
        const found = await driver.lookupRequest({ kind: 'dataset', store: { id: dataset.id } });
        expect(found.store).toEqual(await driver.getStore(dataset.id));
        const byOwner = (kind: StorageKind, storeName: string) =>
          driver.lookupRequest({ kind, store: { name: storeName, ownerName: user.username } });
        expect((await byOwner('dataset', 'both')).store?.id).toBe(dataset.id);
        expect((await byOwner('kvs', 'both')).store?.id).toBe(kvs.id);
        expect((await byOwner('dataset', 'only-kvs')).store).toBeUndefined();
        expect((await byOwner('kvs', 'only-kvs')).store?.id).toBe(onlyKvs.id);
      }
    });

    it('lists the stores of one kind with their own totals', async () => {
      const user = await freshUser();
      const t0 = Date.now();
      const datasets = [];
      for (let i = 0; i < 3; i++)
        datasets.push((await driver.createStore({ ...storeRow(user.id, `d${i}`, 'dataset'), createdAt: t0 + i })).store);
      await driver.createStore({ ...storeRow(user.id, null, 'dataset'), createdAt: t0 + 10 });
      await driver.createStore({ ...storeRow(user.id, 'k', 'kvs'), createdAt: t0 + 1 });
      await driver.createStore({ ...storeRow(user.id, null, 'kvs'), createdAt: t0 + 2 });

      const list = (kind: StorageKind, offset: number, limit: number, desc: boolean, unnamed: boolean) =>
        driver.listStores({ userId: user.id, kind, offset, limit, desc, unnamed });
      const named = await list('dataset', 0, 10, false, false);
      expect(named.total).toBe(3);
      expect(named.items.map((s) => s.id)).toEqual(datasets.map((s) => s.id));
      expect(named.items.every((s) => s.kind === 'dataset')).toBe(true);
      expect((await list('dataset', 0, 10, false, true)).total).toBe(4);
      const page = await list('dataset', 1, 2, true, true);
      expect(page.total).toBe(4);
      expect(page.items.map((s) => s.name)).toEqual(['d2', 'd1']);
      expect((await list('kvs', 0, 10, false, false)).total).toBe(1);
      expect((await list('kvs', 0, 10, false, true)).items.every((s) => s.kind === 'kvs')).toBe(true);
      expect((await list('kvs', 0, 10, false, true)).total).toBe(2);
    });

    it('returns every item byte for byte, in push order, across pushes', async () => {
      const dataset = await freshDataset();
      expect(await driver.pushItems(dataset.id, EXACT_ITEMS.slice(0, 4), 4, Date.now())).toBe('ok');
      expect(await driver.pushItems(dataset.id, EXACT_ITEMS.slice(4), 4, Date.now())).toBe('ok');
      expect(await readAll(dataset.id)).toEqual(EXACT_ITEMS);
      expect(await driver.readItems(dataset.id, 2, 3)).toEqual(EXACT_ITEMS.slice(2, 5));
      expect(await driver.readItems(dataset.id, EXACT_ITEMS.length - 1, 10)).toEqual(EXACT_ITEMS.slice(-1));
      expect(await driver.readItems(dataset.id, EXACT_ITEMS.length, 10)).toEqual([]);
      expect(await driver.readItems(dataset.id, 0, 0)).toEqual([]);
    });

    it('counts items, clean items, writes and UTF-8 bytes, and stamps the push time', async () => {
      const dataset = await freshDataset('counted');
      const first = ['{"a":"é"}', '{"#b":1}', '{"c":"🐴"}'];
      const at = dataset.modifiedAt + 1000;
      expect(await driver.pushItems(dataset.id, first, 2, at)).toBe('ok');
      let row = await driver.getStore(dataset.id);
      expect(row).toMatchObject({ itemCount: 3, cleanItemCount: 2, modifiedAt: at, accessedAt: at });
      expect(row?.stats).toMatchObject({ writeCount: 3, storageBytes: utf8(first), readCount: 0 });
      // An empty push writes nothing but the time.
      expect(await driver.pushItems(dataset.id, [], 0, at + 1)).toBe('ok');
      row = await driver.getStore(dataset.id);
      expect(row).toMatchObject({ itemCount: 3, cleanItemCount: 2, modifiedAt: at + 1 });
      expect(row?.stats).toMatchObject({ writeCount: 3, storageBytes: utf8(first) });
      const second = ['{"d":4}'];
      expect(await driver.pushItems(dataset.id, second, 1, at + 2)).toBe('ok');
      row = await driver.getStore(dataset.id);
      expect(row).toMatchObject({ itemCount: 4, cleanItemCount: 3, modifiedAt: at + 2 });
      expect(row?.stats.storageBytes).toBe(utf8([...first, ...second]));
      expect(row?.stats.writeCount).toBe(4);
      // The other reads of a store row carry the same counters.
      expect((await driver.getStoreByName(dataset.userId, 'counted', 'dataset'))?.itemCount).toBe(4);
      const listed = await driver.listStores({
        userId: dataset.userId,
        kind: 'dataset',
        offset: 0,
        limit: 1,
        desc: false,
        unnamed: false,
      });
      expect(listed.items[0]).toEqual(row);
      expect((await driver.lookupRequest({ kind: 'dataset', store: { id: dataset.id }, fresh: true })).store).toEqual(row);
    });

    it("answers 'no-store' for a missing dataset or a key-value store, and reads nothing from them", async () => {
      const user = await freshUser();
      const kvs = await create(user.id, null, 'kvs');
      expect(await driver.pushItems(newId(), ['{}'], 1, Date.now())).toBe('no-store');
      expect(await driver.pushItems(newId(), [], 0, Date.now())).toBe('no-store');
      expect(await driver.pushItems(kvs.id, ['{}'], 1, Date.now())).toBe('no-store');
      expect((await driver.getStore(kvs.id))?.stats.writeCount).toBe(0);
      expect(await driver.readItems(newId(), 0, 10)).toEqual([]);
      expect(await driver.readItems(kvs.id, 0, 10)).toEqual([]);
    });

    it('keeps every push contiguous while 20 pushers push 50 items each at once', async () => {
      const dataset = await freshDataset();
      // Several drivers on the same storage where it can be shared: nodes of a cluster.
      const drivers = [driver];
      if (another) for (let i = 0; i < 3; i++) drivers.push(await another());
      others.push(...drivers.slice(1));
      const pushers = 20;
      const per = 50;
      const batches = Array.from({ length: pushers }, (_, p) => Array.from({ length: per }, (_, i) => `{"p":${p},"i":${i}}`));
      const results = await Promise.all(
        batches.map((items, p) => (drivers[p % drivers.length] as StorageDriver).pushItems(dataset.id, items, per, Date.now())),
      );
      expect(results).toEqual(batches.map(() => 'ok'));

      const all = await readAll(dataset.id, 300);
      expect(all).toHaveLength(pushers * per);
      for (const [p, items] of batches.entries()) {
        const start = all.indexOf(items[0] as string);
        expect(all.slice(start, start + per), `pusher ${p}`).toEqual(items);
      }
      const row = await driver.getStore(dataset.id);
      expect(row).toMatchObject({ itemCount: pushers * per, cleanItemCount: pushers * per });
      expect(row?.stats.writeCount).toBe(pushers * per);
      expect(row?.stats.storageBytes).toBe(utf8(all));
    });

    it('reads a page at a deep offset', async () => {
      const dataset = await freshDataset();
      const items = Array.from({ length: 30_000 }, (_, i) => `{"i":${i}}`);
      expect(await driver.pushItems(dataset.id, items, items.length, Date.now())).toBe('ok');
      expect(await driver.readItems(dataset.id, 29_000, 1000)).toEqual(items.slice(29_000));
      expect(await driver.readItems(dataset.id, 29_990, 1000)).toEqual(items.slice(29_990));
      expect(await driver.readItems(dataset.id, 15_000, 3)).toEqual(['{"i":15000}', '{"i":15001}', '{"i":15002}']);
      expect(await driver.readItems(dataset.id, 30_000, 1000)).toEqual([]);
    });

    it('takes a push of about 9 MB, and one of 60,000 small items, in one call', async () => {
      const dataset = await freshDataset();
      const large = Array.from({ length: 9 }, (_, i) => `{"i":${i},"s":"${String.fromCharCode(97 + i).repeat(1_000_000)}"}`);
      expect(await driver.pushItems(dataset.id, large, 9, Date.now())).toBe('ok');
      const small = Array.from({ length: 60_000 }, (_, i) => `{"n":${i},"q":"\\"'{}"}`);
      expect(await driver.pushItems(dataset.id, small, 0, Date.now())).toBe('ok');
      expect(await driver.readItems(dataset.id, 0, 9)).toEqual(large);
      expect(await driver.readItems(dataset.id, 9 + 59_990, 100)).toEqual(small.slice(59_990));
      const row = await driver.getStore(dataset.id);
      expect(row).toMatchObject({ itemCount: 60_009, cleanItemCount: 9 });
      expect(row?.stats.storageBytes).toBe(utf8(large) + utf8(small));
    });

    it('deletes the items with the dataset, and with its user', async () => {
      const user = await freshUser();
      const gone = await create(user.id, 'gone');
      const kept = await create(user.id, 'kept');
      await driver.pushItems(gone.id, ['{"a":1}', '{"a":2}'], 2, Date.now());
      await driver.pushItems(kept.id, ['{"b":1}'], 1, Date.now());
      expect(await driver.deleteStore(gone.id)).toBe(true);
      expect(await driver.getStore(gone.id)).toBeUndefined();
      expect(await driver.readItems(gone.id, 0, 10)).toEqual([]);
      expect(await driver.pushItems(gone.id, ['{}'], 1, Date.now())).toBe('no-store');
      expect(await driver.readItems(kept.id, 0, 10)).toEqual(['{"b":1}']);

      expect(await driver.deleteUser(user.id)).toBe(true);
      expect(await driver.getStore(kept.id)).toBeUndefined();
      expect(await driver.readItems(kept.id, 0, 10)).toEqual([]);
    });

    it('lists expired unnamed datasets for retention and deletes them only while they stay so', async () => {
      const user = await freshUser();
      const old = Date.now() - 10 * 24 * 3600 * 1000;
      const row = { ...storeRow(user.id, null, 'dataset'), createdAt: old, modifiedAt: old, accessedAt: old };
      const expired = (await driver.createStore(row)).store;
      const touched = (await driver.createStore({ ...row, id: newId() })).store;
      const named = (await driver.createStore({ ...row, id: newId(), name: 'named' })).store;
      await driver.pushItems(expired.id, ['{"x":1}'], 1, old);
      const listed = await driver.listExpiredUnnamedStores(old + 1, 100_000);
      expect(listed).toContain(expired.id);
      expect(listed).toContain(touched.id);
      expect(listed).not.toContain(named.id);
      // A push after the listing keeps the dataset.
      await driver.pushItems(touched.id, ['{"y":1}'], 1, Date.now());
      expect(await driver.deleteStore(touched.id, { unnamedBefore: old + 1 })).toBe(false);
      expect(await driver.readItems(touched.id, 0, 10)).toEqual(['{"y":1}']);
      expect(await driver.deleteStore(expired.id, { unnamedBefore: old + 1 })).toBe(true);
      expect(await driver.readItems(expired.id, 0, 10)).toEqual([]);
      expect(await driver.deleteStore(named.id, { unnamedBefore: old + 1 })).toBe(false);
    });

    it('totals stores and bytes per kind, every kind listed', async () => {
      const before = await driver.totals();
      expect(before.map((t) => t.kind)).toEqual(['kvs', 'dataset', 'queue']);
      const user = await freshUser();
      const dataset = await create(user.id, null);
      const items = ['{"a":"ü"}', '{"b":2}'];
      await driver.pushItems(dataset.id, items, 2, Date.now());
      const after = await driver.totals();
      const of = (totals: typeof before, kind: StorageKind) => totals.find((t) => t.kind === kind);
      expect(of(after, 'kvs')).toEqual(of(before, 'kvs'));
      expect(of(after, 'dataset')).toEqual({
        kind: 'dataset',
        stores: (of(before, 'dataset')?.stores ?? 0) + 1,
        bytes: (of(before, 'dataset')?.bytes ?? 0) + utf8(items),
      });
    });
  });
}
