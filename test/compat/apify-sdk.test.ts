/**
 * The Apify SDK (apify 3.7.2), unmodified, against a real `openkvs serve`, configured only by the
 * environment variables the SDK documents. A recording proxy sits between the SDK and openkvs so
 * that the tests can say exactly which endpoints the SDK used.
 *
 * The SDK reads its environment once, when its default Actor is first used: this file sets the
 * variables before importing `apify` (each test file runs in a process of its own). Actor runs
 * end with process.exit(), so they run as child processes (fixtures/actor-run.mjs).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fixture, runScript } from './child.js';
import { fetchRaw, json, putRecords } from './http.js';
import { isKvsPath, type Recorder, startRecorder } from './recorder.js';
import { openSdkSession, type Sdk, type SdkSession } from './sdk-session.js';
import type { CompatServer } from './server.js';

let server: CompatServer;
let recorder: Recorder;
let sdk: Sdk;

const auth = () => ({ authorization: `Bearer ${server.token('alice')}` });
const storeUrl = (idOrName: string) => `${server.origin}/v2/key-value-stores/${idOrName}`;

/** The bytes openkvs holds under `key`, as a client without compression gets them. */
async function stored(storeId: string, key: string) {
  return fetchRaw(`${storeUrl(storeId)}/records/${key}`, { headers: { ...auth(), 'accept-encoding': 'identity' } });
}

let session: SdkSession | undefined;
beforeAll(async () => {
  session = await openSdkSession('openkvs-compat-sdk-');
  ({ server, recorder, sdk } = session);
});
afterAll(async () => {
  await session?.close();
});

