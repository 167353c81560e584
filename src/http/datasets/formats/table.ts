import type { ItemTransform, JsonObject } from '../../../domain/datasets/transform.js';
import { type ItemPages, transformedPages } from './items.js';

/** Apify's limits for CSV, XLSX and HTML tables; JSON, XML and RSS have none. */
export const MAX_COLUMNS = 2000;
export const MAX_COLUMN_NAME = 200;

/** One table cell before it is written: null for an empty cell. */
export type Cell = string | number | boolean | null;

/**
 * The cells of one item: nested objects and arrays spread into `a/b` and `list/0` columns, as
 * Apify's CSV does. An empty object or array is one empty cell under its own path.
 */
export function flattenCells(item: JsonObject): Map<string, Cell> {
  const cells = new Map<string, Cell>();
  for (const key of Object.keys(item)) addCells(cells, key, item[key]);
  return cells;
}

function addCells(cells: Map<string, Cell>, path: string, value: unknown): void {
  if (typeof value === 'object' && value !== null) {
    const keys = Object.keys(value);
    if (keys.length === 0) cells.set(path, null);
    for (const key of keys) addCells(cells, `${path}/${key}`, (value as Record<string, unknown>)[key]);
  } else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') cells.set(path, value);
  else cells.set(path, null);
}

/**
 * The first pass of a table: the union of the columns of all output items, in order of first
 * appearance. Only the names are kept, never the items. Past MAX_COLUMNS columns, and names longer
 * than MAX_COLUMN_NAME, are left out (Apify's table limits).
 */
export async function collectColumns(pages: ItemPages, transform: ItemTransform): Promise<string[]> {
  const columns = new Set<string>();
  for await (const items of transformedPages(pages, transform)) {
    for (const item of items) {
      for (const name of flattenCells(item).keys()) {
        if (columns.size >= MAX_COLUMNS) return [...columns];
        if (name.length <= MAX_COLUMN_NAME) columns.add(name);
      }
    }
  }
  return [...columns];
}

/** The text of a cell in CSV and HTML: numbers and booleans as JSON writes them, empty for null. */
export function cellText(cell: Cell | undefined): string {
  return cell === null || cell === undefined ? '' : String(cell);
}
