import { createServer } from 'node:net';
import { onCleanup } from '../helpers/cli.js';

export {
  type ApiJson,
  BIN,
  cleanEnv,
  cleanupAll,
  ensureBuilt,
  type HttpOptions,
  type HttpResult,
  http,
  ROOT,
  type RunOptions,
  type RunResult,
  runCli,
  type ServeOptions,
  ServeProcess,
  startServe,
  tempDir,
} from '../helpers/cli.js';

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
  onCleanup(() => new Promise<void>((resolve) => srv.close(() => resolve())));
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
