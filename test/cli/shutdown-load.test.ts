import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Answer, eachLimit, failureCode, KeepAliveClient } from '../helpers/keep-alive.js';
import { Ledger, makeValue, sha256, type TestValue, type ValueKind } from '../helpers/ledger.js';
import { sleep } from '../helpers/time.js';
import { verifyStore } from '../helpers/verify-store.js';
import { cleanupAll, ensureBuilt, freePort, http, startServe, tempDir } from './helpers.js';

/**
 * SIGTERM while 16 clients PUT and GET over keep-alive connections and slow uploads are in
 * flight: whatever reaches the server is answered as usual (with `Connection: close` once it
 * drains), new connections are refused, nothing acknowledged is lost, and the process exits 0 by
 * itself, long before its drain deadline.
 */

const TOKEN = 'shutdown-load-admin-token-0123456789';
const CLIENTS = 16;
/** A drain deadline the test never reaches: the exit must come from the drain ending. */
const SHUTDOWN_TIMEOUT_S = 60;
const EXIT_LIMIT_MS = 15_000;
/** What a request may get instead of an answer: a connection refused, or reset before any answer. */
const CONNECTION_FAILURES = ['ECONNREFUSED', 'ECONNRESET', 'EPIPE'];
beforeAll(ensureBuilt);
afterAll(cleanupAll);

interface Sent {
  method: 'PUT' | 'GET';
  key: string;
  startedAt: number;
  endedAt: number;
  answer?: Answer;
  failure?: string;
  slow?: boolean;
}

/** Half of `body` in a few pieces, then, once `gate` resolves, the rest. */
async function* halfThen(body: Buffer, gate: Promise<unknown>): AsyncGenerator<Buffer> {
  const half = body.length >> 1;
  const step = Math.max(1, Math.ceil(half / 5));
  for (let at = 0; at < half; at += step) {
    yield body.subarray(at, Math.min(at + step, half));
    await sleep(50);
  }
  await gate;
  yield body.subarray(half);
}

