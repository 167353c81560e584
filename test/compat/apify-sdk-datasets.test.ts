import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, runScript } from './child.js';
import { fetchRaw, json } from './http.js';
import { isDatasetPath, isKvsPath, pathAndQuery, type Recorder, startRecorder } from './recorder.js';
import { openSdkSession, type Sdk, type SdkSession } from './sdk-session.js';
import type { CompatServer } from './server.js';

let server: CompatServer;
let recorder: Recorder;
let sdk: Sdk;

const auth = () => ({ authorization: `Bearer ${server.token('alice')}` });
const api = (path: string, options: Parameters<typeof fetchRaw>[1] = {}) =>
  fetchRaw(`${server.origin}/v2/${path}`, { ...options, headers: { ...auth(), ...options.headers } });

/** The items openkvs holds in a dataset, as one JSON text per line. */
async function storedLines(datasetId: string): Promise<string[]> {
  const res = await api(`datasets/${datasetId}/items?format=jsonl`);
  expect(res.status).toBe(200);
  return res.body.toString('utf8').split('\n').filter(Boolean);
}

/** The requests made since `from`, as "METHOD url status". */
const since = (from: number) => recorder.requests.slice(from).map((r) => `${r.method} ${r.url} ${r.status}`);

let session: SdkSession | undefined;
beforeAll(async () => {
  session = await openSdkSession('openkvs-compat-sdk-datasets-');
  ({ server, recorder, sdk } = session);
});
afterAll(async () => {
  await session?.close();
});

describe('Actor.openDataset(name, { forceCloud: true })', () => {
  it('opens (creating it) the named dataset of the token owner on openkvs', async () => {
    const before = recorder.requests.length;
    const dataset = await sdk.Actor.openDataset('sdk-results', { forceCloud: true });
    expect(dataset.name).toBe('sdk-results');
    const res = await api('datasets/~sdk-results');
    expect(json<{ data: { id: string } }>(res).data.id).toBe(dataset.id);
    // The SDK first tries the name as an id (404 record-not-found), then get-or-creates it.
    expect(recorder.requests.slice(before)).toEqual([
      { method: 'GET', url: '/v2/datasets/sdk-results', status: 404, errorType: 'record-not-found' },
      { method: 'POST', url: '/v2/datasets?name=sdk-results', status: 201 },
    ]);
    const again = await sdk.Actor.openDataset(dataset.id, { forceCloud: true });
    expect(again.id).toBe(dataset.id);
  });

  it('pushData stores one item or many, each as the JSON the SDK sent; getData and getInfo read them back', async () => {
    const dataset = await sdk.Actor.openDataset('sdk-push', { forceCloud: true });
    const first = { title: 'Příliš žluťoučký kůň 🐎', price: 1.25, tags: ['a'], nested: { z: 1, a: 2 } };
    const more = [{ title: 'second', price: 2 }, { title: 'third', price: null, '#debug': { ms: 5 } }, {}];
    const before = recorder.requests.length;
    await dataset.pushData(first);
    await dataset.pushData(more);
    expect(since(before)).toEqual([`POST /v2/datasets/${dataset.id}/items 201`, `POST /v2/datasets/${dataset.id}/items 201`]);
    expect(await storedLines(dataset.id)).toEqual([first, ...more].map((item) => JSON.stringify(item)));

    const all = await dataset.getData();
    expect(all.items).toEqual([first, ...more]);
    expect(all).toMatchObject({ total: 4, offset: 0, count: 4, desc: false });
    const page = await dataset.getData({ offset: 1, limit: 2, desc: true });
    expect(page.items).toEqual([more[1], more[0]]);
    expect(page).toMatchObject({ total: 4, offset: 1, count: 2, limit: 2, desc: true });
    const clean = await dataset.getData({ clean: true, fields: ['title'] });
    expect(clean.items).toEqual([{ title: first.title }, { title: 'second' }, { title: 'third' }]);
    expect(await dataset.getInfo()).toMatchObject({ id: dataset.id, name: 'sdk-push', itemCount: 4, cleanItemCount: 3 });
  });

  it('forEach, map, reduce and for await visit every item in order, page by page', async () => {
    const dataset = await sdk.Actor.openDataset('sdk-iterate', { forceCloud: true });
    const items = Array.from({ length: 7 }, (_, i) => ({ i, label: `item ${i}` }));
    await dataset.pushData(items);

    const seen: [unknown, number][] = [];
    const before = recorder.requests.length;
    await dataset.forEach((item, index) => void seen.push([item, index]), { limit: 3 });
    expect(seen).toEqual(items.map((item, i) => [item, i]));
    // Pages of 3: Crawlee moves on by the limit openkvs reports.
    const path = `/v2/datasets/${dataset.id}/items`;
    expect(recorder.requests.slice(before).map(pathAndQuery)).toEqual(
      [0, 3, 6].map((offset) => ({ path, query: { offset: String(offset), limit: '3' }, status: 200 })),
    );

    expect(await dataset.map((item) => item.label, { limit: 4 })).toEqual(items.map((item) => item.label));
    expect(await dataset.reduce((sum: number, item) => sum + (item.i as number), 0, { limit: 2 })).toBe(21);
    const iterated: unknown[] = [];
    for await (const item of dataset) iterated.push(item);
    expect(iterated).toEqual(items);
  });

  it('exportToCSV / exportToJSON read every item through the API into the local default store', async () => {
    const dataset = await sdk.Actor.openDataset('sdk-export', { forceCloud: true });
    const items = Array.from({ length: 1005 }, (_, i) => ({ n: i, name: i % 2 ? `odd, "${i}"` : 'even' }));
    await dataset.pushData(items);
    const before = recorder.requests.length;
    await dataset.exportToCSV('export-csv');
    await dataset.exportToJSON('export-json');
    // Export pages by 1000; the store it writes to is the configuration's (local), not the dataset's.
    const path = `/v2/datasets/${dataset.id}/items`;
    expect(recorder.requests.slice(before).map(pathAndQuery)).toEqual(
      [0, 1000, 0, 1000].map((offset) => ({ path, query: { offset: String(offset), limit: '1000' }, status: 200 })),
    );
    // Crawlee's local store may hand text back as a Buffer.
    const csv = String(await sdk.Actor.getValue('export-csv'));
    expect(parse(csv)).toEqual([['n', 'name'], ...items.map((item) => [String(item.n), item.name])]);
    expect(await sdk.Actor.getValue('export-json')).toEqual(items);
  });

  it('drop() deletes the dataset on openkvs', async () => {
    const dataset = await sdk.Actor.openDataset('sdk-drop', { forceCloud: true });
    await dataset.pushData({ a: 1 });
    await dataset.drop();
    expect(recorder.requests.at(-1)).toEqual({ method: 'DELETE', url: `/v2/datasets/${dataset.id}`, status: 204 });
    expect((await api(`datasets/${dataset.id}`)).status).toBe(404);
    expect((await api('datasets/~sdk-drop')).status).toBe(404);
  });
});

