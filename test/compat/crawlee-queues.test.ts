/**
 * Crawlee 3.18.1 `RequestQueue` (v2: locks on the server, one clientKey per instance), unmodified,
 * with apify-client as its storage client and a real `openkvs serve` behind it. Then a real
 * CheerioCrawler crawl of a local site of 30 pages with every storage on openkvs, in a child
 * process (fixtures/crawl-queue.mjs).
 */
import { Configuration, getRequestId, RequestQueue, type StorageClient } from '@crawlee/cheerio';
import type { ApifyClient } from 'apify-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, resultOf, runScript } from './child.js';
import { clientFor } from './client.js';
import { isDatasetPath, isKvsPath, isQueuePath, type Recorder, startRecorder } from './recorder.js';
import { type CompatServer, startOpenkvs } from './server.js';
import { type Site, startSite } from './site.js';

let server: CompatServer;
let recorder: Recorder;
let alice: ApifyClient;
let storageClient: StorageClient;

/**
 * A Crawlee configuration of its own: each opens its own `RequestQueue` instance (with its own
 * clientKey), as two crawler processes would.
 */
const newConfig = () => new Configuration({ storageClient });
const urls = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `https://example.com/${prefix}/${i}`);
/** The ids of a queue's requests locked now (by anyone), as openkvs lists them. */
const lockedNow = async (queueId: string) =>
  (await alice.requestQueue(queueId).listRequests({ filter: ['locked'], limit: 1000 })).items.map((r) => r.id);

beforeAll(async () => {
  server = await startOpenkvs(['alice']);
  recorder = await startRecorder(server.origin);
  alice = clientFor(server.origin, server.token('alice'));
  // As the README configures Crawlee: apify-client is the storage client, pointed at openkvs.
  storageClient = clientFor(recorder.origin, server.token('alice')) as unknown as StorageClient;
});
afterAll(async () => {
  await recorder?.close();
  await server?.close();
});

