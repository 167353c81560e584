import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { recordSignature } from '../../src/domain/signing.js';
import { exchange } from '../helpers/raw-socket.js';
import { sleep } from '../helpers/time.js';
import {
  cleanupAll,
  ensureBuilt,
  freePort,
  http,
  lastLine,
  type RunResult,
  runCli,
  type ServeProcess,
  startServe,
  tempDir,
} from './helpers.js';

/**
 * Secrets never reach the output of `openkvs serve`, even at `--log-level trace`: not tokens
 * (header or `?token=`), not signatures, not URL-signing secrets, whatever the request does —
 * succeed, fail with a 4xx, arrive malformed, or hit a stopping server. The only exception is
 * the one-time line with a generated admin token, which the start-up contract requires.
 */

const ADMIN_LINE = /^Admin API token \(shown only this once, keep it safe\): (\S+)$/m;
/** Tokens that look real but belong to nobody. */
const BOGUS = ['okvs_bogusBogusBogusBogusBogusBogus0001', 'okvs_bogusBogusBogusBogusBogusBogus0002'];

let cwd: string;
let storage: string;
let server: ServeProcess;
let admin: string;
let port: number;
const commands: { name: string; result: RunResult; token: string }[] = [];
/** Every secret the run handled: none may show up in the server's output. */
const secrets: Record<string, string> = {};

const api = (path: string, options: Parameters<typeof http>[1] = {}) => http(`${server.origin}${path}`, options);

async function waitFor(pattern: RegExp): Promise<void> {
  const until = Date.now() + 15_000;
  while (!pattern.test(server.stdout)) {
    if (Date.now() > until) throw new Error(`no ${pattern} in the output:\n${server.output()}`);
    await sleep(20);
  }
}