describe('Actor.openKeyValueStore(name, { forceCloud: true })', () => {
  afterEach(() => {
    // Nothing but the key-value store endpoints, whatever the test did.
    expect(recorder.requests.filter((r) => !isKvsPath(r.url))).toEqual([]);
  });

  it('opens (creating it) the named store of the token owner on openkvs', async () => {
    const before = recorder.requests.length;
    const store = await sdk.Actor.openKeyValueStore('sdk-store', { forceCloud: true });
    expect(store.name).toBe('sdk-store');
    const res = await fetchRaw(storeUrl('~sdk-store'), { headers: auth() });
    expect(json<{ data: { id: string } }>(res).data.id).toBe(store.id);
    // The SDK first tries the name as an id (404 record-not-found), then get-or-creates it.
    expect(recorder.requests.slice(before)).toEqual([
      { method: 'GET', url: '/v2/key-value-stores/sdk-store', status: 404, errorType: 'record-not-found' },
      { method: 'POST', url: '/v2/key-value-stores?name=sdk-store', status: 201 },
    ]);
  });

  it('setValue / getValue round-trip objects, text and binary with their content types', async () => {
    const store = await sdk.Actor.openKeyValueStore('sdk-values', { forceCloud: true });
    const state = { page: 3, seen: ['a', 'b'], nested: { ok: true } };
    const html = `<!doctype html><title>Ünïcode</title>${'<p>paragraph</p>'.repeat(200)}`;
    const png = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), randomBytes(4096)]);
    await store.setValue('STATE', state);
    await store.setValue('page.html', html, { contentType: 'text/html; charset=utf-8' });
    await store.setValue('shot.png', png, { contentType: 'image/png' });

    expect(await store.getValue('STATE')).toEqual(state);
    expect(await store.getValue('page.html')).toBe(html);
    expect(Buffer.from((await store.getValue('shot.png')) as Buffer).equals(png)).toBe(true);
    expect(await store.getValue('missing')).toBeNull();
    expect(await store.getValue('missing', { fallback: 1 })).toEqual({ fallback: 1 });

    const rawState = await stored(store.id, 'STATE');
    expect(rawState.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(rawState.body.toString()).toBe(JSON.stringify(state, null, 2));
    const rawHtml = await stored(store.id, 'page.html');
    expect(rawHtml.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(rawHtml.body.equals(Buffer.from(html))).toBe(true);
    const rawPng = await stored(store.id, 'shot.png');
    expect(rawPng.headers['content-type']).toBe('image/png');
    expect(rawPng.body.equals(png)).toBe(true);
  });

  it('recordExists, and setValue(key, null) deletes the record', async () => {
    const store = await sdk.Actor.openKeyValueStore('sdk-exists', { forceCloud: true });
    await store.setValue('here', 'yes');
    expect(await store.recordExists('here')).toBe(true);
    expect(await store.recordExists('not-here')).toBe(false);
    await store.setValue('here', null);
    expect(await store.recordExists('here')).toBe(false);
    expect((await stored(store.id, 'here')).status).toBe(404);
  });

  it('forEachKey visits every key in order, past the first page of 1000', async () => {
    const store = await sdk.Actor.openKeyValueStore('sdk-keys', { forceCloud: true });
    const keys = Array.from({ length: 1100 }, (_, i) => `key-${String(i).padStart(4, '0')}`);
    await putRecords(
      server.origin,
      server.token('alice'),
      store.id,
      keys.map((key) => ({ key, value: key })),
    );
    const seen: [string, number, number][] = [];
    await store.forEachKey((key, index, info) => {
      seen.push([key, index, info.size]);
    });
    expect(seen).toEqual(keys.map((key, i) => [key, i, key.length]));
  });

  it('getPublicUrl gives a link that opens without a token, also once the store is RESTRICTED', async () => {
    const store = await sdk.Actor.openKeyValueStore('sdk-public', { forceCloud: true });
    const report = { rows: Array.from({ length: 300 }, (_, i) => ({ i, label: `row ${i}` })) };
    await store.setValue('report', report);
    const url = store.getPublicUrl('report');
    expect(url).toMatch(new RegExp(`^${server.origin}/v2/key-value-stores/${store.id}/records/report\\?signature=\\w+$`));
    const update = await fetchRaw(storeUrl(store.id), {
      method: 'PUT',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: Buffer.from(JSON.stringify({ generalAccess: 'RESTRICTED' })),
    });
    expect(update.status).toBe(200);

    // A plain fetch (no token, no Accept-Encoding): the record was uploaded Brotli-compressed.
    const res = await fetchRaw(url);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(JSON.parse(res.body.toString())).toEqual(report);
    const viaFetch = await fetch(url);
    expect(await viaFetch.json()).toEqual(report);
    expect((await fetchRaw(url.replace(/\?.*$/, ''))).status).toBe(404);
  });

  it('drop() deletes the store on openkvs', async () => {
    const store = await sdk.Actor.openKeyValueStore('sdk-drop', { forceCloud: true });
    await store.setValue('a', 1);
    await store.drop();
    expect(recorder.requests.at(-1)).toEqual({ method: 'DELETE', url: `/v2/key-value-stores/${store.id}`, status: 204 });
    expect((await fetchRaw(storeUrl(store.id), { headers: auth() })).status).toBe(404);
    expect((await fetchRaw(storeUrl('~sdk-drop'), { headers: auth() })).status).toBe(404);
    // Not re-opened here: apify 3.7.2's drop() clears Crawlee's storage cache but not the SDK's, so
    // openKeyValueStore('sdk-drop') in the same process hands back the dropped instance, unasked.
  });
});

