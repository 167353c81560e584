import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteDriver } from '../../src/storage/sqlite/index.js';
import { describeDriverConformance } from './suite.js';

describeDriverConformance('sqlite (in memory)', async () => ({ driver: new SqliteDriver({ path: ':memory:' }) }));

describeDriverConformance('sqlite (file)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'openkvs-conf-'));
  return {
    driver: new SqliteDriver({ path: join(dir, 'kvs.sqlite') }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});
