import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Answer, dribble, eachLimit, failureCode, KeepAliveClient } from '../helpers/keep-alive.js';
import { Ledger, makeValue, sha256, type TestValue, type ValueKind } from '../helpers/ledger.js';
import { verifyStore } from '../helpers/verify-store.js';
import { cleanupAll, ensureBuilt, freePort, startServe, tempDir } from './helpers.js';

/**
 * SIGTERM while 16 clients PUT and GET over keep-alive connections and slow uploads are in
 * flight: what was in flight finishes and is really stored, what comes later is refused, nothing
 * acknowledged is lost, and the process exits 0 promptly.
 */

const TOKEN = 'shutdown-load-admin-token-0123456789';
const CLIENTS = 16;
/** How long the server may take to notice SIGTERM (event loop turns under load): requests sent this close to it may go either way. */
const MARGIN_MS = 200;
const EXIT_LIMIT_MS = 10_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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

/** A refusal: the connection refused or reset before any answer, or a 503 in the Apify envelope. */
function refusal(s: Sent): 'refused' | 'reset' | 'unavailable' | undefined {
  if (s.failure === 'ECONNREFUSED') return 'refused';
  if (s.failure === 'ECONNRESET' || s.failure === 'EPIPE') return 'reset';
  if (s.answer?.status !== 503) return undefined;
  try {
    const { error } = JSON.parse(s.answer.body.toString('utf8')) as { error?: { type?: unknown; message?: unknown } };
    return typeof error?.type === 'string' && typeof error.message === 'string' ? 'unavailable' : undefined;
  } catch {
    return undefined;
  }
}

