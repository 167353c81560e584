import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { expectRecordBytes, getStore, pseudoRandomBytes, putRecord, recordUrl } from '../helpers/records.js';
import { sleep } from '../helpers/time.js';

/**
 * Compare-and-swap over a real listening server with plain fetch: many clients read a record,
 * change it and write it back with If-Match, retrying on 412. No update may be lost, on SQLite
 * and on PostgreSQL alike.
 */

const CLIENTS = 50;
const MAX_ATTEMPTS = 10 * CLIENTS;

let ctx: TestContext;
let storeId: string;
let origin: string;
let url: string;

beforeEach(async () => {
  ctx = await createTestContext();
  storeId = (await ctx.createStore('cas')).id;
  origin = await ctx.listen();
  url = `${origin}${recordUrl(storeId, 'counter')}`;
});
afterEach(async () => {
  // fetch keeps its connections alive; close them so that the server closes at once.
  ctx.app.server.closeAllConnections();
  await ctx.close();
});

const auth = () => ({ authorization: `Bearer ${ctx.alice}` });

interface Outcome {
  /** The count this client wrote. */
  wrote: number;
  attempts: number;
  conflicts: number;
}

/** One client: GET, +1, PUT with If-Match; again on 412 until it succeeds. */
async function increment(): Promise<Outcome> {
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const got = await fetch(url, { headers: auth() });
    expect(got.status).toBe(200);
    const etag = got.headers.get('etag');
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{43}"$/);
    const { count } = (await got.json()) as { count: number };
    const put = await fetch(url, {
      method: 'PUT',
      headers: { ...auth(), 'content-type': 'application/json', 'if-match': etag as string },
      body: JSON.stringify({ count: count + 1 }),
    });
    const text = await put.text();
    if (put.status === 201) {
      expect(put.headers.get('etag')).not.toBe(etag);
      return { wrote: count + 1, attempts: attempt, conflicts: attempt - 1 };
    }
    expect(put.status, text).toBe(412);
    expect(JSON.parse(text).error.type).toBe('precondition-failed');
    // A little jitter so that the losers do not all come back in the same instant.
    await sleep(Math.random() * 5);
  }
  throw new Error(`no successful write in ${MAX_ATTEMPTS} attempts`);
}

describe('compare-and-swap with If-Match', () => {
  it(`${CLIENTS} concurrent clients incrementing one JSON counter end at exactly ${CLIENTS}`, async () => {
    const created = await fetch(url, {
      method: 'PUT',
      headers: { ...auth(), 'content-type': 'application/json', 'if-none-match': '*' },
      body: JSON.stringify({ count: 0 }),
    });
    expect(created.status).toBe(201);
    await created.arrayBuffer();

    const started = Date.now();
    const outcomes = await Promise.all(Array.from({ length: CLIENTS }, () => increment()));
    const elapsed = Date.now() - started;

    const final = await fetch(url, { headers: auth() });
    expect(await final.json()).toEqual({ count: CLIENTS });
    // Every successful write moved the counter by one from the value it read: each count from
    // 1 to CLIENTS was written exactly once (no lost update, no duplicate).
    expect(outcomes.map((o) => o.wrote).sort((a, b) => a - b)).toEqual(Array.from({ length: CLIENTS }, (_, i) => i + 1));
    const conflicts = outcomes.reduce((n, o) => n + o.conflicts, 0);
    const { stats } = await getStore(ctx, storeId);
    // The 412s wrote nothing: one creating write plus one per client.
    expect(stats.writeCount).toBe(CLIENTS + 1);
    expect(stats.storageBytes).toBe(JSON.stringify({ count: CLIENTS }).length);
    console.info(
      `counter-cas: ${CLIENTS} increments in ${elapsed} ms, ${conflicts} conflicts (412), ` +
        `at most ${Math.max(...outcomes.map((o) => o.attempts))} attempts by one client`,
    );
  });

  it('If-Match DELETE racing with the same tag: exactly one client deletes', async () => {
    const res = await putRecord(ctx, storeId, 'counter', '{"count":7}', { 'content-type': 'application/json' });
    const etag = String(res.headers.etag);
    const statuses = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const del = await fetch(url, { method: 'DELETE', headers: { ...auth(), 'if-match': etag } });
        await del.arrayBuffer();
        return del.status;
      }),
    );
    expect(statuses.filter((s) => s === 204)).toHaveLength(1);
    expect(statuses.filter((s) => s === 412)).toHaveLength(19);
    expect((await fetch(url, { headers: auth() })).status).toBe(404);
    expect((await getStore(ctx, storeId)).stats.deleteCount).toBe(1);
  });

  it('If-None-Match: * racing creations, large and small: exactly one client creates the record', async () => {
    const values = Array.from({ length: 20 }, (_, i) => pseudoRandomBytes(i % 2 === 0 ? 300 * 1024 : 100, i + 1));
    const statuses = await Promise.all(
      values.map(async (value) => {
        const put = await fetch(url, {
          method: 'PUT',
          headers: { ...auth(), 'content-type': 'application/octet-stream', 'if-none-match': '*' },
          body: value,
        });
        await put.arrayBuffer();
        return put.status;
      }),
    );
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 412)).toHaveLength(values.length - 1);
    const winner = values[statuses.indexOf(201)] as Buffer;
    await expectRecordBytes(ctx, storeId, 'counter', winner);
    const { stats } = await getStore(ctx, storeId);
    expect(stats.writeCount).toBe(1);
    expect(stats.storageBytes).toBe(winner.length);
  });
});
