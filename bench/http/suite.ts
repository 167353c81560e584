/**
 * HTTP throughput: requests per second of openkvs on SQLite, on PostgreSQL and on SQLite with
 * `--durability fsync`, beside a bare node:http server and Fastify alone answering the same
 * bytes, all measured in one run, in alternating rounds. Each server runs in its own process; the
 * load comes from wrk (ab for HEAD) in another. Then the time of a key page read alone, one request
 * after another (the server's time per page), on stores of 1,000 to 1,000,000 keys.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { runBig } from './big.js';
import { measureCpu, waitForQuiet } from './cpu.js';
import { type DatasetReadOptions, type DatasetReads, measureDatasetReads, printDatasetRows, pushBody } from './datasets.js';
import { measureKeyPages, type PageLatency } from './key-pages.js';
import { type LoadOptions, runAbHead, runWrk } from './load.js';
import {
  BIG_KEY,
  BIG_PUT_KEYS,
  isDatasetOp,
  isQueueOp,
  type Operation,
  RECORD_KEY,
  recordPath,
  type ScriptContext,
  wrkScript,
} from './operations.js';
import { printSelfTime, topSelfTime } from './profile.js';
import { measureQueueRuns, printQueueAddRows, type QueueRunOptions, type QueueRuns } from './queue-runs.js';
import { SMALL_QUEUE } from './queues.js';
import { printDetails, printThroughput, printWorkerScaling, type RunRecord, type Summary, summarize } from './report.js';
import { sampleMemory } from './rss.js';
import { captureResponses } from './stores.js';
import {
  FSYNC_OPS,
  isBaseline,
  isPartialTarget,
  startBaseline,
  startOpenkvs,
  TARGET_LABELS,
  type Target,
  type TargetName,
  WORKER_TARGETS,
  WORKERS_OPS,
} from './targets.js';

export interface HttpSuiteOptions {
  ops: readonly Operation[];
  targets: readonly TargetName[];
  /** Seconds per measured run (whole seconds: wrk's unit). */
  seconds: number;
  rounds: number;
  /** Seconds of warm-up per operation and target, before the rounds. */
  warmup: number;
  connections: number;
  threads: number;
  /** Sizes of the key stores beyond the 1000-key one, for the key-page operations and latencies. */
  keyStoreSizes: readonly number[];
  /** Rounds × requests of the key-page latencies. */
  pageRounds: number;
  pageRequests: number;
  /** The dataset pages and CSV downloads read alone, when the run has the dataset rows. */
  datasetReads?: DatasetReadOptions;
  /** The queue rows measured by their own clients, and the size of the large queue, when the run has the queue rows. */
  queueRuns?: QueueRunOptions & { largeQueue: number };
  /** No waiting for a quiet machine, no runs taken again. */
  quick: boolean;
  /** A directory to run openkvs under `node --cpu-prof` into, or undefined. */
  profDir: string | undefined;
  /** Scratch directory (SQLite files, wrk scripts); the caller removes it. */
  dir: string;
  /** Called with a stop function once servers run, so that a signal can stop them. */
  onStart(stop: () => Promise<void>): void;
}

export interface HttpSuiteResult {
  summaries: Summary[];
  runs: RunRecord[];
  pages: PageLatency[];
  /** The dataset pages and CSV downloads read alone. */
  datasets?: DatasetReads;
  /** The queue drains and head locks. */
  queues?: QueueRuns;
  loadAverage: { before: number[]; after: number[] };
  /** Runs that other work disturbed even after a retry. */
  disturbed: number;
}

/** Cores that other work may use during a run before the run is taken again. */
const DISTURBED_CORES = 0.25;
const RETRIES = 1;

/** Whether `target` runs `op`: the fsync server only writes; the baselines answer the large key pages as `keys`. */
export function runsOp(target: TargetName, op: Operation): boolean {
  if (target === 'sqlite-fsync') return FSYNC_OPS.includes(op.name);
  if (WORKER_TARGETS[target]) return WORKERS_OPS.includes(op.name);
  if (isBaseline(target)) return op.bareAs === undefined;
  return true;
}

