/**
 * Lock races in process, on the driver of the project (both run): clients, each with its own
 * clientKey, drain one queue concurrently (lock up to 25 from the head, mark each handled, again
 * until nothing is pending and no lock lives). Every request is handed out once while its lock
 * lives and handled exactly once; a lock is never taken over by another client before it expires;
 * the counts are exact. Expiry is driven by a moved clock (Date.now), never by waiting.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { requestId } from '../../src/domain/queues/requests.js';
import { createTestContext, type TestContext } from '../helpers/context.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx.close());
afterEach(() => {
  vi.restoreAllMocks();
});

const Q = '/v2/request-queues';
const REQUESTS = 300;
const CLIENTS = 8;
const LOCK_SECS = 60;
/** Head locks one client may take: far more than the work needs. */
const MAX_ROUNDS = 2000;

interface Locked {
  id: string;
  uniqueKey: string;
  lockExpiresAt: string;
}

async function call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown) {
  const res = await ctx.request({
    method,
    url,
    token: ctx.alice,
    ...(payload === undefined ? {} : { payload: JSON.stringify(payload), headers: { 'content-type': 'application/json' } }),
  });
  return { status: res.statusCode, body: res.body, data: res.body && res.statusCode < 300 ? res.json().data : undefined };
}

const requestOf = (q: string, n: number) => ({
  uniqueKey: `https://example.com/${q}/${n}`,
  url: `https://example.com/${q}/${n}`,
});

/** A queue of `REQUESTS` pending requests, added in batches of 25. */
async function fillQueue(name: string): Promise<{ id: string; ids: Set<string> }> {
  const created = await call('POST', `${Q}?name=${name}`);
  expect(created.status).toBe(201);
  const id = created.data.id as string;
  for (let from = 0; from < REQUESTS; from += 25) {
    const batch = Array.from({ length: 25 }, (_, i) => requestOf(name, from + i));
    const res = await call('POST', `${Q}/${id}/requests/batch`, batch);
    expect(res.status, res.body).toBe(201);
  }
  const ids = new Set(Array.from({ length: REQUESTS }, (_, n) => requestId(requestOf(name, n).uniqueKey)));
  return { id, ids };
}

/** Every handout: which client got which request, when (the clock then), and until when. */
interface Handout {
  client: string;
  id: string;
  at: number;
  until: number;
}

/** Handouts of one request to a second client while the first one's lock lived. */
function overlaps(handouts: Handout[]): string[] {
  const byId = new Map<string, Handout[]>();
  for (const h of handouts) byId.set(h.id, [...(byId.get(h.id) ?? []), h]);
  const problems: string[] = [];
  for (const [id, list] of byId) {
    list.sort((a, b) => a.at - b.at);
    let holder = list[0] as Handout;
    for (const next of list.slice(1)) {
      // The same client again: its lock was prolonged.
      if (next.client === holder.client) holder = { ...holder, until: Math.max(holder.until, next.until) };
      else {
        if (next.at < holder.until)
          problems.push(`${id}: to ${next.client} at ${next.at}, ${holder.client}'s lock lived until ${holder.until}`);
        holder = next;
      }
    }
  }
  return problems;
}

/** The queue's counts, the live locks and the head, as the owner sees them. */
async function finalState(id: string) {
  const queue = (await call('GET', `${Q}/${id}`)).data;
  const locked = (await call('GET', `${Q}/${id}/requests?filter=locked`)).data.items;
  const head = (await call('GET', `${Q}/${id}/head?limit=1000`)).data.items;
  const pending = (await call('GET', `${Q}/${id}/requests?filter=pending&limit=1000`)).data.items;
  return {
    counts: [queue.totalRequestCount, queue.handledRequestCount, queue.pendingRequestCount, queue.hadMultipleClients],
    locked: locked.length,
    head: head.length,
    pending: pending.length,
  };
}

interface DrainOptions {
  queueId: string;
  handouts: Handout[];
  /** Handled answers per request id. */
  handled: Map<string, number>;
  /** Problems seen by the clients. */
  problems: string[];
  /** Ids the client last locked, by client, for the others to try to steal. */
  latest: Map<string, string[]>;
  /** Called when the head gives nothing while locks live; resolves when it is worth asking again. */
  idle: () => Promise<void>;
  /** The client stops after its first lock without handling anything ("dies"). */
  dies?: boolean;
}

