/**
 * Prints the tables of a results file (bench/results/latest.json by default) as Markdown, for the
 * README's Benchmarks section.
 *
 *   node dist-bench/bench/markdown.js [bench/results/latest.json]
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Goal } from './goals.js';
import { type CostTable, costMarkdown } from './http/costs.js';
import { CSV_CONCURRENCY, CSV_ITEMS, type DatasetReads, SPREAD_ITEM_PAGES } from './http/datasets.js';
import type { PageLatency } from './http/key-pages.js';
import { DEEP_OFFSET, isDatasetOp, isQueueOp, OPERATIONS } from './http/operations.js';
import type { QueueRuns } from './http/queue-runs.js';
import type { Summary } from './http/report.js';
import { SPREAD_PAGES } from './http/stores.js';
import { TARGET_LABELS, TARGET_NAMES } from './http/targets.js';
import type { PeerResult } from './peers/run.js';
import { PEER_LABELS, PEER_NAMES, PEER_OPS } from './peers/types.js';
import { START_CASES, START_LABELS, type StartResult } from './start/run.js';

interface Results {
  date: string;
  commit: string;
  machine: { cpu?: string; cpus: number; memoryGb: number; node: string; loadAverage?: { before: number[]; after: number[] } };
  goals: Goal[];
  http?: { summaries: Summary[]; keyPages: PageLatency[]; datasetReads?: DatasetReads; queueRuns?: QueueRuns };
  costs?: CostTable[];
  peers?: PeerResult;
  start?: StartResult;
  minutes: number;
}

const file = process.argv[2] ?? fileURLToPath(new URL('../../bench/results/latest.json', import.meta.url));
const r = JSON.parse(readFileSync(file, 'utf8')) as Results;
const int = (n: number) => Math.round(n).toLocaleString('en');
const table = (header: string[], rows: string[][]) =>
  [
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ].join('\n');
const out: string[] = [];
// The run was built from the working tree: say so when src/ had changes not yet committed.
const commit = r.commit.replace(' (src modified)', ' with changes to src/ not yet committed');

out.push(
  `${r.date.slice(0, 10)}, commit ${commit}, ${r.machine.cpus} cores (${r.machine.cpu ?? '?'}), ${r.machine.memoryGb} GB, ` +
    `Node ${r.machine.node}; ${r.minutes.toFixed(0)} minutes.`,
);

if (r.http) {
  const targets = TARGET_NAMES.filter((t) => r.http!.summaries.some((s) => s.target === t));
  const header = ['operation'];
  for (const t of targets) header.push(TARGET_LABELS[t], ...(t === 'bare' ? [] : ['× bare']));
  // The dataset rows have a table of their own (below).
  const rows = OPERATIONS.filter(
    (op) => !isDatasetOp(op.name) && !isQueueOp(op.name) && r.http!.summaries.some((s) => s.op === op.name),
  ).map((op) => {
    const row = [op.label];
    for (const t of targets) {
      const s = r.http!.summaries.find((x) => x.op === op.name && x.target === t);
      row.push(s ? (s.mbps !== undefined ? `${int(s.mbps)} MB/s` : `${int(s.rps)}/s`) : '');
      if (t !== 'bare') row.push(s?.vsBare === undefined ? '' : s.vsBare.toFixed(2));
    }
    return row;
  });
  if (rows.length) out.push(table(header, rows));
  const rss = targets
    .map((t) => [t, r.http!.summaries.find((s) => s.op === 'put-9mb' && s.target === t)?.rssPeakMb] as const)
    .filter(([, v]) => v !== undefined)
    .map(([t, v]) => `${TARGET_LABELS[t]} ${v!.toFixed(0)} MB`);
  if (rss.length) out.push(`Peak RSS during the 9 MB uploads (16 at once): ${rss.join(', ')}.`);

  const pages = r.http.keyPages;
  if (pages.length) {
    const sizes = [...new Set(pages.map((p) => p.size))].sort((a, b) => a - b);
    const storages = (['sqlite', 'postgres'] as const).filter((t) => pages.some((p) => p.target === t));
    const header2 = ['1000-key page', ...storages.flatMap((t) => [TARGET_LABELS[t], '× 1k store', 'CPU a page'])];
    const rows2: string[][] = [];
    for (const size of sizes) {
      for (const page of ['first', 'middle', 'spread'] as const) {
        if (!pages.some((p) => p.size === size && p.page === page)) continue;
        const where = { first: 'first page', middle: 'page in the middle', spread: `${SPREAD_PAGES} pages across it, in turn` }[
          page
        ];
        const row = [`store of ${size.toLocaleString('en')}, ${where}`];
        for (const t of storages) {
          const p = pages.find((x) => x.target === t && x.size === size && x.page === page);
          const base = pages.find((x) => x.target === t && x.size === 1000 && x.page === 'first');
          row.push(
            p ? `${p.ms.toFixed(2)} ms` : '',
            p && base ? (p.ms / base.ms).toFixed(2) : '',
            p ? `${p.cpuMs.toFixed(2)} ms` : '',
          );
        }
        rows2.push(row);
      }
    }
    out.push(table(header2, rows2));
  }
  const datasets = datasetTable(r.http.summaries, r.http.datasetReads);
  if (datasets) out.push(datasets);
  const queues = queueTable(r.http.summaries, r.http.queueRuns);
  if (queues) out.push(queues);
}

if (r.costs?.length) out.push(`Cost of a request by stage (µs of CPU, request log on):${costMarkdown(r.costs)}`);

if (r.peers) {
  const best = r.peers.best;
  const header = ['operation', ...PEER_NAMES.map((p) => `${PEER_LABELS[p]} (in process)`)];
  const rows = PEER_OPS.map((op) => [
    op,
    ...PEER_NAMES.map((peer) => {
      const s = r.peers!.summaries.filter((x) => x.op === op && x.peer === peer).reduce((a, b) => (b.rate > a.rate ? b : a));
      return `${int(s.rate)}/s (${s.concurrency} in flight)${best[op] === s ? ' best' : ''}`;
    }),
  ]);
  out.push(table(header, rows));
}

if (r.start) {
  const header = ['start to GET /health 200', 'median', 'fastest–slowest'];
  const rows = START_CASES.filter((c) => r.start!.cases[c] !== undefined).map((c) => {
    const s = r.start!.cases[c];
    return [START_LABELS[c], `${s.ms.toFixed(0)} ms`, `${s.spread[0].toFixed(0)}–${s.spread[1].toFixed(0)} ms`];
  });
  out.push(table(header, rows));
}

/**
 * The dataset rows, one column pair per storage: the rate (or time) with its ratio to bare
 * node:http answering the same bytes (or to offset 0), and the server's CPU per request.
 */
