/**
 * The cost table: microseconds of server CPU per request, by stage of the request path, for GET
 * 1 KB and PUT 1 KB (new and existing key) on SQLite and on PostgreSQL. openkvs runs from its
 * unbundled modules (so that each sample names its file) under `node --cpu-prof`, with the
 * request log on, as `openkvs serve` runs by default. Each sample of the measured windows goes to
 * the stage of the innermost frame on its stack that belongs to one (see `stageOf`); the CPU of
 * bare node:http and of Fastify alone answering the same bytes is measured beside it.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { measureCpu } from './cpu.js';
import { type LoadOptions, runWrk } from './load.js';
import { OPERATIONS, type OperationName, type ScriptContext, wrkScript } from './operations.js';
import { captureResponses } from './stores.js';
import { startBaseline, startOpenkvs, type Target } from './targets.js';

export const COST_OPS = ['get', 'put-new', 'put-existing'] as const satisfies readonly OperationName[];
export type CostOp = (typeof COST_OPS)[number];
export const COST_TARGETS = ['sqlite', 'postgres'] as const;
export type CostTarget = (typeof COST_TARGETS)[number];

export const STAGES = [
  'parse and route',
  'hooks',
  'token lookup',
  'store and record lookup',
  'response headers',
  'body read and write',
  'commit',
  'log line',
  'metrics',
  'statistics',
  'handler glue',
  'database client',
  'promise and tick scheduling',
  'garbage collection',
  'other',
] as const;
export type Stage = (typeof STAGES)[number];

/** One stage per frame, or undefined when the frame takes the stage of its caller. */
export function stageOf(functionName: string, url: string): Stage | undefined {
  if (url === '') {
    if (functionName === '(garbage collector)') return 'garbage collection';
    if (functionName === 'runMicrotasks') return 'promise and tick scheduling';
    if (/^(writev|writeBuffer|writeUtf8String|writeLatin1String|writeAsciiString)$/.test(functionName))
      return 'body read and write';
    return undefined;
  }
  const own = /\/dist\/((?:http|domain|storage|cli)\/.*|[^/]+)\.js$/.exec(url)?.[1];
  // Callbacks without a name take the stage of the code that runs them.
  if (own !== undefined) return functionName === '' && own.startsWith('storage/') ? undefined : ownStage(own, functionName);
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(url);
  if (pkg) return packageStage(pkg[1]!, pkg[2]!, functionName);
  if (url.startsWith('node:')) return nodeStage(url.slice(5), functionName);
  return undefined;
}

const HEADER_FUNCTIONS =
  /^(header|headers|getHeader|getHeaders|hasHeader|removeHeader|code|status|type|setHeader|writeHead|_storeHeader|_implicitHeader|processHeader|storeHeader|validateHeaderName|validateHeaderValue|checkInvalidHeaderChar|utcDate|cache)$/;

function ownStage(file: string, fn: string): Stage | undefined {
  switch (file) {
    case 'http/request-log':
      return fn === 'requestId' ? 'hooks' : 'log line';
    case 'http/metrics':
      return 'metrics';
    case 'domain/stats':
      return 'statistics';
    case 'http/caller':
    case 'domain/ids':
      return 'token lookup';
    case 'domain/access':
      return 'store and record lookup';
    case 'http/app':
    case 'http/content-type':
    case 'http/limits':
      return 'hooks';
    case 'http/conditional':
    case 'http/accept-encoding':
      return 'response headers';
    case 'http/body':
    case 'http/record-payload':
    case 'http/send-positional':
    case 'http/unread-body':
    case 'http/drain':
      return 'body read and write';
    case 'domain/records':
      return fn === 'put' ? 'commit' : 'store and record lookup';
    case 'http/key-value-stores/records':
      if (fn === 'answerRecord') return 'response headers';
      if (fn === 'answerBody') return 'body read and write';
      if (fn === 'checkKey') return 'hooks';
      return 'handler glue';
  }
  if (file.startsWith('storage/')) {
    return /put|stage|write|commit|discard|delete|transaction|flush|sync|busy/i.test(fn) ? 'commit' : 'store and record lookup';
  }
  if (file.startsWith('domain/validation')) return 'hooks';
  return 'handler glue';
}

function packageStage(pkg: string, file: string, fn: string): Stage | undefined {
  if (
    /^(pino|pino-std-serializers|sonic-boom|fast-redact|@pinojs\/redact|quick-format-unescaped|fast-safe-stringify|atomic-sleep|on-exit-leak-free|thread-stream)$/.test(
      pkg,
    )
  )
    return 'log line';
  if (pkg === 'prom-client' || pkg === 'tdigest' || pkg === 'bintrees') return 'metrics';
  if (pkg === '@fastify/cors' || pkg === '@fastify/rate-limit' || pkg === 'toad-cache') return 'hooks';
  if (pkg === 'negotiator' || pkg === 'range-parser') return 'response headers';
  if (pkg === 'postgres') return 'database client';
  if (pkg === 'better-sqlite3') return undefined;
  if (pkg === 'fastify') {
    if (file.startsWith('lib/reply') && HEADER_FUNCTIONS.test(fn)) return 'response headers';
    if (file.startsWith('lib/reply') || file.startsWith('lib/wrapThenable')) return 'body read and write';
    if (file.startsWith('lib/hooks') && /onSend/i.test(fn)) return 'body read and write';
    return 'parse and route';
  }
  return 'parse and route';
}

