import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { median } from '../measure.js';
import { PEER_LABELS, PEER_NAMES, PEER_OPS, type PeerName, type PeerOp, type PeerRun, type PeerSettings } from './types.js';

export interface PeerSummary {
  peer: PeerName;
  op: PeerOp;
  concurrency: number;
  /** Median operations per second over the rounds. */
  rate: number;
  spread: [number, number];
}

export interface PeerResult {
  settings: PeerSettings;
  summaries: PeerSummary[];
  /** Per operation, the best peer at its best concurrency: the baseline of the ×10 goal. */
  best: Record<PeerOp, PeerSummary>;
  runs: PeerRun[];
}

const WORKER = fileURLToPath(new URL('./worker.js', import.meta.url));

/** Runs the peers in a process of their own and sums up their rounds. */
export async function runPeers(settings: PeerSettings): Promise<PeerResult> {
  const stdout = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, [WORKER, JSON.stringify(settings)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`the peers' process exited with ${code}`))));
  });
  const line = stdout.split('\n').find((l) => l.startsWith('@@peers '));
  if (!line) throw new Error(`the peers' process printed no result: ${stdout.slice(0, 500)}`);
  const runs = JSON.parse(line.slice(8)) as PeerRun[];
  const summaries: PeerSummary[] = [];
  for (const op of PEER_OPS) {
    for (const peer of PEER_NAMES) {
      for (const concurrency of settings.concurrency) {
        const rates = runs
          .filter((r) => r.round >= 0 && r.op === op && r.peer === peer && r.concurrency === concurrency)
          .map((r) => r.rate);
        summaries.push({ peer, op, concurrency, rate: median(rates), spread: [Math.min(...rates), Math.max(...rates)] });
      }
    }
  }
  const best = Object.fromEntries(
    PEER_OPS.map((op) => [op, summaries.filter((s) => s.op === op).reduce((a, b) => (b.rate > a.rate ? b : a))]),
  ) as Record<PeerOp, PeerSummary>;
  console.log(`\nPeers in process (medians of ${settings.rounds} rounds of ${settings.seconds} s; operations per second)`);
  for (const s of summaries) {
    console.log(
      `  ${PEER_LABELS[s.peer].padEnd(24)} ${s.op.padEnd(5)} ${String(s.concurrency).padStart(2)} in flight` +
        `  ${Math.round(s.rate).toLocaleString('en').padStart(8)}/s  (${Math.round(s.spread[0])}–${Math.round(s.spread[1])})` +
        (best[s.op] === s ? '  best' : ''),
    );
  }
  return { settings, summaries, best, runs };
}
