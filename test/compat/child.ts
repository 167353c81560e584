import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type RunResult, runNode } from '../helpers/cli.js';

export type ScriptResult = RunResult;

/** A script under test/compat/fixtures/. */
export const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

/**
 * The environment a child gets: the test's own, minus every Apify/Crawlee variable (so that a
 * developer's `APIFY_TOKEN` never leaks in and nothing reaches api.apify.com), plus `extra`.
 * Requests to 127.0.0.1 never go through an HTTP proxy the machine may have configured.
 */
export function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(APIFY_|ACTOR_|CRAWLEE_)/.test(k)) env[k] = v;
  const noProxy = ['127.0.0.1', 'localhost', env.NO_PROXY].filter(Boolean).join(',');
  return { ...env, NO_PROXY: noProxy, no_proxy: noProxy, ...extra };
}

/**
 * Runs `node <script>` to completion in an empty temporary folder (where Crawlee's local storage,
 * if any, lands and is removed afterwards); killed after `timeoutMs`.
 */
export async function runScript(script: string, env: Record<string, string>, timeoutMs = 60_000): Promise<ScriptResult> {
  const cwd = mkdtempSync(join(tmpdir(), 'openkvs-compat-run-'));
  try {
    return await runNode([script], { cwd, env: childEnv({ CRAWLEE_STORAGE_DIR: join(cwd, 'storage'), ...env }), timeoutMs });
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}

/** A script started by `startScript`, running until it ends or is killed. */
export interface RunningScript {
  kill(signal: NodeJS.Signals): void;
  /** Resolves when it has ended (its folder removed), however it ended. */
  done: Promise<ScriptResult>;
}

/**
 * Starts `node <script>` like `runScript`, but hands it back while it runs, so that a test can
 * kill it at a moment of its choosing; `cwd` is where Crawlee's local storage lands.
 */
export function startScript(script: string, env: Record<string, string>): RunningScript {
  const cwd = mkdtempSync(join(tmpdir(), 'openkvs-compat-run-'));
  const child = spawn(process.execPath, [script], {
    cwd,
    env: childEnv({ CRAWLEE_STORAGE_DIR: join(cwd, 'storage'), ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    stdout += s;
  });
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
  });
  const done = new Promise<ScriptResult>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  }).finally(() => rmSync(cwd, { recursive: true, force: true }));
  return { kill: (signal) => child.kill(signal), done };
}

/** The JSON a fixture prints on a line of its own starting with `RESULT `. */
export function resultOf(run: ScriptResult): unknown {
  const line = run.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (!line) throw new Error(`no RESULT line (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
  return JSON.parse(line.slice('RESULT '.length));
}
