/**
 * The performance benchmark, everything in one run on one machine, with its baselines measured in
 * the same run: openkvs over HTTP on SQLite and on PostgreSQL beside a bare node:http server and
 * Fastify alone answering the same bytes (1 KB records, key pages from stores of 1,000 to
 * 1,000,000 keys, 9 MB records with the server's memory, `--durability fsync`), the in-process peers
 * `@crawlee/memory-storage` and `@apify/storage-local`, the start time on a 1 GB database, the
 * cost table (CPU per request by stage of the request path, http/costs.ts), and the dataset rows
 * (pushes of 1000 items, pages at offset 0 and 900,000 of a 1M-item dataset, a 100k-item CSV
 * download with the server's memory; http/datasets.ts), and the request queue rows (batch adds of
 * 25, queues drained by 1 and 8 clients locking the head and marking requests handled, a head lock
 * on a queue of 1M requests, 900k of them handled, beside one on a queue of 1000; http/queues.ts,
 * http/queue-runs.ts).
 * Prints the tables and the goals, and writes bench/results/latest.json.
 *
 *   npm run bench [-- --quick] [--only http,datasets,queues,costs,peers,start] [--ops get,put-new] [--targets bare,sqlite]
 *     [--duration 3] [--rounds 5] [--warmup 2] [--connections 32] [--threads 1] [--cpu-prof]
 *     [--rebuild-start-db] [--large-queue 1000000] [--out file.json]
 *
 * Needs `npm run build` (the npm script runs it), wrk and ab (apt-get install -y wrk apache2-utils)
 * and PostgreSQL's server programs (apt-get install -y postgresql).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { evaluateGoals, printGoals } from './goals.js';
import { COST_OPS, COST_TARGETS, type CostTable, costMarkdown, runCostTables } from './http/costs.js';
import { checkTools } from './http/load.js';
import { isDatasetOp, isQueueOp, KEY_PAGE_OPS, OPERATION_NAMES, OPERATIONS, PUSH_CONNECTIONS } from './http/operations.js';
import { type HttpSuiteResult, runHttpSuite, runsOp } from './http/suite.js';
import { hasServeFlag, isBaseline, TARGET_NAMES, type TargetName, WORKER_TARGETS } from './http/targets.js';
import { type PeerResult, runPeers } from './peers/run.js';
import { measureStarts, type StartResult } from './start/run.js';

/**
 * `http`: the key-value store rows; `datasets`: the dataset rows; `queues`: the request queue rows
 * (the same servers, in the same rounds when several run).
 */
const SECTIONS = ['http', 'datasets', 'queues', 'costs', 'peers', 'start'] as const;
type Section = (typeof SECTIONS)[number];

const { values: opts } = parseArgs({
  options: {
    /** Short runs, few rounds, no waiting for a quiet machine: about 5 minutes. */
    quick: { type: 'boolean', default: false },
    only: { type: 'string', default: SECTIONS.join(',') },
    ops: { type: 'string', default: OPERATION_NAMES.join(',') },
    targets: { type: 'string', default: TARGET_NAMES.join(',') },
    duration: { type: 'string' },
    rounds: { type: 'string' },
    warmup: { type: 'string' },
    connections: { type: 'string', default: '32' },
    threads: { type: 'string', default: '1' },
    /** Run openkvs under `node --cpu-prof` and print each server's top self-time functions. */
    'cpu-prof': { type: 'boolean', default: false },
    /** Build the 1 GB database of the start time anew instead of reusing the kept one. */
    'rebuild-start-db': { type: 'boolean', default: false },
    /** Requests in the large queue whose head lock is compared with a queue of 1000's (900k of 1M are handled). */
    'large-queue': { type: 'string', default: '1000000' },
    out: { type: 'string' },
  },
});

/** Stops with a one-line reason. */
function fail(message: string): never {
  console.error(`bench: ${message}`);
  process.exit(1);
}

const pick = <T extends string>(list: string, all: readonly T[], what: string): T[] => {
  const chosen = list.split(',').filter(Boolean);
  for (const c of chosen) if (!all.includes(c as T)) fail(`--${what}: "${c}" is not one of ${all.join(', ')}`);
  return all.filter((a) => chosen.includes(a));
};
const sections = pick(opts.only, SECTIONS, 'only');
const has = (s: Section) => sections.includes(s);
const loaded = has('http') || has('datasets') || has('queues');
const chosenOps = pick(opts.ops, OPERATION_NAMES, 'ops');
const sectionOf = (op: (typeof OPERATIONS)[number]): Section =>
  isDatasetOp(op.name) ? 'datasets' : isQueueOp(op.name) ? 'queues' : 'http';
