import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Configuration, RequestQueueV2 } from '@crawlee/core';
import { MemoryStorage } from '@crawlee/memory-storage';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { requestId as requestIdOf } from '../../src/domain/queues/requests.js';
import type { StoreRow } from '../../src/model.js';
import type { StorageDriver, StoredQueueRequest } from '../../src/storage/driver.js';
import { openStorage, type StorageSpec } from '../../src/storage/open.js';
import { storeRow } from '../conformance/suite.js';
import { onCleanup } from '../helpers/cli.js';
import { freshSchema } from '../helpers/postgres.js';
import { cleanupAll, ensureBuilt, lastLine, runCli, tempDir } from './helpers.js';

/** The storage of the drivers' run (a SQLite file, a PostgreSQL schema); every command runs on it as its own process. */
let cwd: string;
let storage: string;
let spec: StorageSpec;

afterAll(cleanupAll);

/** Standard error without the progress lines a slow run writes every two seconds. */
const warnings = (stderr: string) => stderr.split('\n').filter((l) => l.trim() !== '' && !/^(import|export): \d+\/\d+ /.test(l));

const cli = (args: string[]) => runCli([...args, '--storage', storage], { cwd, timeoutMs: 120_000 });

/** The storage as the commands left it, opened in this process for the checks. */
async function withDriver<T>(fn: (driver: StorageDriver) => Promise<T>): Promise<T> {
  const driver = await openStorage(spec);
  try {
    return await fn(driver);
  } finally {
    await driver.close();
  }
}

async function queueOf(username: string, name: string): Promise<StoreRow | undefined> {
  return withDriver(async (d) => {
    const user = await d.getUserByName(username);
    return user && d.getStoreByName(user.id, name, 'queue');
  });
}

/** Every request of a queue, in id order. */
async function requestsOf(queueId: string): Promise<StoredQueueRequest[]> {
  return withDriver(async (d) => {
    const all: StoredQueueRequest[] = [];
    for (let after: string | undefined; ; ) {
      const page = await d.listRequests(queueId, { limit: 1000, after, now: Date.now() });
      all.push(...page.items);
      after = page.items[page.items.length - 1]?.id;
      if (!page.isTruncated || after === undefined) return all;
    }
  });
}

/** The pending requests' ids in the order the queue hands them out. */
async function headOf(queue: StoreRow): Promise<string[]> {
  return withDriver(async (d) => (await d.listHead(queue.id, 100_000, { now: Date.now() })).map((r) => r.id));
}

interface RequestFile {
  id: string;
  json: string;
  orderNo: number | null;
  url: string;
}

/** The request files of a queue folder by file name, parsed. */
function requestFiles(dir: string): Map<string, RequestFile> {
  const files = new Map<string, RequestFile>();
  for (const name of readdirSync(dir).sort()) {
    if (name !== '__metadata__.json') files.set(name, JSON.parse(readFileSync(join(dir, name), 'utf8')));
  }
  return files;
}

/** memory-storage's order of the pending requests: orderNo ascending (ties, one lock batch, by id, as openkvs takes them). */
function pendingOrder(files: Map<string, RequestFile>): string[] {
  const pending = [...files.values()].filter((f) => f.orderNo !== null);
  pending.sort((a, b) => (a.orderNo ?? 0) - (b.orderNo ?? 0) || (a.id < b.id ? -1 : 1));
  return pending.map((f) => f.id);
}

const PRODUCTS = 1200;
const FRONT = 4;

/**
 * A queue as a Crawlee crawl leaves it, written by RequestQueueV2 on @crawlee/memory-storage:
 * requests added in batches, forefront ones, some handled, one reclaimed, some locked by the
 * crawler's prefetch. Date.now() only ever moves forward, so that every add has an orderNo of its own.
 */
