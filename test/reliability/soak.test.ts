import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupAll, ensureBuilt, freePort, startServe, tempDir } from '../cli/helpers.js';
import { type Answer, eachLimit, failureCode, KeepAliveClient } from '../helpers/keep-alive.js';
import { Ledger, makeValue, sha256, type TestValue, type ValueKind } from '../helpers/ledger.js';
import { sleep } from '../helpers/time.js';
import { verifyStore } from '../helpers/verify-store.js';

/**
 * Minutes of mixed load (80% GET, 15% PUT, 5% key lists, some large records) against a spawned
 * server on SQLite: every answer is right, and the server's resident memory stops growing once
 * warmed up. OPENKVS_SOAK_SECONDS shortens it for a quick look (the reliability run uses 300 s).
 */

const SECONDS = Number(process.env.OPENKVS_SOAK_SECONDS ?? 300);
/**
 * Caches (SQLite's page cache, V8's heap) fill during the warm-up, and the memory outside V8's heap
 * climbs for up to about 70 s of a run (docs/performance.md): growth is counted only after it.
 */
const WARMUP_SECONDS = Math.min(90, Math.floor(SECONDS / 3));
/**
 * RSS is read every second. It swings by ±5 % from one moment to the next (large values in flight,
 * the GC), so each end of the comparison is the median of the samples of a window of
 * `WINDOW_SECONDS`: the first after the warm-up and the last of the run.
 */
const SAMPLE_MS = 1000;
const WINDOW_SECONDS = 15;
const MAX_GROWTH = 0.1;
const CLIENTS = 8;
const SMALL_KEYS = 400;
const LARGE_KEYS = 3;
const TOKEN = 'soak-admin-token-0123456789abcdef';

beforeAll(ensureBuilt);
afterAll(cleanupAll);

/** Resident memory of a process, in KiB. */
function rssKib(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? Number.NaN);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const mib = (kib: number) => Math.round((kib / 1024) * 10) / 10;

