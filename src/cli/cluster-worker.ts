import cluster from 'node:cluster';
import type { ServeConfig } from '../config.js';
import { ServiceUnavailableError } from '../errors.js';
import type { WorkerLink } from '../http/app.js';
import type { MetricsJson } from '../http/metrics.js';
import { isOpenkvsMessage, type ToPrimary, type ToWorker, WORKER_CONFIG_ENV, WORKER_NUMBER_ENV } from './cluster-messages.js';
import { startServer } from './serve.js';

/** Sends a message to the primary; a channel already closed means the worker is on its way out. */
function send(message: ToPrimary, onError?: (err: Error) => void): void {
  process.send?.(message, undefined, undefined, (err: Error | null) => {
    if (err) onError?.(err);
  });
}

/** The worker's side of what the workers share through the primary: rate-limit counts and metrics. */
function createPrimaryLink(): WorkerLink {
  let nextId = 0;
  const pending = new Map<number, { resolve(value: ToWorker): void; reject(err: Error): void }>();
  let readOwn: (() => Promise<MetricsJson>) | undefined;

  const ask = (message: ToPrimary & { id: number }): Promise<ToWorker> =>
    new Promise((resolve, reject) => {
      pending.set(message.id, { resolve, reject });
      send(message, (err) => {
        pending.delete(message.id);
        reject(err);
      });
    });

  process.on('message', (message: unknown) => {
    if (!isOpenkvsMessage(message)) return;
    const m = message as ToWorker;
    if (m.type === 'openkvs:read') {
      const read = readOwn ?? (async () => []);
      read().then(
        (metrics) => send({ type: 'openkvs:metrics', id: m.id, metrics }),
        (err: Error) => send({ type: 'openkvs:metrics', id: m.id, error: err.message }),
      );
      return;
    }
    const waiting = pending.get(m.id);
    pending.delete(m.id);
    waiting?.resolve(m);
  });

  return {
    async countRequest(key, windowMs) {
      const answer = await ask({ type: 'openkvs:count', id: nextId++, key, windowMs });
      if (answer.type !== 'openkvs:counted') throw new Error(`unexpected answer ${answer.type}`);
      return { count: answer.count, resetInMs: answer.resetInMs };
    },
    metrics: {
      async gather() {
        const answer = await ask({ type: 'openkvs:gather', id: nextId++ });
        if (answer.type !== 'openkvs:gathered' || answer.text === undefined) {
          throw new ServiceUnavailableError(
            `The metrics of the workers could not be gathered (${answer.type === 'openkvs:gathered' ? answer.error : answer.type}).`,
          );
        }
        return answer.text;
      },
      provide(read) {
        readOwn = read;
      },
    },
  };
}

/** Whether this process is a worker that a primary of openkvs started. */
export function isClusterWorker(): boolean {
  return cluster.isWorker;
}

/**
 * Runs one worker of `serve --workers N`, started by the primary (cluster-primary.ts) with the
 * configuration it resolved. The primary has opened the storage (migrations, swept files, admin)
 * and prints the lines of the start; a worker serves, logs (each line with `"worker": n`) and,
 * on SIGTERM or SIGINT, drains like a server of its own and exits.
 */
export async function runWorker(): Promise<void> {
  const config = JSON.parse(process.env[WORKER_CONFIG_ENV] ?? '{}') as ServeConfig;
  const number = Number(process.env[WORKER_NUMBER_ENV]);
  try {
    await serveAsWorker(config, number);
  } catch (err) {
    // The primary says it once, for all workers; the exit waits for the message to leave.
    const message = err instanceof Error ? err.message : String(err);
    if (!process.send) throw err;
    process.send({ type: 'openkvs:failed', message } satisfies ToPrimary, () => process.exit(1));
  }
}

async function serveAsWorker(config: ServeConfig, number: number): Promise<void> {
  const server = await startServer(config, () => undefined, { number, link: createPrimaryLink() });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`openkvs: worker ${number}: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(1);
      },
    );
  };
  // The primary sends SIGTERM to every worker; Ctrl-C in a terminal sends SIGINT to all at once.
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
