import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BIN, cleanEnv, ensureBuilt } from '../cli/helpers.js';

/**
 * A real openkvs for the client compatibility tests: the built `openkvs serve` command on a free
 * port with its own SQLite file, started the way the README tells a new user to.
 */
export interface CompatServer {
  /** `http://127.0.0.1:<port>`, also the public URL the server signs links with. */
  origin: string;
  /** The token of a user created before the start. */
  token(user: string): string;
  close(): Promise<void>;
}

const run = promisify(execFile);

/** The token that `openkvs users create <name>` prints as its last line. */
async function createUser(storage: string, name: string, cwd: string): Promise<string> {
  const { stdout } = await run(process.execPath, [BIN, 'users', 'create', name, '--storage', storage], { cwd, env: cleanEnv() });
  const token = stdout.trim().split('\n').pop() ?? '';
  if (!/^\S{20,}$/.test(token)) throw new Error(`unexpected output of users create:\n${stdout}`);
  return token;
}

function waitListening(child: ChildProcess, output: () => string): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`openkvs did not start within 15 s:\n${output()}`)), 15_000);
    child.stdout?.on('data', () => {
      const match = /openkvs listening on (http:\/\/\S+)/.exec(output());
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`openkvs exited with ${code} before listening:\n${output()}`));
    });
  });
}

/** Starts `openkvs serve --port 0` after creating `users` (one `openkvs users create` each). */
export async function startOpenkvs(users: string[] = ['alice']): Promise<CompatServer> {
  ensureBuilt();
  const dir = mkdtempSync(join(tmpdir(), 'openkvs-compat-'));
  const storage = `sqlite:${join(dir, 'openkvs.sqlite')}`;
  const tokens: Record<string, string> = {};
  for (const name of users) tokens[name] = await createUser(storage, name, dir);
  // A known admin token, so that the server prints none (the tests do not use admin).
  const adminToken = `okvs_admin_${randomBytes(16).toString('hex')}`;
  const args = ['serve', '--port', '0', '--storage', storage, '--admin-token', adminToken, '--log-level', 'warn'];
  const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    out += s;
  });
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    out += s;
  });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const origin = await waitListening(child, () => out);
    const token = (user: string) => {
      const found = tokens[user];
      if (!found) throw new Error(`no user ${user} was created for this server`);
      return found;
    };
    return { origin, token, close: stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
