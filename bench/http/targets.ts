import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Cluster, startCluster } from '../../test/setup/postgres-cluster.js';
import { findPostmaster } from './cpu.js';
import type { OperationName } from './operations.js';
import { postgresSeeder, type Seeder, sqliteSeeder } from './seed.js';
import { Api, type BenchStores, createBenchStores, type StoreNeeds } from './stores.js';

export const TARGET_NAMES = [
  'bare',
  'fastify',
  'sqlite',
  'postgres',
  'sqlite-fsync',
  'sqlite-workers-2',
  'sqlite-workers-auto',
] as const;
export type TargetName = (typeof TARGET_NAMES)[number];
/** The baselines: servers that answer every request with openkvs's captured bytes. */
export type BaselineName = 'bare' | 'fastify';
export const isBaseline = (t: TargetName): t is BaselineName => t === 'bare' || t === 'fastify';
export const TARGET_LABELS: Record<TargetName, string> = {
  bare: 'bare node:http',
  fastify: 'Fastify alone',
  sqlite: 'openkvs SQLite',
  postgres: 'openkvs PostgreSQL',
  'sqlite-fsync': 'SQLite --durability fsync',
  'sqlite-workers-2': 'SQLite --workers 2',
  'sqlite-workers-auto': 'SQLite --workers auto',
};
/** What `--durability fsync` is measured on: writes (the flag changes nothing else). */
export const FSYNC_OPS: readonly OperationName[] = ['put-new', 'put-existing'];
/** The `--workers` flag of each target that sets it (the `sqlite` target is `--workers 1`, the default). */
export const WORKER_TARGETS: Partial<Record<TargetName, string>> = { 'sqlite-workers-2': '2', 'sqlite-workers-auto': 'auto' };
/** What the targets with several workers are measured on: reads, which scale with the cores (writes share one SQLite writer). */
export const WORKERS_OPS: readonly OperationName[] = ['get'];
/** Whether a target runs only some operations and so needs none of the large stores. */
export const isPartialTarget = (t: TargetName) => t === 'sqlite-fsync' || WORKER_TARGETS[t] !== undefined;

/** Whether the built `openkvs serve` has `flag` (a build from before it was added does not). */
export function hasServeFlag(flag: string): boolean {
  if (!existsSync(CLI)) return false;
  const help = spawnSync(process.execPath, [CLI, 'serve', '--help'], { encoding: 'utf8' });
  return new RegExp(`${flag}\\b`).test(help.stdout ?? '');
}

/** A server under load, in a process of its own. */
export interface Target {
  name: TargetName;
  origin: string;
  /** The server's process. */
  pid: number;
  /** The database's own processes (PostgreSQL's postmaster), when it has any. */
  dbPid?: number;
  /** openkvs only: the stores, a client, and how to write the keys of a DELETE run. */
  openkvs?: { stores: BenchStores; api: Api; seed: Seeder };
  stop(): Promise<void>;
}

/** This file runs as dist-bench/bench/http/targets.js. */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI = join(ROOT, 'dist', 'bin', 'openkvs.js');
const CLI_MODULES = join(ROOT, 'dist', 'cli', 'index.js');
const BASELINE_SERVERS: Record<BaselineName, string> = {
  bare: fileURLToPath(new URL('./bare-server.js', import.meta.url)),
  fastify: fileURLToPath(new URL('./fastify-server.js', import.meta.url)),
};

export interface Server {
  child: ChildProcess;
  origin: string;
  stop(): Promise<void>;
}

/** Starts `node args…` and waits for the line naming the address it listens on. */
export function spawnServer(label: string, args: string[]): Promise<Server> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const keep = (d: Buffer) => {
    output.push(...d.toString().split('\n').filter(Boolean));
    output.splice(0, Math.max(0, output.length - 30));
  };
  child.stderr?.on('data', keep);
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`${label} did not start within 60 s: ${output.join(' | ')}`));
    }, 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${label} exited with ${code} before listening: ${output.join(' | ')}`));
    });
    child.stdout?.on('data', (d: Buffer) => {
      keep(d);
      const m = /listening on (http:\/\/\S+)/.exec(d.toString());
      if (m?.[1]) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        child.once('exit', (code, signal) => {
          if (code !== 0 && signal !== 'SIGKILL') console.error(`${label} exited (${code ?? signal}): ${output.join(' | ')}`);
        });
        resolve({ child, origin: m[1], stop });
      }
    });
  });
}

/** A baseline (bare node:http, or Fastify alone), answering with the responses in `responsesFile`. */
export async function startBaseline(name: BaselineName, responsesFile: string): Promise<Target> {
  const server = await spawnServer(TARGET_LABELS[name], [BASELINE_SERVERS[name], responsesFile]);
  return { name, origin: server.origin, pid: server.child.pid!, stop: server.stop };
}

export interface OpenkvsOptions {
  token: string;
  /** Where the SQLite file goes. */
  dir: string;
  /** A directory for `node --cpu-prof`, or undefined for no profiling. */
  cpuProfDir?: string;
  /** The larger key stores and the 9 MB record, when the run reads them. */
  needs: Omit<StoreNeeds, 'seed'>;
  /** Run the unbundled modules of `dist/` (profiles then name each file) instead of the bundle. */
  modules?: boolean;
  /** `--log-level` (default `warn`: no request log). */
  logLevel?: string;
}

/**
 * openkvs from the built CLI (`dist/`), on SQLite in `dir` (with `--durability fsync` for
 * `sqlite-fsync`) or on a throwaway PostgreSQL cluster.
 */
export async function startOpenkvs(name: Exclude<TargetName, BaselineName>, o: OpenkvsOptions): Promise<Target> {
  if (!existsSync(CLI)) throw new Error(`${CLI} not found; build openkvs first: npm run build`);
  let cluster: Cluster | undefined;
  let storage: string;
  let seeder: { seed: Seeder; settle?: () => Promise<void>; close?: () => Promise<void> };
  let dbPid: number | undefined;
  const extra: string[] = [];
  if (name !== 'postgres') {
    const file = join(o.dir, `openkvs-${name}.sqlite`);
    storage = `sqlite:${file}`;
    seeder = { seed: sqliteSeeder(file) };
    if (name === 'sqlite-fsync') extra.push('--durability', 'fsync');
    const workers = WORKER_TARGETS[name];
    if (workers) extra.push('--workers', workers);
  } else {
    cluster = await startCluster();
    storage = cluster.url;
    extra.push('--pg-pool-size', '10');
    seeder = postgresSeeder(cluster.url);
    dbPid = findPostmaster(Number(new URL(cluster.url).port));
  }
  const profile = o.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${join(o.cpuProfDir, name)}`] : [];
  const args = [...profile, o.modules ? CLI_MODULES : CLI, 'serve', '--host', '127.0.0.1', '--port', '0', '--storage', storage];
  args.push('--admin-token', o.token, '--log-level', o.logLevel ?? 'warn', ...extra);
  let server: Server | undefined;
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      await server?.stop();
      await seeder.close?.();
      await cluster?.stop();
    })();
    return stopping;
  };
  try {
    server = await spawnServer(TARGET_LABELS[name], args);
    const api = new Api(server.origin, o.token);
    const stores = await createBenchStores(api, { ...o.needs, seed: seeder.seed, settle: seeder.settle });
    return { name, origin: server.origin, pid: server.child.pid!, dbPid, openkvs: { stores, api, seed: seeder.seed }, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
