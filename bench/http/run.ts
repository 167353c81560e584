/**
 * HTTP throughput benchmark: requests per second of openkvs on SQLite and on PostgreSQL beside a
 * bare node:http server answering the same bytes, all measured in one run, in alternating rounds.
 * Each server runs in its own process; the load comes from wrk (ab for HEAD) in another, at 32
 * connections. Prints the medians with ratios to bare and writes bench/results/http-latest.json.
 *
 *   npm run bench:http [-- --quick] [--ops get,put-new] [--targets bare,sqlite] [--duration 5]
 *     [--rounds 5] [--warmup 2] [--connections 32] [--threads 1] [--cpu-prof] [--out file.json]
 *
 * Needs wrk and, for HEAD, ab: apt-get install -y wrk apache2-utils. With --cpu-prof the openkvs
 * servers run under node --cpu-prof; the profiles and results go to
 * dist-bench/profiles/<time>/, and the top self-time functions are printed.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { measureCpu, waitForQuiet } from './cpu.js';
import { checkTools, type LoadOptions, runAbHead, runWrk } from './load.js';
import { OPERATION_NAMES, OPERATIONS, type Operation, type ScriptContext, wrkScript } from './operations.js';
import { printSelfTime, topSelfTime } from './profile.js';
import { printDetails, printThroughput, type RunRecord, summarize } from './report.js';
import { captureResponses } from './stores.js';
import { startBare, startOpenkvs, TARGET_LABELS, TARGET_NAMES, type Target, type TargetName } from './targets.js';

const { values: opts } = parseArgs({
  options: {
    ops: { type: 'string', default: OPERATION_NAMES.join(',') },
    targets: { type: 'string', default: TARGET_NAMES.join(',') },
    /** Seconds per measured run (whole seconds: wrk's unit). */
    duration: { type: 'string' },
    rounds: { type: 'string' },
    /** Seconds of warm-up per operation and target, before the rounds. */
    warmup: { type: 'string' },
    connections: { type: 'string', default: '32' },
    threads: { type: 'string', default: '1' },
    /** 2-second runs, 3 rounds, 1-second warm-up, no waiting for a quiet machine: under 3 minutes. */
    quick: { type: 'boolean', default: false },
    /** Run openkvs under `node --cpu-prof` and print each server's top self-time functions. */
    'cpu-prof': { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});

/** Stops before anything started, with a one-line reason. */
function fail(message: string): never {
  console.error(`bench:http: ${message}`);
  process.exit(1);
}

const pick = <T extends string>(list: string, all: readonly T[], what: string): T[] => {
  const chosen = list.split(',').filter(Boolean);
  for (const c of chosen) if (!all.includes(c as T)) fail(`--${what}: "${c}" is not one of ${all.join(', ')}`);
  return all.filter((a) => chosen.includes(a));
};
const ops = OPERATIONS.filter((o) => pick(opts.ops, OPERATION_NAMES, 'ops').includes(o.name));
const targetNames = pick(opts.targets, TARGET_NAMES, 'targets');
if (!targetNames.some((t) => t !== 'bare')) fail('--targets: name sqlite or postgres (bare only answers like them)');
const seconds = Number(opts.duration ?? (opts.quick ? 2 : 5));
const rounds = Number(opts.rounds ?? (opts.quick ? 3 : 5));
const warmup = Number(opts.warmup ?? (opts.quick ? 1 : 2));
const load: Omit<LoadOptions, 'seconds'> = { connections: Number(opts.connections), threads: Number(opts.threads) };
for (const [name, n] of Object.entries({ duration: seconds, rounds, warmup, ...load })) {
  if (!Number.isInteger(n) || n < (name === 'warmup' ? 0 : 1)) fail(`--${name}: a whole number is needed`);
}
const cpuProf = opts['cpu-prof'];

// This file runs as dist-bench/bench/http/run.js.
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const tools = (() => {
  try {
    return checkTools(ops.some((o) => o.generator === 'ab'));
  } catch (err) {
    return fail((err as Error).message);
  }
})();
const token = `bench_${randomBytes(24).toString('base64url')}`;
const dir = mkdtempSync(join(os.tmpdir(), 'openkvs-http-bench-'));
const profDir = cpuProf ? join(ROOT, 'dist-bench', 'profiles', new Date().toISOString().replace(/[:.]/g, '-')) : undefined;
// Profiled runs are slowed by the profiler: their results stay beside the profiles.
const out = opts.out ?? (profDir ? join(profDir, 'results.json') : join(ROOT, 'bench', 'results', 'http-latest.json'));
const git = (args: string[]) => spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
// Taken at the start: dist/ is built before the run, and the tree may change while it runs.
const commit = `${git(['rev-parse', '--short', 'HEAD'])}${git(['status', '--porcelain', '--', 'src']) ? ' (src modified)' : ''}`;
const targets: Target[] = [];
const runs: RunRecord[] = [];
const started = Date.now();

