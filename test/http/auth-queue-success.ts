/**
 * What each request-queue endpoint of the authorization matrix must have answered and done when it
 * succeeds (the fixture: requests locked, pending and handled, see auth-fixtures.ts).
 */
import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import { requestId } from '../../src/domain/queues/requests.js';
import {
  type AuthContext,
  expectAnswer,
  type Fixture,
  NEW_REQUESTS,
  NEW_TITLE,
  QUEUE_IDS,
  queueView,
  type StoreEndpoint,
  UPDATED_REQUEST,
} from './auth-fixtures.js';

type Counts = [total: number, handled: number, pending: number];

const ids = (items: { id: string }[]) => items.map((r) => r.id);
const byId = (f: Fixture, id: string) => (f.items as { id: string }[]).find((r) => r.id === id);

/**
 * The queue's counts, its live locks, and its requests as they were but those `removed` (gone) and
 * `changed` (returned for the caller to check).
 */
async function expectQueue(
  a: AuthContext,
  f: Fixture,
  counts: Counts,
  locked: string[],
  removed: string[] = [],
  changed: string[] = [],
) {
  const { queue, requests, locked: locks } = await queueView(a, f.id);
  const data = queue.json().data;
  expect([data.totalRequestCount, data.handledRequestCount, data.pendingRequestCount]).toEqual(counts);
  const items: { id: string }[] = requests.json().data.items;
  for (const old of f.items as { id: string }[]) {
    if (removed.includes(old.id)) expect(ids(items)).not.toContain(old.id);
    else if (!changed.includes(old.id)) expect(items.find((r) => r.id === old.id)).toEqual(old);
  }
  expect(ids(locks.json().data.items).sort()).toEqual([...locked].sort());
  return items;
}

export async function expectQueueSuccess(
  a: AuthContext,
  ep: StoreEndpoint,
  f: Fixture,
  _owner: boolean,
  res: LightMyRequestResponse,
): Promise<void> {
  const { locked, pending, handled } = QUEUE_IDS;
  const data = ep.method === 'HEAD' || res.statusCode === 204 ? undefined : res.json().data;
  switch (ep.name) {
    case 'get queue':
      expect([data.id, data.name, data.username]).toEqual([f.id, f.name, 'alice']);
      expect([data.totalRequestCount, data.handledRequestCount, data.pendingRequestCount]).toEqual([3, 1, 2]);
      // A queue has no signing secret in the API, for the owner either.
      expect(data).not.toHaveProperty('urlSigningSecretKey');
      return;
    case 'update queue':
      expect(data.title).toBe(NEW_TITLE);
      expect(data).not.toHaveProperty('urlSigningSecretKey');
      expect((await queueView(a, f.id)).queue.json().data.title).toBe(NEW_TITLE);
      await expectQueue(a, f, [3, 1, 2], [locked]);
      return;
    case 'delete queue': {
      expect(res.body).toBe('');
      const { queue, requests } = await queueView(a, f.id);
      expectAnswer(queue, 'GET', { status: 404, type: 'record-not-found' });
      expectAnswer(requests, 'GET', { status: 404, type: 'record-not-found' });
      return;
    }
    case 'add request': {
      const id = requestId(NEW_REQUESTS[0]?.uniqueKey ?? '');
      expect(data).toEqual({ requestId: id, wasAlreadyPresent: false, wasAlreadyHandled: false });
      const items = await expectQueue(a, f, [4, 1, 3], [locked]);
      expect(items.find((r) => r.id === id)).toMatchObject(NEW_REQUESTS[0] ?? {});
      return;
    }
    case 'batch add requests': {
      expect(data.unprocessedRequests).toEqual([]);
      const added = NEW_REQUESTS.map((r) => requestId(r.uniqueKey));
      expect(ids(data.processedRequests.map((r: { requestId: string }) => ({ id: r.requestId })))).toEqual(added);
      const items = await expectQueue(a, f, [5, 1, 4], [locked]);
      for (const [i, id] of added.entries()) expect(items.find((r) => r.id === id)).toMatchObject(NEW_REQUESTS[i] ?? {});
      return;
    }
    case 'batch delete requests':
      expect(ids(data.processedRequests)).toEqual([pending]);
      expect(data.unprocessedRequests).toEqual([]);
      await expectQueue(a, f, [2, 1, 1], [locked], [pending]);
      return;
    case 'get request':
      expect(data).toEqual(byId(f, pending));
      expect(JSON.stringify(data)).toContain(f.value);
      return;
    case 'update request': {
      expect(data).toEqual({ requestId: pending, wasAlreadyPresent: true, wasAlreadyHandled: false });
      const items = await expectQueue(a, f, [3, 2, 1], [locked], [], [pending]);
      expect(items.find((r) => r.id === pending)).toMatchObject(UPDATED_REQUEST);
      return;
    }
    case 'delete request':
      expect(res.body).toBe('');
      await expectQueue(a, f, [2, 1, 1], [locked], [pending]);
      return;
    case 'get head':
      // The locked request is another client's: the head shows the pending one only.
      expect(ids(data.items)).toEqual([pending]);
      expect(data.items[0]).toMatchObject({ id: pending, method: 'GET', retryCount: 0 });
      return;
    case 'lock head':
      expect(ids(data.items)).toEqual([pending]);
      expect(data).toMatchObject({ clientKey: 'matrix-client', queueHasLockedRequests: true, hadMultipleClients: true });
      await expectQueue(a, f, [3, 1, 2], [locked, pending]);
      return;
    case 'prolong lock':
      expect(Date.parse(data.lockExpiresAt) - Date.now()).toBeGreaterThan(3600_000);
      await expectQueue(a, f, [3, 1, 2], [locked]);
      return;
    case 'delete lock':
      expect(res.body).toBe('');
      await expectQueue(a, f, [3, 1, 2], []);
      return;
    case 'unlock requests':
      expect(data).toEqual({ unlockedCount: 1 });
      await expectQueue(a, f, [3, 1, 2], []);
      return;
    case 'list requests':
      expect(ids(data.items).sort()).toEqual([locked, pending, handled].sort());
      expect(data.items).toEqual(f.items);
      expect(data.count).toBe(3);
      return;
    default:
      throw new Error(`no success check for ${ep.name}`);
  }
}
