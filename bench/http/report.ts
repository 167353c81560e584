import { availableParallelism } from 'node:os';
import { median } from '../measure.js';
import type { Operation, OperationName } from './operations.js';
import { TARGET_LABELS, type TargetName, WORKER_TARGETS, WORKERS_OPS } from './targets.js';

/** One load run of one operation on one target. */
export interface RunRecord {
  op: OperationName;
  target: TargetName;
  /** -1 for the warm-up. */
  round: number;
  rps: number;
  requests: number;
  seconds: number;
  errors: number;
  p50Us: number;
  p99Us: number;
  /** CPU seconds during the run: the server process, the database's processes, the load generator. */
  serverCpu: number;
  dbCpu: number;
  generatorCpu: number;
  /** CPU seconds of everything else on the machine during the run (other work disturbs the run). */
  otherCpu: number;
  /** Times the run was taken again because other work disturbed it (the least disturbed one is kept). */
  retries?: number;
  /** Other work used more than the run allows even so. */
  disturbed?: boolean;
  /** DELETE only: records that existed and were deleted, which must be at least `requests`. */
  deleted?: number;
  /** Large records only: the server's highest sampled resident memory during the run, and its VmHWM after it (kB). */
  rssPeakKb?: number;
  hwmKb?: number;
}

/** The rounds of one operation on one target, summed up. */
export interface Summary {
  op: OperationName;
  target: TargetName;
  /** Median over the rounds. */
  rps: number;
  spread: [number, number];
  /** `rps` over the bare server's `rps` for the same operation, when bare was measured. */
  vsBare: number | undefined;
  p50Us: number;
  p99Us: number;
  serverCpuUsPerRequest: number;
  dbCpuUsPerRequest: number;
  /**
   * The bare server's CPU per request over this target's (server and database): throughput per
   * core, a ratio that other work on the machine moves much less than requests per second.
   */
  cpuVsBare: number | undefined;
  /** Mean cores busy with other work during the rounds. */
  otherCores: number;
  errors: number;
  /** Megabytes per second, for the large records. */
  mbps?: number;
  /** Dataset items per request, for items per second (`rps` × `items`). */
  items?: number;
  /** Large records: the highest resident memory sampled during any round, and the highest VmHWM after one (MB). */
  rssPeakMb?: number;
  hwmMb?: number;
}

export function summarize(runs: readonly RunRecord[], ops: readonly Operation[], targets: readonly TargetName[]): Summary[] {
  const out: Summary[] = [];
  for (const op of ops) {
    const bareOp = op.bareAs ?? op.name;
    const bare = runs.filter((r) => r.round >= 0 && r.op === bareOp && r.target === 'bare');
    const bareRps = bare.length ? median(bare.map((r) => r.rps)) : undefined;
    const bareCpu = bare.length
      ? bare.reduce((s, r) => s + r.serverCpu, 0) / bare.reduce((s, r) => s + r.requests, 0)
      : undefined;
    for (const target of targets) {
      const rs = runs.filter((r) => r.round >= 0 && r.op === op.name && r.target === target);
      if (rs.length === 0) continue;
      const requests = rs.reduce((s, r) => s + r.requests, 0);
      const seconds = rs.reduce((s, r) => s + r.seconds, 0);
      const rps = median(rs.map((r) => r.rps));
      const serverCpu = rs.reduce((s, r) => s + r.serverCpu, 0) / requests;
      const dbCpu = rs.reduce((s, r) => s + r.dbCpu, 0) / requests;
      out.push({
        op: op.name,
        target,
        rps,
        spread: [Math.min(...rs.map((r) => r.rps)), Math.max(...rs.map((r) => r.rps))],
        vsBare: bareRps === undefined ? undefined : rps / bareRps,
        p50Us: median(rs.map((r) => r.p50Us)),
        p99Us: median(rs.map((r) => r.p99Us)),
        serverCpuUsPerRequest: serverCpu * 1e6,
        dbCpuUsPerRequest: dbCpu * 1e6,
        cpuVsBare: bareCpu === undefined ? undefined : bareCpu / (serverCpu + dbCpu),
        otherCores: rs.reduce((s, r) => s + r.otherCpu, 0) / seconds,
        errors: rs.reduce((s, r) => s + r.errors, 0),
        ...(op.bytes ? { mbps: (rps * op.bytes) / 1e6 } : {}),
        ...(op.items ? { items: op.items } : {}),
        ...(rs.some((r) => r.rssPeakKb)
          ? {
              rssPeakMb: Math.max(...rs.map((r) => r.rssPeakKb ?? 0)) / 1024,
              hwmMb: Math.max(...rs.map((r) => r.hwmKb ?? 0)) / 1024,
            }
          : {}),
      });
    }
  }
  return out;
}

