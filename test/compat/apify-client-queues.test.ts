/**
 * apify-client 2.25.0, unmodified, against a real `openkvs serve`: every RequestQueueCollectionClient
 * and RequestQueueClient method, with the options Crawlee and users pass. Request ids are the ones
 * Crawlee computes on its own side (getRequestId of the uniqueKey).
 */
import { getRequestId } from '@crawlee/cheerio';
import type { ApifyClient, RequestQueue, RequestQueueClient } from 'apify-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiError, clientFor } from './client.js';
import { fetchRaw, json } from './http.js';
import { type Recorder, startRecorder } from './recorder.js';
import { type CompatServer, startOpenkvs } from './server.js';

let server: CompatServer;
let recorder: Recorder;
let alice: ApifyClient;

/** A request as users write it: its url is its uniqueKey. */
const draft = (path: string, extra: Record<string, unknown> = {}) => ({
  url: `https://example.com/${path}`,
  uniqueKey: `https://example.com/${path}`,
  ...extra,
});

/** A request of the head (or any request) marked handled now, as Crawlee's markRequestHandled sends it. */
const handledNow = (item: { id: string; uniqueKey: string; url: string }) => ({
  id: item.id,
  uniqueKey: item.uniqueKey,
  url: item.url,
  handledAt: new Date().toISOString(),
});

/** A new unnamed queue of alice's, and a client of it with `clientKey`. */
async function newQueue(clientKey?: string): Promise<{ id: string; client: RequestQueueClient }> {
  const { id } = await alice.requestQueues().getOrCreate();
  return { id, client: alice.requestQueue(id, clientKey ? { clientKey } : undefined) };
}

/** The counts of a queue as `get()` answers them. */
async function counts(id: string) {
  const queue = (await alice.requestQueue(id).get()) as RequestQueue;
  const { totalRequestCount, handledRequestCount, pendingRequestCount } = queue;
  return { totalRequestCount, handledRequestCount, pendingRequestCount };
}

/** The uniqueKeys of the head, in order. */
const headKeys = async (client: RequestQueueClient, limit = 100) =>
  (await client.listHead({ limit })).items.map((item) => item.uniqueKey);

beforeAll(async () => {
  server = await startOpenkvs(['alice', 'lister']);
  recorder = await startRecorder(server.origin);
  alice = clientFor(server.origin, server.token('alice'));
});
afterAll(async () => {
  await recorder?.close();
  await server?.close();
});