/** One client: lock, handle, again, until nothing is pending and no lock lives. */
async function drain(client: string, o: DrainOptions): Promise<void> {
  // A broken server must fail the test, not spin it until the timeout.
  for (let round = 0; o.problems.length === 0; round++) {
    if (round === MAX_ROUNDS) {
      o.problems.push(`${client}: still not done after ${MAX_ROUNDS} rounds`);
      return;
    }
    const lock = await call('POST', `${Q}/${o.queueId}/head/lock?lockSecs=${LOCK_SECS}&limit=25&clientKey=${client}`);
    if (lock.status !== 201) {
      o.problems.push(`${client}: head/lock answered ${lock.status} ${lock.body}`);
      return;
    }
    const at = Date.now();
    const items = lock.data.items as Locked[];
    for (const r of items) o.handouts.push({ client, id: r.id, at, until: Date.parse(r.lockExpiresAt) });
    if (o.dies) return;
    if (items.length === 0) {
      if (!lock.data.queueHasLockedRequests) return;
      await o.idle();
      continue;
    }
    // A lock another client holds can be neither prolonged nor deleted nor its request handled.
    const stolen = [...o.latest].find(([other, ids]) => other !== client && ids.length > 0)?.[1][0];
    o.latest.set(
      client,
      items.map((r) => r.id),
    );
    if (stolen !== undefined) {
      const prolong = await call('PUT', `${Q}/${o.queueId}/requests/${stolen}/lock?lockSecs=${LOCK_SECS}&clientKey=${client}`);
      if (prolong.status !== 403 && prolong.status !== 400)
        o.problems.push(`${client} prolonged another client's lock on ${stolen}: ${prolong.status} ${prolong.body}`);
      const unlock = await call('DELETE', `${Q}/${o.queueId}/requests/${stolen}/lock?clientKey=${client}`);
      if (unlock.status !== 403 && unlock.status !== 400)
        o.problems.push(`${client} deleted another client's lock on ${stolen}: ${unlock.status} ${unlock.body}`);
    }
    for (const [i, r] of items.entries()) {
      // Now and then the lock is prolonged first, as a slow handler does.
      if (i % 7 === 3) {
        const prolong = await call('PUT', `${Q}/${o.queueId}/requests/${r.id}/lock?lockSecs=${LOCK_SECS}&clientKey=${client}`);
        if (prolong.status !== 200) o.problems.push(`${client} could not prolong its own lock on ${r.id}: ${prolong.status}`);
        else o.handouts.push({ client, id: r.id, at: Date.now(), until: Date.parse(prolong.data.lockExpiresAt) });
      }
      const body = { id: r.id, uniqueKey: r.uniqueKey, url: r.uniqueKey, handledAt: new Date(Date.now()).toISOString() };
      const res = await call('PUT', `${Q}/${o.queueId}/requests/${r.id}?clientKey=${client}`, body);
      if (res.status !== 200 || res.data.wasAlreadyHandled !== false)
        o.problems.push(`${client}: handling ${r.id} answered ${res.status} ${res.body}`);
      else o.handled.set(r.id, (o.handled.get(r.id) ?? 0) + 1);
    }
  }
}

/**
 * Clients that wait for live locks to go: once every client still working is waiting, `onAllIdle`
 * runs (it moves the clock) and they go on.
 */
function idleBarrier(working: () => number, onAllIdle: () => void) {
  let waiting: (() => void)[] = [];
  const release = () => {
    onAllIdle();
    const go = waiting;
    waiting = [];
    for (const resolve of go) resolve();
  };
  return {
    idle: () =>
      new Promise<void>((resolve) => {
        waiting.push(resolve);
        if (waiting.length >= working()) release();
      }),
    /** A client finished: the others may all be waiting for it. */
    done: () => {
      if (waiting.length > 0 && waiting.length >= working()) release();
    },
  };
}

