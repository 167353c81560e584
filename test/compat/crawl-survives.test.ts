/**
 * A crawl that survives its crawler: an Actor "at home" (fixtures/actor-crawl.mjs: the Apify SDK
 * and a CheerioCrawler, unmodified) crawls a local site of 150 pages with its default request
 * queue, dataset and key-value store on openkvs. The test SIGKILLs it mid-crawl, starts it again
 * on the same queue, and it finishes: every page handled once, every page in the dataset.
 *
 * The killed run leaves requests locked (the ones it was handling and the head it had locked
 * ahead). They come back when their locks expire: the Actor sets its queue's `requestLockSecs` to
 * REQUEST_LOCK_SECS (the crawler would make it at least 60 s), so the second run waits seconds.
 */
import type { ApifyClient } from 'apify-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, runScript, startScript } from './child.js';
import { clientFor } from './client.js';
import { isDatasetPath, isKvsPath, isQueuePath, type Recorder, startRecorder } from './recorder.js';
import { type CompatServer, startOpenkvs } from './server.js';
import { type Site, startSite } from './site.js';

const PAGES = 150;
const MAX_CONCURRENCY = 5;
const REQUEST_LOCK_SECS = 10;

let server: CompatServer;
let recorder: Recorder;
let site: Site;
let alice: ApifyClient;

/** Resolves once `check()` resolves true, asking every 50 ms; fails after `timeoutMs` naming `what`. */
async function pollUntil(check: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

beforeAll(async () => {
  server = await startOpenkvs(['alice']);
  recorder = await startRecorder(server.origin);
  site = await startSite(PAGES);
  alice = clientFor(server.origin, server.token('alice'));
});
afterAll(async () => {
  await site?.close();
  await recorder?.close();
  await server?.close();
});

describe('a crawl that survives its crawler', () => {
  it('an Actor SIGKILLed mid-crawl and started again on the same queue handles every page once', async () => {
    const queueId = (await alice.requestQueues().getOrCreate()).id;
    const datasetId = (await alice.datasets().getOrCreate()).id;
    const storeId = (await alice.keyValueStores().getOrCreate()).id;
    const env = {
      APIFY_IS_AT_HOME: '1',
      APIFY_DEFAULT_REQUEST_QUEUE_ID: queueId,
      APIFY_DEFAULT_DATASET_ID: datasetId,
      APIFY_DEFAULT_KEY_VALUE_STORE_ID: storeId,
      APIFY_TOKEN: server.token('alice'),
      APIFY_API_BASE_URL: recorder.origin,
      APIFY_API_PUBLIC_BASE_URL: server.origin,
      // Actor.init() at home otherwise asks /v2/actor-runs/<ACTOR_RUN_ID> for the pricing info.
      APIFY_ACTOR_PRICING_INFO: '{}',
      APIFY_CHARGED_ACTOR_EVENT_COUNTS: '{}',
      SITE_URL: `${site.origin}/`,
      MAX_CONCURRENCY: String(MAX_CONCURRENCY),
      REQUEST_LOCK_SECS: String(REQUEST_LOCK_SECS),
    };

    // The first run: the site answers 100 pages, then holds the rest, so that the crawl cannot
    // end before the kill; the kill comes once the dataset has 40 rows.
    site.holdAfter(100);
    const firstStartedAt = Date.now();
    const first = startScript(fixture('actor-crawl.mjs'), env);
    let ended = false;
    void first.done.then(() => {
      ended = true;
    });
    await pollUntil(
      async () => ended || ((await alice.dataset(datasetId).get())?.itemCount ?? 0) >= 40,
      'the first run has pushed 40 rows',
      90_000,
    );
    if (ended) throw new Error(`the first run ended by itself:\n${(await first.done).stderr}`);
    first.kill('SIGKILL');
    expect((await first.done).signal).toBe('SIGKILL');
    const killedAt = Date.now();

    // What the dead run left: handled ones, and locks that live on (REQUEST_LOCK_SECS is far
    // longer than these two requests take).
    const lockedAtKill = new Set<string>();
    for await (const request of alice.requestQueue(queueId).listRequests({ filter: ['locked'] })) lockedAtKill.add(request.url);
    const atKill = await alice.requestQueue(queueId).get();
    expect(lockedAtKill.size).toBeGreaterThan(0);
    expect(atKill?.handledRequestCount).toBeGreaterThanOrEqual(40 - MAX_CONCURRENCY);
    expect(atKill?.handledRequestCount).toBeLessThan(PAGES);

    // The second run, on the same queue, dataset and store, with the whole site answering.
    site.release();
    const second = await runScript(fixture('actor-crawl.mjs'), env, 150_000);
    expect(second.code, second.stderr).toBe(0);

    // Every page handled once in the queue's counts.
    expect(await alice.requestQueue(queueId).get()).toMatchObject({
      totalRequestCount: PAGES,
      handledRequestCount: PAGES,
      pendingRequestCount: 0,
      hadMultipleClients: true,
    });
    const requests: { url: string; handledAt?: unknown }[] = [];
    for await (const request of alice.requestQueue(queueId).listRequests()) requests.push(request);
    expect(requests.map((r) => r.url).sort()).toEqual([...site.urls].sort());
    // apify-client hands `handledAt` back as a Date.
    expect(requests.filter((r) => !(r.handledAt instanceof Date))).toEqual([]);

    // Every page in the dataset, with its title; a page twice only if the dead run was handling it.
    const rows: { url: string; title: string }[] = [];
    for (let offset = 0; ; offset += 1000) {
      const page = await alice.dataset(datasetId).listItems({ offset, limit: 1000 });
      rows.push(...(page.items as typeof rows));
      if (page.items.length < 1000) break;
    }
    expect([...new Set(rows.map((r) => r.url))].sort()).toEqual([...site.urls].sort());
    for (const row of rows) expect(row.title).toBe(site.titleOf(row.url));
    const seen = new Map<string, number>();
    for (const row of rows) seen.set(row.url, (seen.get(row.url) ?? 0) + 1);
    const twice = [...seen].filter(([, n]) => n > 1).map(([url]) => url);
    expect([...seen.values()].every((n) => n <= 2)).toBe(true);
    for (const url of twice) expect(lockedAtKill, url).toContain(url);
    expect(twice.length).toBeLessThanOrEqual(MAX_CONCURRENCY);
    expect(rows.length).toBe(PAGES + twice.length);

    // The dead run's locks held: none of its locked pages was fetched again before its locks,
    // all taken after the first run started, could expire.
    for (const url of lockedAtKill) {
      const path = new URL(url).pathname;
      const again = site.log.filter((hit) => hit.path === path && hit.at > killedAt).map((hit) => hit.at);
      expect(again.length, url).toBeGreaterThan(0);
      expect(Math.min(...again), url).toBeGreaterThanOrEqual(firstStartedAt + REQUEST_LOCK_SECS * 1000);
    }

    // OUTPUT in the default store, written by the run that finished.
    const output = await alice.keyValueStore(storeId).getRecord('OUTPUT');
    expect(output?.value).toMatchObject({ handledRequestCount: PAGES, pendingRequestCount: 0, requestsFailed: 0 });

    // Both runs used only storage endpoints, and openkvs refused nothing.
    expect(recorder.requests.filter((r) => !isQueuePath(r.url) && !isDatasetPath(r.url) && !isKvsPath(r.url))).toEqual([]);
    expect(recorder.requests.filter((r) => r.status >= 400 && r.status !== 404)).toEqual([]);
  }, 240_000);
});
