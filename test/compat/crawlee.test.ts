/**
 * Crawlee 3.18.1 (CheerioCrawler), unmodified, crawling a small site this test serves, with its
 * key-value stores on a real `openkvs serve` (apify-client as Crawlee's storage client) and its
 * request queue in Crawlee's memory storage. Crawlee runs in a child process
 * (fixtures/crawl.mjs): its global configuration and timers stay out of the test process.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { deflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, resultOf, runScript, type ScriptResult } from './child.js';
import { fetchRaw, json } from './http.js';
import { isKvsPath, type Recorder, startRecorder } from './recorder.js';
import { type CompatServer, startOpenkvs } from './server.js';

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const byte of buf) c = CRC_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function pngChunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const out = Buffer.alloc(body.length + 8);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE(crc32(body), body.length + 4);
  return out;
}
/** A valid 32×32 RGB PNG of random pixels (a few KB that do not compress). */
function randomPng(): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(32, 0);
  header.writeUInt32BE(32, 4);
  header.set([8, 2, 0, 0, 0], 8);
  const rows = Buffer.concat(Array.from({ length: 32 }, () => Buffer.concat([Buffer.from([0]), randomBytes(96)])));
  return Buffer.concat([
    Buffer.from('89504e470d0a1a0a', 'hex'),
    pngChunk('IHDR', header),
    pngChunk('IDAT', deflateSync(rows)),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

const png = randomPng();
const html = (title: string, body: string) =>
  Buffer.from(`<!doctype html>\n<html><head><meta charset="utf-8"><title>${title}</title></head><body>${body}</body></html>\n`);
/** The site: its pages link to each other and to the image. */
const site: Record<string, { type: string; body: Buffer }> = {
  '/': { type: 'text/html; charset=utf-8', body: html('Home', '<a href="/about.html">About</a> <a href="/logo.png">Logo</a>') },
  '/about.html': {
    type: 'text/html; charset=utf-8',
    body: html(
      'About – čeština, 日本語, emoji 🕷️',
      `<a href="/deep/page.html">Deeper</a>${'<p>Crawl me, ünïcödé and all.</p>'.repeat(150)}`,
    ),
  },
  '/deep/page.html': {
    type: 'text/html; charset=utf-8',
    body: html('Deep', '<a href="/">Home</a> <a href="/logo.png">Logo</a>'),
  },
  '/logo.png': { type: 'image/png', body: png },
};

let server: CompatServer;
let recorder: Recorder;
let siteServer: Server;
const siteHits: string[] = [];
let run: ScriptResult;

const auth = () => ({ authorization: `Bearer ${server.token('alice')}` });
const record = (store: string, key: string) =>
  fetchRaw(`${server.origin}/v2/key-value-stores/${store}/records/${key}`, {
    headers: { ...auth(), 'accept-encoding': 'identity' },
  });

beforeAll(async () => {
  server = await startOpenkvs(['alice']);
  recorder = await startRecorder(server.origin);
  siteServer = createServer((req, res) => {
    siteHits.push(req.url ?? '');
    const page = site[req.url ?? ''];
    if (!page) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': page.type, 'content-length': page.body.length }).end(page.body);
  });
  await new Promise<void>((resolve) => siteServer.listen(0, '127.0.0.1', resolve));
  run = await runScript(fixture('crawl.mjs'), {
    SITE_URL: `http://127.0.0.1:${(siteServer.address() as AddressInfo).port}`,
    OPENKVS_URL: recorder.origin,
    OPENKVS_TOKEN: server.token('alice'),
  });
}, 90_000);
afterAll(async () => {
  siteServer?.close();
  await recorder?.close();
  await server?.close();
});

describe('CheerioCrawler with its key-value stores on openkvs', () => {
  it('crawls every page and the image once and finishes without failures', () => {
    expect(run.code, run.stderr).toBe(0);
    const { stats } = resultOf(run) as { stats: { requestsFinished: number; requestsFailed: number } };
    expect(stats).toMatchObject({ requestsFinished: 4, requestsFailed: 0 });
    expect([...siteHits].sort()).toEqual(Object.keys(site).sort());
  });

  it('stored the HTML pages byte-exact, with their content type', async () => {
    for (const [path, key] of [
      ['/', 'index.html'],
      ['/about.html', 'about.html'],
      ['/deep/page.html', 'deep-page.html'],
    ] as const) {
      const res = await record('~crawl-pages', key);
      expect(res.status, key).toBe(200);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(res.body.equals(site[path]!.body), key).toBe(true);
    }
  });

  it('stored the PNG byte-exact as image/png', async () => {
    const res = await record('~crawl-pages', 'logo.png');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('image/png');
    expect(res.body.equals(png)).toBe(true);
  });

  it('the pages store lists exactly what was crawled', async () => {
    const res = await fetchRaw(`${server.origin}/v2/key-value-stores/~crawl-pages/keys`, { headers: auth() });
    const { data } = json<{ data: { items: { key: string; size: number }[] } }>(res);
    expect(data.items.map((i) => i.key)).toEqual(['about.html', 'deep-page.html', 'index.html', 'logo.png']);
    expect(data.items.find((i) => i.key === 'index.html')?.size).toBe(site['/']!.body.length);
    expect((resultOf(run) as { pagesStoreId: string }).pagesStoreId).toMatch(/^[a-zA-Z0-9]{17}$/);
  });

  it("kept the crawler's JSON state (useState), statistics and session pool in its default store on openkvs", async () => {
    const state = await record('~crawl-state', 'CRAWLEE_STATE');
    expect(state.status).toBe(200);
    expect(state.headers['content-type']).toBe('application/json; charset=utf-8');
    const { visited, titles } = JSON.parse(state.body.toString()) as { visited: string[]; titles: Record<string, string> };
    expect([...visited].sort()).toEqual(['about.html', 'deep-page.html', 'index.html', 'logo.png']);
    expect(titles).toEqual({ 'index.html': 'Home', 'about.html': 'About – čeština, 日本語, emoji 🕷️', 'deep-page.html': 'Deep' });

    const statistics = await record('~crawl-state', 'SDK_CRAWLER_STATISTICS_0');
    expect(JSON.parse(statistics.body.toString())).toMatchObject({ requestsFinished: 4, requestsFailed: 0 });
    expect((await record('~crawl-state', 'SDK_SESSION_POOL_STATE')).status).toBe(200);
  });

  it('talked to openkvs only through key-value store endpoints (no request queue, no dataset)', () => {
    expect(recorder.requests.length).toBeGreaterThan(8);
    expect(recorder.requests.filter((r) => !isKvsPath(r.url))).toEqual([]);
    expect(recorder.requests.filter((r) => r.status >= 400 && r.method !== 'GET')).toEqual([]);
  });
});