describe('an Actor run (APIFY_IS_AT_HOME=1) with its default store on openkvs', () => {
  const png = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), randomBytes(2048)]);

  /** A store holding INPUT, and the environment the platform would give a run of it. */
  async function prepareRun(runRecorder: Recorder, extra: Record<string, string>) {
    const created = await fetchRaw(`${server.origin}/v2/key-value-stores`, { method: 'POST', headers: auth() });
    const storeId = json<{ data: { id: string } }>(created).data.id;
    const input = { name: 'openkvs', numbers: [1, 2, 3, 4], pngBase64: png.toString('base64') };
    const put = await fetchRaw(`${storeUrl(storeId)}/records/INPUT`, {
      method: 'PUT',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: Buffer.from(JSON.stringify(input)),
    });
    expect(put.status).toBe(201);
    const env = {
      APIFY_IS_AT_HOME: '1',
      APIFY_DEFAULT_KEY_VALUE_STORE_ID: storeId,
      APIFY_TOKEN: server.token('alice'),
      APIFY_API_BASE_URL: runRecorder.origin,
      APIFY_API_PUBLIC_BASE_URL: server.origin,
      ...extra,
    };
    return { storeId, env };
  }

  /** What a run stores when it works. */
  async function expectOutput(storeId: string) {
    const output = await stored(storeId, 'OUTPUT');
    expect(output.status).toBe(200);
    expect(output.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(JSON.parse(output.body.toString())).toEqual({ greeting: 'Hello, openkvs!', sum: 10 });
    const shot = await stored(storeId, 'screenshot.png');
    expect(shot.headers['content-type']).toBe('image/png');
    expect(shot.body.equals(png)).toBe(true);
  }

  // Actor.init() on the platform loads the run's pricing info: from APIFY_ACTOR_PRICING_INFO and
  // APIFY_CHARGED_ACTOR_EVENT_COUNTS when both are set, else with GET /v2/actor-runs/<ACTOR_RUN_ID>.
  const noPricingLookup = { APIFY_ACTOR_PRICING_INFO: '{}', APIFY_CHARGED_ACTOR_EVENT_COUNTS: '{}' };

  it('reads INPUT, writes OUTPUT and exits 0, touching only key-value store endpoints', async () => {
    const runRecorder = await startRecorder(server.origin);
    try {
      const { storeId, env } = await prepareRun(runRecorder, noPricingLookup);
      const run = await runScript(fixture('actor-run.mjs'), env);
      expect(run.code, run.stderr).toBe(0);
      await expectOutput(storeId);
      expect(runRecorder.requests.map((r) => `${r.method} ${r.url} ${r.status}`)).toEqual([
        `GET /v2/key-value-stores/${storeId} 200`,
        `GET /v2/key-value-stores/${storeId}/records/INPUT?attachment=true 200`,
        `PUT /v2/key-value-stores/${storeId}/records/OUTPUT 201`,
        `PUT /v2/key-value-stores/${storeId}/records/screenshot.png 201`,
      ]);
    } finally {
      await runRecorder.close();
    }
  });

  it('with ACTOR_RUN_ID alone, Actor.init() asks /v2/actor-runs/<id>, which openkvs does not serve, and fails', async () => {
    const runRecorder = await startRecorder(server.origin);
    try {
      const { storeId, env } = await prepareRun(runRecorder, { ACTOR_RUN_ID: 'compatRun0000001' });
      const run = await runScript(fixture('actor-run.mjs'), env);
      expect(run.code).not.toBe(0);
      expect(run.stderr).toContain('page-not-found');
      expect(runRecorder.requests).toEqual([
        { method: 'GET', url: '/v2/actor-runs/compatRun0000001', status: 404, errorType: 'page-not-found' },
      ]);
      expect((await stored(storeId, 'OUTPUT')).status).toBe(404);
    } finally {
      await runRecorder.close();
    }
  });

  it('a status message on exit goes to /v2/actor-runs/<id> (404 here); the SDK logs it and the run still succeeds', async () => {
    const runRecorder = await startRecorder(server.origin);
    try {
      const { storeId, env } = await prepareRun(runRecorder, {
        ...noPricingLookup,
        ACTOR_RUN_ID: 'compatRun0000002',
        FIXTURE_EXIT_MESSAGE: 'All done',
      });
      const run = await runScript(fixture('actor-run.mjs'), env);
      expect(run.code, run.stderr).toBe(0);
      await expectOutput(storeId);
      // exit() waits for neither call: the GET that follows the PUT may not be sent before the end.
      const outside = runRecorder.requests.filter((r) => !isKvsPath(r.url));
      expect(outside[0]).toEqual({
        method: 'PUT',
        url: '/v2/actor-runs/compatRun0000002',
        status: 404,
        errorType: 'page-not-found',
      });
      expect(outside.slice(1)).toEqual(
        outside
          .slice(1)
          .map(() => ({ method: 'GET', url: '/v2/actor-runs/compatRun0000002', status: 404, errorType: 'page-not-found' })),
      );
      expect(outside.length).toBeLessThanOrEqual(2);
      expect(run.stdout + run.stderr).toContain('All done');
    } finally {
      await runRecorder.close();
    }
  });
});
