import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { createServer } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { CLI } from '../http/targets.js';
import { median } from '../measure.js';
import { startDatabase } from './database.js';

/**
 * What is started: a bare node:http server, openkvs on a nearly empty database, openkvs on the 1 GB
 * one, and the same without its code cache (as a first start would be without the one `npm run
 * build` writes).
 */
export const START_CASES = ['node', 'empty', '1gb', '1gb-uncached'] as const;
export type StartCase = (typeof START_CASES)[number];
export const START_LABELS: Record<StartCase, string> = {
  node: 'bare node:http (node itself)',
  empty: 'openkvs, empty database',
  '1gb': 'openkvs, 1 GB database',
  '1gb-uncached': 'openkvs, 1 GB database, no code cache',
};

export interface StartResult {
  database: { bytes: number; records: number; largeRecords: number };
  rounds: number;
  /** Milliseconds from spawn to the first 200 from GET /health, per case: median, spread, every start. */
  cases: Record<StartCase, { ms: number; spread: [number, number]; starts: number[] }>;
}

/** The bare baseline: node starting an http server that answers /health. */
const BARE = `require('node:http').createServer((q, s) => s.end('{"status":"ok"}')).listen(Number(process.argv[1]), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));`;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** Whether GET /health answers 200 now. */
function healthy(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    get({ host: '127.0.0.1', port, path: '/health', agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    }).on('error', () => resolve(false));
  });
}

/** Spawns `args`, polls /health every 2 ms, and stops the process; milliseconds from spawn to the first 200. */
async function timeStart(args: string[], port: number, env: NodeJS.ProcessEnv): Promise<number> {
  const start = process.hrtime.bigint();
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise((r) => child.once('exit', r));
  try {
    for (;;) {
      if (await healthy(port)) return Number(process.hrtime.bigint() - start) / 1e6;
      if (child.exitCode !== null) throw new Error(`${args.join(' ')} exited with ${child.exitCode}: ${stderr.slice(0, 500)}`);
      if (process.hrtime.bigint() - start > 60_000_000_000n) throw new Error(`${args.join(' ')}: no /health within 60 s`);
      await new Promise((r) => setTimeout(r, 2));
    }
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

/**
 * Start to `/health`: `openkvs serve --storage <file> --port <p>` (as an operator starts it) on the
 * 1 GB database and on a nearly empty one, beside node starting a bare http server. One untimed
 * start of each first (migrations, the page cache), then `rounds` alternating timed starts.
 */
export async function measureStarts(rounds: number, rebuild: boolean): Promise<StartResult> {
  const db = await startDatabase(rebuild);
  const dir = mkdtempSync(join(os.tmpdir(), 'openkvs-bench-start-'));
  try {
    const args = async (c: StartCase): Promise<{ args: string[]; port: number; env: NodeJS.ProcessEnv }> => {
      const port = await freePort();
      const env = c === '1gb-uncached' ? { ...process.env, NODE_DISABLE_COMPILE_CACHE: '1' } : process.env;
      if (c === 'node') return { args: ['-e', BARE, String(port)], port, env };
      const storage = c === 'empty' ? `sqlite:${join(dir, 'empty.sqlite')}` : `sqlite:${db.file}`;
      return { args: [CLI, 'serve', '--storage', storage, '--port', String(port), '--log-level', 'warn'], port, env };
    };
    const starts = Object.fromEntries(START_CASES.map((c) => [c, [] as number[]])) as Record<StartCase, number[]>;
    for (let r = -1; r < rounds; r++) {
      const order = START_CASES.map((_, i) => START_CASES[(i + Math.max(r, 0)) % START_CASES.length]!);
      for (const c of order) {
        const a = await args(c);
        const ms = await timeStart(a.args, a.port, a.env);
        if (r >= 0) starts[c].push(ms);
      }
    }
    const cases = Object.fromEntries(
      START_CASES.map((c) => [
        c,
        { ms: median(starts[c]), spread: [Math.min(...starts[c]), Math.max(...starts[c])], starts: starts[c] },
      ]),
    ) as StartResult['cases'];
    console.log(
      `\nStart to GET /health 200 (medians of ${rounds} starts; the 1 GB database: ${(db.bytes / 1024 ** 3).toFixed(2)} GB)`,
    );
    for (const c of START_CASES) {
      const s = cases[c];
      console.log(
        `  ${START_LABELS[c].padEnd(40)} ${s.ms.toFixed(0).padStart(5)} ms  (${s.spread[0].toFixed(0)}–${s.spread[1].toFixed(0)})`,
      );
    }
    return { database: { bytes: db.bytes, records: db.records, largeRecords: db.largeRecords }, rounds, cases };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