let stopping: Promise<void> | undefined;
const stopAll = () => {
  stopping ??= Promise.all(
    targets.map((t) => t.stop().catch((err: Error) => console.error(`stopping ${t.name}: ${err.message}`))),
  )
    .then(() => rmSync(dir, { recursive: true, force: true }))
    .then(() => undefined);
  return stopping;
};
// Servers and the PostgreSQL cluster are stopped however the run ends.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => void stopAll().then(() => process.exit(130)));
}
process.once('uncaughtException', (err) => {
  console.error(err);
  void stopAll().then(() => process.exit(1));
});

/** Keys per second a target deletes, to seed enough keys for the next DELETE run (with a margin). */
const deleteRate = new Map<TargetName, number>();
let runCount = 0;

async function measure(op: Operation, t: Target, reference: Target, round: number, runSeconds: number): Promise<RunRecord> {
  const stores = (t.openkvs ?? reference.openkvs)!.stores;
  const ctx: ScriptContext = {
    token,
    recordsStore: stores.records,
    keysStore: stores.keys,
    deleteStore: stores.deletes,
    deletePrefix: `d${runCount}-`,
    runTag: `r${runCount}`,
    threads: load.threads,
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
  const o = { ...load, seconds: runSeconds };
  const { result, cpu } = await measureCpu(t, () =>
    op.generator === 'ab'
      ? runAbHead(`${t.origin}/v2/key-value-stores/${stores.records}/records/record-1k`, [`Authorization: Bearer ${token}`], o)
      : runWrk(t.origin, wrkScript(op.name, ctx), dir, o),
  );
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
    dbCpu: cpu.db,
    generatorCpu: result.generatorCpu,
    otherCpu: Math.max(0, cpu.machine - cpu.server - cpu.db - result.generatorCpu),
  };
  if (op.name === 'delete' && t.openkvs) {
    run.deleted = (await t.openkvs.api.stats(stores.deletes)).deleteCount - deletedBefore;
    deleteRate.set(t.name, result.rps);
    if (run.deleted < run.requests) console.warn(`  ! DELETE ran out of seeded keys (${run.deleted} of ${run.requests})`);
  }
  if (run.errors > 0) console.warn(`  ! ${run.errors} errors (connection errors, timeouts or status ≥ 400)`);
  const label = round < 0 ? 'warm-up' : `round ${round + 1}/${rounds}`;
  console.log(
    `[${label}] ${op.label.padEnd(26)} ${TARGET_LABELS[t.name].padEnd(18)} ${Math.round(run.rps).toLocaleString('en').padStart(7)} req/s` +
      `  p99 ${(run.p99Us / 1000).toFixed(1).padStart(5)} ms  server ${pct(run.serverCpu, run.seconds)}  db ${pct(run.dbCpu, run.seconds)}` +
      `  wrk/ab ${pct(run.generatorCpu, run.seconds)}  other ${pct(run.otherCpu, run.seconds)}`,
  );
  return run;
}

/** Cores that other work may use during a run before the run is taken again. */
const DISTURBED_CORES = 0.25;
const RETRIES = 1;
/** Waits for quiet that ended without it, in a row: past 3 the machine is taken as busy for good. */
let busyStreak = 0;

/**
 * A measured run, after waiting (10 s at most) for the machine to be quiet, and taken again (up to
 * `RETRIES` times) when other work disturbed it. On a machine that stays busy it stops waiting
 * and retrying, and the runs are only flagged.
 */
async function measureUndisturbed(op: Operation, t: Target, reference: Target, round: number): Promise<RunRecord> {
  let best: RunRecord | undefined;
  for (let attempt = 0; attempt <= (opts.quick ? 0 : RETRIES); attempt++) {
    const maxWait = opts.quick ? 0 : busyStreak >= 3 ? 1000 : 10_000;
    const waited = await waitForQuiet(0.2, maxWait);
    busyStreak = waited >= maxWait ? busyStreak + 1 : 0;
    if (waited > 1000) console.log(`  (waited ${(waited / 1000).toFixed(1)} s for other work on the machine to stop)`);
    const run = await measure(op, t, reference, round, seconds);
    run.retries = attempt;
    run.disturbed = run.otherCpu / run.seconds > DISTURBED_CORES;
    if (!best || run.otherCpu / run.seconds < best.otherCpu / best.seconds) best = run;
    if (!run.disturbed || busyStreak >= 3) break;
    if (attempt < RETRIES) console.log(`  other work used ${(run.otherCpu / run.seconds).toFixed(2)} cores: running again`);
  }
  return best!;
}

