/**
 * Crawlee 3.18.1 `Dataset`, unmodified, with apify-client as its storage client and a real
 * `openkvs serve` behind it: opening, pushing (also past the 9 MB that Crawlee splits a push at),
 * reading, iterating, exporting into a key-value store, dropping. Then the README's Crawlee example,
 * as the README prints it, crawling a small site this test serves (in a child process, like
 * crawlee.test.ts).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Configuration, Dataset, type StorageClient } from '@crawlee/cheerio';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { fixture, runScript } from './child.js';
import { clientFor } from './client.js';
import { fetchRaw, json } from './http.js';
import { isDatasetPath, isKvsPath, pathAndQuery, type Recorder, startRecorder } from './recorder.js';
import { type CompatServer, startOpenkvs } from './server.js';

let server: CompatServer;
let recorder: Recorder;
let config: Configuration;

const auth = () => ({ authorization: `Bearer ${server.token('alice')}` });
const api = (path: string) => fetchRaw(`${server.origin}/v2/${path}`, { headers: { ...auth(), 'accept-encoding': 'identity' } });
const jsonl = async (datasetId: string) => {
  const res = await api(`datasets/${datasetId}/items?format=jsonl`);
  expect(res.status).toBe(200);
  return res.body.toString('utf8').split('\n').filter(Boolean);
};
const since = (from: number) => recorder.requests.slice(from).map((r) => `${r.method} ${r.url} ${r.status}`);

beforeAll(async () => {
  server = await startOpenkvs(['alice']);
  recorder = await startRecorder(server.origin);
  // As the README configures Crawlee: apify-client is the storage client, pointed at openkvs.
  const storageClient = clientFor(recorder.origin, server.token('alice')) as unknown as StorageClient;
  config = new Configuration({ storageClient, defaultDatasetId: 'crawlee-default', defaultKeyValueStoreId: 'crawlee-state' });
});
afterAll(async () => {
  await recorder?.close();
  await server?.close();
});

describe('Crawlee Dataset on openkvs', () => {
  it('Dataset.open(name) and Dataset.open(undefined) (the configured default) get-or-create named datasets', async () => {
    const before = recorder.requests.length;
    const named = await Dataset.open('crawlee-results', { config });
    const byDefault = await Dataset.open(undefined, { config });
    expect(named.name).toBe('crawlee-results');
    expect(byDefault.name).toBe('crawlee-default');
    expect(recorder.requests.slice(before)).toEqual([
      { method: 'GET', url: '/v2/datasets/crawlee-results', status: 404, errorType: 'record-not-found' },
      { method: 'POST', url: '/v2/datasets?name=crawlee-results', status: 201 },
      { method: 'GET', url: '/v2/datasets/crawlee-default', status: 404, errorType: 'record-not-found' },
      { method: 'POST', url: '/v2/datasets?name=crawlee-default', status: 201 },
    ]);
    expect(json<{ data: { id: string } }>(await api('datasets/~crawlee-results')).data.id).toBe(named.id);
    // Opening by id finds it at once.
    const fresh = new Configuration({ storageClient: config.getStorageClient() });
    expect((await Dataset.open(named.id, { config: fresh })).name).toBe('crawlee-results');
  });

  it('pushData of one item and of many stores them as Crawlee serialised them; getInfo counts them', async () => {
    const dataset = await Dataset.open('crawlee-push', { config });
    const one = { url: 'https://example.com/', title: 'Ünïcode – 日本語 🕷️', price: 1.5, nested: { b: 1, a: [1, 2] } };
    const many = Array.from({ length: 25 }, (_, i) => ({ i, label: `item ${i}`, even: i % 2 === 0 }));
    const before = recorder.requests.length;
    await dataset.pushData(one);
    await dataset.pushData(many);
    expect(since(before)).toEqual([`POST /v2/datasets/${dataset.id}/items 201`, `POST /v2/datasets/${dataset.id}/items 201`]);
    expect(await jsonl(dataset.id)).toEqual([one, ...many].map((item) => JSON.stringify(item)));
    expect(await dataset.getInfo()).toMatchObject({ id: dataset.id, name: 'crawlee-push', itemCount: 26, cleanItemCount: 26 });
  });

  it('pushData of 21 MB goes in the chunks of at most 9 MB Crawlee makes, each taken whole and in order', async () => {
    const dataset = await Dataset.open('crawlee-large', { config });
    // 471,000 bytes an item: 20 fit in one of Crawlee's chunks (9,420,021 bytes, over 9,000,000 and
    // under 9 MiB), the 21st starts the next.
    const items = Array.from({ length: 45 }, (_, i) => {
      const head = { i: String(i).padStart(2, '0'), pad: '' };
      const filler = `${i} openkvs dataset chunk `.repeat(471_000);
      return { ...head, pad: filler.slice(0, 471_000 - JSON.stringify(head).length) };
    });
    expect(new Set(items.map((item) => Buffer.byteLength(JSON.stringify(item))))).toEqual(new Set([471_000]));
    const before = recorder.requests.length;
    await dataset.pushData(items);
    expect(since(before)).toEqual(Array.from({ length: 3 }, () => `POST /v2/datasets/${dataset.id}/items 201`));
    expect((await dataset.getInfo())?.itemCount).toBe(45);
    const digest = (lines: string[]) => lines.map((line) => createHash('sha256').update(line).digest('hex'));
    expect(digest(await jsonl(dataset.id))).toEqual(digest(items.map((item) => JSON.stringify(item))));
  });

  describe('reading', () => {
    const items = Array.from({ length: 12 }, (_, i) => ({ n: i, word: ['alpha', 'beta', 'gamma'][i % 3], '#seen': i }));
    let dataset: Dataset;
    beforeAll(async () => {
      dataset = await Dataset.open('crawlee-read', { config });
      await dataset.pushData(items);
    });

    it('getData with offset, limit, desc and the other listItems options', async () => {
      const all = await dataset.getData();
      expect(all.items).toEqual(items);
      expect(all).toMatchObject({ total: 12, offset: 0, count: 12, desc: false });
      const page = await dataset.getData({ offset: 2, limit: 3 });
      expect(page.items).toEqual(items.slice(2, 5));
      expect(page).toMatchObject({ total: 12, offset: 2, limit: 3, count: 3 });
      const desc = await dataset.getData({ desc: true, offset: 1, limit: 2 });
      expect(desc.items).toEqual([items[10], items[9]]);
      expect(desc.desc).toBe(true);
      const clean = await dataset.getData({ clean: true, fields: ['word'], limit: 2 });
      expect(clean.items).toEqual([{ word: 'alpha' }, { word: 'beta' }]);
    });

    it('forEach, map and reduce visit every item in order, page by page', async () => {
      const seen: [unknown, number][] = [];
      const before = recorder.requests.length;
      await dataset.forEach((item, index) => void seen.push([item, index]), { limit: 5 });
      expect(seen).toEqual(items.map((item, i) => [item, i]));
      const path = `/v2/datasets/${dataset.id}/items`;
      expect(recorder.requests.slice(before).map(pathAndQuery)).toEqual(
        [0, 5, 10].map((offset) => ({ path, query: { offset: String(offset), limit: '5' }, status: 200 })),
      );
      expect(await dataset.map((item) => item.word)).toEqual(items.map((item) => item.word));
      expect(await dataset.reduce((memo: number, item) => memo + (item.n as number), 0, { limit: 4 })).toBe(66);
      // With no memo, the first item is the memo.
      const longest = await dataset.reduce((memo, item) =>
        (item.word as string).length > (memo.word as string).length ? item : memo,
      );
      expect(longest).toEqual(items[0]);
    });

    it("exportToCSV and exportToJSON write the whole dataset into the configuration's default store on openkvs", async () => {
      await dataset.exportToCSV('items.csv');
      await dataset.exportToJSON('items.json');
      const csv = await api('key-value-stores/~crawlee-state/records/items.csv');
      expect(csv.status).toBe(200);
      expect(csv.headers['content-type']).toMatch(/^text\/csv/);
      expect(parse(csv.body)).toEqual([
        ['n', 'word', '#seen'],
        ...items.map((item) => [String(item.n), item.word, String(item.n)]),
      ]);
      const exported = await api('key-value-stores/~crawlee-state/records/items.json');
      expect(exported.headers['content-type']).toMatch(/^application\/json/);
      expect(JSON.parse(exported.body.toString('utf8'))).toEqual(items);
    });

    it('exportToCSV(key, { toKVS }) fails in apify-client before any request: Crawlee hands toKVS on to listItems', async () => {
      const before = recorder.requests.length;
      await expect(dataset.exportToCSV('other.csv', { toKVS: 'crawlee-exports' })).rejects.toThrow(/toKVS/);
      expect(since(before).filter((r) => r.includes('/items'))).toEqual([]);
    });
  });

  it('drop() deletes the dataset on openkvs; opening the name again makes a new, empty one', async () => {
    const dataset = await Dataset.open('crawlee-drop', { config });
    await dataset.pushData([{ a: 1 }, { a: 2 }]);
    await dataset.drop();
    expect(recorder.requests.at(-1)).toEqual({ method: 'DELETE', url: `/v2/datasets/${dataset.id}`, status: 204 });
    expect((await api(`datasets/${dataset.id}`)).status).toBe(404);
    const again = await Dataset.open('crawlee-drop', { config });
    expect(again.id).not.toBe(dataset.id);
    expect((await again.getData()).items).toEqual([]);
  });

  it('talked to openkvs only through dataset and key-value store endpoints', () => {
    expect(recorder.requests.filter((r) => !isDatasetPath(r.url) && !isKvsPath(r.url))).toEqual([]);
    expect(recorder.requests.filter((r) => r.status >= 400 && !(r.method === 'GET' && r.status === 404))).toEqual([]);
  });
});

describe("the README's Crawlee example", () => {
  /** The site it crawls: three pages linking to each other. */
  const site: Record<string, string> = {
    '/': '<title>Home</title><a href="/a.html">A</a> <a href="/b.html">B</a>',
    '/a.html': '<title>Page A – ünïcode</title><a href="/">Home</a>',
    '/b.html': '<title>Page B</title><a href="/a.html">A</a>',
  };
  let siteServer: Server;
  let siteUrl: string;

  beforeAll(async () => {
    siteServer = createServer((req, res) => {
      const page = site[req.url ?? ''];
      if (page === undefined) res.writeHead(404).end();
      else res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(`<!doctype html><html>${page}</html>`);
    });
    await new Promise<void>((resolve) => siteServer.listen(0, '127.0.0.1', resolve));
    siteUrl = `http://127.0.0.1:${(siteServer.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    siteServer?.close();
  });

  /** The JavaScript block that follows the "**Crawlee**" paragraph of README.md. */
  function readmeExample(): string {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const from = readme.indexOf('**Crawlee**');
    const block = /```js\n([\s\S]*?)```/.exec(readme.slice(from));
    if (from < 0 || !block?.[1]) throw new Error('README.md has no Crawlee example');
    return block[1];
  }

  it('runs as printed (only the two URLs changed), its queue, rows and pages on openkvs', async () => {
    const code = readmeExample();
    expect(code).toContain("'http://127.0.0.1:8910'");
    expect(code).toContain("'https://crawlee.dev'");
    // Beside the fixtures, so that its imports resolve from this project's node_modules.
    const dir = mkdtempSync(join(fixture(''), '.readme-'));
    try {
      const script = join(dir, 'crawl.mjs');
      writeFileSync(
        script,
        code.replace("'http://127.0.0.1:8910'", `'${server.origin}'`).replace("'https://crawlee.dev'", `'${siteUrl}/'`),
      );
      const run = await runScript(script, { OPENKVS_TOKEN: server.token('alice') }, 90_000);
      expect(run.code, run.stderr).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    // The request queue crawl-queue on openkvs: every page handled, none pending.
    const queue = json<{ data: Record<string, unknown> }>(await api('request-queues/~crawl-queue')).data;
    expect(queue).toMatchObject({ totalRequestCount: 3, handledRequestCount: 3, pendingRequestCount: 0 });
    const requests = json<{ data: { items: { url: string; handledAt?: string }[] } }>(
      await api(`request-queues/${queue.id}/requests`),
    ).data.items;
    expect(requests.map((r) => r.url).sort()).toEqual([`${siteUrl}/`, `${siteUrl}/a.html`, `${siteUrl}/b.html`]);
    expect(requests.every((r) => typeof r.handledAt === 'string')).toBe(true);

    const rows = json<{ url: string; title: string }[]>(await api('datasets/~crawl-results/items'));
    expect(rows.map((r) => [r.url, r.title]).sort()).toEqual([
      [`${siteUrl}/`, 'Home'],
      [`${siteUrl}/a.html`, 'Page A – ünïcode'],
      [`${siteUrl}/b.html`, 'Page B'],
    ]);
    const csv = await api('key-value-stores/~crawl-state/records/results');
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    const [head, ...body] = parse(csv.body) as string[][];
    expect(head).toEqual(['url', 'title']);
    expect(body.map(([url, title]) => ({ url, title }))).toEqual(rows);
    const keys = json<{ data: { items: { key: string }[] } }>(await api('key-value-stores/~crawl-pages/keys')).data.items;
    expect(keys).toHaveLength(3);
    const state = JSON.parse((await api('key-value-stores/~crawl-state/records/CRAWLEE_STATE')).body.toString('utf8'));
    expect(Object.values(state.titles).sort()).toEqual(['Home', 'Page A – ünïcode', 'Page B']);
  }, 120_000);
});