function nodeStage(mod: string, fn: string): Stage | undefined {
  if (mod === '_http_outgoing' || mod === '_http_server') {
    if (HEADER_FUNCTIONS.test(fn)) return 'response headers';
    if (mod === '_http_outgoing') return 'body read and write';
    return 'parse and route';
  }
  // Header names and values are checked as writeHead stores them.
  if (mod === '_http_common' && /^check/.test(fn)) return 'response headers';
  if (mod === '_http_common' || mod === '_http_incoming' || mod === 'net') return 'parse and route';
  if (mod === 'internal/stream_base_commons') return /^onStreamRead/.test(fn) ? 'parse and route' : 'body read and write';
  if (mod === 'internal/process/task_queues' || mod === 'internal/async_hooks' || mod === 'internal/timers')
    return 'promise and tick scheduling';
  return undefined;
}

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string }; children?: number[] }[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Microseconds sampled per stage in each window (monotonic microseconds, as V8 and `process.hrtime` count). */
export function attribute(file: string, windows: readonly { from: number; to: number }[]): Map<Stage, number>[] {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const parent = new Map<number, number>();
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stageCache = new Map<number, Stage | 'idle'>();
  const stageOfNode = (id: number): Stage | 'idle' => {
    const cached = stageCache.get(id);
    if (cached) return cached;
    const f = byId.get(id)!.callFrame;
    let s: Stage | 'idle' | undefined;
    if (f.functionName === '(idle)') s = 'idle';
    else if (f.functionName === '(program)' || f.functionName === '(root)') s = 'other';
    else s = stageOf(f.functionName, f.url);
    if (s === undefined) {
      const up = parent.get(id);
      s = up === undefined ? 'other' : stageOfNode(up);
    }
    // Socket writes and scheduling on behalf of the database client (its queries, and the wake-up
    // of the database's process they cost in the kernel) are the client's.
    if ((s === 'body read and write' || s === 'promise and tick scheduling') && underDatabaseClient(id)) s = 'database client';
    stageCache.set(id, s);
    return s;
  };
  const clientCache = new Map<number, boolean>();
  const underDatabaseClient = (id: number): boolean => {
    const cached = clientCache.get(id);
    if (cached !== undefined) return cached;
    const up = parent.get(id);
    const v = byId.get(id)!.callFrame.url.includes('node_modules/postgres/') || (up !== undefined && underDatabaseClient(up));
    clientCache.set(id, v);
    return v;
  };
  const out = windows.map(() => new Map<Stage, number>());
  let t = p.startTime;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    t += dt;
    const w = windows.findIndex((x) => t >= x.from && t < x.to);
    if (w === -1) return;
    const s = stageOfNode(id);
    if (s === 'idle') return;
    const m = out[w]!;
    // A sample stands for the time since the one before it.
    m.set(s, (m.get(s) ?? 0) + dt);
  });
  return out;
}

export interface CostColumn {
  op: CostOp;
  requests: number;
  /** Microseconds per request, by stage, from the profile. */
  stages: Partial<Record<Stage, number>>;
  /** Server CPU per request from /proc during the window (the profiler's own cost included). */
  serverUs: number;
  /** The database's processes (PostgreSQL), per request. */
  dbUs: number;
  /** The measured window in the profile's clock (monotonic µs), and the profile, for a closer look. */
  window: { from: number; to: number };
  profile: string;
}

export interface CostTable {
  target: CostTarget;
  columns: CostColumn[];
  /** CPU per request of the baselines answering the same bytes, by op. */
  bare: Partial<Record<CostOp, number>>;
  fastify: Partial<Record<CostOp, number>>;
}

export interface CostOptions {
  token: string;
  dir: string;
  profDir: string;
  targets: readonly CostTarget[];
  ops: readonly CostOp[];
  seconds: number;
  warmup: number;
  load: Omit<LoadOptions, 'seconds'>;
}

const nowUs = () => Number(process.hrtime.bigint() / 1000n);

