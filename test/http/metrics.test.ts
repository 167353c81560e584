import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text format (samples only; comments skipped). */
function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** The value of the one sample with that name and (at least) those labels; 0 when there is none. */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const hits = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (hits.length > 1) throw new Error(`${hits.length} samples of ${name} ${JSON.stringify(labels)}`);
  return hits[0]?.value ?? 0;
}

const RECORD_ROUTE = '/v2/key-value-stores/:storeId/records/*';

describe('GET /metrics', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(() => ctx.close());

  async function scrape(): Promise<{ samples: Sample[]; text: string }> {
    const res = await ctx.request({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    return { samples: parseMetrics(res.body), text: res.body };
  }

  it('counts requests and their latency by route pattern and status, never by raw URL', async () => {
    const store = await ctx.createStore();
    const before = (await scrape()).samples;
    const put = {
      method: 'PUT',
      url: `/v2/key-value-stores/${store.id}/records/a-key`,
      token: ctx.alice,
      payload: 'hello',
    } as const;
    expect((await ctx.request(put)).statusCode).toBe(201);
    expect((await ctx.request(put)).statusCode).toBe(201);
    const missing = await ctx.request({ method: 'GET', url: `/v2/key-value-stores/${store.id}/records/nope`, token: ctx.alice });
    expect(missing.statusCode).toBe(404);
    expect((await ctx.request({ method: 'GET', url: '/no/such/page' })).statusCode).toBe(404);

    const { samples, text } = await scrape();
    const putLabels = { method: 'PUT', route: RECORD_ROUTE, status: '201' };
    const delta = (name: string, labels: Record<string, string>) => value(samples, name, labels) - value(before, name, labels);
    expect(delta('openkvs_http_requests_total', putLabels)).toBe(2);
    expect(delta('openkvs_http_request_duration_seconds_count', putLabels)).toBe(2);
    expect(delta('openkvs_http_request_duration_seconds_bucket', { ...putLabels, le: '+Inf' })).toBe(2);
    expect(value(samples, 'openkvs_http_request_duration_seconds_sum', putLabels)).toBeGreaterThan(0);
    expect(delta('openkvs_http_requests_total', { method: 'GET', route: RECORD_ROUTE, status: '404' })).toBe(1);
    expect(delta('openkvs_http_requests_total', { method: 'GET', route: '(unmatched)', status: '404' })).toBe(1);
    // Store ids, keys and unknown paths never become label values.
    expect(text).not.toContain(store.id);
    expect(text).not.toContain('a-key');
    expect(text).not.toContain('/no/such/page');
  });

  it('reports the stores and stored bytes of the storage, computed at each scrape', async () => {
    const before = (await scrape()).samples;
    const store = await ctx.createStore(`metrics-${Date.now()}`);
    const put = await ctx.request({
      method: 'PUT',
      url: `/v2/key-value-stores/${store.id}/records/blob`,
      token: ctx.alice,
      payload: Buffer.alloc(1234, 7),
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(put.statusCode).toBe(201);
    const after = (await scrape()).samples;
    expect(value(after, 'openkvs_stores') - value(before, 'openkvs_stores')).toBe(1);
    expect(value(after, 'openkvs_stored_bytes') - value(before, 'openkvs_stored_bytes')).toBe(1234);

    expect((await ctx.request({ method: 'DELETE', url: `/v2/key-value-stores/${store.id}`, token: ctx.alice })).statusCode).toBe(
      204,
    );
    const gone = (await scrape()).samples;
    expect(value(gone, 'openkvs_stores')).toBe(value(before, 'openkvs_stores'));
    expect(value(gone, 'openkvs_stored_bytes')).toBe(value(before, 'openkvs_stored_bytes'));
  });

  it('reports datasets and their bytes apart from key-value stores', async () => {
    const before = (await scrape()).samples;
    const created = await ctx.request({ method: 'POST', url: `/v2/datasets?name=metrics-${Date.now()}`, token: ctx.alice });
    expect(created.statusCode).toBe(201);
    const id = created.json().data.id as string;
    const pushed = await ctx.request({
      method: 'POST',
      url: `/v2/datasets/${id}/items`,
      token: ctx.alice,
      payload: '[{"a":1},{"b":"xyz"}]',
      headers: { 'content-type': 'application/json' },
    });
    expect(pushed.statusCode).toBe(201);
    const after = await scrape();
    expect(value(after.samples, 'openkvs_datasets') - value(before, 'openkvs_datasets')).toBe(1);
    expect(value(after.samples, 'openkvs_dataset_bytes') - value(before, 'openkvs_dataset_bytes')).toBe(
      Buffer.byteLength('{"a":1}{"b":"xyz"}'),
    );
    expect(value(after.samples, 'openkvs_stores')).toBe(value(before, 'openkvs_stores'));
    expect(after.text).not.toContain(id);
    expect((await ctx.request({ method: 'DELETE', url: `/v2/datasets/${id}`, token: ctx.alice })).statusCode).toBe(204);
    expect(value((await scrape()).samples, 'openkvs_datasets')).toBe(value(before, 'openkvs_datasets'));
  });

  it('reports request queues and their bytes', async () => {
    const before = (await scrape()).samples;
    const created = await ctx.request({ method: 'POST', url: `/v2/request-queues?name=metrics-${Date.now()}`, token: ctx.alice });
    expect(created.statusCode).toBe(201);
    const id = created.json().data.id as string;
    const added = await ctx.request({
      method: 'POST',
      url: `/v2/request-queues/${id}/requests`,
      token: ctx.alice,
      payload: { uniqueKey: 'https://example.com/m', url: 'https://example.com/m' },
    });
    expect(added.statusCode).toBe(201);
    const stored = await ctx.request({
      method: 'GET',
      url: `/v2/request-queues/${id}/requests/${added.json().data.requestId}`,
      token: ctx.alice,
    });
    const after = await scrape();
    expect(value(after.samples, 'openkvs_request_queues') - value(before, 'openkvs_request_queues')).toBe(1);
    expect(value(after.samples, 'openkvs_request_queue_bytes') - value(before, 'openkvs_request_queue_bytes')).toBe(
      Buffer.byteLength(stored.body.slice('{"data":'.length, -1)),
    );
    expect(after.text).not.toContain(id);
    expect(value(after.samples, 'openkvs_datasets')).toBe(value(before, 'openkvs_datasets'));
  });

  it('includes the process metrics', async () => {
    const { samples } = await scrape();
    expect(value(samples, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(value(samples, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    expect(value(samples, 'process_start_time_seconds')).toBeGreaterThan(1_600_000_000);
  });

  it('needs no token, and counts its own scrapes', async () => {
    const first = (await scrape()).samples;
    const second = (await scrape()).samples;
    const labels = { method: 'GET', route: '/metrics', status: '200' };
    expect(value(second, 'openkvs_http_requests_total', labels) - value(first, 'openkvs_http_requests_total', labels)).toBe(1);
  });
});
