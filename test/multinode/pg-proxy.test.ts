import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanupAll, ensureBuilt, freePort, runCli, type ServeProcess, tempDir } from '../cli/helpers.js';
import { freshSchema } from '../helpers/postgres.js';
import { ANSWER_MS, api, createStore, expectUnavailable, getRecord, poll, putRecord, startNodes, timed } from './nodes.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

/**
 * PostgreSQL behind a proxy (a load balancer, a pooler): when the database is down, the proxy
 * still accepts connections and closes them. The node must treat that as "unavailable" too.
 */

let proxy: TcpProxy;
let proxiedUrl: string;
let dropSchema: (() => Promise<void>) | undefined;

beforeAll(async () => {
  ensureBuilt();
  const schema = await freshSchema();
  dropSchema = schema.drop;
  const url = new URL(schema.url);
  proxy = await startTcpProxy(url.hostname, Number(url.port));
  url.port = String(proxy.port);
  proxiedUrl = url.toString();
});
afterEach(async () => {
  await cleanupAll();
  proxy.setBackendUp(true);
});
afterAll(async () => {
  await proxy?.close();
  await dropSchema?.();
});

describe('PostgreSQL behind a proxy', () => {
  it('while the database behind the proxy is down: 503 with Retry-After in time, then 200 by itself', async () => {
    const [node] = (await startNodes(proxiedUrl, 1, tempDir())) as [ServeProcess];
    const storeId = (await createStore(node, 'behind-proxy')).id;
    expect((await putRecord(node, storeId, 'k', Buffer.from('v'), 'text/plain')).status).toBe(201);

    proxy.setBackendUp(false);
    const answers = await Promise.all([
      timed(() => api(node, `/${storeId}`)),
      timed(() => getRecord(node, storeId, 'k')),
      timed(() => putRecord(node, storeId, 'k2', Buffer.from('v2'), 'text/plain')),
      timed(() => api(node, `/${storeId}/keys`)),
    ]);
    for (const { res, ms } of answers) {
      expectUnavailable(`a request after ${ms} ms`, res);
      expect(ms, 'answer time (ms)').toBeLessThan(ANSWER_MS);
    }
    expect(node.child.exitCode, node.output()).toBeNull();

    proxy.setBackendUp(true);
    const back = await poll(
      () => getRecord(node, storeId, 'k'),
      (res) => res.status === 200,
      5000,
    );
    expect(back.status).toBe(200);
    expect(back.body.toString()).toBe('v');
  });

  it('a node started while the database behind the proxy is down exits non-zero with one line', async () => {
    proxy.setBackendUp(false);
    const withPassword = new URL(proxiedUrl);
    withPassword.username = 'user';
    withPassword.password = 'secretpw';
    const started = Date.now();
    const result = await runCli(['serve', '--storage', withPassword.toString(), '--port', String(await freePort())], {
      cwd: tempDir(),
      timeoutMs: 15_000,
    });
    expect(result.signal, `still running after ${Date.now() - started} ms`).toBeNull();
    expect(result.code).not.toBe(0);
    const lines = result.stderr.split('\n').filter((l) => l.trim() !== '');
    expect(lines, result.stderr).toHaveLength(1);
    expect(lines[0]).toContain(`127.0.0.1:${proxy.port}`);
    expect(`${result.stdout}${result.stderr}`).not.toContain('secretpw');
  });
});