describe('Crawlee RequestQueue on openkvs', () => {
  it('RequestQueue.open(name) get-or-creates the named queue; open(id) finds it', async () => {
    const before = recorder.requests.length;
    const queue = await RequestQueue.open('crawlee-open', { config: newConfig() });
    expect(queue.name).toBe('crawlee-open');
    // Crawlee tries the name as an id, get-or-creates it, then reads its counts.
    expect(recorder.requests.slice(before)).toEqual([
      { method: 'GET', url: '/v2/request-queues/crawlee-open', status: 404, errorType: 'record-not-found' },
      { method: 'POST', url: '/v2/request-queues?name=crawlee-open', status: 201 },
      { method: 'GET', url: `/v2/request-queues/${queue.id}`, status: 200 },
    ]);
    expect((await alice.requestQueue('~crawlee-open').get())?.id).toBe(queue.id);
    const byId = await RequestQueue.open(queue.id, { config: newConfig() });
    expect(byId.name).toBe('crawlee-open');
  });

  it('addRequest(s), fetchNextRequest in order (forefront first), markRequestHandled, handledCount, getInfo', async () => {
    const queue = await RequestQueue.open('crawlee-basic', { config: newConfig() });
    const first = await queue.addRequest({ url: 'https://example.com/first', userData: { label: 'START' } });
    expect(first).toMatchObject({
      requestId: getRequestId('https://example.com/first'),
      wasAlreadyPresent: false,
      wasAlreadyHandled: false,
    });
    const before = recorder.requests.length;
    const batch = urls(40, 'batch');
    const added = await queue.addRequests(batch.map((url) => ({ url })));
    expect(added.unprocessedRequests).toEqual([]);
    expect(added.processedRequests.map((p) => p.requestId).sort()).toEqual(batch.map((url) => getRequestId(url)).sort());
    // apify-client sends them 25 at a time (the batches side by side, so in either order).
    const paths = recorder.requests.slice(before).map((r) => `${r.method} ${new URL(r.url, 'http://x').pathname} ${r.status}`);
    expect(paths.map((r) => r.replace(queue.id, 'ID'))).toEqual([
      'POST /v2/request-queues/ID/requests/batch 201',
      'POST /v2/request-queues/ID/requests/batch 201',
    ]);
    await queue.addRequest({ url: 'https://example.com/urgent' }, { forefront: true });
    expect((await queue.addRequest({ url: 'https://example.com/first' })).wasAlreadyPresent).toBe(true);

    const urgent = await queue.fetchNextRequest();
    expect(urgent?.url).toBe('https://example.com/urgent');
    const next = await queue.fetchNextRequest();
    expect(next).toMatchObject({ url: 'https://example.com/first', userData: { label: 'START' } });
    // What Crawlee fetched is locked on openkvs, for no one else.
    expect(await lockedNow(queue.id)).toEqual(expect.arrayContaining([urgent!.id, next!.id]));

    await queue.markRequestHandled(urgent!);
    await queue.markRequestHandled(next!);
    expect(await alice.requestQueue(queue.id).getRequest(urgent!.id!)).toHaveProperty('handledAt', expect.any(Date));
    expect(await queue.handledCount()).toBe(2);
    expect(await queue.getInfo()).toMatchObject({
      id: queue.id,
      name: 'crawlee-basic',
      totalRequestCount: 42,
      handledRequestCount: 2,
      pendingRequestCount: 40,
      hadMultipleClients: false,
    });
    expect(await lockedNow(queue.id)).not.toContain(urgent!.id);

    // The rest, each once.
    const fetched: string[] = [];
    for (let request = await queue.fetchNextRequest(); request; request = await queue.fetchNextRequest()) {
      fetched.push(request.url);
      await queue.markRequestHandled(request);
    }
    expect([...fetched].sort()).toEqual([...batch].sort());
    expect(await queue.isEmpty()).toBe(true);
    expect(await queue.isFinished()).toBe(true);
    expect(await queue.getInfo()).toMatchObject({ totalRequestCount: 42, handledRequestCount: 42, pendingRequestCount: 0 });
    expect(await lockedNow(queue.id)).toEqual([]);
  });

  it('reclaimRequest gives the request back (forefront: next); its retryCount is kept', async () => {
    const queue = await RequestQueue.open('crawlee-reclaim', { config: newConfig() });
    await queue.addRequests(urls(5, 'reclaim').map((url) => ({ url })));
    const [a, b] = [await queue.fetchNextRequest(), await queue.fetchNextRequest()];
    expect([a?.url, b?.url]).toEqual(urls(2, 'reclaim'));
    b!.retryCount += 1;
    b!.pushErrorMessage(new Error('try again'));
    await queue.reclaimRequest(b!, { forefront: true });
    await queue.markRequestHandled(a!);
    const again = await queue.fetchNextRequest();
    expect(again).toMatchObject({ id: b!.id, url: b!.url, retryCount: 1 });
    expect(again?.errorMessages).toEqual([expect.stringContaining('try again')]);
    // Reclaimed without forefront, it still comes back, with the rest.
    await queue.reclaimRequest(again!);
    const rest: string[] = [];
    for (let r = await queue.fetchNextRequest(); r; r = await queue.fetchNextRequest()) {
      rest.push(r.url);
      await queue.markRequestHandled(r);
    }
    expect([...rest].sort()).toEqual(urls(5, 'reclaim').slice(1).sort());
    expect(await queue.isFinished()).toBe(true);
    expect(await queue.handledCount()).toBe(5);
  });

  it('two RequestQueue instances on one queue never get the same request; neither is finished while the other holds some', async () => {
    const first = await RequestQueue.open('crawlee-two', { config: newConfig() });
    const second = await RequestQueue.open('crawlee-two', { config: newConfig() });
    expect(second.id).toBe(first.id);
    expect(second.clientKey).not.toBe(first.clientKey);
    await first.addRequests(urls(30, 'two').map((url) => ({ url })));

    // The first locks the head (25 at once), the second gets the other 5.
    const one = await first.fetchNextRequest();
    const theirs: string[] = [];
    for (let r = await second.fetchNextRequest(); r; r = await second.fetchNextRequest()) {
      theirs.push(r.url);
      await second.markRequestHandled(r);
    }
    expect(theirs).toHaveLength(5);
    expect(theirs).not.toContain(one?.url);
    expect(await second.isFinished()).toBe(false);

    const mine = [one!.url];
    await first.markRequestHandled(one!);
    for (let r = await first.fetchNextRequest(); r; r = await first.fetchNextRequest()) {
      mine.push(r.url);
      await first.markRequestHandled(r);
    }
    expect(mine).toHaveLength(25);
    expect([...mine, ...theirs].sort()).toEqual(urls(30, 'two').sort());
    expect(await second.isFinished()).toBe(true);
    expect(await first.isFinished()).toBe(true);
    expect(await first.getInfo()).toMatchObject({ handledRequestCount: 30, pendingRequestCount: 0, hadMultipleClients: true });
  });

  it('the requests of an instance that stopped come back to another after requestLockSecs', async () => {
    const gone = await RequestQueue.open('crawlee-expiry', { config: newConfig() });
    gone.requestLockSecs = 1;
    await gone.addRequests(urls(3, 'expiry').map((url) => ({ url })));
    const taken = await gone.fetchNextRequest();
    expect(taken).not.toBeNull();
    // `gone` stops here: it never hands its requests back.
    const heir = await RequestQueue.open('crawlee-expiry', { config: newConfig() });
    const handled: string[] = [];
    const deadline = Date.now() + 15_000;
    while (!(await heir.isFinished()) && Date.now() < deadline) {
      const request = await heir.fetchNextRequest();
      if (!request) {
        // Locked by `gone`: ask again shortly, as a crawler's pool does.
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      handled.push(request.url);
      await heir.markRequestHandled(request);
    }
    expect([...handled].sort()).toEqual(urls(3, 'expiry'));
    expect(await heir.getInfo()).toMatchObject({ totalRequestCount: 3, handledRequestCount: 3, pendingRequestCount: 0 });
  });

  it('drop() deletes the queue on openkvs', async () => {
    const queue = await RequestQueue.open('crawlee-drop', { config: newConfig() });
    await queue.addRequest({ url: 'https://example.com/dropped' });
    await queue.drop();
    expect(recorder.requests.at(-1)).toEqual({ method: 'DELETE', url: `/v2/request-queues/${queue.id}`, status: 204 });
    expect(await alice.requestQueue(queue.id).get()).toBeUndefined();
    const again = await RequestQueue.open('crawlee-drop', { config: newConfig() });
    expect(again.id).not.toBe(queue.id);
    expect(await again.isEmpty()).toBe(true);
  });

  it('talked to openkvs only through request-queue endpoints, and had nothing refused', () => {
    expect(recorder.requests.filter((r) => !isQueuePath(r.url))).toEqual([]);
    expect(recorder.requests.filter((r) => r.status >= 400 && !(r.method === 'GET' && r.status === 404))).toEqual([]);
  });
});

describe('a CheerioCrawler crawl of 30 pages with every storage on openkvs', () => {
  let site: Site;
  let crawlRecorder: Recorder;
  let result: { stats: { requestsFinished: number; requestsFailed: number }; queueId: string };

  beforeAll(async () => {
    site = await startSite(30);
    crawlRecorder = await startRecorder(server.origin);
    const run = await runScript(
      fixture('crawl-queue.mjs'),
      { SITE_URL: `${site.origin}/`, OPENKVS_URL: crawlRecorder.origin, OPENKVS_TOKEN: server.token('alice') },
      90_000,
    );
    expect(run.code, run.stderr).toBe(0);
    result = resultOf(run) as typeof result;
  }, 120_000);
  afterAll(async () => {
    await crawlRecorder?.close();
    await site?.close();
  });

  it('handled every page once: the crawler says so, the site saw each once, the queue counts 30 handled', async () => {
    expect(result.stats).toMatchObject({ requestsFinished: 30, requestsFailed: 0 });
    expect([...site.hits.values()]).toEqual(Array.from({ length: 30 }, () => 1));
    const queue = await alice.requestQueue('~crawl-queue').get();
    expect(queue).toMatchObject({ id: result.queueId, totalRequestCount: 30, handledRequestCount: 30, pendingRequestCount: 0 });
    const requests = [];
    for await (const request of alice.requestQueue(result.queueId).listRequests()) requests.push(request);
    expect(requests.map((r) => r.url).sort()).toEqual([...site.urls].sort());
    expect(requests.every((r) => (r.handledAt as unknown) instanceof Date)).toBe(true);
    expect(await lockedNow(result.queueId)).toEqual([]);
  });

  it('put every page in the dataset once, with its title', async () => {
    const { items } = await alice.dataset('~crawl-results').listItems();
    const rows = items as { url: string; title: string }[];
    expect(rows.map((r) => r.url).sort()).toEqual([...site.urls].sort());
    for (const row of rows) expect(row.title).toBe(site.titleOf(row.url));
  });

  it('used only storage endpoints, and had nothing refused but the lookups of names as ids', () => {
    const outside = crawlRecorder.requests.filter((r) => !isQueuePath(r.url) && !isDatasetPath(r.url) && !isKvsPath(r.url));
    expect(outside).toEqual([]);
    expect(crawlRecorder.requests.filter((r) => r.status >= 400 && !(r.method === 'GET' && r.status === 404))).toEqual([]);
    expect(crawlRecorder.requests.filter((r) => isQueuePath(r.url) && r.url.includes('/head/lock')).length).toBeGreaterThan(0);
  });
});
