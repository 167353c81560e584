import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBuilt, runCli, type ServeProcess, startServe } from '../helpers/cli.js';
import { freshSchema } from '../helpers/postgres.js';

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

/** The token that `openkvs users create <name>` prints as its last line. */
async function createUser(storage: string, name: string, cwd: string): Promise<string> {
  const created = await runCli(['users', 'create', name, '--storage', storage], { cwd });
  const token = created.stdout.trim().split('\n').pop() ?? '';
  if (created.code !== 0 || !/^\S{20,}$/.test(token))
    throw new Error(`unexpected output of users create (exit ${created.code}):\n${created.stdout}${created.stderr}`);
  return token;
}

/**
 * Starts `openkvs serve --port 0` after creating `users` (one `openkvs users create` each), on
 * SQLite, or on a fresh schema of the run's PostgreSQL with OPENKVS_TEST_DRIVER=postgres.
 */
export async function startOpenkvs(users: string[] = ['alice']): Promise<CompatServer> {
  ensureBuilt();
  const dir = mkdtempSync(join(tmpdir(), 'openkvs-compat-'));
  const schema = process.env.OPENKVS_TEST_DRIVER === 'postgres' ? await freshSchema() : undefined;
  const storage = schema?.url ?? `sqlite:${join(dir, 'openkvs.sqlite')}`;
  const tokens: Record<string, string> = {};
  const remove = async () => {
    rmSync(dir, { recursive: true, force: true });
    await schema?.drop();
  };
  let server: ServeProcess;
  try {
    for (const name of users) tokens[name] = await createUser(storage, name, dir);
    // A known admin token, so that the server prints none (the tests do not use admin).
    const adminToken = `okvs_admin_${randomBytes(16).toString('hex')}`;
    const args = ['--port', '0', '--storage', storage, '--admin-token', adminToken, '--log-level', 'warn'];
    server = await startServe(args, { cwd: dir, port: 0, wait: false });
  } catch (err) {
    await remove();
    throw err;
  }
  const token = (user: string) => {
    const found = tokens[user];
    if (!found) throw new Error(`no user ${user} was created for this server`);
    return found;
  };
  const close = async () => {
    await server.stop('SIGTERM');
    await remove();
  };
  return { origin: server.origin, token, close };
}