describe('an Actor run (APIFY_IS_AT_HOME=1) with its default dataset on openkvs', () => {
  // Actor.init() on the platform loads the run's pricing info: from APIFY_ACTOR_PRICING_INFO and
  // APIFY_CHARGED_ACTOR_EVENT_COUNTS when both are set, else with GET /v2/actor-runs/<ACTOR_RUN_ID>.
  const noPricingLookup = { APIFY_ACTOR_PRICING_INFO: '{}', APIFY_CHARGED_ACTOR_EVENT_COUNTS: '{}' };
  const created = async (path: string) => json<{ data: { id: string } }>(await api(path, { method: 'POST' })).data.id;

  it('Actor.pushData, getData, map, reduce and the exports work on the dataset named by APIFY_DEFAULT_DATASET_ID', async () => {
    const runRecorder = await startRecorder(server.origin);
    try {
      const datasetId = await created('datasets');
      const storeId = await created('key-value-stores');
      const run = await runScript(fixture('actor-dataset.mjs'), {
        ...noPricingLookup,
        APIFY_IS_AT_HOME: '1',
        APIFY_DEFAULT_DATASET_ID: datasetId,
        APIFY_DEFAULT_KEY_VALUE_STORE_ID: storeId,
        APIFY_TOKEN: server.token('alice'),
        APIFY_API_BASE_URL: runRecorder.origin,
        APIFY_API_PUBLIC_BASE_URL: server.origin,
      });
      expect(run.code, run.stderr).toBe(0);

      const lines = await storedLines(datasetId);
      expect(lines).toEqual([
        '{"title":"first","price":1.5}',
        '{"title":"second","price":2}',
        '{"title":"third – ünïcode 🐎","price":3.5}',
      ]);
      const output = await api(`key-value-stores/${storeId}/records/OUTPUT`);
      expect(JSON.parse(output.body.toString())).toEqual({
        defaultId: datasetId,
        page: [{ title: 'second', price: 2 }],
        total: 3,
        titles: ['first', 'second', 'third – ünïcode 🐎'],
        sum: 7,
        itemCount: 3,
        named: { name: 'run-extra', itemCount: 1 },
      });
      const csv = await api(`key-value-stores/${storeId}/records/results.csv`);
      expect(csv.headers['content-type']).toMatch(/^text\/csv/);
      expect(parse(csv.body)).toEqual([
        ['title', 'price'],
        ['first', '1.5'],
        ['second', '2'],
        ['third – ünïcode 🐎', '3.5'],
      ]);
      const exported = await api(`key-value-stores/${storeId}/records/results.json`);
      expect(JSON.parse(exported.body.toString())).toEqual(lines.map((l) => JSON.parse(l)));
      const extra = json<{ data: { id: string } }>(await api('datasets/~run-extra')).data;
      expect(await storedLines(extra.id)).toEqual(['{"from":"the run"}']);

      // Only storage endpoints, and no failure but the lookup of the named dataset by id.
      expect(runRecorder.requests.filter((r) => !isDatasetPath(r.url) && !isKvsPath(r.url))).toEqual([]);
      expect(runRecorder.requests.filter((r) => r.status >= 400)).toEqual([
        { method: 'GET', url: '/v2/datasets/run-extra', status: 404, errorType: 'record-not-found' },
      ]);
      expect(runRecorder.requests.filter((r) => r.method === 'POST').map((r) => `${r.url} ${r.status}`)).toEqual([
        `/v2/datasets/${datasetId}/items 201`,
        `/v2/datasets/${datasetId}/items 201`,
        '/v2/datasets?name=run-extra 201',
        `/v2/datasets/${extra.id}/items 201`,
      ]);
    } finally {
      await runRecorder.close();
    }
  });
});