describe(`${CLIENTS} clients drain one queue of ${REQUESTS} requests`, () => {
  it('every request is handed out once and handled once; the counts are exact', async () => {
    const { id, ids } = await fillQueue('race');
    const o: DrainOptions = {
      queueId: id,
      handouts: [],
      handled: new Map(),
      problems: [],
      latest: new Map(),
      // Locks last a minute and nothing moves the clock: waiting clients just ask again.
      idle: () => new Promise((resolve) => setImmediate(resolve)),
    };
    await Promise.all(Array.from({ length: CLIENTS }, (_, c) => drain(`client-${c}`, o)));
    expect(o.problems).toEqual([]);
    const firstHandouts = o.handouts.filter((h, i, all) => all.findIndex((x) => x.id === h.id && x.client === h.client) === i);
    expect(firstHandouts.map((h) => h.id).sort()).toEqual([...ids].sort());
    expect(new Set(o.handouts.map((h) => h.client)).size, 'the work was shared').toBeGreaterThan(1);
    expect([...o.handled.values()].every((n) => n === 1)).toBe(true);
    expect(o.handled.size).toBe(REQUESTS);
    expect(overlaps(o.handouts)).toEqual([]);
    expect(await finalState(id)).toEqual({ counts: [REQUESTS, REQUESTS, 0, true], locked: 0, head: 0, pending: 0 });
  });

  it('the requests of clients that die come back once their locks expire, and only then', async () => {
    const { id, ids } = await fillQueue('deaths');
    let now = Date.now();
    vi.spyOn(Date, 'now').mockImplementation(() => now);
    let working = CLIENTS;
    let moves = 0;
    const barrier = idleBarrier(
      () => working,
      () => {
        // Every live client waits on locks of the dead: a minute passes.
        now += LOCK_SECS * 1000 + 1;
        moves++;
      },
    );
    const o: DrainOptions = {
      queueId: id,
      handouts: [],
      handled: new Map(),
      problems: [],
      latest: new Map(),
      idle: barrier.idle,
    };
    const run = async (c: number) => {
      // Two clients lock 25 requests each and die; the others keep the clock still while they work.
      await drain(`client-${c}`, { ...o, dies: c < 2 });
      working--;
      barrier.done();
    };
    await Promise.all(Array.from({ length: CLIENTS }, (_, c) => run(c)));
    expect(o.problems).toEqual([]);
    expect(moves, 'the clock moved for the locks of the dead').toBeGreaterThanOrEqual(1);
    const dead = o.handouts.filter((h) => h.client === 'client-0' || h.client === 'client-1');
    expect(dead).toHaveLength(50);
    // What the dead held went to the living, after the dead's locks expired.
    expect(overlaps(o.handouts)).toEqual([]);
    for (const h of dead) expect(o.handled.get(h.id), h.id).toBe(1);
    expect([...o.handled.keys()].sort()).toEqual([...ids].sort());
    expect([...o.handled.values()].every((n) => n === 1)).toBe(true);
    expect(await finalState(id)).toEqual({ counts: [REQUESTS, REQUESTS, 0, true], locked: 0, head: 0, pending: 0 });
  });
});

describe('a lock lives until its expiry, to the millisecond', () => {
  it('held one millisecond before, free from the expiry on; the dead client may then change nothing', async () => {
    const created = await call('POST', `${Q}?name=expiry`);
    const id = created.data.id as string;
    await call(
      'POST',
      `${Q}/${id}/requests/batch`,
      [0, 1, 2].map((n) => requestOf('expiry', n)),
    );
    let now = Date.now();
    vi.spyOn(Date, 'now').mockImplementation(() => now);
    const lock = await call('POST', `${Q}/${id}/head/lock?lockSecs=30&limit=2&clientKey=dies`);
    const held = (lock.data.items as Locked[]).map((r) => r.id);
    expect(held).toHaveLength(2);
    const expiry = Date.parse((lock.data.items as Locked[])[0]?.lockExpiresAt ?? '');
    expect(expiry).toBe(now + 30_000);
    const headIds = async (client: string) =>
      ((await call('GET', `${Q}/${id}/head?clientKey=${client}`)).data.items as { id: string }[]).map((r) => r.id);

    now = expiry - 1;
    expect(await headIds('other')).toEqual([requestId(requestOf('expiry', 2).uniqueKey)]);
    const early = await call('POST', `${Q}/${id}/head/lock?lockSecs=30&limit=25&clientKey=other`);
    expect((early.data.items as Locked[]).map((r) => r.id)).toEqual([requestId(requestOf('expiry', 2).uniqueKey)]);
    expect(early.data.queueHasLockedRequests).toBe(true);

    now = expiry + 1;
    // A third client's head: the expired two, not the one 'other' holds.
    expect((await headIds('third')).sort()).toEqual([...held].sort());
    const taken = await call('POST', `${Q}/${id}/head/lock?lockSecs=30&limit=25&clientKey=other`);
    expect((taken.data.items as Locked[]).map((r) => r.id).sort()).toEqual([...held].sort());
    // The dead client comes back: its locks are gone and the requests are another's now.
    const [first] = held as [string];
    const handle = await call('PUT', `${Q}/${id}/requests/${first}?clientKey=dies`, {
      ...requestOf('expiry', 0),
      id: first,
      handledAt: new Date(now).toISOString(),
    });
    expect(handle.status, handle.body).toBe(403);
    expect((await call('PUT', `${Q}/${id}/requests/${first}/lock?lockSecs=30&clientKey=dies`)).status).toBe(403);
    expect((await call('DELETE', `${Q}/${id}/requests/${first}/lock?clientKey=dies`)).status).toBe(403);
    expect((await call('POST', `${Q}/${id}/requests/unlock?clientKey=dies`)).data).toEqual({ unlockedCount: 0 });
    const queue = (await call('GET', `${Q}/${id}`)).data;
    expect([queue.totalRequestCount, queue.handledRequestCount]).toEqual([3, 0]);
  });
});

