import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/domain/ids.js';
import type { StorageKind } from '../../src/model.js';
import type { QueueActor, QueueRequestInput, StorageDriver, StoredQueueRequest } from '../../src/storage/driver.js';
import type { DatasetDriverFactory } from './datasets.js';
import { storeRow } from './suite.js';

/** Crawlee's request id: base64 of the uniqueKey's SHA-256 without `+/=`, 15 characters. */
const requestId = (uniqueKey: string) =>
  createHash('sha256').update(uniqueKey).digest('base64').replace(/[+/=]/g, '').slice(0, 15);

/** A request for `uniqueKey`, its JSON carrying `extra`; pending unless `handledAt` is given. */
function request(uniqueKey: string, handledAt: number | null = null, extra = ''): QueueRequestInput {
  const id = requestId(uniqueKey);
  return { id, uniqueKey, json: JSON.stringify({ id, uniqueKey, url: `https://example.com/${uniqueKey}`, extra }), handledAt };
}

const utf8 = (requests: readonly QueueRequestInput[]) => requests.reduce((n, r) => n + Buffer.byteLength(r.json), 0);

/** A clock the tests move by hand: drivers never read their own. */
const T0 = 1_800_000_000_000;
const at = (now: number, clientKey?: string): QueueActor => (clientKey === undefined ? { now } : { now, clientKey });

/**
 * The request queue part of the storage contract, on every driver: dedup, order, updates,
 * deletes, the head, locks (and their races between clients and nodes), lists, counts, deletion
 * and retention. Each test has its own user; times are the test's, never the wall clock's.
 */
