import type { ServeProcess } from './helpers.js';

/** A JSON log line of `openkvs serve`, as far as these tests read it. */
export interface LogLine {
  msg: string;
  pid: number;
  /** The worker that wrote it (worker lines), or the worker it is about (the primary's lines). */
  worker?: number;
  workerPid?: number;
  primary?: boolean;
  route?: string;
  status?: number;
}

/** The JSON lines of standard output so far (the other lines are the start's own). */
export function logLines(server: ServeProcess): LogLine[] {
  return server.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);
}

/**
 * Resolves with what `find` returns once it returns something, looking again whenever the server
 * writes (and every 20 ms, for what the test itself counts); rejects if the server exits first, or after `timeoutMs` (a bound for a hung server, not
 * a duration the test relies on).
 */
export function waitFor<T>(server: ServeProcess, find: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const check = () => {
      let found: T | undefined;
      try {
        found = find();
      } catch (err) {
        // A line cut in two by the pipe parses once its rest arrives.
        if (!(err instanceof SyntaxError)) throw err;
      }
      if (found === undefined) return false;
      done();
      resolve(found);
      return true;
    };
    const onData = () => void check();
    const onExit = () => {
      if (check()) return;
      done();
      reject(new Error(`openkvs exited before the awaited output:\n${server.output()}`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`the awaited output did not come within ${timeoutMs} ms:\n${server.output()}`));
    }, timeoutMs);
    const poll = setInterval(check, 20);
    const done = () => {
      clearTimeout(timer);
      clearInterval(poll);
      server.child.stdout?.off('data', onData);
      server.child.off('exit', onExit);
    };
    server.child.stdout?.on('data', onData);
    server.child.once('exit', onExit);
    check();
  });
}

/** Waits for the line that says every worker listens, and returns the pids the primary logged for its workers. */
export async function waitStarted(server: ServeProcess, workers: number): Promise<Map<number, number>> {
  await waitFor(server, () => (/listening on http/.test(server.stdout) ? true : undefined));
  return workerPids(server, workers);
}

/** Each worker's latest pid, from the primary's `worker started` lines. */
export function workerPids(server: ServeProcess, workers: number): Map<number, number> {
  const pids = new Map<number, number>();
  for (const l of logLines(server)) {
    if (l.primary && l.msg === 'worker started' && l.worker && l.workerPid) pids.set(l.worker, l.workerPid);
  }
  if (pids.size !== workers) throw new Error(`expected ${workers} workers, the primary logged ${pids.size}`);
  return pids;
}

/** Whether a process with this pid is alive. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
