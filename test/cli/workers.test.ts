import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failureCode, KeepAliveClient } from '../helpers/keep-alive.js';
import { Ledger, makeValue } from '../helpers/ledger.js';
import { verifyStore } from '../helpers/verify-store.js';
import { cleanupAll, ensureBuilt, freePort, holdPort, http, printedTokens, startServe, tempDir } from './helpers.js';
import { alive, logLines, waitFor, waitStarted } from './workers-helpers.js';

/**
 * `openkvs serve --workers 2`: one primary, two workers on one port. A worker killed under a
 * write load is restarted while the other keeps answering, and every acknowledged write reads
 * back; SIGTERM to the primary ends every worker and exits 0; the start's lines come once.
 */

const TOKEN = 'workers-admin-token-0123456789abcdef';
const WRITERS = 8;
/**
 * What a write may get instead of an answer when its worker is killed: its connection reset. Never
 * a connection left open unanswered (what node's round-robin does to one it was handing over to
 * the worker as it died; the workers accept connections themselves).
 */
const CONNECTION_FAILURES = ['ECONNRESET', 'EPIPE', 'socket hang up'];
/** Far longer than any answer here takes; short enough to keep the test short should one hang. */
const WRITE_TIMEOUT_MS = 5000;

beforeAll(ensureBuilt);
afterAll(cleanupAll);