function datasetTable(summaries: Summary[], reads: DatasetReads | undefined): string | undefined {
  const storages = (['sqlite', 'postgres'] as const).filter(
    (t) => summaries.some((s) => s.target === t && isDatasetOp(s.op)) || reads?.pages.some((p) => p.target === t),
  );
  if (storages.length === 0) return undefined;
  const header = ['dataset row', ...storages.flatMap((t) => [TARGET_LABELS[t], 'ratio', 'server CPU'])];
  const rows: string[][] = [];
  const cpu = (s: Summary) =>
    `${(s.serverCpuUsPerRequest / 1000).toFixed(2)} ms${s.target === 'postgres' ? ` + db ${(s.dbCpuUsPerRequest / 1000).toFixed(2)} ms` : ''}`;
  // Read alone, the server's and the database's CPU are measured together.
  const db = (t: string) => (t === 'postgres' ? ' with db' : '');
  for (const op of OPERATIONS.filter((o) => isDatasetOp(o.name))) {
    if (!summaries.some((s) => s.op === op.name)) continue;
    const row = [op.connections ? `${op.label}, ${op.connections} at once` : op.label];
    for (const t of storages) {
      const s = summaries.find((x) => x.op === op.name && x.target === t);
      const items = s?.items ? ` (${int(s.rps * s.items)} items/s)` : '';
      row.push(
        s ? `${int(s.rps)}/s${items}` : '',
        s?.vsBare === undefined ? '' : `${s.vsBare.toFixed(2)}× bare`,
        s ? cpu(s) : '',
      );
    }
    rows.push(row);
  }
  const where = {
    first: 'offset 0',
    deep: `offset ${DEEP_OFFSET.toLocaleString('en')}`,
    spread: `${SPREAD_ITEM_PAGES} offsets across it`,
  };
  for (const page of ['first', 'deep', 'spread'] as const) {
    if (!reads?.pages.some((p) => p.page === page)) continue;
    const row = [`1000 items of 1M read alone, ${where[page]}`];
    for (const t of storages) {
      const p = reads.pages.find((x) => x.target === t && x.page === page);
      const base = reads.pages.find((x) => x.target === t && x.page === 'first');
      row.push(
        p ? `${p.ms.toFixed(2)} ms` : '',
        p && base ? `${(p.ms / base.ms).toFixed(2)}× offset 0` : '',
        p ? `${p.cpuMs.toFixed(2)} ms${db(t)}` : '',
      );
    }
    rows.push(row);
  }
  for (const c of [1, CSV_CONCURRENCY]) {
    if (!reads?.csv.some((d) => d.concurrency === c)) continue;
    const bare = reads.csv.find((d) => d.target === 'bare' && d.concurrency === c);
    const size = reads.csv[0] ? ` (${(reads.csv[0].bytes / 1e6).toFixed(0)} MB)` : '';
    const row = [
      `CSV of ${CSV_ITEMS.toLocaleString('en')} items${size}, ${c === 1 ? 'one download' : `${c} at once`}: MB/s, peak RSS`,
    ];
    for (const t of storages) {
      const d = reads.csv.find((x) => x.target === t && x.concurrency === c);
      row.push(
        d ? `${int(d.mbps)} MB/s, RSS ${int(d.rssPeakMb)} MB` : '',
        d && bare ? `${(d.mbps / bare.mbps).toFixed(2)}× bare` : '',
        d ? `${int(d.cpuMs)} ms a download${db(t)}` : '',
      );
    }
    rows.push(row);
  }
  return table(header, rows);
}

