/** The body of every format streams: it reads pages as the client reads, and stops when the client goes away. */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseItemTransform } from '../../../src/domain/datasets/transform.js';
import { formatItems } from '../../../src/http/datasets/formats.js';
import { OPTIONS } from './format-helpers.js';

describe('streaming', () => {
  it('reads no further ahead than the client reads', async () => {
    let pulled = 0;
    async function* pages() {
      for (let i = 0; i < 1000; i++) {
        pulled++;
        yield [JSON.stringify({ i, text: 'x'.repeat(1000) })];
      }
    }
    for (const format of ['json', 'jsonl', 'xml'] as const) {
      pulled = 0;
      const output = formatItems(format, { pages: pages(), again: pages }, parseItemTransform({}), OPTIONS);
      const iterator = output.body[Symbol.asyncIterator]();
      await iterator.next();
      for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
      expect(pulled, format).toBeLessThan(200);
      await iterator.return?.();
    }
  });
});

describe('a client that goes away', () => {
  it('closes the pages of every format', async () => {
    for (const format of ['json', 'jsonl', 'csv', 'html', 'xml', 'rss', 'xlsx'] as const) {
      let closed!: () => void;
      const whenClosed = new Promise<void>((resolve) => {
        closed = resolve;
      });
      let pass = 0;
      const page = Array.from({ length: 50 }, () => JSON.stringify({ text: randomBytes(600).toString('base64') }));
      async function* pages() {
        const mine = ++pass;
        try {
          for (let i = 0; i < 2000; i++) yield page;
        } finally {
          // The row pass of a table, the only pass of the other formats.
          if (mine === 2 || !['csv', 'html', 'xlsx'].includes(format)) closed();
        }
      }
      const output = formatItems(format, { pages: pages(), again: pages }, parseItemTransform({}), OPTIONS);
      const iterator = output.body[Symbol.asyncIterator]();
      await iterator.next();
      await iterator.next();
      output.body.destroy();
      await whenClosed;
    }
  });
});