async function writeWithCrawlee(): Promise<string> {
  const dir = tempDir();
  const realNow = Date.now.bind(Date);
  let last = 0;
  const clock = vi.spyOn(Date, 'now').mockImplementation(() => {
    last = Math.max(realNow(), last + 1);
    return last;
  });
  try {
    const local = new MemoryStorage({ localDataDirectory: dir, persistStorage: true, writeMetadata: true });
    const config = new Configuration({ storageClient: local, persistStorage: true });
    const queue = await RequestQueueV2.open('crawl', { config, storageClient: local });
    const products = Array.from({ length: PRODUCTS }, (_, i) => ({ url: `https://example.com/p/${i}`, userData: { i } }));
    await queue.addRequests(products);
    for (let i = 0; i < FRONT; i++) await queue.addRequest({ url: `https://example.com/front/${i}` }, { forefront: true });
    for (let i = 0; i < 3; i++) {
      const request = (await queue.fetchNextRequest())!;
      await queue.markRequestHandled(request);
    }
    await queue.reclaimRequest((await queue.fetchNextRequest())!);
    // Fetched and not handled: locked, with the requests the crawler prefetched.
    await queue.fetchNextRequest();
    await local.teardown();
  } finally {
    clock.mockRestore();
  }
  return dir;
}

/** Writes a request file as memory-storage would, with the given orderNo. */
function writeRequestFile(dir: string, url: string, orderNo: number | null, extra: Record<string, unknown> = {}): string {
  const id = requestIdOf(url);
  const json = JSON.stringify({ id, url, uniqueKey: url, method: 'GET', ...extra });
  const entry = { id, json, method: 'GET', orderNo, retryCount: 0, uniqueKey: url, url };
  writeFileSync(join(dir, `${id}.json`), JSON.stringify(entry, null, '\t'));
  return id;
}

/** A new unnamed queue's row. */
const queueRow = (userId: string): StoreRow => storeRow(userId, null, 'queue');

