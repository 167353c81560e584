import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time from /proc (Linux): on a 2-core machine the server, the database and the load
 * generator share the cores, so each run records who used how much.
 */

const TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

interface ProcStat {
  ppid: number;
  /** user + system, seconds. */
  cpu: number;
}

function procStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses; the fields after it may not.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), cpu: (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND };
  } catch {
    return undefined;
  }
}

function allPids(): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number);
}

/** `root` and every process below it. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const pid of allPids()) {
    const ppid = procStat(pid)?.ppid;
    if (ppid !== undefined) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  }
  const tree: number[] = [];
  const walk = (pid: number) => {
    tree.push(pid);
    for (const c of children.get(pid) ?? []) walk(c);
  };
  walk(root);
  return tree;
}

/** CPU seconds used so far by the processes of the tree under `root` (those alive now). */
export function treeCpuSeconds(root: number | undefined): number {
  if (root === undefined) return 0;
  return processTree(root).reduce((sum, pid) => sum + (procStat(pid)?.cpu ?? 0), 0);
}

/** The postmaster of the PostgreSQL cluster listening on `port`, found by its command line. */
export function findPostmaster(port: number): number | undefined {
  for (const pid of allPids()) {
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (!argv[0]?.endsWith('/postgres')) continue;
    const p = argv.indexOf('-p');
    if (p !== -1 && argv[p + 1] === String(port)) return pid;
  }
  return undefined;
}

/** Busy and total CPU seconds of the whole machine since boot (all cores added up). */
export function machineCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const ticks = line.trim().split(/\s+/).slice(1).map(Number);
  const total = ticks.reduce((a, b) => a + b, 0);
  // idle and iowait
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
  return { busy: (total - idle) / TICKS_PER_SECOND, total: total / TICKS_PER_SECOND };
}

/** CPU seconds used while `fn` ran: by the server's processes, the database's, and the whole machine. */
export async function measureCpu<T>(
  t: { pid: number; dbPid?: number },
  fn: () => Promise<T>,
): Promise<{ result: T; cpu: { server: number; db: number; machine: number } }> {
  const server = treeCpuSeconds(t.pid);
  const db = treeCpuSeconds(t.dbPid);
  const machine = machineCpu().busy;
  const result = await fn();
  return {
    result,
    cpu: {
      server: treeCpuSeconds(t.pid) - server,
      db: treeCpuSeconds(t.dbPid) - db,
      machine: machineCpu().busy - machine,
    },
  };
}

/**
 * Waits until the machine has been nearly idle for half a second (other work shares the two
 * cores with the run), at most `maxMs`; returns the milliseconds waited.
 */
export async function waitForQuiet(maxCores: number, maxMs: number): Promise<number> {
  if (maxMs <= 0) return 0;
  const start = Date.now();
  for (;;) {
    const before = machineCpu();
    await new Promise((r) => setTimeout(r, 500));
    const after = machineCpu();
    const cores = (after.busy - before.busy) / 0.5;
    if (cores <= maxCores || Date.now() - start >= maxMs) return Date.now() - start;
  }
}
