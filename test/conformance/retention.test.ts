import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, resolveServeConfig } from '../../src/config.js';
import { newId, newSecret } from '../../src/domain/ids.js';
import { createRetentionSweeper } from '../../src/domain/retention.js';
import type { StorageKind, StoreRow } from '../../src/model.js';
import type { StorageDriver } from '../../src/storage/driver.js';
import { PostgresDriver } from '../../src/storage/postgres/index.js';
import { SqliteDriver } from '../../src/storage/sqlite/index.js';
import { freshSchema } from '../helpers/postgres.js';
import { sleep, until } from '../helpers/time.js';

const DAY = 24 * 3600 * 1000;

type Factory = () => Promise<{ driver: StorageDriver; cleanup?: () => Promise<void> }>;

const DRIVERS: [string, Factory][] = [
  ['sqlite', async () => ({ driver: new SqliteDriver({ path: ':memory:' }) })],
  [
    'postgres',
    async () => {
      const schema = await freshSchema();
      return { driver: await PostgresDriver.connect({ url: schema.url, poolSize: 4, sweepIntervalMs: 0 }), cleanup: schema.drop };
    },
  ],
];

async function* bytes(data: Buffer): AsyncGenerator<Buffer> {
  yield data;
}

for (const [name, factory] of DRIVERS) {
  describe(`retention of unnamed stores: ${name}`, () => {
    let driver: StorageDriver;
    let cleanup: (() => Promise<void>) | undefined;
    beforeAll(async () => {
      ({ driver, cleanup } = await factory());
    });
    afterAll(async () => {
      await driver.close();
      await cleanup?.();
    });

    /** A store of a new user, last modified `ageDays` ago. */
    async function store(storeName: string | null, ageDays: number, kind: StorageKind = 'kvs'): Promise<StoreRow> {
      const user = { id: newId(), username: `u${newId().toLowerCase()}`, createdAt: Date.now() };
      await driver.createUser(user);
      const at = Date.now() - ageDays * DAY;
      const row: StoreRow = {
        id: newId(),
        kind,
        userId: user.id,
        name: storeName,
        title: null,
        createdAt: at,
        modifiedAt: at,
        accessedAt: at,
        generalAccess: 'FOLLOW_USER_SETTING',
        schema: null,
        urlSigningSecretKey: newSecret(),
        stats: { readCount: 0, writeCount: 0, deleteCount: 0, listCount: 0, storageBytes: 0 },
        itemCount: 0,
        cleanItemCount: 0,
        handledCount: 0,
        hadMultipleClients: false,
      };
      return (await driver.createStore(row)).store;
    }

    async function putRecord(storeId: string, data: Buffer): Promise<void> {
      const staged = await driver.stageValue(storeId, bytes(data), data.length);
      const record = { contentType: 'text/plain', contentEncoding: null, decodedSize: data.length, etag: 'x', now: Date.now() };
      expect(await driver.putRecord(storeId, 'k', record, staged)).toBe('ok');
    }

    it('deletes an old unnamed store with its records, keeps a named one of the same age and a recent unnamed one', async () => {
      const old = await store(null, 8);
      const named = await store(`kept-${newId().toLowerCase()}`, 30);
      const recent = await store(null, 6);
      const deleted: string[] = [];
      const sweeper = createRetentionSweeper({ driver, days: 7, onDeleted: (id) => deleted.push(id) });

      expect(await sweeper.sweep()).toBeGreaterThanOrEqual(1);
      expect(deleted).toContain(old.id);
      expect(await driver.getStore(old.id)).toBeUndefined();
      expect(await driver.getStore(named.id)).toBeDefined();
      expect(await driver.getStore(recent.id)).toBeDefined();
      expect(deleted).not.toContain(recent.id);
    });

    it('deletes old unnamed datasets with their items, keeps named ones and those pushed to since', async () => {
      const old = await store(null, 8, 'dataset');
      const named = await store(`kept-${newId().toLowerCase()}`, 30, 'dataset');
      const pushed = await store(null, 10, 'dataset');
      const at = Date.now() - 9 * DAY;
      expect(await driver.pushItems(old.id, ['{"a":1}'], 1, at)).toBe('ok');
      expect(await driver.pushItems(pushed.id, ['{"b":1}'], 1, Date.now())).toBe('ok');
      const deleted: string[] = [];
      await createRetentionSweeper({ driver, days: 7, onDeleted: (id) => deleted.push(id) }).sweep();
      expect(deleted).toContain(old.id);
      expect(await driver.getStore(old.id)).toBeUndefined();
      expect(await driver.readItems(old.id, 0, 10)).toEqual([]);
      expect(await driver.getStore(named.id)).toBeDefined();
      expect(await driver.readItems(pushed.id, 0, 10)).toEqual(['{"b":1}']);
    });

    it('keeps an old unnamed store once it is written to (modifiedAt moves)', async () => {
      const s = await store(null, 10);
      await putRecord(s.id, Buffer.from('fresh'));
      const sweeper = createRetentionSweeper({ driver, days: 7 });
      await sweeper.sweep();
      expect(await driver.getStore(s.id)).toBeDefined();
    });

    it('keeps a store written to or named after it was found expired, before its delete (another process)', async () => {
      const written = await store(null, 10);
      const named = await store(null, 10);
      const untouched = await store(null, 10);
      // Another process's writes land just before the sweeper's delete of the store they touch.
      const racing = new Proxy(driver, {
        get(target, prop) {
          if (prop === 'deleteStore') {
            return async (id: string, onlyIf?: { unnamedBefore: number }) => {
              if (id === written.id) await putRecord(written.id, Buffer.from('just written'));
              if (id === named.id) {
                const patch = { name: `named-${newId().toLowerCase()}`, modifiedAt: named.modifiedAt };
                expect((await target.updateStore(named.id, patch)).ok).toBe(true);
              }
              return target.deleteStore(id, onlyIf);
            };
          }
          const value = Reflect.get(target, prop) as unknown;
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
      const deleted: string[] = [];
      await createRetentionSweeper({ driver: racing, days: 7, batchSize: 1000, onDeleted: (id) => deleted.push(id) }).sweep();
      expect(deleted).toContain(untouched.id);
      expect(deleted).not.toContain(written.id);
      expect(deleted).not.toContain(named.id);
      expect((await driver.getRecord(written.id, 'k'))?.size).toBe('just written'.length);
      expect(await driver.getStore(named.id)).toBeDefined();
    });

    it('follows the clock it is given: a recent store goes once it is older than the retention', async () => {
      const s = await store(null, 1);
      const today = createRetentionSweeper({ driver, days: 7 });
      await today.sweep();
      expect(await driver.getStore(s.id)).toBeDefined();
      const nextWeek = createRetentionSweeper({ driver, days: 7, now: () => Date.now() + 7 * DAY });
      await nextWeek.sweep();
      expect(await driver.getStore(s.id)).toBeUndefined();
    });

    it('lists expired unnamed stores oldest first, at most `limit`, never named ones', async () => {
      const a = await store(null, 300);
      const b = await store(null, 200);
      const named = await store(`n-${newId().toLowerCase()}`, 400);
      const cutoff = Date.now() - 100 * DAY;
      const ids = await driver.listExpiredUnnamedStores(cutoff, 1000);
      expect(ids).not.toContain(named.id);
      expect(ids.indexOf(a.id)).toBeGreaterThanOrEqual(0);
      expect(ids.indexOf(a.id)).toBeLessThan(ids.indexOf(b.id));
      expect(await driver.listExpiredUnnamedStores(cutoff, 1)).toHaveLength(1);
    });

    it('works through many stores in small batches, with two sweepers (nodes) at once', async () => {
      const many = await Promise.all(Array.from({ length: 25 }, () => store(null, 9)));
      const counted: string[] = [];
      const node = () => createRetentionSweeper({ driver, days: 7, batchSize: 4, onDeleted: (id) => counted.push(id) });
      const [one, two] = await Promise.all([node().sweep(), node().sweep()]);
      for (const s of many) expect(await driver.getStore(s.id)).toBeUndefined();
      // Each store is counted once, by whichever node deleted it.
      expect(one + two).toBe(counted.length);
      expect(new Set(counted).size).toBe(counted.length);
      for (const s of many) expect(counted).toContain(s.id);
    });

    it('keeps everything when the retention is 0 days', async () => {
      const s = await store(null, 10_000);
      const sweeper = createRetentionSweeper({ driver, days: 0 });
      expect(await sweeper.sweep()).toBe(0);
      expect(await driver.getStore(s.id)).toBeDefined();
    });

    it('counts stores and their stored bytes over every user', async () => {
      const before = await driver.totals();
      const s = await store(null, 0);
      await putRecord(s.id, Buffer.from('12345'));
      const after = await driver.totals();
      const kvs = before.find((t) => t.kind === 'kvs') ?? { kind: 'kvs', stores: 0, bytes: 0 };
      expect(after).toEqual(
        before.map((t) => (t.kind === 'kvs' ? { kind: 'kvs', stores: kvs.stores + 1, bytes: kvs.bytes + 5 } : t)),
      );
    });
  });
}

describe('the sweeper timer', () => {
  it('sweeps periodically once started and stops cleanly', async () => {
    const driver = new SqliteDriver({ path: ':memory:' });
    let listed = 0;
    const spy = Object.assign(Object.create(driver) as StorageDriver, {
      listExpiredUnnamedStores: async (olderThan: number, limit: number) => {
        listed++;
        return driver.listExpiredUnnamedStores(olderThan, limit);
      },
    });
    const sweeper = createRetentionSweeper({ driver: spy, days: 7, intervalMs: 20 });
    sweeper.start();
    await until(() => listed >= 2, 'two sweeps');
    await sweeper.stop();
    const after = listed;
    expect(after).toBeGreaterThanOrEqual(2);
    await sleep(100);
    expect(listed).toBe(after);
    await driver.close();
  });
});

describe('--unnamed-retention-days', () => {
  it('defaults to 7, reads OPENKVS_UNNAMED_RETENTION_DAYS, accepts 0 and refuses anything but a whole number', () => {
    expect(resolveServeConfig({}, {}).unnamedRetentionDays).toBe(7);
    expect(resolveServeConfig({}, { OPENKVS_UNNAMED_RETENTION_DAYS: '30' }).unnamedRetentionDays).toBe(30);
    expect(resolveServeConfig({ unnamedRetentionDays: '0' }, { OPENKVS_UNNAMED_RETENTION_DAYS: '30' }).unnamedRetentionDays).toBe(
      0,
    );
    expect(() => resolveServeConfig({ unnamedRetentionDays: '1.5' }, {})).toThrow(ConfigError);
    expect(() => resolveServeConfig({}, { OPENKVS_UNNAMED_RETENTION_DAYS: '-1' })).toThrow(/unnamed-retention-days/);
  });
});