export function describeQueueConformance(name: string, factory: DatasetDriverFactory): void {
  describe(`StorageDriver request queues: ${name}`, () => {
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
      const user = { id: newId(), username: `u${newId().toLowerCase()}`, createdAt: T0 };
      expect(await driver.createUser(user)).toBe(true);
      return user;
    }

    async function create(userId: string, storeName: string | null, kind: StorageKind = 'queue') {
      const { store, created } = await driver.createStore(storeRow(userId, storeName, kind));
      expect(created).toBe(true);
      return store;
    }

    async function freshQueue(storeName: string | null = null) {
      return create((await freshUser()).id, storeName);
    }

    const keys = (requests: readonly StoredQueueRequest[]) => requests.map((r) => r.uniqueKey);

    /** Every request of a queue, read in pages of `page`. */
    async function listAll(queueId: string, page: number, filter?: 'locked' | 'pending', now = T0) {
      const all: StoredQueueRequest[] = [];
      for (let i = 0; ; i++) {
        const query = { limit: page, after: all.at(-1)?.id, filter, now };
        const { items, isTruncated } = await driver.listRequests(queueId, query);
        all.push(...items);
        if (!isTruncated) return all;
        expect(items).toHaveLength(page);
        expect(i).toBeLessThan(10_000);
      }
    }

    it('keeps queues apart from key-value stores and datasets, and refuses those', async () => {
      const user = await freshUser();
      const kvs = await create(user.id, 'same', 'kvs');
      const dataset = await create(user.id, 'same', 'dataset');
      const queue = await create(user.id, 'same', 'queue');
      expect((await driver.getStoreByName(user.id, 'same', 'queue'))?.id).toBe(queue.id);
      expect(
        (await driver.listStores({ userId: user.id, kind: 'queue', offset: 0, limit: 10, desc: false, unnamed: true })).total,
      ).toBe(1);
      const a = request('a');
      for (const other of [kvs.id, dataset.id, newId()]) {
        expect(await driver.addRequests(other, [a], false, at(T0))).toBe('no-store');
        expect(await driver.updateRequest(other, a, false, at(T0))).toBe('no-store');
        expect(await driver.deleteRequest(other, a.id, at(T0))).toBe('no-store');
        expect(await driver.deleteRequests(other, [{ id: a.id }], at(T0))).toBe('no-store');
        expect(await driver.lockHead(other, 10, 60_000, at(T0))).toBe('no-store');
        expect(await driver.prolongLock(other, a.id, 60_000, false, at(T0))).toBe('no-store');
        expect(await driver.deleteLock(other, a.id, false, at(T0))).toBe('no-store');
        expect(await driver.unlockRequests(other, at(T0))).toBe('no-store');
      }
      expect(await driver.pushItems(queue.id, ['{}'], 1, T0)).toBe('no-store');
      const row = await driver.getStore(queue.id);
      expect(row).toMatchObject({ kind: 'queue', itemCount: 0, handledCount: 0, hadMultipleClients: false });
    });

    it('adds requests once per uniqueKey and says whether the one present was handled', async () => {
      const queue = await freshQueue();
      const a = request('a');
      const b = request('b', T0);
      const again = { ...request('a'), json: '{"other":true}' };
      const outcomes = await driver.addRequests(queue.id, [a, b, again], false, at(T0 + 1));
      expect(outcomes).toEqual([
        { requestId: a.id, uniqueKey: 'a', wasAlreadyPresent: false, wasAlreadyHandled: false },
        { requestId: b.id, uniqueKey: 'b', wasAlreadyPresent: false, wasAlreadyHandled: false },
        { requestId: a.id, uniqueKey: 'a', wasAlreadyPresent: true, wasAlreadyHandled: false },
      ]);
      expect(await driver.addRequests(queue.id, [request('b'), request('c')], true, at(T0 + 2))).toEqual([
        { requestId: b.id, uniqueKey: 'b', wasAlreadyPresent: true, wasAlreadyHandled: true },
        { requestId: requestId('c'), uniqueKey: 'c', wasAlreadyPresent: false, wasAlreadyHandled: false },
      ]);
      // The first JSON stays: the duplicate was not written.
      expect(await driver.getRequest(queue.id, a.id)).toEqual({ ...a, lockClient: null, lockExpiresAt: null });
      expect(await driver.getRequest(queue.id, b.id)).toMatchObject({ handledAt: T0, json: b.json });
      expect(await driver.getRequest(queue.id, requestId('zz'))).toBeUndefined();
      const row = await driver.getStore(queue.id);
      expect(row).toMatchObject({ itemCount: 3, handledCount: 1, modifiedAt: T0 + 2 });
      expect(row?.stats.storageBytes).toBe(utf8([a, b, request('c')]));
      expect(row?.stats.writeCount).toBe(3);
      expect(await driver.addRequests(queue.id, [], false, at(T0 + 3))).toEqual([]);
    });

    it('keeps request JSON byte for byte', async () => {
      const queue = await freshQueue();
      const texts = [
        '{"id":"x","b":1,"a":2, "n":1.0,"e":2.50E-3}',
        '{"u":"žluťoučký kůň 🐴","esc":"\\u00e9\\n\\"\\\\","nul":"\\u0000"}',
        `{"long":"${'x'.repeat(70_000)}"}`,
      ];
      const requests = texts.map((json, i) => ({ ...request(`k${i}`), json }));
      await driver.addRequests(queue.id, requests, false, at(T0));
      for (const r of requests) expect((await driver.getRequest(queue.id, r.id))?.json).toBe(r.json);
      expect((await driver.listHead(queue.id, 10, at(T0))).map((r) => r.json)).toEqual(texts);
      expect((await driver.getStore(queue.id))?.stats.storageBytes).toBe(utf8(requests));
    });

    it('puts forefront requests first, the latest first, each batch in its order', async () => {
      const queue = await freshQueue();
      const add = (names: string[], forefront: boolean) =>
        driver.addRequests(
          queue.id,
          names.map((n) => request(n)),
          forefront,
          at(T0),
        );
      await add(['a', 'b'], false);
      await add(['c', 'd'], true);
      await add(['e'], false);
      await add(['f', 'g'], true);
      expect(keys(await driver.listHead(queue.id, 100, at(T0)))).toEqual(['f', 'g', 'c', 'd', 'a', 'b', 'e']);
      expect(keys(await driver.listHead(queue.id, 3, at(T0)))).toEqual(['f', 'g', 'c']);
      expect(await driver.listHead(queue.id, 0, at(T0))).toEqual([]);
    });

    it('updates a request: moves it to the front, handles it, adds it when absent', async () => {
      const queue = await freshQueue();
      const [a, b, c] = ['a', 'b', 'c'].map((n) => request(n)) as [QueueRequestInput, QueueRequestInput, QueueRequestInput];
      await driver.addRequests(queue.id, [a, b, c], false, at(T0));
      const moved = { ...c, json: '{"moved":1}' };
      expect(await driver.updateRequest(queue.id, moved, true, at(T0 + 1))).toEqual({
        requestId: c.id,
        uniqueKey: 'c',
        wasAlreadyPresent: true,
        wasAlreadyHandled: false,
      });
      expect(keys(await driver.listHead(queue.id, 10, at(T0)))).toEqual(['c', 'a', 'b']);
      // Updated without forefront, a pending request keeps its place.
      expect(await driver.updateRequest(queue.id, { ...b, json: '{"b":2}' }, false, at(T0 + 2))).toMatchObject({
        wasAlreadyPresent: true,
      });
      expect(keys(await driver.listHead(queue.id, 10, at(T0)))).toEqual(['c', 'a', 'b']);

      const handled = { ...a, handledAt: T0 + 3 };
      expect(await driver.updateRequest(queue.id, handled, true, at(T0 + 3))).toMatchObject({ wasAlreadyHandled: false });
      expect(keys(await driver.listHead(queue.id, 10, at(T0)))).toEqual(['c', 'b']);
      expect(await driver.updateRequest(queue.id, handled, false, at(T0 + 4))).toMatchObject({ wasAlreadyHandled: true });
      let row = await driver.getStore(queue.id);
      expect(row).toMatchObject({ itemCount: 3, handledCount: 1, modifiedAt: T0 + 4 });
      expect(row?.stats.storageBytes).toBe(utf8([handled, { ...b, json: '{"b":2}' }, moved]));

      // Back to pending: counted so, and in the head again at its old place.
      expect(await driver.updateRequest(queue.id, a, false, at(T0 + 5))).toMatchObject({ wasAlreadyHandled: true });
      expect(keys(await driver.listHead(queue.id, 10, at(T0)))).toEqual(['c', 'a', 'b']);
      expect((await driver.getStore(queue.id))?.handledCount).toBe(0);

      const d = request('d');
      expect(await driver.updateRequest(queue.id, d, true, at(T0 + 6))).toEqual({
        requestId: d.id,
        uniqueKey: 'd',
        wasAlreadyPresent: false,
        wasAlreadyHandled: false,
      });
      const e = request('e', T0);
      expect(await driver.updateRequest(queue.id, e, false, at(T0 + 6))).toMatchObject({ wasAlreadyPresent: false });
      expect(keys(await driver.listHead(queue.id, 10, at(T0)))).toEqual(['d', 'c', 'a', 'b']);
      row = await driver.getStore(queue.id);
      expect(row).toMatchObject({ itemCount: 5, handledCount: 1 });
      expect(row?.stats.writeCount).toBe(3 + 5 + 2);
    });

    it('deletes requests one by one and in batches, by id or uniqueKey', async () => {
      const queue = await freshQueue();
      const all = ['a', 'b', 'c', 'd', 'e'].map((n, i) => request(n, i % 2 ? T0 : null));
      await driver.addRequests(queue.id, all, false, at(T0));
      const [a, b, c, d, e] = all as [
        QueueRequestInput,
        QueueRequestInput,
        QueueRequestInput,
        QueueRequestInput,
        QueueRequestInput,
      ];
      expect(await driver.deleteRequest(queue.id, a.id, at(T0 + 1))).toBe('deleted');
      expect(await driver.deleteRequest(queue.id, a.id, at(T0 + 1))).toBe('absent');
      expect(await driver.getRequest(queue.id, a.id)).toBeUndefined();
      const missing = requestId('missing');
      expect(
        await driver.deleteRequests(
          queue.id,
          [{ id: b.id }, { uniqueKey: 'c' }, { id: missing }, { uniqueKey: 'nope' }],
          at(T0 + 2),
        ),
      ).toEqual([
        { id: b.id, uniqueKey: 'b' },
        { id: c.id, uniqueKey: 'c' },
        { id: missing, uniqueKey: '' },
        { id: '', uniqueKey: 'nope' },
      ]);
      expect(keys(await listAll(queue.id, 10)).sort()).toEqual(['d', 'e']);
      const row = await driver.getStore(queue.id);
      expect(row).toMatchObject({ itemCount: 2, handledCount: 1, modifiedAt: T0 + 2 });
      expect(row?.stats.storageBytes).toBe(utf8([d, e]));
      expect(row?.stats.deleteCount).toBe(3);
      // A request deleted can be added again, as new.
      expect(await driver.addRequests(queue.id, [a], false, at(T0 + 3))).toMatchObject([{ wasAlreadyPresent: false }]);
    });

    it('answers the head without handled requests and without requests other clients hold', async () => {
      const queue = await freshQueue();
      const names = Array.from({ length: 10 }, (_, i) => `r${i}`);
      await driver.addRequests(
        queue.id,
        names.map((n, i) => request(n, i % 3 === 0 ? T0 : null)),
        false,
        at(T0),
      );
      // Pending: r1 r2 r4 r5 r7 r8.
      const locked = await driver.lockHead(queue.id, 2, 60_000, at(T0, 'x'));
      expect(locked).toMatchObject({ queueHasLockedRequests: true });
      if (locked === 'no-store') throw new Error('no store');
      expect(keys(locked.items)).toEqual(['r1', 'r2']);
      expect(locked.items[0]).toMatchObject({ lockClient: 'x', lockExpiresAt: T0 + 60_000, handledAt: null });
      expect(keys(await driver.listHead(queue.id, 3, at(T0 + 1, 'y')))).toEqual(['r4', 'r5', 'r7']);
      expect(keys(await driver.listHead(queue.id, 10, at(T0 + 1)))).toEqual(['r4', 'r5', 'r7', 'r8']);
      // The holder sees its own locked requests, with their locks.
      const own = await driver.listHead(queue.id, 3, at(T0 + 1, 'x'));
      expect(keys(own)).toEqual(['r1', 'r2', 'r4']);
      expect(own[0]).toMatchObject({ lockClient: 'x', lockExpiresAt: T0 + 60_000 });
      // Once the lock expired, everyone sees them, unlocked.
      const later = await driver.listHead(queue.id, 3, at(T0 + 60_000, 'y'));
      expect(keys(later)).toEqual(['r1', 'r2', 'r4']);
      expect(later[0]).toMatchObject({ lockClient: null, lockExpiresAt: null });
    });

    it('locks the head once: expired locks are taken again, live ones never', async () => {
      const queue = await freshQueue();
      await driver.addRequests(
        queue.id,
        ['a', 'b', 'c', 'd'].map((n) => request(n)),
        false,
        at(T0),
      );
      const first = await driver.lockHead(queue.id, 2, 1000, at(T0, 'x'));
      const second = await driver.lockHead(queue.id, 5, 5000, at(T0 + 10, 'y'));
      if (first === 'no-store' || second === 'no-store') throw new Error('no store');
      expect(keys(first.items)).toEqual(['a', 'b']);
      expect(keys(second.items)).toEqual(['c', 'd']);
      expect(second.items.map((r) => [r.lockClient, r.lockExpiresAt])).toEqual([
        ['y', T0 + 5010],
        ['y', T0 + 5010],
      ]);
      expect(await driver.lockHead(queue.id, 5, 1000, at(T0 + 999, 'z'))).toEqual({ items: [], queueHasLockedRequests: true });
      // x's locks expire at T0 + 1000: the next lock takes them; y's live on.
      const third = await driver.lockHead(queue.id, 5, 1000, at(T0 + 1000, 'z'));
      if (third === 'no-store') throw new Error('no store');
      expect(keys(third.items)).toEqual(['a', 'b']);
      expect(await driver.getRequest(queue.id, requestId('a'))).toMatchObject({ lockClient: 'z', lockExpiresAt: T0 + 2000 });
      // All expired: nothing locked any more.
      expect(await driver.lockHead(queue.id, 0, 1000, at(T0 + 10_000, 'z'))).toEqual({
        items: [],
        queueHasLockedRequests: false,
      });
      const filtered = await driver.listRequests(queue.id, { limit: 10, filter: 'locked', now: T0 + 10_000 });
      expect(filtered).toEqual({ items: [], isTruncated: false });
      // An expired lock does not hold a request against update or delete.
      expect(await driver.updateRequest(queue.id, request('a', T0 + 10_000), false, at(T0 + 10_000, 'w'))).toMatchObject({
        wasAlreadyPresent: true,
      });
      expect(await driver.deleteRequest(queue.id, requestId('b'), at(T0 + 10_000, 'w'))).toBe('deleted');
    });

    it("refuses updates and deletes of a request another client holds, but not the holder's", async () => {
      const queue = await freshQueue();
      const [a, b] = [request('a'), request('b')];
      await driver.addRequests(queue.id, [a, b], false, at(T0, 'x'));
      await driver.lockHead(queue.id, 2, 60_000, at(T0, 'x'));
      expect(await driver.updateRequest(queue.id, { ...a, handledAt: T0 }, false, at(T0 + 1, 'y'))).toBe('locked');
      expect(await driver.updateRequest(queue.id, { ...a, handledAt: T0 }, false, at(T0 + 1))).toBe('locked');
      expect(await driver.deleteRequest(queue.id, a.id, at(T0 + 1, 'y'))).toBe('locked');
      // The holder's update keeps a pending request's lock; handling it ends the lock.
      expect(await driver.updateRequest(queue.id, { ...b, json: '{"b":1}' }, false, at(T0 + 2, 'x'))).toMatchObject({
        wasAlreadyPresent: true,
      });
      expect(await driver.getRequest(queue.id, b.id)).toMatchObject({ lockClient: 'x', lockExpiresAt: T0 + 60_000 });
      expect(await driver.updateRequest(queue.id, { ...a, handledAt: T0 + 2 }, false, at(T0 + 2, 'x'))).toMatchObject({
        wasAlreadyHandled: false,
      });
      expect(await driver.getRequest(queue.id, a.id)).toMatchObject({ handledAt: T0 + 2, lockClient: null, lockExpiresAt: null });
      expect(await driver.deleteRequest(queue.id, b.id, at(T0 + 3, 'x'))).toBe('deleted');
      expect((await driver.getStore(queue.id))?.hadMultipleClients).toBe(false);
    });

    it('prolongs and deletes a lock for its holder only', async () => {
      const queue = await freshQueue();
      const [a, b, c] = [request('a'), request('b'), request('c')];
      await driver.addRequests(queue.id, [a, b, c], false, at(T0));
      await driver.lockHead(queue.id, 2, 1000, at(T0, 'x'));
      expect(await driver.prolongLock(queue.id, a.id, 5000, false, at(T0 + 500, 'y'))).toBe('locked-by-other');
      expect(await driver.prolongLock(queue.id, a.id, 5000, false, at(T0 + 500))).toBe('locked-by-other');
      expect(await driver.deleteLock(queue.id, a.id, false, at(T0 + 500, 'y'))).toBe('locked-by-other');
      expect(await driver.prolongLock(queue.id, c.id, 5000, false, at(T0 + 500, 'x'))).toBe('not-locked');
      expect(await driver.deleteLock(queue.id, c.id, false, at(T0 + 500, 'x'))).toBe('not-locked');
      expect(await driver.prolongLock(queue.id, requestId('zz'), 5000, false, at(T0 + 500, 'x'))).toBe('absent');
      expect(await driver.deleteLock(queue.id, requestId('zz'), false, at(T0 + 500, 'x'))).toBe('absent');

      expect(await driver.prolongLock(queue.id, a.id, 5000, false, at(T0 + 500, 'x'))).toEqual({ lockExpiresAt: T0 + 5500 });
      expect(await driver.getRequest(queue.id, a.id)).toMatchObject({ lockClient: 'x', lockExpiresAt: T0 + 5500 });
      // b's lock expired at T0 + 1000: there is no lock to prolong.
      expect(await driver.prolongLock(queue.id, b.id, 5000, false, at(T0 + 1000, 'x'))).toBe('not-locked');
      expect(keys(await driver.listHead(queue.id, 10, at(T0 + 1000, 'y')))).toEqual(['b', 'c']);

      // Prolonged with forefront, the request moves to the front.
      await driver.lockHead(queue.id, 1, 1000, at(T0 + 1000, 'x'));
      expect(await driver.prolongLock(queue.id, b.id, 1000, true, at(T0 + 1001, 'x'))).toEqual({ lockExpiresAt: T0 + 2001 });
      expect(keys(await driver.listHead(queue.id, 10, at(T0 + 1001, 'x')))).toEqual(['b', 'a', 'c']);
      expect(await driver.deleteLock(queue.id, a.id, false, at(T0 + 1002, 'x'))).toBe('ok');
      expect(await driver.getRequest(queue.id, a.id)).toMatchObject({ lockClient: null, lockExpiresAt: null });
      expect(await driver.deleteLock(queue.id, a.id, false, at(T0 + 1002, 'x'))).toBe('not-locked');
      expect(keys(await driver.listHead(queue.id, 10, at(T0 + 1002, 'y')))).toEqual(['a', 'c']);
      // Unlocked with forefront: first for everyone.
      expect(await driver.deleteLock(queue.id, b.id, true, at(T0 + 1003, 'x'))).toBe('ok');
      expect(keys(await driver.listHead(queue.id, 10, at(T0 + 1003, 'y')))).toEqual(['b', 'a', 'c']);

      // A lock taken without a clientKey is held by the callers without one.
      await driver.lockHead(queue.id, 1, 1000, at(T0 + 2000));
      expect(await driver.prolongLock(queue.id, b.id, 1000, false, at(T0 + 2001, 'x'))).toBe('locked-by-other');
      expect(await driver.prolongLock(queue.id, b.id, 1000, false, at(T0 + 2001))).toEqual({ lockExpiresAt: T0 + 3001 });
      expect(await driver.deleteLock(queue.id, b.id, false, at(T0 + 2002))).toBe('ok');
    });

    it("unlocks every live lock of one client and no other's", async () => {
      const queue = await freshQueue();
      await driver.addRequests(
        queue.id,
        ['a', 'b', 'c', 'd', 'e'].map((n) => request(n)),
        false,
        at(T0),
      );
      await driver.lockHead(queue.id, 2, 1000, at(T0, 'x'));
      await driver.lockHead(queue.id, 1, 1000, at(T0, 'y'));
      await driver.lockHead(queue.id, 1, 10, at(T0, 'x'));
      // x's lock on d expired at T0 + 10: not a live lock to end.
      expect(await driver.unlockRequests(queue.id, at(T0 + 10, 'x'))).toBe(2);
      expect(await driver.unlockRequests(queue.id, at(T0 + 10, 'x'))).toBe(0);
      expect(keys(await driver.listHead(queue.id, 10, at(T0 + 10, 'z')))).toEqual(['a', 'b', 'd', 'e']);
      const locked = await driver.listRequests(queue.id, { limit: 10, filter: 'locked', now: T0 + 10 });
      expect(keys(locked.items)).toEqual(['c']);
      expect(await driver.unlockRequests(queue.id, at(T0 + 10))).toBe(0);
    });

    it('never gives one request to two of 8 clients locking the head at once', async () => {
      const queue = await freshQueue();
      const all = Array.from({ length: 100 }, (_, i) => request(`r${i}`));
      await driver.addRequests(queue.id, all, false, at(T0));
      const drivers = await nodes();
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, c) =>
          (drivers[c % drivers.length] as StorageDriver).lockHead(queue.id, 10, 60_000, at(T0, `c${c}`)),
        ),
      );
      const taken = results.flatMap((r, c) => {
        if (r === 'no-store') throw new Error('no store');
        expect(r.items.every((item) => item.lockClient === `c${c}`)).toBe(true);
        return keys(r.items);
      });
      expect(taken).toHaveLength(80);
      expect(new Set(taken).size).toBe(80);
      expect(new Set(taken)).toEqual(new Set(all.slice(0, 80).map((r) => r.uniqueKey)));
    });

    it('drains a queue of 500 with 8 clients locking and handling: each request once, counts exact', async () => {
      const queue = await freshQueue();
      const all = Array.from({ length: 500 }, (_, i) => request(`r${i}`));
      for (let i = 0; i < all.length; i += 100) await driver.addRequests(queue.id, all.slice(i, i + 100), false, at(T0));
      const drivers = await nodes();
      const handledBy = new Map<string, string[]>();
      await Promise.all(
        Array.from({ length: 8 }, async (_, c) => {
          const d = drivers[c % drivers.length] as StorageDriver;
          const client = `c${c}`;
          for (let round = 0; round < 1000; round++) {
            const locked = await d.lockHead(queue.id, 7, 60_000, at(T0 + round, client));
            if (locked === 'no-store') throw new Error('no store');
            if (locked.items.length === 0) return;
            for (const item of locked.items) {
              handledBy.set(item.uniqueKey, [...(handledBy.get(item.uniqueKey) ?? []), client]);
              const done = { id: item.id, uniqueKey: item.uniqueKey, json: item.json, handledAt: T0 + round };
              const outcome = await d.updateRequest(queue.id, done, false, at(T0 + round, client));
              expect(outcome).toMatchObject({ wasAlreadyPresent: true, wasAlreadyHandled: false });
            }
          }
        }),
      );
      expect(handledBy.size).toBe(500);
      expect([...handledBy.values()].filter((by) => by.length !== 1)).toEqual([]);
      const row = await driver.getStore(queue.id);
      expect(row).toMatchObject({ itemCount: 500, handledCount: 500, hadMultipleClients: true });
      expect(await driver.listHead(queue.id, 10, at(T0 + 2000))).toEqual([]);
      expect(await driver.lockHead(queue.id, 10, 1000, at(T0 + 2000, 'c0'))).toEqual({
        items: [],
        queueHasLockedRequests: false,
      });
      expect((await listAll(queue.id, 1000, 'pending')).length).toBe(0);
    });

    it('pages the requests by id, all of them or the locked or pending ones', async () => {
      const queue = await freshQueue();
      const all = Array.from({ length: 57 }, (_, i) => request(`p${i}`, i % 4 === 0 ? T0 : null));
      await driver.addRequests(queue.id, all, false, at(T0));
      const locked = await driver.lockHead(queue.id, 9, 1000, at(T0, 'x'));
      if (locked === 'no-store') throw new Error('no store');
      const byId = (list: readonly { id: string }[]) => list.map((r) => r.id).sort();
      for (const page of [1, 10, 57, 100]) {
        const listed = await listAll(queue.id, page);
        expect(listed.map((r) => r.id)).toEqual(byId(all));
        expect(byId(await listAll(queue.id, page, 'pending'))).toEqual(byId(all.filter((r) => r.handledAt === null)));
        const live = await listAll(queue.id, page, 'locked');
        expect(live.map((r) => r.id)).toEqual(byId(locked.items));
        expect(live.every((r) => r.lockClient === 'x' && r.lockExpiresAt === T0 + 1000)).toBe(true);
      }
      const listed = await listAll(queue.id, 1000);
      const one = listed.find((r) => r.id === all[1]?.id);
      expect(one).toEqual({ ...all[1], lockClient: 'x', lockExpiresAt: T0 + 1000 });
      // After the locks expire: none locked, and none shown locked.
      expect(await listAll(queue.id, 10, 'locked', T0 + 1000)).toEqual([]);
      expect(
        (await listAll(queue.id, 1000, undefined, T0 + 1000)).every((r) => r.lockClient === null && r.lockExpiresAt === null),
      ).toBe(true);
      const after = listed[10]?.id;
      const page = await driver.listRequests(queue.id, { limit: 5, after, now: T0 });
      expect(page.items.map((r) => r.id)).toEqual(listed.slice(11, 16).map((r) => r.id));
      expect(page.isTruncated).toBe(true);
    });

    it('sets hadMultipleClients once a second clientKey writes or locks', async () => {
      const queue = await freshQueue();
      await driver.addRequests(queue.id, [request('a')], false, at(T0));
      await driver.addRequests(queue.id, [request('b')], false, at(T0, 'x'));
      await driver.lockHead(queue.id, 1, 1000, at(T0, 'x'));
      expect((await driver.getStore(queue.id))?.hadMultipleClients).toBe(false);
      await driver.lockHead(queue.id, 1, 1000, at(T0, 'y'));
      expect((await driver.getStore(queue.id))?.hadMultipleClients).toBe(true);
      await driver.addRequests(queue.id, [request('c')], false, at(T0, 'x'));
      expect((await driver.getStore(queue.id))?.hadMultipleClients).toBe(true);

      const other = await freshQueue();
      await driver.addRequests(other.id, [request('a')], false, at(T0, 'x'));
      expect(await driver.deleteRequest(other.id, requestId('a'), at(T0, 'y'))).toBe('deleted');
      expect(await driver.getStore(other.id)).toMatchObject({ hadMultipleClients: true, itemCount: 0 });
    });

    it('deletes the requests with the queue, and with its user', async () => {
      const user = await freshUser();
      const gone = await create(user.id, 'gone');
      const kept = await create(user.id, 'kept');
      await driver.addRequests(gone.id, [request('a'), request('b')], false, at(T0));
      await driver.addRequests(kept.id, [request('a')], false, at(T0));
      expect(await driver.deleteStore(gone.id)).toBe(true);
      expect(await driver.getRequest(gone.id, requestId('a'))).toBeUndefined();
      expect(await driver.listHead(gone.id, 10, at(T0))).toEqual([]);
      expect(await driver.listRequests(gone.id, { limit: 10, now: T0 })).toEqual({ items: [], isTruncated: false });
      expect(await driver.addRequests(gone.id, [request('a')], false, at(T0))).toBe('no-store');
      expect(keys(await driver.listHead(kept.id, 10, at(T0)))).toEqual(['a']);

      expect(await driver.deleteUser(user.id)).toBe(true);
      expect(await driver.getStore(kept.id)).toBeUndefined();
      expect(await driver.getRequest(kept.id, requestId('a'))).toBeUndefined();
    });

    it('lists expired unnamed queues for retention and deletes them only while they stay so', async () => {
      const user = await freshUser();
      const old = Date.now() - 10 * 24 * 3600 * 1000;
      const row = { ...storeRow(user.id, null, 'queue'), createdAt: old, modifiedAt: old, accessedAt: old };
      const expired = (await driver.createStore(row)).store;
      const touched = (await driver.createStore({ ...row, id: newId() })).store;
      await driver.addRequests(expired.id, [request('x')], false, at(old));
      const listed = await driver.listExpiredUnnamedStores(old + 1, 100_000);
      expect(listed).toEqual(expect.arrayContaining([expired.id, touched.id]));
      // A lock after the listing is a write: it keeps the queue.
      await driver.addRequests(touched.id, [request('y')], false, at(old));
      await driver.lockHead(touched.id, 1, 1000, at(Date.now()));
      expect(await driver.deleteStore(touched.id, { unnamedBefore: old + 1 })).toBe(false);
      expect(await driver.getRequest(touched.id, requestId('y'))).toBeDefined();
      expect(await driver.deleteStore(expired.id, { unnamedBefore: old + 1 })).toBe(true);
      expect(await driver.getRequest(expired.id, requestId('x'))).toBeUndefined();
    });

    it('totals queues and their bytes as a kind of their own', async () => {
      const before = await driver.totals();
      const of = (totals: typeof before, kind: StorageKind) => totals.find((t) => t.kind === kind);
      const queue = await freshQueue();
      const requests = [request('ü'), request('b')];
      await driver.addRequests(queue.id, requests, false, at(T0));
      const after = await driver.totals();
      expect(of(after, 'kvs')).toEqual(of(before, 'kvs'));
      expect(of(after, 'dataset')).toEqual(of(before, 'dataset'));
      expect(of(after, 'queue')).toEqual({
        kind: 'queue',
        stores: (of(before, 'queue')?.stores ?? 0) + 1,
        bytes: (of(before, 'queue')?.bytes ?? 0) + utf8(requests),
      });
    });

    /** The driver, and where the storage can be shared, three more on it: nodes of a cluster. */
    async function nodes(): Promise<StorageDriver[]> {
      const drivers = [driver];
      if (another) for (let i = 0; i < 3; i++) drivers.push(await another());
      others.push(...drivers.slice(1));
      return drivers;
    }
  });
}
