import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryStorage } from '@crawlee/memory-storage';
import { describe, expect, it } from 'vitest';
import { queueMetadata, requestFileText } from '../../src/cli/layout.js';
import { requestId as requestIdOf } from '../../src/domain/queues/requests.js';
import { cleanupAll, tempDir } from './helpers.js';

describe('the request queue layout', () => {
  it('writes request files and the queue metadata as memory-storage writes them', async () => {
    const dir = tempDir();
    try {
      const local = new MemoryStorage({ localDataDirectory: dir, persistStorage: true, writeMetadata: true });
      const { id } = await local.requestQueues().getOrCreate('q');
      const client = local.requestQueue(id);
      await client.batchAddRequests([
        { url: 'https://example.com/a', uniqueKey: 'a', userData: { n: 1.5, s: 'é\u2028"' } },
        { url: 'https://example.com/b', uniqueKey: 'b', method: 'POST', retryCount: 2, payload: 'a=1' },
      ]);
      await client.addRequest({ url: 'https://example.com/c', uniqueKey: 'c', handledAt: new Date(0).toISOString() });
      await client.addRequest({ url: 'https://example.com/f', uniqueKey: 'f' }, { forefront: true });
      await local.teardown();

      const folder = join(dir, 'request_queues', 'q');
      const files = readdirSync(folder).filter((f) => f !== '__metadata__.json');
      expect(files.sort()).toEqual(['a', 'b', 'c', 'f'].map((k) => `${requestIdOf(k)}.json`).sort());
      for (const file of files) {
        const text = readFileSync(join(folder, file), 'utf8');
        const entry = JSON.parse(text);
        expect(requestFileText(entry, entry.orderNo), file).toBe(text);
      }
      const theirs = JSON.parse(readFileSync(join(folder, '__metadata__.json'), 'utf8'));
      const ms = (iso: string) => Date.parse(iso);
      const ours = queueMetadata(
        {
          id: theirs.id,
          name: 'q',
          createdAt: ms(theirs.createdAt),
          modifiedAt: ms(theirs.modifiedAt),
          accessedAt: ms(theirs.accessedAt),
          hadMultipleClients: false,
        },
        { handled: 1, pending: 3 },
      );
      expect(ours).toBe(
        JSON.stringify(
          { ...theirs, handledRequestCount: 1, pendingRequestCount: 3, totalRequestCount: 4, forefrontRequestIds: [] },
          null,
          '\t',
        ),
      );
    } finally {
      await cleanupAll();
    }
  });
});
