import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshSchema } from '../helpers/postgres.js';
import { nextWindowStart, windowsSpanned } from '../helpers/time.js';
import { cleanupAll, ensureBuilt, freePort, http, type ServeProcess, startServe, tempDir } from './helpers.js';
import { logLines, waitFor, waitStarted } from './workers-helpers.js';

/**
 * What the workers of `serve --workers 2` share: `/metrics` tells the whole server's numbers
 * whichever worker answers, and the per-store rate limits hold for the server, not per worker
 * (counted by the primary on SQLite, in the database on PostgreSQL).
 */

const TOKEN = 'workers-shared-admin-token-0123456789';
const LIMIT = 10;

beforeAll(ensureBuilt);
afterAll(cleanupAll);

const drivers = [
  { name: 'SQLite', storage: async (cwd: string) => `sqlite:${join(cwd, 'kvs.sqlite')}` },
  {
    name: 'PostgreSQL',
    storage: async () => {
      const schema = await freshSchema();
      cleanups.push(schema.drop);
      return schema.url;
    },
  },
];
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const drop of cleanups) await drop();
});

async function start(storage: string, cwd: string, extra: string[] = []): Promise<ServeProcess> {
  const port = await freePort();
  const args = ['--workers', '2', '--port', String(port), '--storage', storage, '--admin-token', TOKEN, ...extra];
  const server = await startServe(args, { cwd, port });
  await waitStarted(server, 2);
  return server;
}

/** The value of the first sample of `metrics` whose line starts with `series`. */
function sample(metrics: string, series: string): number | undefined {
  const line = metrics.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe.each(drivers)('--workers 2 on $name', ({ storage }) => {
  it('/metrics counts the requests of every worker and the stores once, whichever worker answers', async () => {
    const cwd = tempDir();
    const server = await start(await storage(cwd), cwd);
    const stores = 3;
    for (let i = 0; i < stores; i++) {
      expect((await http(`${server.origin}/v2/key-value-stores?name=s${i}`, { method: 'POST', token: TOKEN })).status).toBe(201);
    }
    // Each on a new connection.
    const requests = 13;
    for (let i = 0; i < requests; i++) {
      expect((await http(`${server.origin}/v2/key-value-stores/nosuchstore${i}`)).status).toBe(404);
    }
    const series = 'openkvs_http_requests_total{method="GET",route="/v2/key-value-stores/:storeId",status="404"}';
    const histogram =
      'openkvs_http_request_duration_seconds_count{method="GET",route="/v2/key-value-stores/:storeId",status="404"}';
    // Which worker accepts a connection is the kernel's choice: scrape, a few at once on new
    // connections, until each worker has answered some (every answer must tell the same totals).
    let sent = 0;
    let scrapes: { worker?: number }[] = [];
    for (let batch = 0; batch < 50 && new Set(scrapes.map((l) => l.worker)).size < 2; batch++) {
      const answers = await Promise.all(Array.from({ length: 4 }, () => http(`${server.origin}/metrics`)));
      sent += answers.length;
      for (const res of answers) {
        expect(res.status).toBe(200);
        const text = res.body.toString();
        expect(sample(text, series), text).toBe(requests);
        expect(sample(text, histogram)).toBe(requests);
        expect(sample(text, 'openkvs_stores')).toBe(stores);
        expect(text.split('\n').filter((l) => l.startsWith('# TYPE openkvs_stores '))).toHaveLength(1);
      }
      scrapes = await waitFor(server, () => {
        const lines = logLines(server).filter((l) => l.msg === 'request' && l.route === '/metrics');
        return lines.length === sent ? lines : undefined;
      });
    }
    expect(new Set(scrapes.map((l) => l.worker))).toEqual(new Set([1, 2]));
    expect((await server.stop('SIGTERM')).code, server.output()).toBe(0);
  });

  it('holds a store to its record rate across both workers, not once per worker', async () => {
    const cwd = tempDir();
    const server = await start(await storage(cwd), cwd, ['--rate-limit', 'on', '--rate-limit-records', String(LIMIT)]);
    const created = await http(`${server.origin}/v2/key-value-stores?name=limited`, { method: 'POST', token: TOKEN });
    const storeId = created.json.data.id;
    const path = `${server.origin}/v2/key-value-stores/${storeId}/records/missing`;
    // A burst within at most two one-second windows that both workers answered shows the shared
    // count: counted per worker, 3L requests taken by the two workers would pass up to 2L per
    // window. Which worker takes a connection is the primary's choice (a busy worker takes fewer),
    // so bursts are sent until one fits and both took part.
    const recordLines = () => logLines(server).filter((l) => l.msg === 'request' && l.route?.includes('/records/'));
    let meaningful = 0;
    let sent = 0;
    for (let burst = 0; burst < 10 && meaningful === 0; burst++) {
      await nextWindowStart(1000);
      const startedAt = Date.now();
      const answers = await Promise.all(Array.from({ length: 3 * LIMIT }, () => http(path, { token: TOKEN })));
      const endedAt = Date.now();
      const before = sent;
      sent += answers.length;
      const windows = windowsSpanned(startedAt, endedAt, 1000);
      const passed = answers.filter((a) => a.status !== 429);
      expect(passed.every((a) => a.status === 404)).toBe(true);
      expect(passed.length, `${windows} window(s)`).toBeLessThanOrEqual(LIMIT * windows);
      const lines = await waitFor(server, () => {
        const found = recordLines();
        return found.length === sent ? found : undefined;
      });
      const workers = new Set(lines.slice(before).map((l) => l.worker));
      if (windows <= 2 && workers.size === 2) meaningful++;
    }
    expect(meaningful, 'no burst both workers answered fit in two one-second windows').toBeGreaterThan(0);
    expect((await server.stop('SIGTERM')).code, server.output()).toBe(0);
  });
});