describe.each(['sqlite', 'postgres'] as const)('on %s', (driver) => {
  beforeAll(async () => {
    ensureBuilt();
    cwd = tempDir();
    if (driver === 'sqlite') {
      const path = join(cwd, 'kvs.sqlite');
      storage = `sqlite:${path}`;
      spec = { kind: 'sqlite', path };
    } else {
      const schema = await freshSchema();
      onCleanup(schema.drop);
      storage = schema.url;
      spec = { kind: 'postgres', url: schema.url };
    }
    const bob = await runCli(['users', 'create', 'bob', '--storage', storage], { cwd });
    expect(bob.code, bob.stderr).toBe(0);
  });

  describe('a queue Crawlee wrote', () => {
    let crawlee: string;
    let source: Map<string, RequestFile>;
    let queue: StoreRow;
    let exported: string;

    it('imports with its handled requests handled, its pending ones in memory-storage’s order, exact counts', async () => {
      crawlee = await writeWithCrawlee();
      source = requestFiles(join(crawlee, 'request_queues', 'crawl'));
      const handled = [...source.values()].filter((f) => f.orderNo === null);
      expect(source.size).toBe(PRODUCTS + FRONT);
      expect(handled).toHaveLength(3);
      // The crawler's prefetch left requests locked (orderNo ± the lock's expiry), and front/0 reclaimed.
      expect(new Set([...source.values()].map((f) => f.orderNo)).size).toBeLessThan(source.size - 2);

      const result = await cli(['import', crawlee]);
      expect(result.code, result.stderr).toBe(0);
      expect(warnings(result.stderr)).toEqual([]);
      expect(lastLine(result.stdout)).toMatch(new RegExp(`^Imported ${PRODUCTS + FRONT} requests into 1 request queue in `));

      queue = (await queueOf('admin', 'crawl'))!;
      expect(queue.itemCount).toBe(PRODUCTS + FRONT);
      expect(queue.handledCount).toBe(3);
      expect(queue.hadMultipleClients).toBe(false);
      expect(await headOf(queue)).toEqual(pendingOrder(source));
      const stored = await requestsOf(queue.id);
      expect(stored).toHaveLength(source.size);
      for (const r of stored) {
        const file = source.get(`${r.id}.json`)!;
        // The request as Crawlee reads it back: the JSON memory-storage keeps, unchanged.
        expect(r.json, r.id).toBe(file.json);
        expect(r.handledAt === null, r.id).toBe(file.orderNo !== null);
        if (file.orderNo === null) expect(r.handledAt).toBe(Date.parse(JSON.parse(file.json).handledAt));
      }
    });

    it('exports the request files byte for byte but for the pending ones’ orderNo, which keeps their order', async () => {
      exported = tempDir();
      const result = await cli(['export', exported, '--queue', 'crawl']);
      expect(result.code, result.stderr).toBe(0);
      expect(warnings(result.stderr)).toEqual([]);
      expect(lastLine(result.stdout)).toMatch(new RegExp(`^Exported ${PRODUCTS + FRONT} requests of 1 request queue in `));
      expect(readdirSync(exported)).toEqual(['request_queues']);

      const theirDir = join(crawlee, 'request_queues', 'crawl');
      const ourDir = join(exported, 'request_queues', 'crawl');
      expect(readdirSync(ourDir).sort()).toEqual(readdirSync(theirDir).sort());
      const ours = requestFiles(ourDir);
      for (const [file, theirs] of source) {
        const theirText = readFileSync(join(theirDir, file), 'utf8');
        const ourText = readFileSync(join(ourDir, file), 'utf8');
        if (theirs.orderNo === null) expect(ourText, file).toBe(theirText);
        else {
          const orderNo = ours.get(file)!.orderNo;
          expect(ourText, file).toBe(theirText.replace(/\n\t"orderNo": [^,]*,\n/, `\n\t"orderNo": ${orderNo},\n`));
        }
      }
      // 1, 2, 3… in the order the queue hands them out, which is memory-storage's.
      const order = pendingOrder(source);
      expect(order.map((id) => ours.get(`${id}.json`)!.orderNo)).toEqual(order.map((_, i) => i + 1));

      const theirMeta = JSON.parse(readFileSync(join(theirDir, '__metadata__.json'), 'utf8'));
      const iso = (ms: number) => new Date(ms).toISOString();
      const now = (await queueOf('admin', 'crawl'))!;
      const expected = {
        ...theirMeta,
        accessedAt: iso(now.accessedAt),
        createdAt: iso(now.createdAt),
        handledRequestCount: 3,
        id: now.id,
        modifiedAt: iso(now.modifiedAt),
        pendingRequestCount: PRODUCTS + FRONT - 3,
        totalRequestCount: PRODUCTS + FRONT,
        forefrontRequestIds: [],
      };
      expect(readFileSync(join(ourDir, '__metadata__.json'), 'utf8')).toBe(JSON.stringify(expected, null, '\t'));
    });

    it('memory-storage reads the export: the same requests, handled ones handled, the head in order', async () => {
      const local = new MemoryStorage({ localDataDirectory: exported, persistStorage: false });
      const client = local.requestQueue('crawl');
      const head = await client.listHead({ limit: PRODUCTS + FRONT });
      expect(head.items.map((r) => r.id)).toEqual(pendingOrder(source));
      const handled = [...source.values()].find((f) => f.orderNo === null)!;
      expect(await client.getRequest(handled.id)).toEqual(JSON.parse(handled.json));
      const info = await client.get();
      expect(info).toMatchObject({ handledRequestCount: 3, pendingRequestCount: PRODUCTS + FRONT - 3 });
    });

    it('exports an export again to the same bytes, metadata times aside', async () => {
      const again = tempDir();
      const reimported = await cli(['import', exported, '--user', 'bob']);
      expect(reimported.code, reimported.stderr).toBe(0);
      const result = await cli(['export', again, '--user', 'bob']);
      expect(result.code, result.stderr).toBe(0);
      const first = join(exported, 'request_queues', 'crawl');
      const second = join(again, 'request_queues', 'crawl');
      for (const file of readdirSync(first)) {
        if (file === '__metadata__.json') continue;
        expect(readFileSync(join(second, file)).equals(readFileSync(join(first, file))), file).toBe(true);
      }
    });
  });

  describe('import', () => {
    it('keeps forefront requests ahead, latest first; ties in orderNo go by id; handledAt from the request', async () => {
      const dir = tempDir();
      const folder = join(dir, 'request_queues', 'order');
      mkdirSync(folder, { recursive: true });
      const t = 1_700_000_000_000;
      const a = writeRequestFile(folder, 'https://a.example/', t + 10);
      const b = writeRequestFile(folder, 'https://b.example/', t + 5);
      const tie = ['https://t1.example/', 'https://t2.example/', 'https://t3.example/'].map((u) =>
        writeRequestFile(folder, u, t + 7),
      );
      const f1 = writeRequestFile(folder, 'https://f1.example/', -(t + 1));
      const f2 = writeRequestFile(folder, 'https://f2.example/', -(t + 2));
      writeRequestFile(folder, 'https://done.example/', null, { handledAt: '2024-05-06T07:08:09.010Z' });
      // Written by hand: no id in the request, no orderNo; handledAt makes it handled, as memory-storage would have written it.
      const handMade = requestIdOf('https://hand.example/');
      writeFileSync(
        join(folder, 'anything.json'),
        JSON.stringify({
          json: '{ "url": "https://hand.example/", "uniqueKey": "https://hand.example/", "handledAt": "2024-01-01T00:00:00Z" }',
        }),
      );

      const result = await cli(['import', dir, '--queue', 'order']);
      expect(result.code, result.stderr).toBe(0);
      expect(warnings(result.stderr)).toEqual([]);
      expect(lastLine(result.stdout)).toMatch(/^Imported 9 requests into 1 request queue in /);
      const queue = (await queueOf('admin', 'order'))!;
      expect(queue.itemCount).toBe(9);
      expect(queue.handledCount).toBe(2);
      expect(await headOf(queue)).toEqual([f2, f1, b, ...[...tie].sort(), a]);
      const byId = new Map((await requestsOf(queue.id)).map((r) => [r.id, r]));
      expect(byId.get(requestIdOf('https://done.example/'))?.handledAt).toBe(Date.parse('2024-05-06T07:08:09.010Z'));
      expect(byId.get(handMade)?.json).toBe(
        `{"id":"${handMade}","method":"GET","retryCount":0,"url":"https://hand.example/","uniqueKey":"https://hand.example/","handledAt":"2024-01-01T00:00:00Z"}`,
      );
      expect(byId.get(handMade)?.handledAt).toBe(Date.parse('2024-01-01T00:00:00Z'));
    });

    it('refuses a queue that has requests, writing nothing; --append adds the ones it lacks and marks handled ones', async () => {
      const dir = tempDir();
      const folder = join(dir, 'request_queues', 'twice');
      mkdirSync(folder, { recursive: true });
      const one = writeRequestFile(folder, 'https://one.example/', 1);
      const two = writeRequestFile(folder, 'https://two.example/', 2);
      expect((await cli(['import', dir, '--user', 'bob'])).code).toBe(0);
      const queue = (await queueOf('bob', 'twice'))!;
      expect(queue.itemCount).toBe(2);

      writeRequestFile(folder, 'https://two.example/', null, { handledAt: '2025-01-01T00:00:00.000Z' });
      const three = writeRequestFile(folder, 'https://three.example/', 3);
      const again = await cli(['import', dir, '--user', 'bob']);
      expect(again.code).not.toBe(0);
      expect(again.stderr.trim().split('\n')).toHaveLength(1);
      expect(again.stderr).toMatch(/"twice" already has 2 requests.*--append/);
      expect((await queueOf('bob', 'twice'))!.itemCount).toBe(2);

      const appended = await cli(['import', dir, '--user', 'bob', '--append', '--queue', 'twice']);
      expect(appended.code, appended.stderr).toBe(0);
      expect(appended.stdout).toMatch(
        /Imported 1 request into "twice" \(existing request queue .*\) of bob; 2 were there already \(1 now marked handled, as in the folder\)\./,
      );
      expect(lastLine(appended.stdout)).toMatch(/^Imported 1 requests into 1 request queue in /);
      const after = (await queueOf('bob', 'twice'))!;
      expect(after.itemCount).toBe(3);
      expect(after.handledCount).toBe(1);
      expect(await headOf(after)).toEqual([one, three]);
      const marked = (await requestsOf(after.id)).find((r) => r.id === two)!;
      expect(JSON.parse(marked.json).handledAt).toBe('2025-01-01T00:00:00.000Z');
    });

    it('reports and skips files that are not requests', async () => {
      const dir = tempDir();
      const folder = join(dir, 'request_queues', 'messy');
      mkdirSync(folder, { recursive: true });
      mkdirSync(join(dir, 'request_queues', 'Not_A_Name'));
      const good = writeRequestFile(folder, 'https://good.example/', 1);
      writeFileSync(join(folder, 'broken.json'), '{not json');
      writeFileSync(join(folder, 'nojson.json'), '{"id":"x","url":"https://x.example/"}');
      writeFileSync(join(folder, 'array.json'), JSON.stringify({ json: '[1]' }));
      writeFileSync(join(folder, 'nokey.json'), JSON.stringify({ json: '{"url":"https://x.example/"}' }));
      writeFileSync(
        join(folder, 'wrongid.json'),
        JSON.stringify({ json: '{"id":"abc","url":"https://x.example/","uniqueKey":"k"}' }),
      );
      writeFileSync(
        join(folder, 'order.json'),
        JSON.stringify({ json: '{"url":"https://y.example/","uniqueKey":"y"}', orderNo: 'soon' }),
      );
      writeFileSync(
        join(folder, 'when.json'),
        JSON.stringify({ json: '{"url":"https://w.example/","uniqueKey":"w","handledAt":"yesterday"}', orderNo: null }),
      );
      writeFileSync(join(folder, 'notes.txt'), 'hello');
      writeFileSync(join(folder, '__metadata__.json'), '{"id":"x","name":"messy"}');
      mkdirSync(join(folder, `${good}.json.lock`));

      const result = await cli(['import', dir, '--user', 'bob']);
      expect(result.code, result.stderr).toBe(0);
      const lines = warnings(result.stderr);
      expect(lines).toHaveLength(9);
      expect(result.stderr).toMatch(/skipped .*Not_A_Name: "Not_A_Name" is not a valid request queue name/);
      expect(result.stderr).toMatch(/skipped .*broken\.json: not JSON/);
      expect(result.stderr).toMatch(/skipped .*nojson\.json: not a request file/);
      expect(result.stderr).toMatch(/skipped .*array\.json: its "json" is not a JSON object/);
      expect(result.stderr).toMatch(/skipped .*nokey\.json: its request has no uniqueKey/);
      expect(result.stderr).toMatch(/skipped .*wrongid\.json: its request's id "abc" is not the one of its uniqueKey/);
      expect(result.stderr).toMatch(/skipped .*order\.json: "orderNo" is neither a number nor null/);
      expect(result.stderr).toMatch(/skipped .*when\.json: its request's handledAt is not a date/);
      expect(result.stderr).toMatch(/skipped .*notes\.txt: not a request file/);
      expect(lastLine(result.stdout)).toMatch(
        /^Imported 1 requests into 1 request queue in .*; skipped 9 \(listed on standard error\)\.$/,
      );
      expect(await headOf((await queueOf('bob', 'messy'))!)).toEqual([good]);
    });

    it('--queue imports only what it names, and fails on a folder that is not there', async () => {
      const dir = tempDir();
      for (const name of ['picked', 'left']) {
        mkdirSync(join(dir, 'request_queues', name), { recursive: true });
        writeRequestFile(join(dir, 'request_queues', name), `https://${name}.example/`, 1);
        mkdirSync(join(dir, 'datasets', `d-${name}`), { recursive: true });
        writeFileSync(join(dir, 'datasets', `d-${name}`, '000000001.json'), '{"a":1}');
      }
      const only = await cli(['import', dir, '--user', 'bob', '--queue', 'picked']);
      expect(only.code, only.stderr).toBe(0);
      expect(lastLine(only.stdout)).toMatch(/^Imported 1 requests into 1 request queue in /);
      expect(await queueOf('bob', 'picked')).toBeDefined();
      expect(await queueOf('bob', 'left')).toBeUndefined();

      const missing = await cli(['import', dir, '--queue', 'no-such-folder']);
      expect(missing.code).not.toBe(0);
      expect(missing.stderr).toMatch(/no request queue folder .*no-such-folder/);
    });
  });

  describe('export', () => {
    let unnamed: StoreRow;

    beforeAll(async () => {
      unnamed = await withDriver(async (d) => {
        const user = (await d.getUserByName('bob'))!;
        const now = Date.now();
        const { store } = await d.createStore(queueRow(user.id));
        // Added through the API by a client that is not JavaScript: tokens JavaScript would write differently.
        const json = `{"url":"https://x.example/","uniqueKey":"x","userData":{"big":12345678901234567890},"id":"${requestIdOf('x')}"}`;
        const input = { id: requestIdOf('x'), uniqueKey: 'x', json, handledAt: null };
        expect(await d.addRequests(store.id, [input], false, { now })).not.toBe('no-store');
        return store;
      });
    });

    it('writes an unnamed queue, picked by id, to a folder named after it, the request JSON as stored', async () => {
      const dir = tempDir();
      const result = await cli(['export', dir, '--user', 'bob', '--queue', unnamed.id]);
      expect(result.code, result.stderr).toBe(0);
      expect(readdirSync(dir)).toEqual(['request_queues']);
      const folder = join(dir, 'request_queues', unnamed.id);
      const id = requestIdOf('x');
      expect(readdirSync(folder).sort()).toEqual([`${id}.json`, '__metadata__.json']);
      const json = `{"url":"https://x.example/","uniqueKey":"x","userData":{"big":12345678901234567890},"id":"${id}"}`;
      expect(JSON.parse(readFileSync(join(folder, `${id}.json`), 'utf8'))).toEqual({
        id,
        json,
        orderNo: 1,
        retryCount: 0,
        uniqueKey: 'x',
        url: 'https://x.example/',
      });
      const metadata = JSON.parse(readFileSync(join(folder, '__metadata__.json'), 'utf8'));
      expect(metadata).toMatchObject({ id: unnamed.id, totalRequestCount: 1, pendingRequestCount: 1, handledRequestCount: 0 });
      expect('name' in metadata).toBe(false);

      const local = new MemoryStorage({ localDataDirectory: dir, persistStorage: false });
      expect((await local.requestQueue(unnamed.id).listHead()).items.map((r) => r.uniqueKey)).toEqual(['x']);
    });

    it('writes requests locked by clients as pending, each in its place in the queue', async () => {
      const ids = await withDriver(async (d) => {
        const user = (await d.getUserByName('bob'))!;
        const { store } = await d.createStore({ ...queueRow(user.id), name: 'locks' });
        const input = (k: string) => {
          const id = requestIdOf(k);
          return { id, uniqueKey: k, json: JSON.stringify({ id, url: `https://${k}.example/`, uniqueKey: k }), handledAt: null };
        };
        const now = Date.now();
        await d.addRequests(store.id, ['a', 'b', 'c', 'd', 'e'].map(input), false, { now });
        // a and b for one crawler, c without a clientKey, d for another, one after the other.
        await d.lockHead(store.id, 2, 600_000, { now, clientKey: 'crawler-1' });
        await d.lockHead(store.id, 1, 600_000, { now: now + 1 });
        await d.lockHead(store.id, 1, 600_000, { now: now + 2, clientKey: 'crawler-2' });
        await d.addRequests(store.id, [input('f')], true, { now });
        // Handled while locked: no longer pending.
        const b = input('b');
        expect(await d.updateRequest(store.id, { ...b, handledAt: now }, false, { now, clientKey: 'crawler-1' })).not.toBe(
          'locked',
        );
        return Object.fromEntries(['a', 'b', 'c', 'd', 'e', 'f'].map((k) => [k, requestIdOf(k)]));
      });
      const dir = tempDir();
      const result = await cli(['export', dir, '--user', 'bob', '--queue', 'locks']);
      expect(result.code, result.stderr).toBe(0);
      const files = requestFiles(join(dir, 'request_queues', 'locks'));
      const orderNo = (k: string) => files.get(`${ids[k]}.json`)?.orderNo;
      expect(['f', 'a', 'b', 'c', 'd', 'e'].map(orderNo)).toEqual([1, 2, null, 3, 4, 5]);
    });

    it('refuses a queue folder that already has files, and a queue that is not there', async () => {
      const dir = tempDir();
      mkdirSync(join(dir, 'request_queues', 'crawl'), { recursive: true });
      writeFileSync(join(dir, 'request_queues', 'crawl', 'stale.json'), '{}');
      const result = await cli(['export', dir]);
      expect(result.code).not.toBe(0);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toMatch(/request_queues.crawl already has files/);
      expect(readdirSync(dir)).toEqual(['request_queues']);

      const missing = await cli(['export', tempDir(), '--queue', 'no-such-queue']);
      expect(missing.code).not.toBe(0);
      expect(missing.stderr).toMatch(/no request queue named or with the id "no-such-queue"/);
    });
  });
});
