import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The parts of a V8 `.cpuprofile` (as `node --cpu-prof` writes it) that self time needs. */
interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  name: string;
  /** Milliseconds sampled in the function itself. */
  ms: number;
  /** Share of the time the process was not idle. */
  share: number;
}

const shortUrl = (url: string) =>
  url
    .replace(/^file:\/\//, '')
    .replace(/^.*\/node_modules\//, '')
    .replace(/^.*\/dist\//, 'dist/');

/** Where a function comes from: a package, a node built-in module, an openkvs file, or V8 itself. */
function moduleOf(url: string, functionName: string): string {
  if (!url) return functionName;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg?.[1]) return pkg[1];
  if (url.startsWith('node:')) return url.replace(/^node:(internal\/)?/, 'node:').replace(/\/.*$/, '');
  return shortUrl(url);
}

const ranked = (m: Map<string, number>, busyMs: number, top: number): SelfTime[] =>
  [...m.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, ms]) => ({ name, ms, share: ms / busyMs }));

/** Self time by function and by module, biggest first, of the newest profile in `dir`; idle time left out. */
export function topSelfTime(dir: string, top = 15): { file: string; busyMs: number; functions: SelfTime[]; modules: SelfTime[] } {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .sort();
  const file = files[files.length - 1];
  if (!file) throw new Error(`no .cpuprofile in ${dir}`);
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
  const nameOf = new Map<number, { fn: string; module: string }>();
  for (const n of profile.nodes) {
    const f = n.callFrame;
    const fn = f.url ? `${f.functionName || '(anonymous)'} ${shortUrl(f.url)}:${f.lineNumber + 1}` : f.functionName;
    nameOf.set(n.id, { fn, module: moduleOf(f.url, f.functionName) });
  }
  const byFunction = new Map<string, number>();
  const byModule = new Map<string, number>();
  const add = (m: Map<string, number>, k: string, ms: number) => m.set(k, (m.get(k) ?? 0) + ms);
  profile.samples.forEach((id, i) => {
    const name = nameOf.get(id) ?? { fn: '?', module: '?' };
    if (name.fn === '(idle)') return;
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    add(byFunction, name.fn, ms);
    add(byModule, name.module, ms);
  });
  const busyMs = [...byFunction.values()].reduce((a, b) => a + b, 0);
  return {
    file: join(dir, file),
    busyMs,
    functions: ranked(byFunction, busyMs, top),
    modules: ranked(byModule, busyMs, top),
  };
}

export function printSelfTime(title: string, t: ReturnType<typeof topSelfTime>): void {
  console.log(`\n${title}: ${(t.busyMs / 1000).toFixed(1)} s busy (${t.file})`);
  const line = (f: SelfTime) =>
    console.log(`  ${(f.share * 100).toFixed(1).padStart(5)}%  ${f.ms.toFixed(0).padStart(7)} ms  ${f.name}`);
  t.functions.forEach(line);
  console.log('  by module:');
  t.modules.forEach(line);
}