describe('--workers 2', () => {
  it('restarts a worker killed under a write load, the other answering meanwhile; nothing acknowledged is lost', async () => {
    const cwd = tempDir();
    const port = await freePort();
    const args = ['--workers', '2', '--port', String(port), '--storage', `sqlite:${join(cwd, 'kvs.sqlite')}`];
    const server = await startServe([...args, '--admin-token', TOKEN], { cwd, port });
    const pids = await waitStarted(server, 2);

    const client = new KeepAliveClient(server.origin, TOKEN, WRITERS);
    const created = await client.send('POST', '/v2/key-value-stores?name=workers');
    expect(created.status).toBe(201);
    const storeId = (JSON.parse(created.body.toString()) as { data: { id: string } }).data.id;
    const ledger = new Ledger();
    const failures: string[] = [];
    const unexpected: string[] = [];
    let writing = true;
    // One writer per key set: the ledger needs the writes of a key in order.
    const writers = Array.from({ length: WRITERS }, async (_, w) => {
      for (let i = 0; writing; i++) {
        const v = makeValue(`w${w}-k${i % 50}`, `attempt ${i}`, 'small');
        ledger.attempt(v);
        try {
          const res = await client.send('PUT', `/v2/key-value-stores/${storeId}/records/${v.key}`, {
            headers: { 'content-type': v.contentType },
            body: v.body,
            timeoutMs: WRITE_TIMEOUT_MS,
          });
          if (res.status === 201) ledger.ack(v);
          else unexpected.push(`${res.status} ${res.body.toString().slice(0, 200)}`);
        } catch (err) {
          failures.push(failureCode(err));
        }
      }
    });
    const acked = (n: number) => waitFor(server, () => (ledger.acks >= n ? true : undefined));

    await acked(100);
    const [victim, survivor] = [pids.get(1)!, pids.get(2)!];
    process.kill(victim, 'SIGKILL');
    const acksAtKill = ledger.acks;
    const died = await waitFor(server, () =>
      logLines(server).find((l) => l.primary && l.msg === 'worker died; restarting it' && l.workerPid === victim),
    );
    expect(died.worker).toBe(1);
    const back = await waitFor(server, () =>
      logLines(server).find((l) => l.primary && l.msg === 'worker listening' && l.worker === 1 && l.workerPid !== victim),
    );
    // The other worker answered while worker 1 was down and coming back.
    expect(ledger.acks, server.output()).toBeGreaterThan(acksAtKill);
    expect(alive(survivor)).toBe(true);
    await acked(ledger.acks + 100);
    writing = false;
    await Promise.all(writers);

    expect(unexpected, server.output()).toEqual([]);
    // Only writes on the killed worker's connections failed, and only by losing their connection.
    expect(failures.filter((f) => !CONNECTION_FAILURES.some((c) => f.includes(c)))).toEqual([]);
    // At most the connections the killed worker had, one each.
    expect(failures.length).toBeLessThanOrEqual(WRITERS);
    const check = await verifyStore(client, storeId, ledger);
    expect(check.problems, server.output()).toEqual([]);
    client.close();

    const stopped = await server.stop('SIGTERM');
    expect(stopped.code, server.output()).toBe(0);
    for (const pid of [survivor, back.workerPid!]) expect(alive(pid)).toBe(false);
    // The primary logs each worker's death; none was restarted during the shutdown.
    const restarts = logLines(server).filter((l) => l.msg === 'worker started');
    expect(restarts).toHaveLength(3);
  });

  it('SIGTERM drains every worker: an upload that outlasts --shutdown-timeout is cut by its worker, exit 0', async () => {
    const cwd = tempDir();
    const port = await freePort();
    const args = ['--workers', '2', '--port', String(port), '--storage', `sqlite:${join(cwd, 'kvs.sqlite')}`];
    const server = await startServe([...args, '--admin-token', TOKEN, '--shutdown-timeout', '0.5'], { cwd, port });
    const pids = await waitStarted(server, 2);
    const client = new KeepAliveClient(server.origin, TOKEN, 2);
    const created = await client.send('POST', '/v2/key-value-stores?name=slow');
    const storeId = (JSON.parse(created.body.toString()) as { data: { id: string } }).data.id;
    let release = () => {};
    const never = new Promise<void>((resolve) => {
      release = resolve;
    });
    // Half of the body, then nothing until the test ends.
    async function* stalled(): AsyncGenerator<Buffer> {
      yield Buffer.alloc(500, 1);
      await never;
    }
    let outcome: Promise<string> | undefined;
    const reached = new Promise<void>((resolve) => {
      const upload = client.send('PUT', `/v2/key-value-stores/${storeId}/records/slow`, {
        headers: { 'content-type': 'application/octet-stream', 'content-length': 1000, expect: '100-continue' },
        body: stalled(),
        onContinue: resolve,
      });
      outcome = upload.then(
        (answer) => `status ${answer.status}`,
        (err: unknown) => failureCode(err),
      );
    });
    await reached;
    const stopped = await server.stop('SIGTERM');
    expect(stopped.code, server.output()).toBe(0);
    expect(await outcome).toMatch(/ECONNRESET|socket hang up|EPIPE/);
    for (const pid of pids.values()) expect(alive(pid)).toBe(false);
    expect(logLines(server).filter((l) => l.msg === 'worker started')).toHaveLength(2);
    release();
    client.close();
  });

  it('prints the generated admin token and the listening line once, and every log line names its worker', async () => {
    const cwd = tempDir();
    const storage = `sqlite:${join(cwd, 'kvs.sqlite')}`;
    // A start that fails (its port taken) spends nothing: the next start still generates the token.
    const taken = await holdPort();
    const failed = await startServe(['--workers', '2', '--port', String(taken), '--storage', storage], {
      cwd,
      port: taken,
      wait: false,
    });
    const exit = await failed.exited;
    expect(exit.code, failed.output()).toBe(1);
    expect(printedTokens(failed.stdout)).toEqual([]);
    expect(failed.stderr.trim().split('\n'), failed.output()).toHaveLength(1);
    expect(failed.stderr).toMatch(/EADDRINUSE/);

    const port = await freePort();
    const server = await startServe(['--workers', '2', '--port', String(port), '--storage', storage], { cwd, port });
    await waitStarted(server, 2);
    const tokens = printedTokens(server.stdout);
    expect(tokens, server.output()).toHaveLength(1);
    expect(server.stdout.split('\n').filter((l) => /token/i.test(l))).toHaveLength(1);
    expect(server.stdout.split('\n').filter((l) => /listening on http/.test(l))).toHaveLength(1);

    // New connections go to the workers in turn: both answer some of these.
    for (let i = 0; i < 10; i++) {
      expect((await http(`${server.origin}/v2/key-value-stores`, { token: tokens[0] })).status).toBe(200);
    }
    const requests = await waitFor(server, () => {
      const lines = logLines(server).filter((l) => l.msg === 'request' && l.route === '/v2/key-value-stores');
      return lines.length >= 10 ? lines : undefined;
    });
    expect(new Set(requests.map((l) => l.worker))).toEqual(new Set([1, 2]));
    for (const line of logLines(server)) {
      if (line.primary) expect(line.pid).toBe(server.child.pid);
      else expect([1, 2], JSON.stringify(line)).toContain(line.worker);
    }
    expect((await server.stop('SIGTERM')).code, server.output()).toBe(0);
  });
});
