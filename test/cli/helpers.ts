import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

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

/** A port nobody listens on right now (the kernel picks it). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen({ host, port: 0, exclusive: true }, () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Listens on host:port (0: any free port) without answering, so that nobody else can take the
 * port while a test relies on it being unused by the server. Closed by `cleanupAll`.
 */
export async function holdPort(host = '127.0.0.1', port = 0): Promise<number> {
  const srv = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen({ host, port, exclusive: true }, resolve);
  });
  cleanups.push(() => new Promise<void>((resolve) => srv.close(() => resolve())));
  const address = srv.address();
  return typeof address === 'object' && address ? address.port : 0;
}

/** Whether something already listens on host:port. */
export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
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

/** Runs `openkvs …args` to completion (killed after `timeoutMs`, which then shows as `signal`). */
export function runCli(args: string[], options: RunOptions): Promise<RunResult> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd, env: cleanEnv(options.env), stdio: 'pipe' });
  child.stdin.end();
  const io = collect(child);
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 15_000);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: io.out(), stderr: io.err() });
    });
  });
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
  readonly origin: string;
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
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`openkvs did not answer /health within ${timeoutMs} ms:\n${this.output()}`);
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
  if (options.wait !== false) await server.waitHealthy();
  return server;
}

/** Generated-token candidates: runs of 32+ token characters on output lines that contain the word "token". */
export function printedTokens(output: string): string[] {
  const found = new Set<string>();
  for (const line of output.split('\n')) {
    if (!/\btoken\b/i.test(line)) continue;
    for (const m of line.matchAll(/(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{32,}(?![A-Za-z0-9_-])/g)) found.add(m[0]);
  }
  return [...found];
}

/** The last non-empty line of an output. */
export function lastLine(output: string): string {
  const lines = output.split('\n').filter((l) => l.trim() !== '');
  return (lines[lines.length - 1] ?? '').trim();
}