export async function runCostTables(o: CostOptions): Promise<CostTable[]> {
  const tables: CostTable[] = [];
  let runCount = 0;
  for (const name of o.targets) {
    const profDir = join(o.profDir, `costs-${name}`);
    const t = await startOpenkvs(name, {
      token: o.token,
      dir: o.dir,
      cpuProfDir: profDir,
      modules: true,
      logLevel: 'info',
      needs: { keyStoreSizes: [], big: false, datasets: false, queues: 0 },
    });
    const baselines: Target[] = [];
    try {
      const stores = t.openkvs!.stores;
      const responses = join(o.dir, `responses-${name}.json`);
      writeFileSync(responses, JSON.stringify(await captureResponses(t.openkvs!.api, stores)));
      baselines.push(await startBaseline('bare', responses), await startBaseline('fastify', responses));
      const ctx = (): ScriptContext => ({
        token: o.token,
        recordsStore: stores.records,
        keysStore: stores.keys,
        deleteStore: stores.deletes,
        deletePrefix: `cd${runCount}-`,
        runTag: `c${runCount++}`,
        threads: o.load.threads,
      });
      const table: CostTable = { target: name, columns: [], bare: {}, fastify: {} };
      const windows: { from: number; to: number }[] = [];
      const counts: { op: CostOp; requests: number; serverUs: number; dbUs: number }[] = [];
      for (const op of o.ops) {
        const label = OPERATIONS.find((x) => x.name === op)!.label;
        for (const b of baselines) {
          await runWrk(b.origin, wrkScript(op, ctx()), o.dir, { ...o.load, seconds: o.warmup });
          const { result, cpu } = await measureCpu(b, () =>
            runWrk(b.origin, wrkScript(op, ctx()), o.dir, { ...o.load, seconds: o.seconds }),
          );
          table[b.name as 'bare' | 'fastify'][op] = (cpu.server * 1e6) / result.requests;
        }
        await runWrk(t.origin, wrkScript(op, ctx()), o.dir, { ...o.load, seconds: o.warmup });
        const from = nowUs();
        const { result, cpu } = await measureCpu(t, () =>
          runWrk(t.origin, wrkScript(op, ctx()), o.dir, { ...o.load, seconds: o.seconds }),
        );
        windows.push({ from, to: nowUs() });
        counts.push({
          op,
          requests: result.requests,
          serverUs: (cpu.server * 1e6) / result.requests,
          dbUs: (cpu.db * 1e6) / result.requests,
        });
        console.log(
          `[costs] ${label.padEnd(24)} ${name.padEnd(8)} ${Math.round(result.rps).toLocaleString('en').padStart(7)} req/s under the profiler`,
        );
      }
      await t.stop();
      const files = readdirSync(join(profDir, name))
        .filter((f) => f.endsWith('.cpuprofile'))
        .sort();
      const profile = join(profDir, name, files[files.length - 1]!);
      const per = attribute(profile, windows);
      counts.forEach((c, i) => {
        const stages: Partial<Record<Stage, number>> = {};
        for (const [s, us] of per[i]!) stages[s] = us / c.requests;
        table.columns.push({ ...c, stages, window: windows[i]!, profile });
      });
      tables.push(table);
    } finally {
      await t.stop();
      for (const b of baselines) await b.stop();
    }
  }
  return tables;
}

const fmt = (n: number | undefined) => (n === undefined ? '–' : n.toFixed(1));

/** The cost tables as Markdown (the README and docs/performance.md take them as printed). */
export function costMarkdown(tables: readonly CostTable[]): string {
  const out: string[] = [];
  for (const t of tables) {
    const label = t.target === 'sqlite' ? 'SQLite' : 'PostgreSQL';
    const ops = t.columns.map((c) => OPERATIONS.find((x) => x.name === c.op)!.label);
    out.push(`\n**${label}**: µs of CPU per request\n`);
    out.push(`| stage | ${ops.join(' | ')} |`);
    out.push(`| --- | ${ops.map(() => '---:').join(' | ')} |`);
    for (const s of STAGES) {
      if (t.columns.every((c) => (c.stages[s] ?? 0) < 0.05)) continue;
      out.push(`| ${s} | ${t.columns.map((c) => fmt(c.stages[s] ?? 0)).join(' | ')} |`);
    }
    const sum = (c: CostColumn) => Object.values(c.stages).reduce((a, b) => a + (b ?? 0), 0);
    out.push(`| **sampled, all stages** | ${t.columns.map((c) => `**${fmt(sum(c))}**`).join(' | ')} |`);
    out.push(`| server process CPU (/proc, profiler included) | ${t.columns.map((c) => fmt(c.serverUs)).join(' | ')} |`);
    if (t.target === 'postgres') out.push(`| PostgreSQL server processes | ${t.columns.map((c) => fmt(c.dbUs)).join(' | ')} |`);
    out.push(`| bare node:http, same bytes | ${t.columns.map((c) => fmt(t.bare[c.op])).join(' | ')} |`);
    out.push(`| Fastify alone, same bytes | ${t.columns.map((c) => fmt(t.fastify[c.op])).join(' | ')} |`);
  }
  return out.join('\n');
}
