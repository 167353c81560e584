import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dribble, failureCode, KeepAliveClient } from '../helpers/keep-alive.js';
import { Ledger, sha256, type TestValue } from '../helpers/ledger.js';
import { verifyStore } from '../helpers/verify-store.js';
import { inspectSqlite } from '../reliability/sqlite-files.js';
import { runWorkload } from '../reliability/workload.js';
import { cleanupAll, ensureBuilt, freePort, startServe, tempDir } from './helpers.js';

/**
 * Two servers on one SQLite file under a mixed write load, one of them restarted again and again
 * (SIGTERM, and once SIGKILL) while slow uploads run on the other: a starting process must sweep
 * nothing another process is still writing or has committed. Every write the steady server gets is
 * acknowledged, and every acknowledged write reads back byte for byte through both servers.
 */

const TOKEN = 'multiprocess-admin-token-0123456789abc';
const ROUNDS = ['SIGTERM', 'SIGTERM', 'SIGKILL', 'SIGTERM'] as const;
/** Slow uploads at once on the steady server: ~1.2 MB each, in 12 pieces over 2.4 s (500 KB/s). */
const SLOW_LANES = 2;

beforeAll(ensureBuilt);
afterAll(cleanupAll);

interface SlowUploads {
  /** Resolves when an upload that starts after this call has sent its first piece. */
  nextStarted(): Promise<void>;
  stop(): void;
  done: Promise<void>;
  count: () => number;
}

/** Lanes of slow uploads of large values (files on SQLite), each PUT after the one before. */
function slowUploads(client: KeepAliveClient, ledger: Ledger, storeId: string, problems: string[]): SlowUploads {
  let stopped = false;
  let sent = 0;
  let waiters: (() => void)[] = [];
  const lane = async (l: number) => {
    for (let n = 0; !stopped; n++) {
      const key = `slow-${l}-${n}`;
      const body = Buffer.concat([Buffer.from(`${key}\n`), randomBytes(1_200_000)]);
      const value: TestValue = { key, body, contentType: 'application/octet-stream', encoding: null, sha: sha256(body) };
      ledger.attempt(value);
      const started = () => {
        for (const w of waiters) w();
        waiters = [];
      };
      const res = await client
        .send('PUT', `/v2/key-value-stores/${storeId}/records/${key}`, {
          headers: { 'content-type': value.contentType, 'content-length': body.length },
          body: dribble(body, 12, 2400, started),
        })
        .catch((err: unknown) => ({ status: 0, body: Buffer.from(failureCode(err)) }));
      sent++;
      if (res.status === 201) ledger.ack(value);
      else problems.push(`slow PUT ${key}: ${res.status} ${res.body.toString().slice(0, 200)}`);
    }
  };
  const done = Promise.all(Array.from({ length: SLOW_LANES }, (_, l) => lane(l))).then(() => undefined);
  return {
    nextStarted: () => new Promise<void>((r) => waiters.push(r)),
    stop: () => {
      stopped = true;
    },
    done,
    count: () => sent,
  };
}

describe('two servers on one SQLite file, one restarted repeatedly under load', () => {
  it('acknowledges every write and reads each back byte for byte through both; sweeps nothing live', async () => {
    const cwd = tempDir();
    const dbPath = join(cwd, 'data', 'shared.sqlite');
    const [portA, portB] = [await freePort(), await freePort()];
    const args = (port: number) => [
      '--storage',
      `sqlite:${dbPath}`,
      '--port',
      String(port),
      '--admin-token',
      TOKEN,
      '--log-level',
      'warn',
    ];
    // Started together: the migrations and the first start sweep run in both at once.
    let [a, b] = await Promise.all([
      startServe(args(portA), { cwd, port: portA }),
      startServe(args(portB), { cwd, port: portB }),
    ]);
    const steady = new KeepAliveClient(a.origin, TOKEN, 8);
    const created = await steady.send('POST', '/v2/key-value-stores?name=shared');
    expect(created.status).toBe(201);
    const storeId = (JSON.parse(created.body.toString()) as { data: { id: string } }).data.id;

    const ledger = new Ledger();
    const problems: string[] = [];
    const statuses = new Map<number | string, number>();
    const count = (status: number | string) => statuses.set(status, (statuses.get(status) ?? 0) + 1);
    // The steady server: every write is answered 201, whatever the other process does.
    const mixed = runWorkload(steady, ledger, {
      storeId,
      workers: 3,
      tag: 'a',
      onOutcome: (o) => {
        count(o.answer?.status ?? o.failure ?? 'none');
        if (o.answer?.status !== 201) problems.push(`PUT ${o.key} through the steady server: ${o.answer?.status ?? o.failure}`);
      },
    });
    const slow = slowUploads(steady, ledger, storeId, problems);

    for (const [round, signal] of ROUNDS.entries()) {
      // Writes through the restarted server too (its own keys: one writer per key).
      const client = new KeepAliveClient(b.origin, TOKEN, 4);
      let acked = 0;
      let enough!: () => void;
      const twenty = new Promise<void>((r) => {
        enough = r;
      });
      const other = runWorkload(client, ledger, {
        storeId,
        workers: 2,
        tag: `b${round}`,
        hotShare: 0,
        onOutcome: (o) => {
          count(o.answer?.status ?? o.failure ?? 'none');
          if (o.answer?.status === 201) {
            if (++acked === 20) enough();
          } else if (o.answer || signal !== 'SIGKILL')
            problems.push(`PUT ${o.key} through the other server: ${o.answer?.status ?? o.failure}`);
        },
      });
      // A few writes through it, and a slow upload on the steady one in flight when it stops.
      await twenty;
      await slow.nextStarted();
      if (signal === 'SIGKILL') {
        b.child.kill('SIGKILL');
        other.stop();
        await b.exited;
      } else {
        other.stop();
        await other.done;
        expect((await b.stop('SIGTERM')).code).toBe(0);
      }
      await other.done;
      client.close();
      // …and one in flight while it starts and sweeps.
      await slow.nextStarted();
      b = await startServe(args(portB), { cwd, port: portB });
    }
    mixed.stop();
    slow.stop();
    await Promise.all([mixed.done, slow.done]);
    steady.close();

    expect(problems).toEqual([]);
    for (const server of [a, b]) {
      const reader = new KeepAliveClient(server.origin, TOKEN, 16);
      const check = await verifyStore(reader, storeId, ledger);
      reader.close();
      expect(check.problems, `read back through ${server.origin}`).toEqual([]);
    }
    expect(inspectSqlite(dbPath, false).missing, 'rows whose value file is gone').toEqual([]);
    console.log(
      `[multiprocess] ${JSON.stringify({ restarts: ROUNDS.length, attempts: ledger.attempts, acks: ledger.acks, slowUploads: slow.count(), statuses: Object.fromEntries(statuses) })}`,
    );
    expect(slow.count()).toBeGreaterThanOrEqual(2 * ROUNDS.length);
    await Promise.all([a.stop(), b.stop()]);
  });
});
