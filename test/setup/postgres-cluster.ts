import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from '../helpers/time.js';

/** Where Debian puts PostgreSQL's server programs, newest first, then PATH. */
function findBinDir(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (existsSync(base)) {
    const versions = readdirSync(base).sort((a, b) => Number(b) - Number(a));
    for (const v of versions) if (existsSync(join(base, v, 'bin', 'initdb'))) return join(base, v, 'bin');
  }
  try {
    const initdb = execFileSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' }).trim();
    return initdb ? join(initdb, '..') : undefined;
  } catch {
    return undefined;
  }
}

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

export interface Cluster {
  url: string;
  /** Stops the server and removes its files. */
  stop(): Promise<void>;
  /** Stops the server (fast shutdown) and keeps its files, as an operator's restart or a crash would. */
  stopServer(): Promise<void>;
  /** Starts the stopped server again on the same port and data; resolves once it accepts connections. */
  startServer(): Promise<void>;
}

/**
 * A throwaway PostgreSQL cluster (initdb + pg_ctl on a temporary directory and a free port). As
 * root, the server runs as the `postgres` user, as PostgreSQL requires.
 */
export async function startCluster(): Promise<Cluster> {
  const bin = findBinDir();
  if (!bin) {
    throw new Error('PostgreSQL server programs not found (initdb); install them with: apt-get install -y postgresql');
  }
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'openkvs-pg-'));
  const data = join(dir, 'data');
  const run = (cmd: string, args: string[]) =>
    asRoot
      ? execFileSync('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args], { stdio: 'pipe' })
      : execFileSync(join(bin, cmd), args, { stdio: 'pipe' });
  if (asRoot) execFileSync('chown', ['postgres', dir]);
  run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C']);
  const port = await freePort();
  const args = ['-D', data, '-p', String(port), '-k', dir, '-h', '127.0.0.1', '-c', 'fsync=off', '-c', 'max_connections=300'];
  const spawnServer = async (): Promise<ChildProcess> => {
    const child = asRoot
      ? spawn('runuser', ['-u', 'postgres', '--', join(bin, 'postgres'), ...args], { stdio: 'ignore' })
      : spawn(join(bin, 'postgres'), args, { stdio: 'ignore' });
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        execFileSync(join(bin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port)], { stdio: 'pipe' });
        return child;
      } catch {
        if (child.exitCode !== null) throw new Error(`the throwaway PostgreSQL server exited (${child.exitCode}) at start`);
        if (Date.now() > deadline) throw new Error('the throwaway PostgreSQL cluster did not start within 30 s');
        await sleep(100);
      }
    }
  };
  const stopServer = async (child: ChildProcess): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    try {
      run('pg_ctl', ['stop', '-D', data, '-m', 'fast', '-w']);
    } catch {
      child.kill('SIGKILL');
    }
    await exited;
  };
  let server: ChildProcess | undefined = await spawnServer();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  return {
    url,
    async stop() {
      if (server) await stopServer(server);
      server = undefined;
      rmSync(dir, { recursive: true, force: true });
    },
    async stopServer() {
      if (server) await stopServer(server);
      server = undefined;
    },
    async startServer() {
      server ??= await spawnServer();
    },
  };
}