/**
 * The request queue rows, one column pair per storage: the rate (or time) with its ratio to bare
 * node:http answering the same bytes (or to the queue of 1000), and the server's CPU.
 */
function queueTable(summaries: Summary[], runs: QueueRuns | undefined): string | undefined {
  const storages = (['sqlite', 'postgres'] as const).filter(
    (t) => summaries.some((s) => s.target === t && isQueueOp(s.op)) || runs?.locks.some((l) => l.target === t),
  );
  if (storages.length === 0) return undefined;
  const header = ['request queue row', ...storages.flatMap((t) => [TARGET_LABELS[t], 'ratio', 'server CPU'])];
  const rows: string[][] = [];
  const db = (t: string, ms: number) => (t === 'postgres' ? ` + db ${ms.toFixed(2)} ms` : '');
  for (const op of OPERATIONS.filter((o) => isQueueOp(o.name))) {
    if (!summaries.some((s) => s.op === op.name)) continue;
    const row = [op.label];
    for (const t of storages) {
      const s = summaries.find((x) => x.op === op.name && x.target === t);
      row.push(
        s ? `${int(s.rps)}/s (${int(s.rps * (op.queueRequests ?? 1))} requests/s)` : '',
        s?.vsBare === undefined ? '' : `${s.vsBare.toFixed(2)}× bare`,
        s ? `${(s.serverCpuUsPerRequest / 1000).toFixed(2)} ms${db(t, s.dbCpuUsPerRequest / 1000)}` : '',
      );
    }
    rows.push(row);
  }
  for (const clients of [...new Set(runs?.drains.map((d) => d.clients))]) {
    const bare = runs!.drains.find((d) => d.target === 'bare' && d.clients === clients);
    const row = [`lock 25 and mark each handled, ${clients > 1 ? `${clients} clients at once` : '1 client'}: handled/s`];
    for (const t of storages) {
      const d = runs!.drains.find((x) => x.target === t && x.clients === clients);
      row.push(
        d ? `${int(d.handledPerSecond)}/s` : '',
        d && bare ? `${(d.handledPerSecond / bare.handledPerSecond).toFixed(2)}× bare` : '',
        d ? `${d.serverCpuMs.toFixed(2)} ms${db(t, d.dbCpuMs)} a request` : '',
      );
    }
    rows.push(row);
  }
  for (const queue of ['small', 'large'] as const) {
    const any = runs?.locks.find((l) => l.queue === queue);
    if (!any) continue;
    const handled = any.handled ? `, ${any.handled.toLocaleString('en')} handled` : '';
    const row = [`head lock of 25 read alone, queue of ${any.requests.toLocaleString('en')}${handled}`];
    for (const t of storages) {
      const l = runs!.locks.find((x) => x.target === t && x.queue === queue);
      const base = runs!.locks.find((x) => x.target === t && x.queue === 'small');
      row.push(
        l ? `${l.ms.toFixed(2)} ms` : '',
        l && base ? `${(l.ms / base.ms).toFixed(2)}× 1k queue` : '',
        l ? `${l.cpuMs.toFixed(2)} ms a lock and its unlock${t === 'postgres' ? ' (with db)' : ''}` : '',
      );
    }
    rows.push(row);
  }
  return table(header, rows);
}

const mark = (g: Goal) => (g.pass === undefined ? '—' : g.pass ? 'pass' : '**miss**');
out.push(
  table(
    ['goal', 'measured', ''],
    r.goals.map((g) => [g.goal, g.measured, mark(g)]),
  ),
);
console.log(out.join('\n\n'));
