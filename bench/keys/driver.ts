/**
 * Key paging in process, on SQLite: does a page of keys cost the same in a store of 100, 100,000
 * and 1,000,000 keys (DESIGN.md: "a page costs O(page), not O(store)")? Times `GET …/keys` over
 * HTTP against the app listening in this process, and the driver's `listKeys` alone, and prints
 * ratios against the 100-key store: how much of a page's time is the driver's. (`npm run bench`
 * measures the same pages against the built server, on SQLite and on PostgreSQL.)
 *
 *   npm run bench:keys-driver [-- --sizes 100,100000,1000000 --rounds 7 --requests 25 --warmup 30 --via-driver --keep]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createKvs } from '../../src/domain/index.js';
import { createApp } from '../../src/http/app.js';
import { SqliteDriver } from '../../src/storage/sqlite/index.js';
import { bulkLoad, loadViaDriver, makeKeys, VALUE } from '../fixtures.js';
import { HttpTimer, median, timeRuns } from '../measure.js';
import { printTable, type Row } from './report.js';

const { values: opts } = parseArgs({
  options: {
    sizes: { type: 'string', default: '100,100000,1000000' },
    rounds: { type: 'string', default: '7' },
    requests: { type: 'string', default: '25' },
    warmup: { type: 'string', default: '30' },
    /** Load every store through stageValue + putRecord (about 90 s for a million keys). */
    'via-driver': { type: 'boolean', default: false },
    /** Keep the SQLite file and print where it is. */
    keep: { type: 'boolean', default: false },
  },
});
const sizes = opts.sizes.split(',').map(Number);
const [rounds, requests, warmup] = [Number(opts.rounds), Number(opts.requests), Number(opts.warmup)];
/** Stores up to this size are always loaded through the driver, exactly as the server writes. */
const DRIVER_LOAD_MAX = 10_000;
/** 1000 is the API maximum; 50 gives every store, the 100-key one included, pages of equal length. */
const LIMITS = [1000, 50];
const gc = (globalThis as { gc?: () => void }).gc;

interface Case extends Omit<Row, 'httpMs' | 'driverMs' | 'httpSpread'> {
  storeId: string;
  exclusiveStartKey: string | undefined;
  firstKey: string;
  url: string;
  http: number[];
  driver: number[];
}

const dir = mkdtempSync(join(os.tmpdir(), 'openkvs-bench-'));
const file = join(dir, 'bench.sqlite');
const driver = new SqliteDriver({ path: file });
let origin = '';
const kvs = createKvs({ driver, publicUrl: () => origin });
const app = createApp({ kvs, publicUrl: () => origin, maxRecordBytes: 104_857_600, logger: false });

try {
  const { user, token } = await kvs.users.create('bench');
  const cases: Case[] = [];
  for (const size of sizes) {
    const started = Date.now();
    const { store } = await kvs.stores.getOrCreate(user, `keys-${size}`, undefined);
    const keys = makeKeys(size, `store-${size}`);
    const viaDriver = opts['via-driver'] || size <= DRIVER_LOAD_MAX;
    if (viaDriver) await loadViaDriver(driver, store.id, keys);
    else bulkLoad(file, store.id, keys);
    const row = await driver.getStore(store.id);
    if (row?.stats.storageBytes !== size * VALUE.length)
      throw new Error(`store of ${size}: storageBytes ${row?.stats.storageBytes}`);
    console.log(
      `loaded ${size.toLocaleString('en')} keys ${viaDriver ? 'via putRecord' : 'in bulk'} in ${Date.now() - started} ms`,
    );
    for (const limit of LIMITS) {
      for (const page of ['first', 'middle'] as const) {
        const start = page === 'first' ? 0 : Math.floor(size / 2);
        const exclusiveStartKey = page === 'first' ? undefined : keys[start - 1];
        const query = exclusiveStartKey === undefined ? '' : `&exclusiveStartKey=${encodeURIComponent(exclusiveStartKey)}`;
        cases.push({
          page,
          limit,
          size,
          items: Math.min(limit, size - start),
          storeId: store.id,
          exclusiveStartKey,
          firstKey: keys[start]!,
          url: `/v2/key-value-stores/${store.id}/keys?limit=${limit}${query}`,
          http: [],
          driver: [],
        });
      }
    }
  }

  await app.listen({ host: '127.0.0.1', port: 0 });
  origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const client = new HttpTimer(token);
  try {
    for (const c of cases) {
      for (let i = 0; i < warmup; i++) {
        const res = await client.get(`${origin}${c.url}`);
        const data =
          i === 0 ? (JSON.parse(res.body.toString()) as { data: { count: number; items: { key: string }[] } }).data : undefined;
        if (res.status !== 200 || (data && (data.count !== c.items || data.items[0]?.key !== c.firstKey))) {
          throw new Error(`GET ${c.url}: status ${res.status}, ${res.body.toString().slice(0, 200)}`);
        }
      }
    }
    // Rounds interleave the cases, so that a slow moment of the machine hits all of them alike.
    for (let r = 0; r < rounds; r++) {
      gc?.();
      for (const c of cases) {
        c.http.push(median(await timeRuns(requests, () => client.get(`${origin}${c.url}`))));
        const query = { exclusiveStartKey: c.exclusiveStartKey, limit: c.limit };
        c.driver.push(median(await timeRuns(requests, () => driver.listKeys(c.storeId, query))));
      }
    }
  } finally {
    client.close();
  }

  const rows: Row[] = cases.map((c) => ({
    page: c.page,
    limit: c.limit,
    size: c.size,
    items: c.items,
    httpMs: median(c.http),
    httpSpread: [Math.min(...c.http), Math.max(...c.http)],
    driverMs: median(c.driver),
  }));
  const baseline = Math.min(...sizes);
  const withRatios = printTable(rows, baseline);
  console.log(
    `\n${rounds} rounds × ${requests} requests per case after ${warmup} warm-up requests; each figure is the median of the round medians.` +
      `\nThe ${baseline}-key store has fewer keys than a limit=1000 page, so those ratios compare pages of different length;` +
      '\nthe limit=50 rows compare pages of equal length.',
  );

  const results = {
    date: new Date().toISOString(),
    machine: {
      node: process.version,
      platform: `${os.platform()} ${os.release()}`,
      cpu: os.cpus()[0]?.model,
      cpus: os.cpus().length,
      // Other work on the machine shows here, and in the round spread.
      loadAverage: os.loadavg(),
    },
    settings: { sizes, rounds, requests, warmup, viaDriver: opts['via-driver'], valueBytes: VALUE.length },
    rows: withRatios,
  };
  // This file runs as dist-bench/bench/keys/driver.js; the results belong beside the sources.
  const out = fileURLToPath(new URL('../../../bench/results/', import.meta.url));
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'keys-driver-latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nwrote ${join(out, 'keys-driver-latest.json')}`);
} finally {
  await app.close();
  await kvs.close();
  await driver.close();
  if (opts.keep) console.log(`kept ${file}`);
  else rmSync(dir, { recursive: true, force: true });
}
