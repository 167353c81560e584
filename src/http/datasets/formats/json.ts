import type { ItemTransform } from '../../../domain/datasets/transform.js';
import { type ItemPages, transformedPages } from './items.js';

/**
 * `[item,item,…]`. Without a transformation the stored texts go out byte for byte; otherwise each
 * output object is written by JSON.stringify.
 */
export async function* jsonChunks(pages: ItemPages, transform: ItemTransform): AsyncGenerator<string> {
  yield '[';
  let first = true;
  for await (const texts of textPages(pages, transform)) {
    if (texts.length === 0) continue;
    yield first ? texts.join(',') : `,${texts.join(',')}`;
    first = false;
  }
  yield ']';
}

/** One item per line, each line ending in `\n`. */
export async function* jsonlChunks(pages: ItemPages, transform: ItemTransform): AsyncGenerator<string> {
  for await (const texts of textPages(pages, transform)) {
    if (texts.length === 0) continue;
    // A stored text may span lines (a pretty-printed push); line breaks are whitespace outside strings
    // and cannot occur raw inside them, so a space in their place keeps the item exact otherwise.
    yield `${texts.map((text) => text.replace(LINE_BREAKS, ' ')).join('\n')}\n`;
  }
}

const LINE_BREAKS = /[\r\n]/g;

async function* textPages(pages: ItemPages, transform: ItemTransform): AsyncGenerator<readonly string[]> {
  if (transform.identity) {
    yield* pages;
    return;
  }
  for await (const items of transformedPages(pages, transform)) yield items.map((item) => JSON.stringify(item));
}