describe('SIGTERM under load', () => {
  it('answers whatever reached it, refuses new connections, loses no acknowledged write and exits 0', async () => {
    const cwd = tempDir();
    const port = await freePort();
    const args = ['--storage', `sqlite:${join(cwd, 'kvs.sqlite')}`, '--port', String(port), '--admin-token', TOKEN];
    const server = await startServe([...args, '--log-level', 'warn', '--shutdown-timeout', String(SHUTDOWN_TIMEOUT_S)], {
      cwd,
      port,
    });
    const admin = new KeepAliveClient(server.origin, TOKEN, 8);
    const created = await admin.send('POST', '/v2/key-value-stores?name=shutdown');
    expect(created.status).toBe(201);
    const storeId = (JSON.parse(created.body.toString()) as { data: { id: string } }).data.id;
    const records = `/v2/key-value-stores/${storeId}/records`;
    const ledger = new Ledger();
    const put = (
      client: KeepAliveClient,
      v: TestValue,
      body: Buffer | AsyncIterable<Buffer> = v.body,
      onContinue?: () => void,
    ) => {
      const headers: Record<string, string | number> = { 'content-type': v.contentType, 'content-length': v.body.length };
      if (v.encoding) headers['content-encoding'] = v.encoding;
      if (onContinue) headers.expect = '100-continue';
      ledger.attempt(v);
      return client.send('PUT', `${records}/${v.key}`, { headers, body, timeoutMs: 30_000, onContinue });
    };
    const preloaded = Array.from({ length: 40 }, (_, i) => makeValue(`pre-${i}`, 'preload', i % 8 === 0 ? 'large' : 'small'));
    await eachLimit(preloaded, 8, async (v) => {
      expect((await put(admin, v)).status).toBe(201);
      ledger.ack(v);
    });
    admin.close();

    // Set once a new connection is refused: the listener is closed, so the drain has begun.
    let drainSeenAt = Number.POSITIVE_INFINITY;
    let drainSeen: () => void = () => undefined;
    const drained = new Promise<void>((r) => {
      drainSeen = r;
    });

    const sent: Sent[] = [];
    let exited = false;
    const kinds: ValueKind[] = ['small', 'small', 'small', 'gzip', 'large', 'empty'];
    const clientLoop = async (c: number) => {
      const client = new KeepAliveClient(server.origin, TOKEN, 1);
      // Until the process is gone and a request has been refused since (each client sees one).
      for (let n = 0; ; n++) {
        const gone = exited;
        const value = n % 2 === 0 ? makeValue(`c${c}-${n}`, `client ${c}`, kinds[n % kinds.length] as ValueKind) : undefined;
        const s: Sent = { method: value ? 'PUT' : 'GET', key: value?.key ?? '', startedAt: performance.now(), endedAt: 0 };
        try {
          if (value) {
            s.answer = await put(client, value);
            if (s.answer.status === 201) ledger.ack(value);
          } else {
            s.key = `pre-${Math.floor(Math.random() * preloaded.length)}`;
            s.answer = await client.send('GET', `${records}/${s.key}`, {
              headers: { 'accept-encoding': 'gzip' },
              timeoutMs: 30_000,
            });
          }
        } catch (err) {
          s.failure = failureCode(err);
        }
        s.endedAt = performance.now();
        sent.push(s);
        if (gone && s.failure === 'ECONNREFUSED') break;
        if (s.failure === 'ECONNREFUSED') await sleep(20);
      }
      client.close();
    };
    const load = Promise.all(Array.from({ length: CLIENTS }, (_, c) => clientLoop(c)));

    // Slow uploads, two past the inline limit (staged as files): half of each body before SIGTERM,
    // the rest once the server is seen draining, so that their answers are written during the drain.
    await sleep(800);
    const slow = await Promise.all(
      (['large', 'large', 'small', 'gzip'] as const).map(async (kind, i) => {
        const value = makeValue(`slow-${i}`, 'slow', kind);
        const client = new KeepAliveClient(server.origin, TOKEN, 1);
        // Its 100 Continue says the server has read its headers: it is in flight at SIGTERM, not
        // still in a socket buffer (a connection the server has read nothing from is idle, and closed).
        let reached: () => void = () => undefined;
        const inFlight = new Promise<void>((r) => {
          reached = r;
        });
        const s: Sent = { method: 'PUT', key: value.key, startedAt: performance.now(), endedAt: 0, slow: true };
        const done = put(client, value, halfThen(value.body, drained), reached).then(
          (answer) => {
            s.answer = answer;
            if (answer.status === 201) ledger.ack(value);
          },
          (err: unknown) => {
            s.failure = failureCode(err);
          },
        );
        await inFlight;
        return {
          s,
          done: done.then(() => {
            s.endedAt = performance.now();
            sent.push(s);
            client.close();
          }),
        };
      }),
    );

    const sigterm = performance.now();
    const stopping = server.stop('SIGTERM');
    for (;;) {
      const got = await http(`${server.origin}/health`).then(
        (r) => r.status,
        (e: NodeJS.ErrnoException) => e.code,
      );
      if (got === 'ECONNREFUSED') break;
      await sleep(10);
    }
    drainSeenAt = performance.now();
    drainSeen();
    const exit = await stopping;
    exited = true;
    await Promise.all(slow.map((u) => u.done));
    await load;

    expect(exit, server.output()).toMatchObject({ code: 0, signal: null });
    expect(exit.ms, 'time from SIGTERM to exit (ms)').toBeLessThan(EXIT_LIMIT_MS);
    expect(
      slow.map(({ s }) => `${s.answer?.status ?? s.failure} ${s.answer?.headers.connection}`),
      'slow uploads, finished while the server drained',
    ).toEqual(slow.map(() => '201 close'));

    const problems: string[] = [];
    const t = (ms: number) => Math.round(ms - sigterm);
    for (const s of sent) {
      const what = `${s.method} ${s.key} sent at ${t(s.startedAt)} ms, ended at ${t(s.endedAt)} ms (0 = SIGTERM)`;
      if (s.answer) {
        if (s.answer.status !== (s.method === 'PUT' ? 201 : 200)) {
          problems.push(`${what}: answered ${s.answer.status} ${s.answer.body.toString('utf8').slice(0, 200)}`);
        } else if (s.method === 'GET' && sha256(s.answer.body) !== ledger.settled(s.key)?.sha) {
          problems.push(`${what}: 200 with the wrong bytes`);
        }
        // Sent once the server was seen draining: its answer was written during the drain.
        if (s.startedAt >= drainSeenAt && s.answer.headers.connection !== 'close')
          problems.push(`${what}: answered during the drain without Connection: close`);
      } else if (!CONNECTION_FAILURES.includes(s.failure ?? '')) {
        problems.push(`${what}: neither answered nor refused cleanly: ${s.failure}`);
      }
    }
    expect(problems).toEqual([]);

    // After a restart: every 201 is there byte for byte; what was refused outright was not stored.
    const restarted = await startServe([...args, '--log-level', 'warn'], { cwd, port });
    const reader = new KeepAliveClient(restarted.origin, TOKEN, 16);
    const check = await verifyStore(reader, storeId, ledger);
    expect(check.problems, 'the store after a restart').toEqual([]);
    const refusedPuts = sent.filter((s) => s.method === 'PUT' && s.failure === 'ECONNREFUSED');
    const stored: string[] = [];
    await eachLimit(refusedPuts, 16, async (s) => {
      if ((await reader.send('GET', `${records}/${s.key}`)).status !== 404) stored.push(s.key);
    });
    expect(stored, 'records stored although their connection was refused').toEqual([]);
    reader.close();
    expect((await restarted.stop()).code).toBe(0);

    const inFlight = sent.filter((s) => s.startedAt < sigterm && s.endedAt > sigterm);
    const answeredAfter = sent.filter((s) => s.answer && s.endedAt > sigterm);
    const failed = (when: (s: Sent) => boolean) => {
      const counts: Record<string, number> = {};
      for (const s of sent) if (s.failure && when(s)) counts[s.failure] = (counts[s.failure] ?? 0) + 1;
      return counts;
    };
    expect(failed((s) => s.startedAt >= sigterm).ECONNREFUSED, 'connections refused after SIGTERM').toBeGreaterThan(0);
    const timings = {
      exitMs: exit.ms,
      drainSeenMs: t(drainSeenAt),
      inFlightAtSigterm: inFlight.length,
      inFlightAnswered: inFlight.filter((s) => s.answer).length,
      lastAnswerMs: t(Math.max(...answeredAfter.map((s) => s.endedAt))),
      answeredAfterSigterm: {
        connectionClose: answeredAfter.filter((s) => s.answer?.headers.connection === 'close').length,
        keepAlive: answeredAfter.filter((s) => s.answer?.headers.connection !== 'close').length,
      },
      failedSentBeforeSigterm: failed((s) => s.startedAt < sigterm),
      failedSentAfterSigterm: failed((s) => s.startedAt >= sigterm),
      acked: ledger.acks,
      requests: sent.length,
    };
    console.log(`[reliability] shutdown-load: ${JSON.stringify(timings)}`);
  });
});