describe('requestQueues()', () => {
  it('getOrCreate(name) twice gives the same queue; getOrCreate() makes a new unnamed one each time', async () => {
    const first = await alice.requestQueues().getOrCreate('twice');
    const second = await alice.requestQueues().getOrCreate('twice');
    expect(first.id).toMatch(/^[a-zA-Z0-9]{17}$/);
    expect(second.id).toBe(first.id);
    expect(second).toMatchObject({
      name: 'twice',
      totalRequestCount: 0,
      handledRequestCount: 0,
      pendingRequestCount: 0,
      hadMultipleClients: false,
    });
    expect(typeof first.userId).toBe('string');
    for (const at of [first.createdAt, first.modifiedAt, first.accessedAt]) expect(at).toBeInstanceOf(Date);
    expect(first.stats).toEqual({
      readCount: expect.any(Number),
      writeCount: expect.any(Number),
      deleteCount: expect.any(Number),
      headItemReadCount: expect.any(Number),
      storageBytes: expect.any(Number),
    });
    expect(typeof (first as RequestQueue & { consoleUrl?: unknown }).consoleUrl).toBe('string');

    const a = await alice.requestQueues().getOrCreate();
    const b = await alice.requestQueues().getOrCreate();
    expect(a.name ?? null).toBeNull();
    expect(b.id).not.toBe(a.id);
    expect([a.id, b.id]).not.toContain(first.id);
  });

  it('a queue, a dataset and a key-value store may share a name; none answers for another', async () => {
    const queue = await alice.requestQueues().getOrCreate('shared-name');
    const dataset = await alice.datasets().getOrCreate('shared-name');
    const store = await alice.keyValueStores().getOrCreate('shared-name');
    expect(new Set([queue.id, dataset.id, store.id]).size).toBe(3);
    expect((await alice.requestQueue('~shared-name').get())?.id).toBe(queue.id);
    expect(await alice.requestQueue(dataset.id).get()).toBeUndefined();
    expect(await alice.requestQueue(store.id).get()).toBeUndefined();
    expect(await alice.dataset(queue.id).get()).toBeUndefined();
    expect(await alice.keyValueStore(queue.id).get()).toBeUndefined();
  });

  describe('list', () => {
    let lister: ApifyClient;
    let all: RequestQueue[] = [];
    const ids = (list: { id: string }[]) => list.map((q) => q.id);

    beforeAll(async () => {
      // Made one after another, so that createdAt (then id) orders them as made.
      lister = clientFor(server.origin, server.token('lister'));
      for (const name of ['list-a', null, 'list-b', null, 'list-c'])
        all.push(await lister.requestQueues().getOrCreate(name ?? undefined));
      all = [...all].sort((x, y) => x.createdAt.getTime() - y.createdAt.getTime() || (x.id < y.id ? -1 : 1));
      // Datasets and key-value stores of the same user, even under a queue's name, are not queues.
      await lister.datasets().getOrCreate('list-a');
      await lister.keyValueStores().getOrCreate();
    });

    it('lists the named queues by default, oldest first, with the paging fields', async () => {
      const page = await lister.requestQueues().list();
      expect(ids(page.items)).toEqual(ids(all.filter((q) => q.name)));
      expect(page).toMatchObject({ total: 3, count: 3, offset: 0, desc: false });
      expect(page.items[0]).toMatchObject({ name: 'list-a', totalRequestCount: 0, handledRequestCount: 0 });
    });

    it('unnamed, desc, offset and limit', async () => {
      const everything = await lister.requestQueues().list({ unnamed: true });
      expect(ids(everything.items)).toEqual(ids(all));
      expect(everything.total).toBe(5);
      const desc = await lister.requestQueues().list({ unnamed: true, desc: true, offset: 1, limit: 2 });
      expect(ids(desc.items)).toEqual(ids([...all].reverse().slice(1, 3)));
      expect(desc).toMatchObject({ total: 5, count: 2, offset: 1, limit: 2, desc: true });
    });
  });
});

describe('requestQueue(id): get, update, delete', () => {
  it('get() of an unknown id answers undefined; by ~name finds a named queue', async () => {
    expect(await alice.requestQueue('nOsUcHqUeUe000001').get()).toBeUndefined();
    const queue = await alice.requestQueues().getOrCreate('by-name');
    expect((await alice.requestQueue('~by-name').get())?.id).toBe(queue.id);
  });

  it('update() renames; the old name no longer answers', async () => {
    const queue = await alice.requestQueues().getOrCreate('before-rename');
    const updated = await alice.requestQueue(queue.id).update({ name: 'after-rename' });
    expect(updated).toMatchObject({ id: queue.id, name: 'after-rename' });
    expect((await alice.requestQueue('~after-rename').get())?.id).toBe(queue.id);
    expect(await alice.requestQueue('~before-rename').get()).toBeUndefined();
  });

  it('delete() removes the queue and its requests; deleting it again is not an error for the client', async () => {
    const { id, client } = await newQueue();
    await client.addRequest(draft('deleted'));
    await client.delete();
    expect(await client.get()).toBeUndefined();
    expect(await client.getRequest(getRequestId(draft('deleted').uniqueKey))).toBeUndefined();
    await client.delete();
    const err = await apiError(alice.requestQueue(id).addRequest(draft('late')));
    expect(err.statusCode).toBe(404);
  });
});

