import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/domain/ids.js';
import { SqliteDriver } from '../../src/storage/sqlite/index.js';
import { sleep } from '../helpers/time.js';
import { describeDatasetConformance } from './datasets.js';
import { describeQueueConformance } from './queues.js';
import { chunks, describeDriverConformance, storeRow } from './suite.js';

describeDriverConformance('sqlite (in memory)', async () => ({ driver: new SqliteDriver({ path: ':memory:' }) }));

describeDriverConformance('sqlite (file)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'openkvs-conf-'));
  return {
    driver: new SqliteDriver({ path: join(dir, 'kvs.sqlite') }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

describeDriverConformance('sqlite (file, durability fsync)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'openkvs-conf-'));
  return {
    driver: new SqliteDriver({ path: join(dir, 'kvs.sqlite'), durability: 'fsync' }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

describeDatasetConformance('sqlite (in memory)', async () => ({ driver: new SqliteDriver({ path: ':memory:' }) }));

describeDatasetConformance('sqlite (file, several processes)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'openkvs-conf-'));
  const path = join(dir, 'kvs.sqlite');
  return {
    driver: new SqliteDriver({ path }),
    another: async () => new SqliteDriver({ path }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

describeQueueConformance('sqlite (in memory)', async () => ({ driver: new SqliteDriver({ path: ':memory:' }) }));

describeQueueConformance('sqlite (file, several processes)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'openkvs-conf-'));
  const path = join(dir, 'kvs.sqlite');
  return {
    driver: new SqliteDriver({ path }),
    another: async () => new SqliteDriver({ path }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

describe('sqlite: record lookups served from memory stay exact', () => {
  let dir: string;
  let server: SqliteDriver;
  let other: SqliteDriver;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'openkvs-cache-'));
    server = new SqliteDriver({ path: join(dir, 'kvs.sqlite') });
    // Another connection to the same file, as the CLI (`openkvs tokens revoke`, `import`) is.
    other = new SqliteDriver({ path: join(dir, 'kvs.sqlite') });
  });
  afterAll(async () => {
    await server.close();
    await other.close();
    await rm(dir, { recursive: true, force: true });
  });

  const put = (driver: SqliteDriver, storeId: string, key: string, text: string) =>
    driver
      .stageValue(storeId, chunks(Buffer.from(text)), text.length)
      .then((staged) =>
        driver.putRecord(
          storeId,
          key,
          { contentType: 'text/plain', contentEncoding: null, decodedSize: text.length, etag: text, now: Date.now() },
          staged,
        ),
      );

  /**
   * A commit of another connection is seen from the next event-loop turn on (the cache checks
   * `data_version` once per turn; every request arrives in a turn of its own).
   */
  const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

  /** A user with a token (its hash) and a store of theirs, made through `server`. */
  async function owner(prefix: string, storeName: string) {
    const user = { id: newId(), username: `${prefix}${newId().toLowerCase()}`, createdAt: Date.now() };
    await server.createUser(user);
    const hash = createHash('sha256').update(newId()).digest('hex');
    await server.addToken({ id: newId(), userId: user.id, hash, label: null, createdAt: Date.now() });
    const { store } = await server.createStore(storeRow(user.id, storeName));
    return { user, hash, store };
  }

  it('sees writes, revocations and deletions of this and of other connections at once', async () => {
    const { user, hash, store } = await owner('cache', 'cached');
    const lookup = { kind: 'kvs' as const, tokenHash: hash, store: { id: store.id }, record: { key: 'k', withValue: true } };
    const value = async () => (await server.lookupRequest(lookup)).record?.inline?.toString();

    expect(await value()).toBeUndefined();
    expect(await put(server, store.id, 'k', 'one')).toBe('ok');
    expect(await value()).toBe('one');
    expect(await value()).toBe('one');
    expect(await put(other, store.id, 'k', 'two')).toBe('ok');
    expect(await value()).toBe('two');
    expect(await other.deleteRecord(store.id, 'k', Date.now())).toBe('deleted');
    await nextTurn();
    expect(await value()).toBeUndefined();
    expect(await put(server, store.id, 'k', 'three')).toBe('ok');
    expect(await value()).toBe('three');
    expect(await server.deleteRecord(store.id, 'k', Date.now())).toBe('deleted');
    expect(await value()).toBeUndefined();

    expect((await server.lookupRequest(lookup)).user?.id).toBe(user.id);
    expect(await other.revokeToken(hash)).toBe(true);
    await nextTurn();
    expect((await server.lookupRequest(lookup)).token).toBeUndefined();
    await other.addToken({ id: newId(), userId: user.id, hash, label: null, createdAt: Date.now() });
    await nextTurn();
    expect((await server.lookupRequest(lookup)).user?.id).toBe(user.id);
    expect(await server.revokeToken(hash)).toBe(true);
    expect((await server.lookupRequest(lookup)).user).toBeUndefined();

    const byName = {
      kind: 'kvs' as const,
      store: { name: 'cached', ownerName: user.username },
      record: { key: 'k', withValue: false },
    };
    expect((await server.lookupRequest(byName)).store?.id).toBe(store.id);
    const renamed = await other.updateStore(store.id, { name: 'renamed', modifiedAt: Date.now() });
    await nextTurn();
    expect(renamed.ok).toBe(true);
    expect((await server.lookupRequest(byName)).store).toBeUndefined();
    await server.updateStore(store.id, { name: 'cached', modifiedAt: Date.now() });
    expect((await server.lookupRequest(byName)).store?.id).toBe(store.id);
    expect(await other.deleteStore(store.id)).toBe(true);
    await nextTurn();
    expect((await server.lookupRequest(byName)).store).toBeUndefined();
    expect((await server.lookupRequest(lookup)).store).toBeUndefined();
  });

  it('serves lookups of writes from the cache as exactly, and reads a fresh store row with current counters', async () => {
    const { user, hash, store } = await owner('write', 'writes');
    // What a record write or delete looks up: token and store, no record.
    const write = { kind: 'kvs' as const, tokenHash: hash, store: { id: store.id } };
    expect((await server.lookupRequest(write)).store?.id).toBe(store.id);
    expect(await put(server, store.id, 'k', 'four')).toBe('ok');
    expect((await server.lookupRequest({ ...write, fresh: true })).store?.stats.storageBytes).toBe(4);
    expect(await put(other, store.id, 'k', 'sixsix')).toBe('ok');
    expect((await server.lookupRequest({ ...write, fresh: true })).store?.stats.storageBytes).toBe(6);

    expect(await other.revokeToken(hash)).toBe(true);
    await nextTurn();
    expect((await server.lookupRequest(write)).token).toBeUndefined();
    await server.addToken({ id: newId(), userId: user.id, hash, label: null, createdAt: Date.now() });
    expect((await server.lookupRequest(write)).user?.id).toBe(user.id);
    expect(await server.revokeToken(hash)).toBe(true);
    expect((await server.lookupRequest(write)).token).toBeUndefined();
    expect(await other.deleteStore(store.id)).toBe(true);
    await nextTurn();
    expect((await server.lookupRequest(write)).store).toBeUndefined();
  });
});

describe('sqlite: durability fsync', () => {
  it('acknowledges a group of record writes only once the log is flushed, and not at all if it cannot be', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'openkvs-fsync-'));
    const flushes: { release: () => void; fail: (err: Error) => void }[] = [];
    const logSync = {
      sync: () => new Promise<void>((release, fail) => flushes.push({ release, fail })),
      close: async () => undefined,
    };
    const driver = new SqliteDriver({ path: join(dir, 'kvs.sqlite'), durability: 'fsync', logSync });
    const reader = new SqliteDriver({ path: join(dir, 'kvs.sqlite') });
    try {
      const user = { id: newId(), username: `fsync${newId().toLowerCase()}`, createdAt: Date.now() };
      await driver.createUser(user);
      const { store } = await driver.createStore(storeRow(user.id, 'durable'));
      const put = (key: string, text: string) =>
        driver
          .stageValue(store.id, chunks(Buffer.from(text)), text.length)
          .then((staged) =>
            driver.putRecord(
              store.id,
              key,
              { contentType: 'text/plain', contentEncoding: null, decodedSize: text.length, etag: text, now: Date.now() },
              staged,
            ),
          );
      const settled = async (p: Promise<unknown>) => {
        let done = false;
        p.then(
          () => {
            done = true;
          },
          () => {
            done = true;
          },
        );
        for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
        return done;
      };
      const waitForFlush = async (n: number) => {
        for (let i = 0; i < 1000 && flushes.length < n; i++) await sleep(5);
        expect(flushes.length).toBe(n);
      };

      // Three writes of one turn: one group, one flush; committed (another connection reads them)
      // but not acknowledged until the flush is done.
      const group = [put('a', 'one'), put('b', 'two'), put('c', 'three')];
      await waitForFlush(1);
      expect(await settled(Promise.all(group))).toBe(false);
      expect((await reader.getRecord(store.id, 'b'))?.size).toBe(3);
      flushes[0]?.release();
      expect(await Promise.all(group)).toEqual(['ok', 'ok', 'ok']);

      // A flush that fails acknowledges none of its group.
      const failing = [put('d', 'four'), put('e', 'five')];
      await waitForFlush(2);
      flushes[1]?.fail(new Error('EIO: the disk is gone'));
      for (const p of failing) await expect(p).rejects.toThrow('EIO');
    } finally {
      await reader.close();
      await driver.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