/** The rows under load: the key-value store ones with `http`, the dataset ones with `datasets`, the queue ones with `queues`. */
const ops = OPERATIONS.filter((o) => chosenOps.includes(o.name) && has(sectionOf(o)));
if (loaded && ops.length === 0) fail('--ops: none of these operations belongs to the sections of --only');
let targets: TargetName[] = pick(opts.targets, TARGET_NAMES, 'targets');
if (loaded && targets.every(isBaseline)) fail('--targets: name an openkvs target (bare and fastify only answer like them)');
// A target none of the chosen rows runs on is not started (the dataset rows alone need no fsync or worker server).
if (loaded) targets = targets.filter((t) => isBaseline(t) || ops.some((op) => runsOp(t, op)));
/** The dataset pages and CSV downloads read alone come with the page rows. */
const datasetReads = has('datasets') && ops.some((o) => o.name === 'items' || o.name === 'items-900k');
const quick = opts.quick;
const num = (value: string | undefined, full: number, short: number) => Number(value ?? (quick ? short : full));
const http = {
  seconds: num(opts.duration, 3, 1),
  rounds: num(opts.rounds, 5, 2),
  warmup: num(opts.warmup, 2, 1),
  connections: Number(opts.connections),
  threads: Number(opts.threads),
};
const largeQueue = Number(opts['large-queue']);
if (!Number.isInteger(largeQueue) || largeQueue < 1000 || largeQueue % 1000 !== 0) {
  fail('--large-queue: a multiple of 1000 is needed');
}
for (const [name, n] of Object.entries(http)) {
  if (!Number.isInteger(n) || n < (name === 'warmup' ? 0 : 1)) fail(`--${name}: a whole number is needed`);
}
const peerSettings = { seconds: quick ? 0.5 : 1.5, rounds: quick ? 2 : 5, warmup: quick ? 0.25 : 1, concurrency: [1, 32] };
const startRounds = quick ? 3 : 7;

// This file runs as dist-bench/bench/run.js.
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const full =
  !quick &&
  sections.length === SECTIONS.length &&
  opts.ops === OPERATION_NAMES.join(',') &&
  opts.targets === TARGET_NAMES.join(',') &&
  largeQueue === 1_000_000;
const out = resolve(
  opts.out ?? join(ROOT, 'bench', 'results', full ? 'latest.json' : quick ? 'quick-latest.json' : 'partial-latest.json'),
);

const tools = (() => {
  if (!loaded && !has('costs')) return undefined;
  try {
    return checkTools(loaded && ops.some((o) => o.generator === 'ab'));
  } catch (err) {
    return fail((err as Error).message);
  }
})();
let fsyncMissing: string | undefined;
if (loaded && targets.includes('sqlite-fsync') && !hasServeFlag('--durability')) {
  fsyncMissing = 'not measured: this build of openkvs serve has no --durability flag';
  console.log(`${fsyncMissing}; the fsync rows are left out`);
  targets = targets.filter((t) => t !== 'sqlite-fsync');
}

if (loaded && targets.some((t) => WORKER_TARGETS[t]) && !hasServeFlag('--workers')) {
  console.log('this build of openkvs serve has no --workers flag; the rows with several workers are left out');
  targets = targets.filter((t) => !WORKER_TARGETS[t]);
}

const git = (args: string[]) => spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
// Taken at the start: dist/ is built before the run, and the tree may change while it runs.
const commit = `${git(['rev-parse', '--short', 'HEAD'])}${git(['status', '--porcelain', '--', 'src']) ? ' (src modified)' : ''}`;
const started = Date.now();
const dir = mkdtempSync(join(os.tmpdir(), 'openkvs-bench-'));
const profRoot = join(ROOT, 'dist-bench', 'profiles', new Date().toISOString().replace(/[:.]/g, '-'));
const profDir = opts['cpu-prof'] ? profRoot : undefined;

let stopServers: () => Promise<void> = async () => undefined;
const cleanUp = async () => {
  await stopServers();
  rmSync(dir, { recursive: true, force: true });
};
// Servers and the PostgreSQL cluster are stopped however the run ends.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => void cleanUp().then(() => process.exit(130)));
}