describe('adding requests', () => {
  it("addRequest answers Crawlee's request id; the same uniqueKey again is already present", async () => {
    const { id, client } = await newQueue('adder');
    const request = draft('ünïcode/页面?q=1', {
      method: 'POST',
      payload: '{"a":1}',
      headers: { 'x-test': 'yes' },
      userData: { label: 'DETAIL', depth: 2, nested: { list: [1, 'two', null] } },
    });
    const added = await client.addRequest(request);
    expect(added).toEqual({
      requestId: getRequestId(request.uniqueKey),
      wasAlreadyPresent: false,
      wasAlreadyHandled: false,
    });
    const again = await client.addRequest({ ...request, userData: { other: true } });
    expect(again).toMatchObject({ requestId: added.requestId, wasAlreadyPresent: true, wasAlreadyHandled: false });

    // The first one stays, as it was given.
    const stored = await client.getRequest(added.requestId);
    expect(stored).toMatchObject({ ...request, id: added.requestId });
    expect(await counts(id)).toEqual({ totalRequestCount: 1, handledRequestCount: 0, pendingRequestCount: 1 });
  });

  it('addRequest with a uniqueKey other than the url: the id follows the uniqueKey', async () => {
    const { client } = await newQueue();
    const added = await client.addRequest({ url: 'https://example.com/same', uniqueKey: 'custom-key-1' });
    const other = await client.addRequest({ url: 'https://example.com/same', uniqueKey: 'custom-key-2' });
    expect(added.requestId).toBe(getRequestId('custom-key-1'));
    expect(other).toMatchObject({ requestId: getRequestId('custom-key-2'), wasAlreadyPresent: false });
  });

  it('forefront requests come first, the latest forefront first', async () => {
    const { client } = await newQueue('forefront');
    for (const path of ['a', 'b', 'c']) await client.addRequest(draft(path));
    await client.addRequest(draft('f1'), { forefront: true });
    await client.addRequest(draft('f2'), { forefront: true });
    expect(await headKeys(client)).toEqual(['f2', 'f1', 'a', 'b', 'c'].map((p) => draft(p).uniqueKey));
  });

  it('batchAddRequests of 60 goes in batches of at most 25; every one is processed once', async () => {
    const { id } = await newQueue();
    const client = clientFor(recorder.origin, server.token('alice')).requestQueue(id, { clientKey: 'batcher' });
    const requests = Array.from({ length: 60 }, (_, i) => draft(`batch/${i}`, { userData: { i } }));
    const before = recorder.requests.length;
    const result = await client.batchAddRequests(requests, { maxParallel: 1 });
    const calls = recorder.requests.slice(before);
    expect(calls.map((r) => `${r.method} ${new URL(r.url, 'http://x').pathname} ${r.status}`)).toEqual(
      Array.from({ length: 3 }, () => `POST /v2/request-queues/${id}/requests/batch 201`),
    );
    expect(result.unprocessedRequests).toEqual([]);
    expect(result.processedRequests).toEqual(
      requests.map((r) => ({
        requestId: getRequestId(r.uniqueKey),
        uniqueKey: r.uniqueKey,
        wasAlreadyPresent: false,
        wasAlreadyHandled: false,
      })),
    );
    expect(await counts(id)).toEqual({ totalRequestCount: 60, handledRequestCount: 0, pendingRequestCount: 60 });

    // Again, overlapping: 30 known ones (one of them handled meanwhile) and 10 new ones.
    await client.updateRequest({
      ...requests[0]!,
      id: getRequestId(requests[0]!.uniqueKey),
      handledAt: new Date().toISOString(),
    });
    const more = [...requests.slice(0, 30), ...Array.from({ length: 10 }, (_, i) => draft(`batch/new-${i}`))];
    const second = await client.batchAddRequests(more, { forefront: true });
    expect(second.unprocessedRequests).toEqual([]);
    const byKey = new Map(second.processedRequests.map((p) => [p.uniqueKey, p]));
    expect(byKey.size).toBe(40);
    expect(byKey.get(requests[0]!.uniqueKey)).toMatchObject({ wasAlreadyPresent: true, wasAlreadyHandled: true });
    expect(byKey.get(requests[29]!.uniqueKey)).toMatchObject({ wasAlreadyPresent: true, wasAlreadyHandled: false });
    expect(byKey.get(draft('batch/new-9').uniqueKey)).toMatchObject({ wasAlreadyPresent: false, wasAlreadyHandled: false });
    expect(await counts(id)).toEqual({ totalRequestCount: 70, handledRequestCount: 1, pendingRequestCount: 69 });
    // The new ones went to the front.
    const head = await headKeys(client, 10);
    expect(new Set(head)).toEqual(new Set(Array.from({ length: 10 }, (_, i) => draft(`batch/new-${i}`).uniqueKey)));
  });

  it('POST …/requests/batch takes 25 and reports the rest as unprocessed', async () => {
    const { id, client } = await newQueue();
    const requests = Array.from({ length: 30 }, (_, i) => draft(`raw/${i}`));
    const res = await fetchRaw(`${server.origin}/v2/request-queues/${id}/requests/batch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.token('alice')}`, 'content-type': 'application/json' },
      body: Buffer.from(JSON.stringify(requests)),
    });
    expect(res.status).toBe(201);
    const { data } = json<{ data: { processedRequests: { uniqueKey: string }[]; unprocessedRequests: unknown[] } }>(res);
    expect(data.processedRequests.map((p) => p.uniqueKey)).toEqual(requests.slice(0, 25).map((r) => r.uniqueKey));
    expect(data.unprocessedRequests).toEqual(
      requests.slice(25).map((r) => expect.objectContaining({ uniqueKey: r.uniqueKey, url: r.url })),
    );
    expect((await client.get())?.totalRequestCount).toBe(25);
  });

  it('batchAddRequests hands back what openkvs did not take as unprocessed, without throwing', async () => {
    const { id, client } = await newQueue();
    const good = Array.from({ length: 25 }, (_, i) => draft(`good/${i}`));
    // No url: not a request. Whether openkvs refuses the batch or the one request, the client
    // reports it as unprocessed and the 25 of the other batch as processed.
    const bad = { uniqueKey: 'no-url' } as unknown as ReturnType<typeof draft>;
    const result = await client.batchAddRequests([...good, bad], {
      maxParallel: 1,
      maxUnprocessedRequestsRetries: 1,
      minDelayBetweenUnprocessedRequestsRetriesMillis: 1,
    });
    expect(result.processedRequests.map((p) => p.uniqueKey)).toEqual(good.map((r) => r.uniqueKey));
    expect(result.unprocessedRequests.map((u) => u.uniqueKey)).toEqual(['no-url']);
    expect(await counts(id)).toEqual({ totalRequestCount: 25, handledRequestCount: 0, pendingRequestCount: 25 });
  });
});

