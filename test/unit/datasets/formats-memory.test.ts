/**
 * A large csv download streams: two passes over the pages, only the column names kept between
 * them, so the heap does not grow with the number of items.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { parseItemTransform } from '../../../src/domain/datasets/transform.js';
import { formatItems } from '../../../src/http/datasets/formats.js';
import { OPTIONS } from './format-helpers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const TOTAL = 200_000;
const PAGE = 1000;

describe('csv of 200,000 items', () => {
  it('holds no more memory after 200,000 rows than after 20,000', async () => {
    const heapAt = new Map<number, number>();
    let pass = 0;
    // Items made on the fly, about 400 bytes each: kept, 180,000 of them would take well over 100 MB.
    async function* pages() {
      const mine = ++pass;
      for (let start = 0; start < TOTAL; start += PAGE) {
        if (mine === 2 && (start === 20_000 || start === TOTAL - PAGE)) {
          gc();
          heapAt.set(start, process.memoryUsage().heapUsed);
        }
        const page: string[] = [];
        for (let i = start; i < start + PAGE; i++) {
          page.push(
            JSON.stringify({
              id: i,
              url: `https://example.com/products/${i}`,
              title: `Product ${i} ${'x'.repeat(250)}`,
              price: i / 100,
              tags: ['a', 'b'],
              seller: { name: `Seller ${i % 97}` },
            }),
          );
        }
        yield page;
      }
    }
    const output = formatItems('csv', { pages: pages(), again: pages }, parseItemTransform({}), OPTIONS);
    let lines = 0;
    let bytes = 0;
    for await (const chunk of output.body) {
      const buffer = chunk as Buffer;
      bytes += buffer.length;
      for (let at = buffer.indexOf(10); at !== -1; at = buffer.indexOf(10, at + 1)) lines++;
    }
    expect(pass).toBe(2);
    expect(lines).toBe(TOTAL + 1);
    expect(bytes).toBeGreaterThan(TOTAL * 300);
    const growth = heapAt.get(TOTAL - PAGE)! - heapAt.get(20_000)!;
    expect(growth).toBeLessThan(16 * 1024 * 1024);
  });
});