describe('SIGTERM under load', () => {
  it('finishes requests in flight, refuses later ones, loses no acknowledged write and exits 0', async () => {
    const cwd = tempDir();
    const port = await freePort();
    const args = ['--storage', `sqlite:${join(cwd, 'kvs.sqlite')}`, '--port', String(port), '--admin-token', TOKEN];
    const server = await startServe([...args, '--log-level', 'warn'], { cwd, port });
    const admin = new KeepAliveClient(server.origin, TOKEN, 8);
    const created = await admin.send('POST', '/v2/key-value-stores?name=shutdown');
    expect(created.status).toBe(201);
    const storeId = (JSON.parse(created.body.toString()) as { data: { id: string } }).data.id;
    const records = `/v2/key-value-stores/${storeId}/records`;
    const ledger = new Ledger();
    const put = (client: KeepAliveClient, v: TestValue, body: Buffer | AsyncIterable<Buffer> = v.body) => {
      const headers: Record<string, string | number> = { 'content-type': v.contentType, 'content-length': v.body.length };
      if (v.encoding) headers['content-encoding'] = v.encoding;
      ledger.attempt(v);
      return client.send('PUT', `${records}/${v.key}`, { headers, body, timeoutMs: 20_000 });
    };
    const preloaded = Array.from({ length: 40 }, (_, i) => makeValue(`pre-${i}`, 'preload', i % 8 === 0 ? 'large' : 'small'));
    await eachLimit(preloaded, 8, async (v) => {
      expect((await put(admin, v)).status).toBe(201);
      ledger.ack(v);
    });
    admin.close();

    const sent: Sent[] = [];
    let exited = false;
    const kinds: ValueKind[] = ['small', 'small', 'small', 'gzip', 'large', 'empty'];
    const clientLoop = async (c: number) => {
      const client = new KeepAliveClient(server.origin, TOKEN, 1);
      for (let n = 0; !exited; n++) {
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
              timeoutMs: 20_000,
            });
          }
        } catch (err) {
          s.failure = failureCode(err);
        }
        s.endedAt = performance.now();
        sent.push(s);
        if (s.failure === 'ECONNREFUSED') await sleep(20);
      }
      client.close();
    };
    const load = Promise.all(Array.from({ length: CLIENTS }, (_, c) => clientLoop(c)));

    // Slow uploads, two past the inline limit (staged as files), each body sent over 2 s.
    await sleep(800);
    const slow = await Promise.all(
      (['large', 'large', 'small', 'gzip'] as const).map(async (kind, i) => {
        const value = makeValue(`slow-${i}`, 'slow', kind);
        const client = new KeepAliveClient(server.origin, TOKEN, 1);
        let first: () => void = () => undefined;
        const firstSent = new Promise<void>((r) => {
          first = r;
        });
        const s: Sent = { method: 'PUT', key: value.key, startedAt: performance.now(), endedAt: 0, slow: true };
        const done = put(client, value, dribble(value.body, 10, 2000, first)).then(
          (answer) => {
            s.answer = answer;
            if (answer.status === 201) ledger.ack(value);
          },
          (err: unknown) => {
            s.failure = failureCode(err);
          },
        );
        await firstSent;
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
    await sleep(150);

    const sigterm = performance.now();
    const stopping = server.stop('SIGTERM');
    const exit = await stopping;
    await Promise.all(slow.map((u) => u.done));
    await sleep(300);
    exited = true;
    await load;

    expect(exit, server.output()).toMatchObject({ code: 0, signal: null });
    expect(exit.ms, 'time from SIGTERM to exit (ms)').toBeLessThan(EXIT_LIMIT_MS);
    expect(
      slow.map(({ s }) => s.answer?.status ?? s.failure),
      'slow uploads in flight at SIGTERM',
    ).toEqual([201, 201, 201, 201]);

    const problems: string[] = [];
    const t = (ms: number) => Math.round(ms - sigterm);
    for (const s of sent) {
      const what = `${s.method} ${s.key} sent at ${t(s.startedAt)} ms, ended at ${t(s.endedAt)} ms (0 = SIGTERM)`;
      const ok = s.answer?.status === (s.method === 'PUT' ? 201 : 200);
      if (ok && s.method === 'GET') {
        const expected = ledger.settled(s.key);
        if (sha256(s.answer!.body) !== expected?.sha) problems.push(`${what}: 200 with the wrong bytes`);
      }
      if (s.startedAt < sigterm - MARGIN_MS && !ok)
        problems.push(`${what}: in flight at SIGTERM, got ${s.answer?.status ?? s.failure}`);
      if (s.startedAt >= sigterm + MARGIN_MS && !refusal(s)) {
        problems.push(`${what}: sent after SIGTERM, not refused: ${s.answer?.status ?? s.failure} ${s.answer?.body ?? ''}`);
      }
      if (!ok && !refusal(s)) {
        problems.push(`${what}: neither answered nor refused cleanly: ${s.answer?.status ?? s.failure} ${s.answer?.body ?? ''}`);
      }
    }
    expect(problems).toEqual([]);

    // After a restart: every 201 is there byte for byte; what was refused outright was not stored.
    const restarted = await startServe([...args, '--log-level', 'warn'], { cwd, port });
    const reader = new KeepAliveClient(restarted.origin, TOKEN, 16);
    const check = await verifyStore(reader, storeId, ledger);
    expect(check.problems, 'the store after a restart').toEqual([]);
    const refusedPuts = sent.filter((s) => s.method === 'PUT' && (refusal(s) === 'refused' || refusal(s) === 'unavailable'));
    const stored: string[] = [];
    await eachLimit(refusedPuts, 16, async (s) => {
      if ((await reader.send('GET', `${records}/${s.key}`)).status !== 404) stored.push(s.key);
    });
    expect(stored, 'records stored although their PUT was refused').toEqual([]);
    reader.close();
    expect((await restarted.stop()).code).toBe(0);

    const inFlight = sent.filter((s) => s.startedAt < sigterm && s.endedAt > sigterm);
    const refused = sent.filter((s) => s.startedAt >= sigterm && refusal(s)).sort((a, b) => a.endedAt - b.endedAt);
    expect(refused.length, 'requests refused after SIGTERM').toBeGreaterThan(0);
    const byKind = { refused: 0, reset: 0, unavailable: 0 };
    for (const s of refused) byKind[refusal(s) as keyof typeof byKind]++;
    const timings = {
      exitMs: exit.ms,
      inFlightAtSigterm: inFlight.length,
      inFlightAnswered: inFlight.filter((s) => s.answer && s.answer.status < 300).length,
      lastInFlightAnswerMs: t(Math.max(...inFlight.map((s) => s.endedAt))),
      firstRefusalMs: t((refused[0] as Sent).endedAt),
      refusedAfterSigterm: byKind,
      acked: ledger.acks,
      requests: sent.length,
    };
    console.log(`[reliability] shutdown-load: ${JSON.stringify(timings)}`);
  });
});