describe(`soak: ${SECONDS} s of mixed load on SQLite`, () => {
  it(`answers every request correctly and grows less than ${MAX_GROWTH * 100}% in memory after ${WARMUP_SECONDS} s`, {
    timeout: (SECONDS + 180) * 1000,
  }, async () => {
    const cwd = tempDir();
    const port = await freePort();
    const args = ['--storage', `sqlite:${join(cwd, 'soak.sqlite')}`, '--port', String(port), '--admin-token', TOKEN];
    const server = await startServe([...args, '--log-level', 'warn'], { cwd, port });
    const pid = server.child.pid as number;
    const client = new KeepAliveClient(server.origin, TOKEN, CLIENTS + 1);
    const created = await client.send('POST', '/v2/key-value-stores?name=soak');
    expect(created.status).toBe(201);
    const storeId = (JSON.parse(created.body.toString()) as { data: { id: string } }).data.id;
    const records = `/v2/key-value-stores/${storeId}/records`;

    const ledger = new Ledger();
    /** SHA-256 of the decoded bytes of each key's gzip value, for reads that do not accept gzip. */
    const decoded = new Map<string, string>();
    const errors: string[] = [];
    const counts = { get: 0, put: 0, list: 0, largePut: 0, largeGet: 0 };
    const put = async (value: TestValue) => {
      const headers: Record<string, string> = { 'content-type': value.contentType };
      if (value.encoding) headers['content-encoding'] = value.encoding;
      ledger.attempt(value);
      const res = await client.send('PUT', `${records}/${value.key}`, { headers, body: value.body });
      if (res.status !== 201) throw new Error(`PUT ${value.key}: ${res.status} ${res.body.toString().slice(0, 200)}`);
      ledger.ack(value);
      if (value.encoding) decoded.set(value.key, sha256(gunzipSync(value.body)));
    };
    const smallKind = (): ValueKind => (Math.random() < 0.25 ? 'gzip' : Math.random() < 0.03 ? 'empty' : 'small');
    const largeKind = (): ValueKind => (Math.random() < 0.3 ? 'gzip-large' : 'large');
    const keysOf = (c: number) => ({
      small: Array.from({ length: SMALL_KEYS }, (_, i) => `c${c}-k${i}`),
      large: Array.from({ length: LARGE_KEYS }, (_, i) => `c${c}-large${i}`),
    });
    const all = Array.from({ length: CLIENTS }, (_, c) => keysOf(c));
    const preload = all.flatMap(({ small, large }) => [
      ...small.map((k) => () => makeValue(k, 'preload', smallKind())),
      ...large.map((k) => () => makeValue(k, 'preload', largeKind())),
    ]);
    await eachLimit(preload, CLIENTS, (make) => put(make()));

    const checkRead = (key: string, res: Answer, acceptGzip: boolean) => {
      if (res.status !== 200) throw new Error(`GET ${key}: ${res.status} ${res.body.toString().slice(0, 200)}`);
      const gz = decoded.get(key);
      if (!acceptGzip && gz !== undefined && ledger.settled(key)?.encoding === 'gzip') {
        if (sha256(res.body) !== gz || res.headers['content-encoding'] !== undefined)
          throw new Error(`GET ${key} without gzip: not the decoded value`);
        return;
      }
      const problem = ledger.check(key, {
        sha: sha256(res.body),
        size: res.body.length,
        contentType: res.headers['content-type'],
        encoding: res.headers['content-encoding'],
      });
      if (problem) throw new Error(`GET ${problem}`);
    };
    const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)] as T;

    let stopped = false;
    const loop = async (c: number) => {
      const { small, large } = all[c] as { small: string[]; large: string[] };
      for (let n = 0; !stopped; n++) {
        const r = Math.random();
        try {
          if (r < 0.8) {
            const isLarge = Math.random() < 0.03;
            const key = isLarge ? pick(large) : pick(small);
            const acceptGzip = Math.random() < 0.8;
            const headers: Record<string, string> = acceptGzip ? { 'accept-encoding': 'gzip' } : {};
            checkRead(key, await client.send('GET', `${records}/${key}`, { headers }), acceptGzip);
            counts.get++;
            if (isLarge) counts.largeGet++;
          } else if (r < 0.95) {
            const isLarge = Math.random() < 0.03;
            const key = isLarge ? pick(large) : pick(small);
            await put(makeValue(key, `c${c}/${n}`, isLarge ? largeKind() : smallKind()));
            counts.put++;
            if (isLarge) counts.largePut++;
          } else {
            const start = pick(small);
            const limit = 10 + Math.floor(Math.random() * 990);
            const res = await client.send(
              'GET',
              `/v2/key-value-stores/${storeId}/keys?limit=${limit}&exclusiveStartKey=${start}`,
            );
            if (res.status !== 200) throw new Error(`GET keys: ${res.status} ${res.body.toString().slice(0, 200)}`);
            counts.list++;
          }
        } catch (err) {
          if (errors.length < 20) errors.push(err instanceof Error && !('code' in err) ? err.message : failureCode(err));
        }
      }
    };

    const samples: { t: number; rssKib: number }[] = [];
    const started = Date.now();
    const sample = () => samples.push({ t: (Date.now() - started) / 1000, rssKib: rssKib(pid) });
    sample();
    const sampler = setInterval(sample, SAMPLE_MS);
    const load = Promise.all(Array.from({ length: CLIENTS }, (_, c) => loop(c)));
    await sleep(SECONDS * 1000);
    clearInterval(sampler);
    sample();
    stopped = true;
    await load;

    const check = await verifyStore(client, storeId, ledger);
    client.close();
    const exit = await server.stop('SIGTERM');

    const warm = samples.filter((s) => s.t >= WARMUP_SECONDS);
    const first = warm.filter((s) => s.t < WARMUP_SECONDS + WINDOW_SECONDS);
    const last = warm.filter((s) => s.t > SECONDS - WINDOW_SECONDS);
    const atWarm = median(first.map((s) => s.rssKib));
    const atEnd = median(last.map((s) => s.rssKib));
    const growth = (atEnd - atWarm) / atWarm;
    const summary = {
      seconds: SECONDS,
      requests: counts.get + counts.put + counts.list,
      ...counts,
      rssMiB: {
        start: mib(samples[0]?.rssKib ?? 0),
        afterWarmup: mib(atWarm),
        end: mib(atEnd),
        max: mib(Math.max(...samples.map((s) => s.rssKib))),
        maxAfterWarmup: mib(Math.max(...warm.map((s) => s.rssKib))),
      },
      growthAfterWarmupPct: Math.round(growth * 1000) / 10,
      // Every fifth sample.
      series: samples.filter((_, i) => i % 5 === 0).map((s) => [Math.round(s.t), mib(s.rssKib)]),
    };
    console.log(`[reliability] soak: ${JSON.stringify(summary)}`);

    expect(errors, 'wrong or failed answers under load').toEqual([]);
    expect(check.problems, 'the store read back after the soak').toEqual([]);
    expect(exit, server.output()).toMatchObject({ code: 0, signal: null });
    expect(first.length, 'samples of the first window after the warm-up').toBeGreaterThanOrEqual(5);
    expect(last.length, 'samples of the last window').toBeGreaterThanOrEqual(5);
    expect(
      growth,
      `RSS ${mib(atWarm)} MiB after the warm-up, ${mib(atEnd)} MiB at the end (medians of ${first.length} and ${last.length} samples, ${WINDOW_SECONDS} s each)`,
    ).toBeLessThan(MAX_GROWTH);
  });
});