beforeAll(async () => {
  ensureBuilt();
  cwd = tempDir();
  storage = `sqlite:${join(cwd, 'kvs.sqlite')}`;
  port = await freePort();
  server = await startServe(['--log-level', 'trace', '--port', String(port), '--storage', storage], { cwd, port });
  await waitFor(/listening on/);
  admin = ADMIN_LINE.exec(server.stdout)?.[1] ?? '';
  expect(admin).toMatch(/^[A-Za-z0-9_-]{32,}$/);

  for (const [name, args] of [
    ['users create', ['users', 'create', 'alice']],
    ['tokens create', ['tokens', 'create', 'alice', '--label', 'ci']],
  ] as const) {
    const result = await runCli([...args, '--storage', storage], { cwd });
    expect(result.code, result.stderr).toBe(0);
    commands.push({ name, result, token: lastLine(result.stdout) });
  }
  const [alice, alice2] = commands.map((c) => c.token) as [string, string];
  Object.assign(secrets, { alice, alice2, bogus1: BOGUS[0]!, bogus2: BOGUS[1]! });

  // Successful requests, with the token in the header and in the query.
  expect((await api('/v2/key-value-stores', { token: admin })).status).toBe(200);
  expect((await api(`/v2/key-value-stores?token=${admin}`)).status).toBe(200);
  const created = await api(`/v2/key-value-stores?name=secret-store&token=${alice}`, { method: 'POST' });
  expect(created.status).toBe(201);
  const store = JSON.parse(created.body.toString()).data as { id: string; urlSigningSecretKey: string; keysPublicUrl: string };
  const keysSignature = new URL(store.keysPublicUrl).searchParams.get('signature')!;
  const recordSig = recordSignature(store.urlSigningSecretKey, 'doc');
  Object.assign(secrets, { urlSigningSecretKey: store.urlSigningSecretKey, keysSignature, recordSig });
  const base = `/v2/key-value-stores/${store.id}`;
  expect((await api(`${base}/records/doc?token=${alice2}`, { method: 'PUT', body: 'secret data' })).status).toBe(201);
  const restrict = await api(base, {
    method: 'PUT',
    token: alice,
    headers: { 'content-type': 'application/json' },
    body: '{"generalAccess":"RESTRICTED"}',
  });
  expect(restrict.status).toBe(200);
  expect((await api(`${base}/records/doc?signature=${recordSig}`)).status).toBe(200);
  expect((await api(`${base}/keys?signature=${keysSignature}`)).status).toBe(200);

  // Refusals of every kind, each carrying secrets.
  expect((await api(`${base}/records/doc?signature=${recordSig}x`)).status).toBe(403);
  expect((await api('/v2/key-value-stores', { token: BOGUS[0] })).status).toBe(401);
  expect((await api(`/v2/key-value-stores?token=${BOGUS[1]}`)).status).toBe(401);
  expect((await api(`/v2/key-value-stores?token=${alice}&token=${alice2}`)).status).toBe(401);
  expect((await api(`/nowhere?token=${admin}&signature=${recordSig}`)).status).toBe(404);
  expect((await api(`${base}/records/bad%20key?token=${alice}`, { method: 'PUT', body: 'x' })).status).toBe(400);
  expect((await api(`/v2/key-value-stores?token=${admin}`, { method: 'POST', body: '{not json' })).status).toBe(400);
  expect((await api(`${base}?token=${admin}`, { method: 'POST' })).status).toBe(405);
  expect(
    (await api(`${base}/records/doc?token=${alice}`, { method: 'PUT', headers: { 'content-encoding': 'gzip' }, body: 'x' }))
      .status,
  ).toBe(400);
  // Requests that never become HTTP requests: malformed, and with headers past the limit.
  const secretHeaders = `Authorization: Bearer ${admin}\r\nX-Signature: ${recordSig}\r\n`;
  const malformed = await exchange(port, [`GET /?token=${admin} HTTP/1.1\r\nHost: x\r\n${secretHeaders}Bad Header\r\n\r\n`], {
    timeoutMs: 5000,
  });
  expect(malformed.response?.status).toBe(400);
  const huge = await exchange(
    port,
    [`GET /?token=${alice} HTTP/1.1\r\nHost: x\r\n${secretHeaders}X-Big: ${'a'.repeat(20_000)}\r\n\r\n`],
    {
      timeoutMs: 5000,
    },
  );
  expect(huge.response?.status).toBe(431);

  // A 500: another process holds the database's write lock past the server's busy timeout.
  const blocker = new Database(join(cwd, 'kvs.sqlite'));
  try {
    blocker.exec('BEGIN EXCLUSIVE');
    const failed = await api(`${base}/records/blocked?token=${alice}&signature=${recordSig}`, { method: 'PUT', body: 'x' });
    expect(failed.status).toBeGreaterThanOrEqual(500);
  } finally {
    blocker.exec('ROLLBACK');
    blocker.close();
  }

  // A request that reaches the server while it stops (503, or the connection closed).
  const stopping = exchange(
    port,
    [`PUT ${base}/records/late?token=${alice} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n`, 'y'],
    {
      timeoutMs: 8000,
      pauseMs: 300,
    },
  );
  await sleep(100);
  server.child.kill('SIGTERM');
  const late = await stopping;
  expect(late.response === undefined || late.response.status >= 400).toBe(true);
  await server.exited;
}, 60_000);
afterAll(cleanupAll);

/** How often `needle` occurs in `haystack`. */
const occurrences = (haystack: string, needle: string) => haystack.split(needle).length - 1;

it('the server logged the failed request (the test is not vacuous)', () => {
  const logLines = server.stdout.split('\n').filter((l) => l.startsWith('{'));
  expect(
    // The locked database is a 503 (logged as a warning); other server errors log as errors.
    logLines.some((l) => /"level":(40|50)/.test(l) && /request failed/.test(l)),
    server.stdout,
  ).toBe(true);
});

it('no token, signature or URL-signing secret appears in the server output', () => {
  const output = server.stdout + server.stderr;
  const leaked = Object.entries(secrets).filter(([, value]) => output.includes(value));
  expect(leaked.map(([name]) => name)).toEqual([]);
});

it('the admin token appears once, in the start-up line the contract requires, and nowhere else', () => {
  expect(occurrences(server.stdout, admin)).toBe(1);
  expect(ADMIN_LINE.exec(server.stdout)?.[1]).toBe(admin);
  expect(server.stderr).not.toContain(admin);
});

it('users create and tokens create print their token once, as the last line, and nothing else secret', () => {
  for (const { name, result, token } of commands) {
    expect(occurrences(result.stdout, token), name).toBe(1);
    expect(lastLine(result.stdout), name).toBe(token);
    expect(result.stderr, name).not.toContain(token);
    expect(result.stdout + result.stderr, name).not.toContain(admin);
    for (const other of commands)
      if (other !== undefined && other.token !== token) expect(result.stdout).not.toContain(other.token);
  }
});
