import cluster, { type Worker } from 'node:cluster';
import { hostname } from 'node:os';
import pino from 'pino';
import type { ServeConfig } from '../config.js';
import { createKvs } from '../domain/index.js';
import { createRetentionSweeper } from '../domain/retention.js';
import { logDestination } from '../http/request-log.js';
import { openStorage } from '../storage/open.js';
import { isOpenkvsMessage, type ToPrimary, type ToWorker, WORKER_CONFIG_ENV, WORKER_NUMBER_ENV } from './cluster-messages.js';
import { createMetricsGatherer } from './cluster-metrics.js';
import { describeStorage, urlHost } from './serve.js';

/** A worker that lived less than this before it died counts as failing: its restarts back off. */
const FAILING_MS = 5000;
const MAX_BACKOFF_MS = 10_000;

interface Slot {
  number: number;
  worker: Worker | undefined;
  startedAt: number;
  listening: boolean;
  /** Deaths in a row, each soon after its start. */
  failures: number;
  restart: NodeJS.Timeout | undefined;
}

/**
 * Fixed windows counted in this process for the rate limits of every worker, as the PostgreSQL
 * driver counts them in the database: the limits hold for the server, not per worker.
 */
function createWindowCounter() {
  const windows = new Map<string, { start: number; ms: number; count: number }>();
  const prune = setInterval(() => {
    const now = Date.now();
    for (const [key, w] of windows) if (w.start + w.ms <= now) windows.delete(key);
  }, 10_000);
  prune.unref();
  return {
    count(key: string, windowMs: number): { count: number; resetInMs: number } {
      const now = Date.now();
      const start = now - (now % windowMs);
      const id = `${windowMs} ${key}`;
      let w = windows.get(id);
      if (w?.start !== start) {
        w = { start, ms: windowMs, count: 0 };
        windows.set(id, w);
      }
      w.count++;
      return { count: w.count, resetInMs: start + windowMs - now };
    },
    close: () => clearInterval(prune),
  };
}

/**
 * `openkvs serve --workers N` (N > 1): this process opens the storage (migrations, files a crash
 * left, admin), forks N workers that serve one port (node:cluster), prints the start's lines once
 * they all listen, sweeps expired stores, counts rate limits on SQLite, gathers metrics, restarts
 * a worker that dies, and on SIGTERM or SIGINT drains them all and exits once they have.
 */
