import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Recorder, startRecorder } from './recorder.js';
import { type CompatServer, startOpenkvs } from './server.js';

export type Sdk = typeof import('apify');

/** The Apify SDK in this process, talking to a real openkvs through a recording proxy. */
export interface SdkSession {
  server: CompatServer;
  recorder: Recorder;
  sdk: Sdk;
  close(): Promise<void>;
}

/**
 * Starts openkvs and the recorder, sets the environment the SDK documents (token of alice, API and
 * public URLs; local storages in a temporary folder named after `prefix`), then imports and inits
 * the SDK. The SDK reads its environment once: call this before anything imports `apify`.
 */
export async function openSdkSession(prefix: string): Promise<SdkSession> {
  const server = await startOpenkvs(['alice']);
  const recorder = await startRecorder(server.origin);
  const localStorageDir = mkdtempSync(join(tmpdir(), prefix));
  for (const name of Object.keys(process.env)) if (/^(APIFY_|ACTOR_|CRAWLEE_)/.test(name)) delete process.env[name];
  Object.assign(process.env, {
    APIFY_API_BASE_URL: recorder.origin,
    APIFY_API_PUBLIC_BASE_URL: server.origin,
    APIFY_TOKEN: server.token('alice'),
    // Storages not forced to the cloud stay local: keep them out of the working tree.
    CRAWLEE_STORAGE_DIR: localStorageDir,
    APIFY_LOG_LEVEL: 'WARNING',
  });
  const sdk: Sdk = await import('apify');
  // No retries: a failure shows at once instead of after minutes of back-off.
  sdk.Configuration.getGlobalConfig().set('storageClientOptions', { maxRetries: 0 });
  await sdk.Actor.init();
  return {
    server,
    recorder,
    sdk,
    async close() {
      await sdk.Actor.exit({ exit: false });
      await recorder.close();
      await server.close();
      rmSync(localStorageDir, { recursive: true, force: true });
    },
  };
}
