import type { AddressInfo } from 'node:net';
import type { ServeConfig } from '../config.js';
import { createKvs } from '../domain/index.js';
import { createRetentionSweeper } from '../domain/retention.js';
import { createApp, type WorkerLink } from '../http/app.js';
import { logDestination, loggerOptions } from '../http/request-log.js';
import { openStorage } from '../storage/open.js';

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

/**
 * A worker of `serve --workers N` (cluster-worker.ts): the primary has done the start's one-time
 * work (swept files, admin), prints its lines and sweeps expired stores; the worker only serves.
 */
export interface WorkerRole {
  number: number;
  /** What the workers share through the primary: rate-limit counts and metrics. */
  link: WorkerLink;
}

/** The storage as the listening line shows it (a PostgreSQL URL's credentials left out). */
export function describeStorage(config: ServeConfig): string {
  return config.storage.kind === 'sqlite' ? `sqlite:${config.storage.path}` : 'postgres (credentials hidden)';
}

/** The host part of a URL that reaches `host` (a wildcard address: this machine). */
export function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * Starts openkvs: opens the storage, makes sure `admin` exists (printing a generated token once),
 * sweeps files a crash left behind, then listens. As a `worker`, it opens the storage and listens.
 */
export async function startServer(
  config: ServeConfig,
  print: (line: string) => void = console.log,
  worker?: WorkerRole,
): Promise<RunningServer> {
  const driver = await openStorage(config.storage);
  let publicUrl = config.publicUrl ?? '';
  const kvs = createKvs({ driver, publicUrl: () => publicUrl, accountAccess: config.accountAccess });
  if (!worker) {
    // Value files crashed processes left behind (an index lists the referenced ones: quick on large
    // databases); never those of other live processes on the file (see the SQLite driver's sweep.ts).
    if (driver.sweepOrphans) await driver.sweepOrphans();
    // A given admin token works from the first request on; a generated one is made once listening.
    if (config.adminToken !== undefined) await kvs.users.bootstrapAdmin(config.adminToken);
  }

  // Workers share the primary's standard output: whole lines, each naming its worker.
  const logs = logDestination(worker !== undefined);
  const app = createApp({
    kvs,
    publicUrl: () => publicUrl,
    maxRecordBytes: config.maxRecordBytes,
    rateLimits: config.rateLimits,
    corsOrigins: config.corsOrigins,
    shutdownTimeoutMs: config.shutdownTimeoutMs,
    logger: loggerOptions(config.logLevel, logs, worker && { worker: worker.number }),
    worker: worker?.link,
  });
  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (err) {
    await kvs.close();
    await driver.close();
    throw err;
  }
  const address = app.server.address() as AddressInfo;
  const url = `http://${urlHost(config.host)}:${address.port}`;
  if (!config.publicUrl) publicUrl = url;
  let retention: ReturnType<typeof createRetentionSweeper> | undefined;
  if (!worker) {
    // Only once listening: a start that fails must not spend the one-time display of a new token.
    if (config.adminToken === undefined) {
      const admin = await kvs.users.bootstrapAdmin();
      if (admin.token) print(`Admin API token (shown only this once, keep it safe): ${admin.token}`);
    } else {
      print('Admin API token: the one given in --admin-token / OPENKVS_ADMIN_TOKEN');
    }
    print(`openkvs listening on ${url} (storage: ${describeStorage(config)}, public URL: ${publicUrl})`);
    retention = createRetentionSweeper({
      driver,
      days: config.unnamedRetentionDays,
      onDeleted: (id) => kvs.stats.forget(id),
      log: app.log,
    });
    retention.start();
  }

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      // Stops listening, drains the open connections and cuts them at the deadline (http/drain.ts).
      await Promise.all([app.close(), retention?.stop()]);
      await kvs.close();
      await driver.close();
      try {
        logs.flushSync();
      } catch {
        // Standard output is gone or full: the lines left are lost, the shutdown goes on.
      }
    })();
    return closing;
  };
  return { url, close };
}
