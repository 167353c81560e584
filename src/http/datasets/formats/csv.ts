import { stringify } from 'csv-stringify/sync';
import type { ItemTransform } from '../../../domain/datasets/transform.js';
import { type ItemPages, transformedPages } from './items.js';
import { cellText, flattenCells } from './table.js';

export interface CsvOptions {
  delimiter: string;
  skipHeaderRow: boolean;
}

/** The rows of a CSV file over the given columns (collected by a first pass), one chunk per page. */
export async function* csvChunks(
  columns: readonly string[],
  pages: ItemPages,
  transform: ItemTransform,
  options: CsvOptions,
): AsyncGenerator<string> {
  const format = (rows: string[][]) => stringify(rows, { delimiter: options.delimiter, record_delimiter: 'unix' });
  if (!options.skipHeaderRow && columns.length > 0) yield format([[...columns]]);
  for await (const items of transformedPages(pages, transform)) {
    if (items.length === 0) continue;
    yield format(
      items.map((item) => {
        const cells = flattenCells(item);
        return columns.map((column) => cellText(cells.get(column)));
      }),
    );
  }
}
