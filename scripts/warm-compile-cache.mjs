// Starts the bundled program once (`serve` on an in-memory database), asks it a few questions and
// waits until it has written its code cache (scripts/cli-loader.cjs), so that the first start after
// `npm run build` is as quick as later ones. Run by scripts/bundle-cli.mjs.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

export async function warmCompileCache(binDir) {
  const hasCache = () => readdirSync(binDir).some((name) => name.endsWith('.v8cache'));
  const token = 'warm-compile-cache-token-0123456789';
  // The operator's OPENKVS_* settings (a configuration file, a storage) are not this server's.
  const ownEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('OPENKVS_')));
  const child = spawn(
    process.execPath,
    [join(binDir, 'openkvs.js'), 'serve', '--storage', 'sqlite::memory:', '--port', '0', '--admin-token', token],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...ownEnv, OPENKVS_COMPILE_CACHE_DIR: binDir } },
  );
  let output = '';
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    const origin = await new Promise((resolve, reject) => {
      const seen = (chunk) => {
        output += chunk;
        const m = /listening on (http:\/\/\S+)/.exec(output);
        if (m) resolve(m[1]);
      };
      child.stdout.on('data', seen);
      child.stderr.on('data', seen);
      child.once('exit', (code) => reject(new Error(`openkvs exited with ${code} before listening:\n${output}`)));
    });
    const headers = { authorization: `Bearer ${token}` };
    await (await fetch(`${origin}/health`)).text();
    const store = await (await fetch(`${origin}/v2/key-value-stores?name=warm`, { method: 'POST', headers })).json();
    const records = `${origin}/v2/key-value-stores/${store.data.id}`;
    await (await fetch(`${records}/records/a`, { method: 'PUT', headers, body: '{"a":1}' })).text();
    await (await fetch(`${records}/records/a`, { headers })).text();
    await (await fetch(`${records}/keys`, { headers })).text();
    for (let waited = 0; !hasCache(); waited += 20) {
      if (waited > 20_000) throw new Error('openkvs wrote no compile cache within 20 s');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}
