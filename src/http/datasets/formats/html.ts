import type { ItemTransform } from '../../../domain/datasets/transform.js';
import { escapeXml, type ItemPages, transformedPages } from './items.js';
import { cellText, flattenCells } from './table.js';

/** A `<table>`: a header row of the columns, then one row per output item, every text escaped. */
export async function* htmlChunks(
  columns: readonly string[],
  pages: ItemPages,
  transform: ItemTransform,
): AsyncGenerator<string> {
  yield `<table>\n<tr>${columns.map((column) => `<th>${escapeXml(column)}</th>`).join('')}</tr>\n`;
  for await (const items of transformedPages(pages, transform)) {
    if (items.length === 0) continue;
    const rows = items.map((item) => {
      const cells = flattenCells(item);
      return `<tr>${columns.map((column) => `<td>${escapeXml(cellText(cells.get(column)))}</td>`).join('')}</tr>\n`;
    });
    yield rows.join('');
  }
  yield '</table>\n';
}
