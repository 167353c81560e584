import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** What one load run measured. */
export interface LoadResult {
  requests: number;
  seconds: number;
  rps: number;
  /** Connection errors, timeouts and responses with a status of 400 or more. */
  errors: number;
  latencyUs: { p50: number; p99: number };
  /** CPU seconds the load generator itself used. */
  generatorCpu: number;
}

export interface LoadOptions {
  connections: number;
  threads: number;
  seconds: number;
}

/** The first line a tool prints about its version (wrk exits 1 after printing it), or undefined if absent. */
function toolVersion(cmd: string, args: string[]): string | undefined {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) return undefined;
  return `${r.stdout}${r.stderr}`.split('\n')[0]?.trim();
}

/** The versions of the load generators; throws with a one-line install hint when one is missing. */
export function checkTools(needAb: boolean): { wrk: string; ab?: string } {
  const wrk = toolVersion('wrk', ['-v']);
  if (!wrk) throw new Error('wrk not found; install it with: apt-get install -y wrk');
  if (!needAb) return { wrk };
  const ab = toolVersion('ab', ['-V']);
  if (!ab) throw new Error('ab (for HEAD) not found; install it with: apt-get install -y apache2-utils');
  return { wrk, ab };
}

/**
 * Runs a command under `sh` followed by `times`, whose second line is the CPU time of the shell's
 * children: the generator's own CPU use, exactly, without sampling /proc while it runs.
 */
function runTimed(cmd: string, args: string[]): Promise<{ stdout: string; cpu: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', `"$0" "$@"; rc=$?; times >&2; exit $rc`, cmd, ...args], { stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const lines = stderr.trim().split('\n');
      const times = [...(lines[lines.length - 1] ?? '').matchAll(/(\d+)m([\d.]+)s/g)];
      const cpu = times.reduce((sum, m) => sum + Number(m[1]) * 60 + Number(m[2]), 0);
      if (code !== 0) reject(new Error(`${cmd} exited with ${code}: ${stderr.trim().split('\n').slice(0, -2).join(' ')}`));
      else resolve({ stdout, cpu });
    });
  });
}

/** One wrk run of `script` (written to `dir`) against `origin`. */
export async function runWrk(origin: string, script: string, dir: string, o: LoadOptions): Promise<LoadResult> {
  const file = join(dir, 'run.lua');
  writeFileSync(file, script);
  const args = ['-t', String(o.threads), '-c', String(o.connections), '-d', `${o.seconds}s`, '--timeout', '10s', '-s', file];
  const { stdout, cpu } = await runTimed('wrk', [...args, `${origin}/`]);
  const line = stdout.split('\n').find((l) => l.startsWith('@@wrk '));
  if (!line) throw new Error(`wrk printed no result: ${stdout.slice(0, 500)}`);
  const r = JSON.parse(line.slice(6)) as Record<string, number>;
  const n = (k: string) => r[k] ?? 0;
  const seconds = n('durationUs') / 1e6;
  return {
    requests: n('requests'),
    seconds,
    rps: n('requests') / seconds,
    errors: n('connect') + n('read') + n('write') + n('status') + n('timeout'),
    latencyUs: { p50: n('p50Us'), p99: n('p99Us') },
    generatorCpu: cpu,
  };
}

/** One ab run of HEAD `url` (ab -i), keep-alive, with the given headers. */
export async function runAbHead(url: string, headers: string[], o: LoadOptions): Promise<LoadResult> {
  // -t implies -n 50000, so -n comes after it; ab allocates -n slots up front, so no more than needed.
  const max = Math.max(1_000_000, o.seconds * 100_000);
  const args = ['-k', '-i', '-q', '-c', String(o.connections), '-t', String(o.seconds), '-n', String(max)];
  for (const h of headers) args.push('-H', h);
  const { stdout, cpu } = await runTimed('ab', [...args, url]);
  const num = (re: RegExp) => Number(re.exec(stdout)?.[1] ?? 0);
  const requests = num(/^Complete requests:\s+(\d+)/m);
  const seconds = num(/^Time taken for tests:\s+([\d.]+)/m);
  if (requests === 0) throw new Error(`ab completed no request: ${stdout.slice(0, 500)}`);
  if (num(/^Keep-Alive requests:\s+(\d+)/m) < requests) throw new Error('ab: the server closed keep-alive connections');
  return {
    requests,
    seconds,
    rps: requests / seconds,
    errors: num(/^Failed requests:\s+(\d+)/m) + num(/^Non-2xx responses:\s+(\d+)/m),
    // ab reports whole milliseconds.
    latencyUs: { p50: num(/^\s+50%\s+(\d+)/m) * 1000, p99: num(/^\s+99%\s+(\d+)/m) * 1000 },
    generatorCpu: cpu,
  };
}