describe('reading, updating and deleting requests', () => {
  it('getRequest of an unknown id answers undefined', async () => {
    const { client } = await newQueue();
    expect(await client.getRequest('nOsUcHrEqUeSt01')).toBeUndefined();
  });

  it('updateRequest with handledAt marks it handled: counted, out of the head, re-adding says handled', async () => {
    const { id, client } = await newQueue('updater');
    const [first, second] = [draft('one'), draft('two')];
    await client.batchAddRequests([first, second]);
    const firstId = getRequestId(first.uniqueKey);
    const handledAt = new Date('2026-01-02T03:04:05.678Z').toISOString();
    const updated = await client.updateRequest({ ...first, id: firstId, handledAt, userData: { done: true } });
    expect(updated).toMatchObject({ requestId: firstId, wasAlreadyPresent: true, wasAlreadyHandled: false });
    expect(await counts(id)).toEqual({ totalRequestCount: 2, handledRequestCount: 1, pendingRequestCount: 1 });
    // apify-client hands every `…At` field back as a Date.
    expect(await client.getRequest(firstId)).toMatchObject({
      id: firstId,
      handledAt: new Date(handledAt),
      userData: { done: true },
    });
    expect(await headKeys(client)).toEqual([second.uniqueKey]);
    expect(await client.addRequest(first)).toMatchObject({ wasAlreadyPresent: true, wasAlreadyHandled: true });
    // Handled again (an update of a handled request) counts once.
    await client.updateRequest({ ...first, id: firstId, handledAt });
    expect((await counts(id)).handledRequestCount).toBe(1);
    // Back to pending: handledAt null.
    await client.updateRequest({ ...first, id: firstId, handledAt: null } as never);
    expect(await counts(id)).toEqual({ totalRequestCount: 2, handledRequestCount: 0, pendingRequestCount: 2 });
  });

  it('updateRequest with forefront moves a pending request to the front; its JSON is replaced', async () => {
    const { client } = await newQueue('mover');
    await client.batchAddRequests(['x', 'y', 'z'].map((p) => draft(p)));
    const z = { ...draft('z'), id: getRequestId(draft('z').uniqueKey), userData: { moved: 1 }, retryCount: 2 };
    await client.updateRequest(z, { forefront: true });
    expect(await headKeys(client)).toEqual(['z', 'x', 'y'].map((p) => draft(p).uniqueKey));
    expect(await client.getRequest(z.id)).toMatchObject({ userData: { moved: 1 }, retryCount: 2 });
  });

  it('deleteRequest removes one request and its count; batchDeleteRequests by id and by uniqueKey', async () => {
    const { id, client } = await newQueue('deleter');
    const requests = Array.from({ length: 6 }, (_, i) => draft(`del/${i}`));
    await client.batchAddRequests(requests);
    const ids = requests.map((r) => getRequestId(r.uniqueKey));
    await client.updateRequest({ ...requests[0]!, id: ids[0]!, handledAt: new Date().toISOString() });

    await client.deleteRequest(ids[0]!);
    expect(await client.getRequest(ids[0]!)).toBeUndefined();
    expect(await counts(id)).toEqual({ totalRequestCount: 5, handledRequestCount: 0, pendingRequestCount: 5 });

    const deleted = await client.batchDeleteRequests([{ id: ids[1]! }, { uniqueKey: requests[2]!.uniqueKey }]);
    expect(deleted.unprocessedRequests).toEqual([]);
    expect(deleted.processedRequests).toEqual([
      { id: ids[1], uniqueKey: requests[1]!.uniqueKey },
      { id: ids[2], uniqueKey: requests[2]!.uniqueKey },
    ]);
    expect(await client.getRequest(ids[1]!)).toBeUndefined();
    expect(await client.getRequest(ids[2]!)).toBeUndefined();
    expect(await headKeys(client)).toEqual(requests.slice(3).map((r) => r.uniqueKey));
    expect(await counts(id)).toEqual({ totalRequestCount: 3, handledRequestCount: 0, pendingRequestCount: 3 });
    // Deleted requests can be added again, as new.
    expect(await client.addRequest(requests[1]!)).toMatchObject({ wasAlreadyPresent: false });
  });
});