export async function runPrimary(config: ServeConfig, print: (line: string) => void): Promise<void> {
  const driver = await openStorage(config.storage);
  let publicUrl = config.publicUrl ?? '';
  const kvs = createKvs({ driver, publicUrl: () => publicUrl, accountAccess: config.accountAccess });
  // Only here, before any worker runs: a worker's start must not take an upload of another for an orphan.
  if (driver.sweepOrphans) await driver.sweepOrphans();
  if (config.adminToken !== undefined) await kvs.users.bootstrapAdmin(config.adminToken);

  const logs = logDestination(true);
  const log = pino({ level: config.logLevel, base: { pid: process.pid, hostname: hostname(), primary: true } }, logs);
  const counter = createWindowCounter();
  const metrics = createMetricsGatherer();
  // The one sweeper of the server: workers share the storage and would only race each other.
  const retention = createRetentionSweeper({ driver, days: config.unnamedRetentionDays, log });
  const slots: Slot[] = Array.from({ length: config.workers }, (_, i) => ({
    number: i + 1,
    worker: undefined,
    startedAt: 0,
    listening: false,
    failures: 0,
    restart: undefined,
  }));
  const slotOf = (worker: Worker) => slots.find((s) => s.worker === worker);
  let state: 'starting' | 'running' | 'stopping' = 'starting';
  let failure: string | undefined;
  /** What the first worker that could not start said about it. */
  let workerFailure: string | undefined;
  /** Workers that ended badly during the shutdown (not by their own drain). */
  let unclean = 0;

  const fork = (slot: Slot) => {
    slot.restart = undefined;
    slot.listening = false;
    slot.startedAt = Date.now();
    const worker = cluster.fork({ [WORKER_CONFIG_ENV]: JSON.stringify(config), [WORKER_NUMBER_ENV]: String(slot.number) });
    slot.worker = worker;
    log.info({ worker: slot.number, workerPid: worker.process.pid }, 'worker started');
  };

  const finish = async (code: number) => {
    counter.close();
    try {
      await retention.stop();
      await kvs.close();
      await driver.close();
    } catch (err) {
      failure ??= err instanceof Error ? err.message : String(err);
      code = 1;
    }
    try {
      logs.flushSync();
    } catch {
      // Standard output is gone: the lines left are lost.
    }
    const reason = workerFailure ?? failure;
    if (reason) process.stderr.write(`openkvs: ${reason}\n`);
    process.exit(code);
  };

  const stopAll = () => {
    state = 'stopping';
    for (const slot of slots) {
      if (slot.restart) clearTimeout(slot.restart);
      slot.restart = undefined;
      // Each worker drains as a server of its own would (its SIGTERM handler, http/drain.ts).
      slot.worker?.process.kill('SIGTERM');
    }
    if (slots.every((s) => !s.worker)) void finish(failure ? 1 : unclean > 0 ? 1 : 0);
  };

  const started = async (port: number) => {
    const url = `http://${urlHost(config.host)}:${port}`;
    if (!config.publicUrl) publicUrl = url;
    // Only once every worker listens: a start that fails must not spend the one-time display of a new token.
    if (config.adminToken === undefined) {
      const admin = await kvs.users.bootstrapAdmin();
      if (admin.token) print(`Admin API token (shown only this once, keep it safe): ${admin.token}`);
    } else {
      print('Admin API token: the one given in --admin-token / OPENKVS_ADMIN_TOKEN');
    }
    print(
      `openkvs listening on ${url} (storage: ${describeStorage(config)}, public URL: ${publicUrl}, ${config.workers} workers)`,
    );
    retention.start();
  };

  cluster.on('listening', (worker, address) => {
    const slot = slotOf(worker);
    if (!slot) return;
    slot.listening = true;
    log.info({ worker: slot.number, workerPid: worker.process.pid }, 'worker listening');
    if (state === 'starting' && slots.every((s) => s.listening)) {
      state = 'running';
      started(address.port).catch((err: unknown) => {
        failure = `cannot start: ${err instanceof Error ? err.message : String(err)}`;
        stopAll();
      });
    }
  });

  cluster.on('exit', (worker, code, signal) => {
    const slot = slotOf(worker);
    if (!slot) return;
    slot.worker = undefined;
    slot.listening = false;
    metrics.forget(worker);
    if (state === 'starting') {
      failure ??= `worker ${slot.number} could not start (${signal ?? `exit code ${code}`})`;
      stopAll();
      return;
    }
    if (state === 'stopping') {
      if (code !== 0 && signal !== 'SIGTERM' && signal !== 'SIGINT') {
        unclean++;
        log.error({ worker: slot.number, workerPid: worker.process.pid, code, signal }, 'worker ended badly during shutdown');
      }
      if (slots.every((s) => !s.worker)) void finish(failure || unclean > 0 ? 1 : 0);
      return;
    }
    // Died while serving: what it acknowledged is committed; its open connections are lost.
    slot.failures = Date.now() - slot.startedAt < FAILING_MS ? slot.failures + 1 : 0;
    const delay = slot.failures === 0 ? 0 : Math.min(MAX_BACKOFF_MS, 100 * 2 ** (slot.failures - 1));
    log.error(
      { worker: slot.number, workerPid: worker.process.pid, code, signal, restartInMs: delay },
      'worker died; restarting it',
    );
    slot.restart = setTimeout(() => fork(slot), delay);
  });

  cluster.on('message', (worker, message: unknown) => {
    if (!isOpenkvsMessage(message)) return;
    const m = message as ToPrimary;
    const reply = (answer: ToWorker) => {
      // A worker gone meanwhile needs no answer.
      if (worker.isConnected()) worker.send(answer, undefined, () => undefined);
    };
    switch (m.type) {
      case 'openkvs:count':
        reply({ type: 'openkvs:counted', id: m.id, ...counter.count(m.key, m.windowMs) });
        break;
      case 'openkvs:gather':
        metrics.gather(slots.filter((s) => s.listening && s.worker).map((s) => s.worker as Worker)).then(
          (text) => reply({ type: 'openkvs:gathered', id: m.id, text }),
          (err: Error) => reply({ type: 'openkvs:gathered', id: m.id, error: err.message }),
        );
        break;
      case 'openkvs:metrics':
        metrics.receive(worker, m);
        break;
      case 'openkvs:failed':
        workerFailure ??= m.message;
        break;
    }
  });

  let signalled = false;
  const onSignal = (signal: string) => {
    if (signalled) return;
    signalled = true;
    print(`openkvs: ${signal} received, finishing requests in flight (${config.workers} workers)`);
    stopAll();
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));

  // The workers accept from the one listening socket themselves, unless the operator chose node's
  // round-robin: with it, a connection being handed to a worker that dies stays open, unanswered.
  if (!process.env.NODE_CLUSTER_SCHED_POLICY) cluster.schedulingPolicy = cluster.SCHED_NONE;
  for (const slot of slots) fork(slot);
}