const pct = (cpu: number, s: number) => `${Math.round((cpu / s) * 100)}%`.padStart(4);

export async function runHttpSuite(o: HttpSuiteOptions): Promise<HttpSuiteResult> {
  const token = `bench_${randomBytes(24).toString('base64url')}`;
  const targets: Target[] = [];
  const runs: RunRecord[] = [];
  const load: Omit<LoadOptions, 'seconds'> = { connections: o.connections, threads: o.threads };
  let stopping: Promise<unknown> | undefined;
  const stop = async () => {
    stopping ??= Promise.all(
      targets.map((t) => t.stop().catch((err: Error) => console.error(`stopping ${t.name}: ${err.message}`))),
    );
    await stopping;
  };
  o.onStart(stop);

  /** Keys per second a target deletes, to seed enough keys for the next DELETE run (with a margin). */
  const deleteRate = new Map<TargetName, number>();
  let runCount = 0;
  /** Waits for quiet that ended without it, in a row: past 3 the machine is taken as busy for good. */
  let busyStreak = 0;

  async function measure(op: Operation, t: Target, reference: Target, round: number, runSeconds: number): Promise<RunRecord> {
    const stores = (t.openkvs ?? reference.openkvs)!.stores;
    const ctx: ScriptContext = {
      token,
      recordsStore: stores.records,
      keysStore: stores.keys,
      keys100kStore: stores.large.get(100_000),
      keys1mStore: stores.large.get(1_000_000),
      deleteStore: stores.deletes,
      deletePrefix: `d${runCount}-`,
      addQueue: stores.queues?.add,
      runTag: `r${runCount}`,
      threads: load.threads,
      pushDataset: stores.datasets?.push,
      pushBodyFile,
      itemsDataset: stores.datasets?.items,
    };
    runCount++;
    let deletedBefore = 0;
    if (op.name === 'delete' && t.openkvs) {
      const n = Math.ceil((deleteRate.get(t.name) ?? 10_000) * runSeconds * 1.5) + 1000;
      await t.openkvs.seed(
        stores.deletes,
        Array.from({ length: n }, (_, i) => `${ctx.deletePrefix}${i}`),
      );
      deletedBefore = (await t.openkvs.api.stats(stores.deletes)).deleteCount;
    }
    const lo = { ...load, connections: op.connections ?? load.connections, seconds: runSeconds };
    // Memory is watched while large records and 1 MB pushes move: the server must not hold them whole.
    const memory = op.bytes || op.rss ? sampleMemory(t.pid) : undefined;
    const { result, cpu } = await measureCpu(t, () => {
      if (op.generator === 'ab') {
        return runAbHead(`${t.origin}${recordPath(stores.records, RECORD_KEY)}`, [`Authorization: Bearer ${token}`], lo);
      }
      if (op.generator === 'wrk') return runWrk(t.origin, wrkScript(op.name, ctx), o.dir, lo);
      const put = op.name === 'put-9mb';
      const paths = put
        ? Array.from({ length: BIG_PUT_KEYS }, (_, i) => recordPath(stores.records, `big-put-${i}`))
        : [recordPath(stores.records, BIG_KEY)];
      return runBig({ origin: t.origin, token, method: put ? 'PUT' : 'GET', paths, ...lo });
    });
    const run: RunRecord = {
      op: op.name,
      target: t.name,
      round,
      rps: result.rps,
      requests: result.requests,
      seconds: result.seconds,
      errors: result.errors,
      p50Us: result.latencyUs.p50,
      p99Us: result.latencyUs.p99,
      serverCpu: cpu.server,
      generatorCpu: result.generatorCpu,
      // A PostgreSQL backend that exits takes its CPU time with it: never below 0.
      dbCpu: Math.max(0, cpu.db),
      otherCpu: Math.max(0, cpu.machine - cpu.server - Math.max(0, cpu.db) - result.generatorCpu),
    };
    if (memory) {
      const m = memory.stop();
      run.rssPeakKb = m.rssPeakKb;
      run.hwmKb = m.hwmKb;
    }
    if (op.name === 'delete' && t.openkvs) {
      run.deleted = (await t.openkvs.api.stats(stores.deletes)).deleteCount - deletedBefore;
      deleteRate.set(t.name, result.rps);
      if (run.deleted < run.requests) console.warn(`  ! DELETE ran out of seeded keys (${run.deleted} of ${run.requests})`);
    }
    if (run.errors > 0) console.warn(`  ! ${run.errors} errors (connection errors, timeouts or status ≥ 400)`);
    const label = round < 0 ? 'warm-up' : `round ${round + 1}/${o.rounds}`;
    const rate = op.bytes
      ? `${((run.rps * op.bytes) / 1e6).toFixed(0).padStart(5)} MB/s`
      : `${Math.round(run.rps).toLocaleString('en').padStart(7)} req/s`;
    console.log(
      `[${label}] ${op.label.padEnd(38)} ${TARGET_LABELS[t.name].padEnd(18)} ${rate}` +
        `  p99 ${(run.p99Us / 1000).toFixed(1).padStart(6)} ms  server ${pct(run.serverCpu, run.seconds)}  db ${pct(run.dbCpu, run.seconds)}` +
        `  client ${pct(run.generatorCpu, run.seconds)}  other ${pct(run.otherCpu, run.seconds)}` +
        (run.rssPeakKb ? `  RSS ≤ ${(run.rssPeakKb / 1024).toFixed(0)} MB` : ''),
    );
    return run;
  }

  /**
   * A measured run, after waiting (5 s at most) for the machine to be quiet, and taken again (up
   * to `RETRIES` times) when other work disturbed it. On a machine that stays busy it stops
   * waiting and retrying, and the runs are only flagged.
   */
  async function measureUndisturbed(op: Operation, t: Target, reference: Target, round: number): Promise<RunRecord> {
    let best: RunRecord | undefined;
    for (let attempt = 0; attempt <= (o.quick ? 0 : RETRIES); attempt++) {
      const maxWait = o.quick ? 0 : busyStreak >= 3 ? 1000 : 5000;
      const waited = await waitForQuiet(0.2, maxWait);
      busyStreak = waited >= maxWait ? busyStreak + 1 : 0;
      if (waited > 1000) console.log(`  (waited ${(waited / 1000).toFixed(1)} s for other work on the machine to stop)`);
      const run = await measure(op, t, reference, round, o.seconds);
      run.retries = attempt;
      run.disturbed = run.otherCpu / run.seconds > DISTURBED_CORES;
      if (!best || run.otherCpu / run.seconds < best.otherCpu / best.seconds) best = run;
      if (!run.disturbed || busyStreak >= 3) break;
      if (attempt < RETRIES) console.log(`  other work used ${(run.otherCpu / run.seconds).toFixed(2)} cores: running again`);
    }
    return best!;
  }

  const needs = {
    keyStoreSizes: o.keyStoreSizes,
    big: o.ops.some((op) => op.name === 'get-9mb'),
    datasets: o.ops.some((op) => isDatasetOp(op.name)) || o.datasetReads !== undefined,
    queues: o.ops.some((op) => isQueueOp(op.name)) || o.queueRuns ? (o.queueRuns?.largeQueue ?? SMALL_QUEUE) : 0,
  };
  const pushBodyFile = join(o.dir, 'push-body.json');
  if (needs.datasets) writeFileSync(pushBodyFile, pushBody(0));
  for (const name of o.targets) {
    if (isBaseline(name)) continue;
    const started = Date.now();
    // The fsync server only takes writes, the several-worker servers only GET 1 KB: no large stores.
    const targetNeeds = isPartialTarget(name) ? { keyStoreSizes: [], big: false, datasets: false, queues: 0 } : needs;
    targets.push(await startOpenkvs(name, { token, dir: o.dir, cpuProfDir: o.profDir, needs: targetNeeds }));
    console.log(
      `started ${TARGET_LABELS[name]} at ${targets[targets.length - 1]!.origin} (stores ready in ${Date.now() - started} ms)`,
    );
  }
  const reference = targets.find((t) => !isPartialTarget(t.name)) ?? targets[0]!;
  const baselines = o.targets.filter(isBaseline);
  if (baselines.length > 0) {
    const responses = join(o.dir, 'responses.json');
    writeFileSync(responses, JSON.stringify(await captureResponses(reference.openkvs!.api, reference.openkvs!.stores, o.dir)));
    for (const name of baselines.reverse()) {
      targets.unshift(await startBaseline(name, responses));
      console.log(
        `started ${TARGET_LABELS[name]} at ${targets[0]!.origin}, answering with ${TARGET_LABELS[reference.name]}'s bytes`,
      );
    }
  }
  const loadBefore = os.loadavg();
  // Before the load rounds, on servers that have only been seeded: the rounds' 1 MB pushes and
  // 9 MB uploads leave the heap grown, and the CSV rows are about the server's memory.
  const datasets = o.datasetReads ? await measureDatasetReads(targets, reference, token, o.datasetReads) : undefined;
  const queues = o.queueRuns ? await measureQueueRuns(targets, token, o.queueRuns) : undefined;
  if (o.warmup > 0) {
    for (const op of o.ops) {
      for (const t of targets) if (runsOp(t.name, op)) runs.push(await measure(op, t, reference, -1, o.warmup));
    }
  }
  for (let r = 0; r < o.rounds; r++) {
    for (const op of o.ops) {
      // Each round starts with another target, so that none always follows the same neighbour.
      const order = targets.map((_, i) => targets[(i + r) % targets.length]!).filter((t) => runsOp(t.name, op));
      for (const t of order) runs.push(await measureUndisturbed(op, t, reference, r));
    }
  }
  const pages: PageLatency[] = [];
  if (o.pageRounds > 0) {
    const pageTargets = targets.filter((t) => t.name === 'sqlite' || t.name === 'postgres');
    pages.push(...(await measureKeyPages(pageTargets, token, { rounds: o.pageRounds, requests: o.pageRequests })));
  }
  const loadAfter = os.loadavg();
  await stop();

  const summaries = summarize(runs, o.ops, o.targets);
  printThroughput(summaries, o.ops, o.targets);
  printDetails(summaries, o.ops);
  printWorkerScaling(summaries, o.ops);
  printDatasetRows(summaries, (op) => o.ops.find((x) => x.name === op)?.label ?? op);
  printQueueAddRows(summaries, o.ops);
  const disturbed = runs.filter((r) => r.round >= 0 && r.disturbed).length;
  console.log(
    `\nMedians of ${o.rounds} rounds of ${o.seconds} s at ${o.connections} connections (9 MB records: 16), after ${o.warmup} s` +
      ' of warm-up per case;\n"× bare" is against bare node:http answering the same bytes in the same run; "Fastify alone" is the' +
      '\nframework openkvs is built on answering those bytes from routes of the same shapes. "other cores": CPU used' +
      '\nduring the runs by anything but the server, the database and the load generator (other work disturbs a run);' +
      '\n"× bare (CPU)": bare\'s CPU per request over the target\'s (server + database), which other work moves less.' +
      (disturbed
        ? `\n${disturbed} of the measured runs were disturbed (other work above ${DISTURBED_CORES} cores after a retry).`
        : '') +
      (o.profDir ? '\nThe servers ran under --cpu-prof, which slows them: these numbers are not for comparison.' : ''),
  );
  if (o.profDir) {
    for (const name of o.targets) {
      if (!isBaseline(name)) printSelfTime(`${TARGET_LABELS[name]}, top self time`, topSelfTime(join(o.profDir, name)));
    }
  }
  return { summaries, runs, pages, datasets, queues, loadAverage: { before: loadBefore, after: loadAfter }, disturbed };
}
