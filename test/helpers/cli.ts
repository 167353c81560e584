import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep } from './time.js';

/**
 * The one way tests start the built `openkvs` command: run to completion (`runCli`, `runNode`)
 * or served (`startServe`), with the processes and folders they leave removed by `cleanupAll`.
 * Used by the CLI, multi-node and client compatibility tests.
 */

/** The project root and the built command (what `npm install -g` would put on the PATH). */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = join(ROOT, 'dist', 'bin', 'openkvs.js');

/**
 * Builds `dist/` when it is missing (a bare `vitest run` on a fresh clone). `npm test` builds in
 * `pretest`, so this is normally a no-op. Test files run in parallel, so one builds and the others wait.
 */
export function ensureBuilt(): void {
  if (existsSync(BIN)) return;
  const lock = join(ROOT, 'dist.build-lock');
  try {
    mkdirSync(lock);
  } catch {
    const until = Date.now() + 45_000; // within vitest's 60 s hook timeout
    while (!existsSync(BIN) && existsSync(lock) && Date.now() < until)
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    if (existsSync(BIN)) return;
  }
  try {
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], {
      cwd: ROOT,
      stdio: 'inherit',
    });
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

const cleanups: (() => void | Promise<void>)[] = [];

/** Registers `fn` to run at `cleanupAll` (last registered, first run). */
export function onCleanup(fn: () => void | Promise<void>): void {
  cleanups.push(fn);
}

/** Stops every process and removes every folder the tests of this file started or made. */
export async function cleanupAll(): Promise<void> {
  for (const fn of cleanups.splice(0).reverse()) await fn();
}

/** A new empty folder, removed by `cleanupAll`. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'openkvs-cli-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The environment of the test run without any `OPENKVS_*` variable, plus `extra`. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OPENKVS_')) env[k] = v;
  return { ...env, ...extra };
}

export interface RunOptions {
  cwd: string;
  env?: Record<string, string>;
  timeoutMs?: number;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function collect(child: ChildProcess): { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => {
    out += s;
  });
  child.stderr?.setEncoding('utf8').on('data', (s: string) => {
    err += s;
  });
  return { out: () => out, err: () => err };
}

/**
 * Runs `node …args` with exactly `env` to completion (killed after `timeoutMs`, which then shows
 * as `signal`): the one way tests run a child to its end, the CLI or a client script.
 */
export function runNode(args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number }): Promise<RunResult> {
  const child = spawn(process.execPath, args, { cwd: options.cwd, env: options.env, stdio: 'pipe' });
  child.stdin.end();
  const io = collect(child);
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: io.out(), stderr: io.err() });
    });
  });
}

/** Runs `openkvs …args` to completion (killed after `timeoutMs`, default 15 s). */
export function runCli(args: string[], options: RunOptions): Promise<RunResult> {
  return runNode([BIN, ...args], { cwd: options.cwd, env: cleanEnv(options.env), timeoutMs: options.timeoutMs ?? 15_000 });
}

/**
 * The parts of Apify API bodies these tests read: `data` of a store, of a store list, or an error.
 * A field the response lacks is simply undefined at run time.
 */
export interface ApiJson {
  data: {
    id: string;
    name: string | null;
    keysPublicUrl: string;
    total: number;
    items: { id: string; name: string | null }[];
  };
  error: { type: string; message: string };
}

export interface HttpResult {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The body parsed as JSON (undefined when it is not JSON). */
  json: ApiJson;
}

export interface HttpOptions {
  method?: string;
  token?: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

/** One request on its own connection (no keep-alive, so that no socket outlives a server). */
export function http(url: string, options: HttpOptions = {}): Promise<HttpResult> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? 'GET', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        let json: ApiJson;
        try {
          json = JSON.parse(body.toString('utf8')) as ApiJson;
        } catch {
          json = undefined as unknown as ApiJson;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json });
      });
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** A running `openkvs serve` child process. */
export class ServeProcess {
  readonly child: ChildProcess;
  /** `http://host:port`; with `--port 0`, known once the server says where it listens. */
  origin: string;
  readonly #io: { out: () => string; err: () => string };
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  constructor(child: ChildProcess, origin: string) {
    this.child = child;
    this.origin = origin;
    this.#io = collect(child);
    this.exited = new Promise((resolve) => {
      child.once('close', (code, signal) => {
        this.#exit = { code, signal };
        resolve(this.#exit);
      });
    });
  }

  get stdout(): string {
    return this.#io.out();
  }

  get stderr(): string {
    return this.#io.err();
  }

  /** Resolves once `GET /health` answers 200; rejects if the process exits or `timeoutMs` passes first. */
  async waitHealthy(timeoutMs = 15_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      if (this.#exit)
        throw new Error(`openkvs exited (${JSON.stringify(this.#exit)}) before answering /health:\n${this.output()}`);
      const res = await http(`${this.origin}/health`).catch(() => undefined);
      if (res?.status === 200) return;
      await sleep(50);
    }
    throw new Error(`openkvs did not answer /health within ${timeoutMs} ms:\n${this.output()}`);
  }

  /**
   * Resolves with the first match of `pattern` in the standard output once it is printed;
   * rejects if the process exits or `timeoutMs` passes first.
   */
  waitOutput(pattern: RegExp, timeoutMs = 15_000): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const match = pattern.exec(this.stdout);
        if (match) finish(() => resolve(match));
        else if (this.#exit) finish(() => reject(new Error(`openkvs exited before printing ${pattern}:\n${this.output()}`)));
      };
      const timer = setTimeout(
        () => finish(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms:\n${this.output()}`))),
        timeoutMs,
      );
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        this.child.stdout?.off('data', check);
        this.child.off('close', check);
        settle();
      };
      this.child.stdout?.on('data', check);
      this.child.on('close', check);
      check();
    });
  }

  /** Sends `signal` and waits for the exit; returns how long the exit took. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
    const start = Date.now();
    if (!this.#exit) this.child.kill(signal);
    const result = await this.exited;
    return { ...result, ms: Date.now() - start };
  }

  output(): string {
    return `--- stdout ---\n${this.stdout}\n--- stderr ---\n${this.stderr}`;
  }
}

export interface ServeOptions {
  cwd: string;
  /** Where the test expects the server to listen. */
  host?: string;
  /** 0: the kernel picks one, read from the line the server prints once it listens. */
  port: number;
  env?: Record<string, string>;
  /** Wait for /health (default true). */
  wait?: boolean;
}

/** Spawns `openkvs serve …args` and (by default) waits until it answers /health on host:port. */
export async function startServe(args: string[], options: ServeOptions): Promise<ServeProcess> {
  const child = spawn(process.execPath, [BIN, 'serve', ...args], { cwd: options.cwd, env: cleanEnv(options.env), stdio: 'pipe' });
  child.stdin?.end();
  const server = new ServeProcess(child, `http://${options.host ?? '127.0.0.1'}:${options.port}`);
  cleanups.push(async () => {
    if (server.child.exitCode === null && server.child.signalCode === null) {
      server.child.kill('SIGKILL');
      await server.exited;
    }
  });
  if (options.port === 0) server.origin = (await server.waitOutput(/openkvs listening on (http:\/\/\S+)/))[1]!;
  if (options.wait !== false) await server.waitHealthy();
  return server;
}