const int = (n: number) => Math.round(n).toLocaleString('en');

function printRows(header: string[], rows: string[][], leftColumns = 1): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i < leftColumns ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(`\n${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}`);
  for (const r of rows) console.log(line(r));
}

/** Requests (or MB) per second per operation and target, with ratios to bare node:http (and PostgreSQL to SQLite). */
export function printThroughput(summaries: readonly Summary[], ops: readonly Operation[], targets: readonly TargetName[]): void {
  const find = (op: OperationName, t: TargetName) => summaries.find((s) => s.op === op && s.target === t);
  const header = ['operation'];
  for (const t of targets) header.push(TARGET_LABELS[t], ...(t === 'bare' ? [] : ['× bare']));
  const both = targets.includes('sqlite') && targets.includes('postgres');
  if (both) header.push('PG ÷ SQLite');
  const rows = ops.map((op) => {
    const row = [op.label];
    for (const t of targets) {
      const s = find(op.name, t);
      row.push(s ? (s.mbps !== undefined ? `${int(s.mbps)} MB/s` : int(s.rps)) : '-');
      if (t !== 'bare') row.push(s?.vsBare === undefined ? '-' : s.vsBare.toFixed(2));
    }
    if (both) {
      const [sq, pg] = [find(op.name, 'sqlite'), find(op.name, 'postgres')];
      row.push(sq && pg ? (pg.rps / sq.rps).toFixed(2) : '-');
    }
    return row;
  });
  printRows(header, rows);
}

/** Per operation and target: round spread, latency, CPU per request, and disturbance by other work. */
export function printDetails(summaries: readonly Summary[], ops: readonly Operation[]): void {
  const label = (op: OperationName) => ops.find((o) => o.name === op)?.label ?? op;
  const header = [
    'operation',
    'target',
    'req/s',
    'rounds min–max',
    'p50 ms',
    'p99 ms',
    'server CPU µs/req',
    'db CPU µs/req',
    '× bare (CPU)',
    'other cores',
    'errors',
    'RSS peak MB',
  ];
  const rows = summaries.map((s) => [
    label(s.op),
    TARGET_LABELS[s.target],
    int(s.rps),
    `${int(s.spread[0])}–${int(s.spread[1])}`,
    (s.p50Us / 1000).toFixed(2),
    (s.p99Us / 1000).toFixed(2),
    s.serverCpuUsPerRequest.toFixed(0),
    s.target === 'postgres' ? s.dbCpuUsPerRequest.toFixed(0) : '-',
    s.target === 'bare' || s.cpuVsBare === undefined ? '-' : s.cpuVsBare.toFixed(2),
    s.otherCores.toFixed(2),
    String(s.errors),
    s.rssPeakMb === undefined ? '-' : s.rssPeakMb.toFixed(0),
  ]);
  printRows(header, rows, 2);
}

/** openkvs SQLite with 1, 2 and `auto` workers side by side: rates, × bare, and × the one worker of the same run. */
export function printWorkerScaling(summaries: readonly Summary[], ops: readonly Operation[]): void {
  const scaled = (['sqlite', ...Object.keys(WORKER_TARGETS)] as TargetName[]).filter((t) =>
    summaries.some((s) => s.target === t && WORKERS_OPS.includes(s.op)),
  );
  if (scaled.length < 2) return;
  const header = ['operation', 'workers', 'req/s', '× bare', '× 1 worker', 'server CPU µs/req'];
  const rows: string[][] = [];
  for (const op of ops.filter((o) => WORKERS_OPS.includes(o.name))) {
    const one = summaries.find((s) => s.op === op.name && s.target === 'sqlite');
    for (const t of scaled) {
      const s = summaries.find((x) => x.op === op.name && x.target === t);
      if (!s) continue;
      const workers = WORKER_TARGETS[t] ?? '1';
      rows.push([
        op.label,
        workers === 'auto' ? `auto (${availableParallelism()})` : workers,
        int(s.rps),
        s.vsBare === undefined ? '-' : s.vsBare.toFixed(2),
        one ? (s.rps / one.rps).toFixed(2) : '-',
        s.serverCpuUsPerRequest.toFixed(0),
      ]);
    }
  }
  printRows(header, rows, 2);
}