let httpResult: HttpSuiteResult | undefined;
let costs: CostTable[] | undefined;
let peers: PeerResult | undefined;
let start: StartResult | undefined;
try {
  console.log(
    `openkvs benchmark (${quick ? 'quick' : 'full'}): ${sections.join(', ')}; commit ${commit}; ${os.cpus().length} cores, ` +
      `load average ${os.loadavg()[0]!.toFixed(2)}` +
      (tools ? `; ${tools.wrk}${tools.ab ? `, HEAD with ${tools.ab}` : ''}` : ''),
  );
  if (loaded) {
    const keyStoreSizes = ops.map((o) => KEY_PAGE_OPS[o.name]).filter((n): n is number => n !== undefined && n > 1000);
    httpResult = await runHttpSuite({
      ops,
      targets,
      ...http,
      keyStoreSizes,
      pageRounds: ops.some((o) => KEY_PAGE_OPS[o.name] !== undefined) ? (quick ? 3 : 7) : 0,
      pageRequests: quick ? 10 : 20,
      datasetReads: datasetReads
        ? { pageRounds: quick ? 3 : 7, pageRequests: quick ? 10 : 20, csvRounds: quick ? 1 : 3 }
        : undefined,
      queueRuns: has('queues')
        ? {
            largeQueue,
            drainRequests: quick ? 1000 : 5000,
            drainRounds: quick ? 2 : 5,
            lockRounds: quick ? 3 : 7,
            lockRequests: quick ? 10 : 20,
            quick,
          }
        : undefined,
      quick,
      profDir,
      dir,
      onStart: (stop) => {
        stopServers = stop;
      },
    });
  }
  if (has('costs')) {
    const token = `bench_${randomBytes(24).toString('base64url')}`;
    costs = await runCostTables({
      token,
      dir,
      // Kept after the run, for a closer look.
      profDir: profRoot,
      targets: COST_TARGETS.filter((t) => targets.includes(t)),
      ops: COST_OPS.filter((op) => chosenOps.includes(op)),
      seconds: quick ? 2 : 5,
      warmup: quick ? 1 : 2,
      load: { connections: http.connections, threads: http.threads },
    });
    console.log(`\nCost of a request by stage (server CPU sampled by --cpu-prof, request log on):${costMarkdown(costs)}`);
  }
  if (has('peers')) peers = await runPeers(peerSettings);
  if (has('start')) start = await measureStarts(startRounds, opts['rebuild-start-db']);

  const goals = evaluateGoals({
    http: httpResult?.summaries,
    pages: httpResult?.pages,
    datasets: httpResult?.datasets,
    queues: httpResult?.queues,
    peers,
    start,
    fsyncMissing,
  });
  printGoals(goals);
  const results = {
    date: new Date().toISOString(),
    commit,
    machine: {
      node: process.version,
      platform: `${os.platform()} ${os.release()}`,
      cpu: os.cpus()[0]?.model,
      cpus: os.cpus().length,
      memoryGb: Math.round(os.totalmem() / 1024 ** 3),
      loadAverage: httpResult?.loadAverage,
    },
    settings: {
      quick,
      sections,
      http: loaded
        ? {
            ...http,
            operations: ops.map((o) => o.name),
            targets,
            generators: tools,
            largeRecordConnections: 16,
            datasetPushConnections: has('datasets') ? PUSH_CONNECTIONS : undefined,
            largeQueue: has('queues') ? largeQueue : undefined,
            postgres: 'throwaway cluster (fsync=off), --pg-pool-size 10',
            sqlite: 'file in a temporary directory (WAL, synchronous=NORMAL)',
          }
        : undefined,
      peers: has('peers') ? peerSettings : undefined,
      startRounds: has('start') ? startRounds : undefined,
    },
    goals,
    http: httpResult && {
      summaries: httpResult.summaries,
      keyPages: httpResult.pages,
      datasetReads: httpResult.datasets,
      queueRuns: httpResult.queues,
      disturbedRuns: httpResult.disturbed,
      runs: httpResult.runs,
    },
    costs,
    peers,
    start,
    minutes: (Date.now() - started) / 60_000,
  };
  mkdirSync(join(out, '..'), { recursive: true });
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nwrote ${out} (${results.minutes.toFixed(1)} min)`);
} catch (err) {
  // A missing tool says how to install it in its message; anything else also shows where it failed.
  const e = err as Error;
  console.error(`bench: ${e.message}`);
  if (!/install/.test(e.message)) console.error(e.stack);
  process.exitCode = 1;
} finally {
  await cleanUp();
}