const pct = (cpu: number, s: number) => `${Math.round((cpu / s) * 100)}%`.padStart(4);

try {
  const perRun = ops.length * targetNames.length;
  console.log(
    `${ops.length} operations × ${targetNames.length} targets: ${warmup} s warm-up, then ${rounds} rounds of ${seconds} s runs ` +
      `(about ${Math.ceil((perRun * (warmup + rounds * (seconds + 0.5))) / 60)} min); ${load.connections} connections, ` +
      `${tools.wrk}${tools.ab ? `; HEAD with ${tools.ab}` : ''}`,
  );
  for (const name of targetNames) {
    if (name === 'bare') continue;
    targets.push(await startOpenkvs(name, { token, dir, cpuProfDir: profDir }));
    console.log(`started ${TARGET_LABELS[name]} at ${targets[targets.length - 1]!.origin}`);
  }
  const reference = targets[0]!;
  if (targetNames.includes('bare')) {
    const responses = join(dir, 'responses.json');
    writeFileSync(responses, JSON.stringify(await captureResponses(reference.openkvs!.api, reference.openkvs!.stores)));
    targets.unshift(await startBare(responses));
    console.log(`started bare node:http at ${targets[0]!.origin}, answering with ${TARGET_LABELS[reference.name]}'s bytes`);
  }
  const loadBefore = os.loadavg();
  if (warmup > 0) for (const op of ops) for (const t of targets) runs.push(await measure(op, t, reference, -1, warmup));
  for (let r = 0; r < rounds; r++) {
    for (const op of ops) {
      // Each round starts with another target, so that none always follows the same neighbour.
      const order = targets.map((_, i) => targets[(i + r) % targets.length]!);
      for (const t of order) runs.push(await measureUndisturbed(op, t, reference, r));
    }
  }
  const loadAfter = os.loadavg();
  const disturbed = runs.filter((r) => r.round >= 0 && r.disturbed).length;
  const summaries = summarize(runs, ops, targetNames);
  printThroughput(summaries, ops, targetNames);
  printDetails(summaries, ops);
  console.log(
    `\nMedians of ${rounds} rounds of ${seconds} s at ${load.connections} connections, after ${warmup} s of warm-up per case;` +
      '\n"× bare" is against bare node:http answering the same bytes in the same run. "other cores": CPU used' +
      '\nduring the runs by anything but the server, the database and the load generator (other work disturbs a run);' +
      '\n"× bare (CPU)": bare\'s CPU per request over the target\'s (server + database), which other work moves less.' +
      (disturbed
        ? `\n${disturbed} of the measured runs were disturbed (other work above ${DISTURBED_CORES} cores after a retry).`
        : '') +
      (cpuProf ? '\nThe servers ran under --cpu-prof, which slows them: these numbers are not for comparison.' : ''),
  );

  const results = {
    date: new Date().toISOString(),
    commit,
    machine: {
      node: process.version,
      platform: `${os.platform()} ${os.release()}`,
      cpu: os.cpus()[0]?.model,
      cpus: os.cpus().length,
      loadAverage: { before: loadBefore, after: loadAfter },
    },
    settings: {
      operations: ops.map((o) => o.name),
      targets: targetNames,
      seconds,
      rounds,
      warmup,
      ...load,
      generators: tools,
      cpuProf,
      postgres: 'throwaway cluster (fsync=off), --pg-pool-size 10',
      sqlite: 'file in a temporary directory (WAL, synchronous=NORMAL)',
    },
    summaries,
    runs,
    minutes: (Date.now() - started) / 60_000,
  };
  mkdirSync(join(out, '..'), { recursive: true });
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nwrote ${out} (${results.minutes.toFixed(1)} min)`);
} finally {
  await stopAll();
}

if (profDir) {
  for (const name of targetNames) {
    if (name !== 'bare') printSelfTime(`${TARGET_LABELS[name]}, top self time`, topSelfTime(join(profDir, name)));
  }
}