describe('the head and locks', () => {
  /** A queue of alice's with requests a…e, and two clients of it with their own clientKeys. */
  async function lockQueue() {
    const { id, client: a } = await newQueue('client-a');
    const b = alice.requestQueue(id, { clientKey: 'client-b' });
    const requests = ['a', 'b', 'c', 'd', 'e'].map((p) => draft(p));
    await a.batchAddRequests(requests);
    return { id, a, b, keys: requests.map((r) => r.uniqueKey) };
  }

  it('listHead answers the first requests in order, up to limit, with the head fields', async () => {
    const { a, keys } = await lockQueue();
    const head = await a.listHead({ limit: 3 });
    expect(head.items.map((i) => i.uniqueKey)).toEqual(keys.slice(0, 3));
    expect(head).toMatchObject({ limit: 3, hadMultipleClients: false });
    expect(head.queueModifiedAt).toBeInstanceOf(Date);
    expect(head.items[0]).toMatchObject({ id: getRequestId(keys[0]!), url: keys[0], method: 'GET', retryCount: 0 });
    expect((await a.listHead()).items).toHaveLength(5);
  });

  it('listAndLockHead locks for lockSecs; another client gets the next ones, never the same', async () => {
    const { a, b, keys } = await lockQueue();
    const before = Date.now();
    const locked = await a.listAndLockHead({ lockSecs: 60, limit: 2 });
    expect(locked.items.map((i) => i.uniqueKey)).toEqual(keys.slice(0, 2));
    expect(locked).toMatchObject({ limit: 2, lockSecs: 60, clientKey: 'client-a', hadMultipleClients: false });
    for (const item of locked.items) {
      expect(item.lockExpiresAt).toBeInstanceOf(Date);
      expect(item.lockExpiresAt!.getTime()).toBeGreaterThanOrEqual(before + 59_000);
      expect(item.lockExpiresAt!.getTime()).toBeLessThanOrEqual(Date.now() + 61_000);
    }

    const other = await b.listAndLockHead({ lockSecs: 60, limit: 25 });
    expect(other.items.map((i) => i.uniqueKey)).toEqual(keys.slice(2));
    expect(other).toMatchObject({ clientKey: 'client-b', queueHasLockedRequests: true, hadMultipleClients: true });
    // Everything is locked: nothing more for either, but the queue is not finished.
    const none = await a.listAndLockHead({ lockSecs: 60, limit: 25 });
    expect(none).toMatchObject({ items: [], queueHasLockedRequests: true });
    // The head a client sees leaves out the requests another client holds.
    expect(await headKeys(b)).toEqual(keys.slice(2));
    expect(await headKeys(a)).toEqual(keys.slice(0, 2));
  });

  it('queueHasLockedRequests is false once nothing is locked; the head is empty once all is handled', async () => {
    const { a, keys } = await lockQueue();
    const locked = await a.listAndLockHead({ lockSecs: 60, limit: 25 });
    expect(locked.items).toHaveLength(5);
    for (const item of locked.items) await a.updateRequest(handledNow(item));
    const after = await a.listAndLockHead({ lockSecs: 60, limit: 25 });
    expect(after).toMatchObject({ items: [], queueHasLockedRequests: false });
    expect((await a.listHead()).items).toEqual([]);
    expect((await a.get())?.handledRequestCount).toBe(keys.length);
  });

  it('prolongRequestLock extends only its own lock; another client can neither prolong nor delete it', async () => {
    const { a, b } = await lockQueue();
    const [first] = (await a.listAndLockHead({ lockSecs: 30, limit: 1 })).items;
    const prolonged = await a.prolongRequestLock(first!.id, { lockSecs: 120 });
    expect(prolonged.lockExpiresAt).toBeInstanceOf(Date);
    expect(prolonged.lockExpiresAt.getTime()).toBeGreaterThan(first!.lockExpiresAt!.getTime() + 60_000);

    const refusals = [
      await apiError(b.prolongRequestLock(first!.id, { lockSecs: 120 })),
      await apiError(b.deleteRequestLock(first!.id)),
      await apiError(b.updateRequest(handledNow(first!))),
      await apiError(b.deleteRequest(first!.id)),
    ];
    for (const err of refusals) {
      expect(err.statusCode).toBeGreaterThanOrEqual(400);
      expect(err.statusCode).toBeLessThan(500);
    }
    // Still a's, still pending.
    expect((await b.listAndLockHead({ lockSecs: 60, limit: 25 })).items.map((i) => i.id)).not.toContain(first!.id);
    expect(((await a.getRequest(first!.id)) as { handledAt?: Date } | undefined)?.handledAt ?? null).toBeNull();
    // a's own delete ends the lock: b can take it.
    await a.deleteRequestLock(first!.id);
    expect((await b.listAndLockHead({ lockSecs: 60, limit: 25 })).items.map((i) => i.id)).toEqual([first!.id]);
  });

  it('prolonging or deleting a lock with forefront puts the request first', async () => {
    const { a, keys } = await lockQueue();
    const locked = (await a.listAndLockHead({ lockSecs: 60, limit: 25 })).items;
    expect(locked).toHaveLength(5);
    const idOf = (key: string) => getRequestId(key);
    await a.prolongRequestLock(idOf(keys[4]!), { lockSecs: 60, forefront: true });
    await a.deleteRequestLock(idOf(keys[2]!), { forefront: true });
    expect(await a.unlockRequests()).toEqual({ unlockedCount: 4 });
    expect(await headKeys(a)).toEqual([keys[2], keys[4], keys[0], keys[1], keys[3]]);
  });

  it('unlockRequests ends only the locks of its own clientKey', async () => {
    const { a, b, keys } = await lockQueue();
    await a.listAndLockHead({ lockSecs: 60, limit: 2 });
    await b.listAndLockHead({ lockSecs: 60, limit: 2 });
    expect(await a.unlockRequests()).toEqual({ unlockedCount: 2 });
    expect(await a.unlockRequests()).toEqual({ unlockedCount: 0 });
    // a's two are free again; b's two are still b's.
    const next = await a.listAndLockHead({ lockSecs: 60, limit: 25 });
    expect(next.items.map((i) => i.uniqueKey)).toEqual([keys[0], keys[1], keys[4]]);
  });

  it('a lock that expires frees the request for another client', async () => {
    const { a, b } = await lockQueue();
    const [first] = (await a.listAndLockHead({ lockSecs: 1, limit: 1 })).items;
    const expiresAt = first!.lockExpiresAt!.getTime();
    const askedAt = Date.now();
    const early = await b.listAndLockHead({ lockSecs: 60, limit: 25 });
    // Asked before the expiry (a slow machine may not manage): not b's yet.
    if (askedAt < expiresAt) expect(early.items.map((i) => i.id)).not.toContain(first!.id);
    // Waits for the expiry the server reported, then b gets it.
    let got: string[] = [];
    const deadline = expiresAt + 10_000;
    while (!got.includes(first!.id) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      got = (await b.listAndLockHead({ lockSecs: 60, limit: 25 })).items.map((i) => i.id);
    }
    expect(got).toContain(first!.id);
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt);
    // a's lock is gone: it can no longer prolong it.
    expect((await apiError(a.prolongRequestLock(first!.id, { lockSecs: 60 }))).statusCode).toBeLessThan(500);
  });

  it('hadMultipleClients stays false while one clientKey works on the queue', async () => {
    const { id, client } = await newQueue('only-one');
    await client.batchAddRequests([draft('m1'), draft('m2')]);
    const locked = await client.listAndLockHead({ lockSecs: 60, limit: 1 });
    await client.updateRequest(handledNow(locked.items[0]!));
    expect((await client.listHead()).hadMultipleClients).toBe(false);
    expect((await alice.requestQueue(id).get())?.hadMultipleClients).toBe(false);
    await alice.requestQueue(id, { clientKey: 'second' }).listAndLockHead({ lockSecs: 60, limit: 1 });
    expect((await alice.requestQueue(id).get())?.hadMultipleClients).toBe(true);
  });
});

