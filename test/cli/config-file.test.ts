import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cleanupAll,
  ensureBuilt,
  freePort,
  holdPort,
  http,
  lastLine,
  printedTokens,
  runCli,
  startServe,
  tempDir,
} from './helpers.js';

beforeAll(ensureBuilt);
afterAll(cleanupAll);

/** Writes `openkvs.config.json` (or `name`) into `dir` and returns its path. */
function writeConfig(dir: string, config: unknown, name = 'openkvs.config.json'): string {
  const path = join(dir, name);
  writeFileSync(path, typeof config === 'string' ? config : JSON.stringify(config, null, 2));
  return path;
}

interface ConfigJson {
  file: string | null;
  options: Record<string, { value: string; source: string; flag: string; env: string }>;
}

describe('openkvs serve with a configuration file', () => {
  it('reads ./openkvs.config.json: port, storage, admin token, public URL and record limit', async () => {
    const cwd = tempDir();
    const port = await freePort();
    writeConfig(cwd, {
      port,
      storage: 'sqlite:./from-file/kvs.sqlite',
      adminToken: 'token-from-the-config-file',
      publicUrl: 'https://file.example.com',
      maxRecordBytes: 100,
    });
    const server = await startServe([], { cwd, port });
    expect(printedTokens(server.stdout), server.output()).toEqual([]);
    expect(existsSync(join(cwd, 'from-file', 'kvs.sqlite'))).toBe(true);
    expect(existsSync(join(cwd, 'data'))).toBe(false);

    const token = 'token-from-the-config-file';
    const created = await http(`${server.origin}/v2/key-value-stores?name=filed`, { method: 'POST', token });
    expect(created.status).toBe(201);
    expect(created.headers.location).toBe(`https://file.example.com/v2/key-value-stores/${created.json.data.id}`);
    const put = (size: number) =>
      http(`${server.origin}/v2/key-value-stores/${created.json.data.id}/records/k`, {
        method: 'PUT',
        token,
        body: Buffer.alloc(size, 1),
      });
    expect((await put(100)).status).toBe(201);
    expect((await put(101)).status).toBe(413);
  });

  it('flags beat the environment, which beats the file; the file beats the defaults', async () => {
    const cwd = tempDir();
    // The file's port is held, so that a server that followed it over the environment could not start.
    const [filePort, envPort] = [await holdPort(), await freePort()];
    writeConfig(cwd, {
      port: filePort,
      storage: 'sqlite:./file-store/kvs.sqlite',
      adminToken: 'file-admin-token',
      maxRecordBytes: 10,
    });
    const server = await startServe(['--storage', 'sqlite:./flag-store/kvs.sqlite'], {
      cwd,
      port: envPort,
      env: { OPENKVS_PORT: String(envPort), OPENKVS_MAX_RECORD_BYTES: '20' },
    });
    expect(existsSync(join(cwd, 'flag-store', 'kvs.sqlite'))).toBe(true);
    expect(existsSync(join(cwd, 'file-store'))).toBe(false);
    const created = await http(`${server.origin}/v2/key-value-stores?name=x`, { method: 'POST', token: 'file-admin-token' });
    expect(created.status).toBe(201);
    const url = `${server.origin}/v2/key-value-stores/${created.json.data.id}/records/k`;
    const put = (size: number) => http(url, { method: 'PUT', token: 'file-admin-token', body: Buffer.alloc(size, 1) });
    expect((await put(20)).status).toBe(201);
    expect((await put(21)).status).toBe(413);
  });

  it('--config PATH and OPENKVS_CONFIG name a file elsewhere; --config wins', async () => {
    const cwd = tempDir();
    const elsewhere = tempDir();
    const [flagPort, envPort] = [await freePort(), await holdPort()];
    const viaFlag = writeConfig(elsewhere, { port: flagPort, adminToken: 'flag-file-token' }, 'flag.json');
    const viaEnv = writeConfig(elsewhere, { port: envPort, adminToken: 'env-file-token' }, 'env.json');
    // A file in the working directory is not read when one is named.
    writeConfig(cwd, { port: envPort });
    const server = await startServe(['--config', viaFlag, '--storage', 'sqlite::memory:'], {
      cwd,
      port: flagPort,
      env: { OPENKVS_CONFIG: viaEnv },
    });
    expect((await http(`${server.origin}/v2/key-value-stores`, { token: 'flag-file-token' })).status).toBe(200);
    expect((await http(`${server.origin}/v2/key-value-stores`, { token: 'env-file-token' })).status).toBe(401);
    expect((await server.stop()).code).toBe(0);

    const port = await freePort();
    writeConfig(elsewhere, { port, adminToken: 'env-file-token' }, 'env.json');
    const second = await startServe(['--storage', 'sqlite::memory:'], { cwd, port, env: { OPENKVS_CONFIG: viaEnv } });
    expect((await http(`${second.origin}/v2/key-value-stores`, { token: 'env-file-token' })).status).toBe(200);
  });

  const refusals: { name: string; file?: unknown; args?: string[]; mentions: RegExp }[] = [
    { name: 'a --config file that does not exist', args: ['--config', 'missing.json'], mentions: /missing\.json/ },
    { name: 'a file that is not JSON', file: '{ "port": ', mentions: /openkvs\.config\.json.*JSON/ },
    { name: 'a file that is not an object', file: '[1]', mentions: /openkvs\.config\.json/ },
    { name: 'an unknown option', file: { prot: 8910 }, mentions: /"prot"/ },
    { name: 'an option of the wrong type', file: { port: [1] }, mentions: /"port"/ },
    { name: 'a bad value', file: { port: 'abc' }, mentions: /port/ },
    { name: 'a bad storage', file: { storage: 'foo:bar' }, mentions: /storage/ },
    { name: 'a bad shutdown timeout', file: { shutdownTimeout: '10s' }, mentions: /shutdown-timeout/ },
    { name: 'a bad number of workers', file: { workers: 'all' }, mentions: /workers/ },
  ];

  it.concurrent.for(refusals)('refuses to start with $name, in one line', async ({ file, args, mentions }, { expect }) => {
    const cwd = tempDir();
    if (file !== undefined) writeConfig(cwd, file);
    const safety = ['--storage', 'sqlite::memory:'];
    const withSafety = file !== undefined && typeof file === 'object' && 'storage' in (file as object) ? [] : safety;
    const result = await runCli(['serve', ...(args ?? []), ...withSafety], { cwd, timeoutMs: 10_000 });
    expect(result.signal, 'the server started instead of refusing').toBeNull();
    expect(result.code).not.toBe(0);
    const lines = result.stderr.split('\n').filter((l) => l.trim() !== '');
    expect(lines, result.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(mentions);
  });
});

describe('administration commands read the file too', () => {
  it("use the file's storage unless --storage says otherwise", async () => {
    const cwd = tempDir();
    writeConfig(cwd, { storage: 'sqlite:./from-file.sqlite' });
    const created = await runCli(['users', 'create', 'frank'], { cwd });
    expect(created.code, created.stderr).toBe(0);
    expect(existsSync(join(cwd, 'from-file.sqlite'))).toBe(true);
    expect(existsSync(join(cwd, 'data'))).toBe(false);
    expect((await runCli(['users', 'list'], { cwd })).stdout).toMatch(/^frank\t/m);

    const other = await runCli(['users', 'list', '--storage', 'sqlite:./other.sqlite'], { cwd });
    expect(other.code, other.stderr).toBe(0);
    expect(other.stdout).not.toMatch(/frank/);
  });

  it("create admin with the file's admin token when they are the first to open the storage", async () => {
    const cwd = tempDir();
    mkdirSync(join(cwd, 'etc'));
    const config = writeConfig(join(cwd, 'etc'), { storage: 'sqlite:./kvs.sqlite', adminToken: 'admin-token-from-file' });
    const created = await runCli(['stores', 'create', 'early', '--config', config], { cwd });
    expect(created.code, created.stderr).toBe(0);
    expect(printedTokens(created.stdout)).toEqual([]);
    const storeId = lastLine(created.stdout);

    const port = await freePort();
    const server = await startServe(['--config', config, '--port', String(port)], { cwd, port });
    const stores = await http(`${server.origin}/v2/key-value-stores`, { token: 'admin-token-from-file' });
    expect(stores.json.data.items.map((s) => s.id)).toEqual([storeId]);
  });
});

describe('openkvs config', () => {
  it('prints every option with its value and where it came from, secrets masked', async () => {
    const cwd = tempDir();
    const path = writeConfig(cwd, {
      storage: 'postgres://kvs:hunter2-secret@db.internal:5432/kvs',
      adminToken: 'very-secret-admin-token',
      port: 9001,
      host: '0.0.0.0',
      shutdownTimeout: 2.5,
      workers: 'auto',
    });
    const env = { OPENKVS_PORT: '9002', OPENKVS_HOST: '' };
    const text = await runCli(['config', '--log-level', 'debug'], { cwd, env });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(`configuration file: ${path}`);
    for (const secret of ['hunter2-secret', 'very-secret-admin-token']) expect(text.stdout).not.toContain(secret);
    expect(text.stdout).toMatch(/^port +9002 +OPENKVS_PORT$/m);
    expect(text.stdout).toMatch(/^log-level +debug +--log-level$/m);
    expect(text.stdout).toMatch(/^max-record-bytes +104857600 +default$/m);
    expect(text.stdout).toMatch(/^shutdown-timeout +2\.5 +file$/m);
    expect(text.stdout).toMatch(/^workers +auto +file$/m);

    const json = await runCli(['config', '--json', '--log-level', 'debug'], { cwd, env });
    expect(json.code, json.stderr).toBe(0);
    for (const secret of ['hunter2-secret', 'very-secret-admin-token']) expect(json.stdout).not.toContain(secret);
    const config = JSON.parse(json.stdout) as ConfigJson;
    expect(config.file).toBe(path);
    expect(config.options.port).toMatchObject({ value: '9002', source: 'environment', env: 'OPENKVS_PORT' });
    // An empty variable counts as unset.
    expect(config.options.host).toMatchObject({ value: '0.0.0.0', source: 'file' });
    expect(config.options.logLevel).toMatchObject({ value: 'debug', source: 'flag', flag: '--log-level' });
    expect(config.options.storage).toMatchObject({ value: 'postgres://kvs:********@db.internal:5432/kvs', source: 'file' });
    expect(config.options.adminToken).toMatchObject({ value: '********', source: 'file' });
    expect(config.options.maxRecordBytes).toMatchObject({ value: '104857600', source: 'default' });
    expect(config.options.shutdownTimeout).toMatchObject({
      value: '2.5',
      source: 'file',
      flag: '--shutdown-timeout',
      env: 'OPENKVS_SHUTDOWN_TIMEOUT',
    });
  });

  it('says when there is no file, and refuses a bad value as serve would', async () => {
    const cwd = tempDir();
    const plain = await runCli(['config'], { cwd });
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toContain('configuration file: (none)');
    expect(plain.stdout).toMatch(/^storage +sqlite:\.\/data\/openkvs\.sqlite +default$/m);
    expect(plain.stdout).toMatch(/^shutdown-timeout +10 +default$/m);
    expect(plain.stdout).toMatch(/^workers +1 +default$/m);
    const two = await runCli(['config', '--workers', '2'], { cwd });
    expect(two.stdout).toMatch(/^workers +2 +--workers$/m);

    const bad = await runCli(['config'], { cwd, env: { OPENKVS_PORT: 'abc' } });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/port/);
  });
});
