import type { ItemTransform, JsonObject } from '../../../domain/datasets/transform.js';

/** Pages of stored item texts, in output order. */
export type ItemPages = AsyncIterable<readonly string[]>;

/** The output objects of each page: every stored item parsed and transformed. */
export async function* transformedPages(pages: ItemPages, transform: ItemTransform): AsyncGenerator<JsonObject[]> {
  for await (const page of pages) {
    const out: JsonObject[] = [];
    for (const text of page) for (const item of transform.apply(JSON.parse(text) as JsonObject)) out.push(item);
    yield out;
  }
}

/** Characters XML 1.0 cannot hold at all, and UTF-16 surrogates that pair with nothing (no UTF-8 for them). */
const NOT_XML = /[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/gu;

/** Text for XML and HTML: markup characters escaped, characters XML cannot hold replaced by U+FFFD. */
export function escapeXml(text: string): string {
  return text
    .replace(NOT_XML, '\ufffd')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Text an XML part of an XLSX file can hold (exceljs escapes markup itself). */
export function xmlSafe(text: string): string {
  return text.replace(NOT_XML, '\ufffd');
}