describe('counts under concurrent writes of the same requests', () => {
  const outcomes = (answers: { data: { processedRequests?: { uniqueKey: string; wasAlreadyPresent: boolean }[] } }[]) =>
    answers.flatMap((a) => a.data.processedRequests ?? []);

  it(`${CLIENTS} clients add the same 50 uniqueKeys at once: each is added once, the other adds find it`, async () => {
    const created = await call('POST', `${Q}?name=same-adds`);
    const id = created.data.id as string;
    const keys = Array.from({ length: 50 }, (_, n) => requestOf('same-adds', n));
    const answers = await Promise.all(
      Array.from({ length: CLIENTS }, async (_, c) => {
        const out: { uniqueKey: string; wasAlreadyPresent: boolean }[] = [];
        // Half the clients add one by one, half in batches of 25, each in its own order.
        const mine = c % 3 === 0 ? [...keys].reverse() : keys;
        if (c % 2 === 0) {
          for (const r of mine) {
            const res = await call('POST', `${Q}/${id}/requests?clientKey=adder-${c}`, r);
            expect(res.status, res.body).toBe(201);
            out.push({ uniqueKey: r.uniqueKey, wasAlreadyPresent: res.data.wasAlreadyPresent });
          }
        } else {
          for (const from of [0, 25]) {
            const res = await call('POST', `${Q}/${id}/requests/batch?clientKey=adder-${c}`, mine.slice(from, from + 25));
            expect(res.status, res.body).toBe(201);
            out.push(...outcomes([res]));
          }
        }
        return out;
      }),
    );
    const firsts = answers.flat().filter((o) => !o.wasAlreadyPresent);
    expect(firsts.map((o) => o.uniqueKey).sort()).toEqual(keys.map((r) => r.uniqueKey).sort());
    expect(answers.flat()).toHaveLength(CLIENTS * keys.length);
    const queue = (await call('GET', `${Q}/${id}`)).data;
    expect([queue.totalRequestCount, queue.handledRequestCount, queue.pendingRequestCount]).toEqual([50, 0, 50]);
    expect((await call('GET', `${Q}/${id}/requests?limit=1000`)).data.items).toHaveLength(50);
  });

  it(`${CLIENTS} handlings of one request at once count once; ${CLIENTS} deletes of another delete once`, async () => {
    const created = await call('POST', `${Q}?name=same-handles`);
    const id = created.data.id as string;
    const [handled, deleted, kept] = [0, 1, 2].map((n) => requestOf('same-handles', n)) as [
      ReturnType<typeof requestOf>,
      ReturnType<typeof requestOf>,
      ReturnType<typeof requestOf>,
    ];
    await call('POST', `${Q}/${id}/requests/batch`, [handled, deleted, kept]);
    const handledId = requestId(handled.uniqueKey);
    const deletedId = requestId(deleted.uniqueKey);
    const [puts, deletes] = await Promise.all([
      Promise.all(
        Array.from({ length: CLIENTS }, () =>
          call('PUT', `${Q}/${id}/requests/${handledId}`, { ...handled, handledAt: new Date().toISOString() }),
        ),
      ),
      Promise.all(Array.from({ length: CLIENTS }, () => call('DELETE', `${Q}/${id}/requests/${deletedId}`))),
    ]);
    expect(puts.map((p) => p.status)).toEqual(Array(CLIENTS).fill(200));
    expect(puts.filter((p) => p.data.wasAlreadyHandled === false)).toHaveLength(1);
    for (const d of deletes) expect([204, 404], d.body).toContain(d.status);
    const queue = (await call('GET', `${Q}/${id}`)).data;
    expect([queue.totalRequestCount, queue.handledRequestCount, queue.pendingRequestCount]).toEqual([2, 1, 1]);
    const items = (await call('GET', `${Q}/${id}/requests`)).data.items as { id: string }[];
    expect(items.map((r) => r.id).sort()).toEqual([handledId, requestId(kept.uniqueKey)].sort());
  });
});