describe('listing requests', () => {
  let id: string;
  let client: RequestQueueClient;
  /** The 30 ids, sorted as openkvs pages them (by id). */
  let ids: string[];
  let lockedIds: string[];
  let handledIds: string[];

  beforeAll(async () => {
    ({ id, client } = await newQueue('lister'));
    const requests = Array.from({ length: 30 }, (_, i) => draft(`list/${i}`, { userData: { i } }));
    await client.batchAddRequests(requests);
    ids = requests.map((r) => getRequestId(r.uniqueKey)).sort();
    const locked = (await client.listAndLockHead({ lockSecs: 300, limit: 8 })).items;
    // Three of the locked ones handled (their locks end with it), five still locked.
    for (const item of locked.slice(0, 3)) await client.updateRequest(handledNow(item));
    handledIds = locked.slice(0, 3).map((i) => i.id);
    lockedIds = locked
      .slice(3)
      .map((i) => i.id)
      .sort();
  });

  it('listRequests pages by limit and cursor in id order', async () => {
    const first = await client.listRequests({ limit: 12 });
    expect(first.items.map((r) => r.id)).toEqual(ids.slice(0, 12));
    expect(first.limit).toBe(12);
    expect(typeof first.nextCursor).toBe('string');
    expect(first.items[0]).toMatchObject({ id: ids[0], url: expect.stringContaining('/list/') });
    const second = await client.listRequests({ limit: 12, cursor: first.nextCursor });
    expect(second.items.map((r) => r.id)).toEqual(ids.slice(12, 24));
    const third = await client.listRequests({ limit: 12, cursor: second.nextCursor });
    expect(third.items.map((r) => r.id)).toEqual(ids.slice(24));
    if (third.nextCursor) expect((await client.listRequests({ cursor: third.nextCursor })).items).toEqual([]);
  });

  it('listRequests with exclusiveStartId starts after that id', async () => {
    const page = await client.listRequests({ exclusiveStartId: ids[4], limit: 5 });
    expect(page.items.map((r) => r.id)).toEqual(ids.slice(5, 10));
    expect((await client.listRequests({ exclusiveStartId: ids[29] })).items).toEqual([]);
  });

  it('filter locked, pending, and both (their union)', async () => {
    const locked = await client.listRequests({ filter: ['locked'] });
    expect(locked.items.map((r) => r.id)).toEqual(lockedIds);
    const pending = await client.listRequests({ filter: ['pending'] });
    expect(pending.items.map((r) => r.id)).toEqual(ids.filter((i) => !handledIds.includes(i)));
    expect(pending.items.every((r) => (r.handledAt ?? null) === null)).toBe(true);
    const both = await client.listRequests({ filter: ['locked', 'pending'] });
    expect(both.items.map((r) => r.id)).toEqual(pending.items.map((r) => r.id));
  });

  it('for await over listRequests follows nextCursor to the end, or to limit', async () => {
    const all: string[] = [];
    for await (const request of client.listRequests({ limit: 7 })) all.push(request.id);
    expect(all).toEqual(ids.slice(0, 7));
    const everything: string[] = [];
    for await (const request of client.listRequests({ filter: ['pending'] })) everything.push(request.id);
    expect(everything).toHaveLength(27);
  });

  it('paginateRequests yields pages of maxPageLimit until limit or the end', async () => {
    const pages: string[][] = [];
    for await (const page of client.paginateRequests({ maxPageLimit: 8 })) pages.push(page.items.map((r) => r.id));
    expect(pages.map((p) => p.length)).toEqual([8, 8, 8, 6]);
    expect(pages.flat()).toEqual(ids);
    const limited: string[][] = [];
    for await (const page of client.paginateRequests({ maxPageLimit: 8, limit: 20, filter: ['pending'] }))
      limited.push(page.items.map((r) => r.id));
    expect(limited.map((p) => p.length)).toEqual([8, 8, 4]);
    expect(limited.flat()).toEqual(ids.filter((i) => !handledIds.includes(i)).slice(0, 20));
  });

  it("the queue's counts match", async () => {
    expect(await counts(id)).toEqual({ totalRequestCount: 30, handledRequestCount: 3, pendingRequestCount: 27 });
  });
});
