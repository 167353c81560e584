import { type EventEmitter, once } from 'node:events';
import { PassThrough, type Readable } from 'node:stream';
import type { ItemTransform } from '../../../domain/datasets/transform.js';
import { type ItemPages, transformedPages, xmlSafe } from './items.js';
import { type Cell, flattenCells } from './table.js';

/**
 * An XLSX workbook of one sheet, written row by row by exceljs's streaming writer: a header row of
 * the columns, then one row per output item, numbers and booleans as typed cells. exceljs (slow to
 * load) is imported on first use.
 */
export function xlsxStream(columns: readonly string[], pages: ItemPages, transform: ItemTransform): Readable {
  const out = new PassThrough();
  write(out, columns, pages, transform).catch((err: unknown) => out.destroy(err as Error));
  return out;
}

async function write(out: PassThrough, columns: readonly string[], pages: ItemPages, transform: ItemTransform): Promise<void> {
  const { default: ExcelJS } = await import('exceljs');
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: out, useStyles: false, useSharedStrings: false });
  const sheet = workbook.addWorksheet('Items');
  sheet.addRow(columns.map(xmlSafe)).commit();
  for await (const items of transformedPages(pages, transform)) {
    for (const item of items) {
      const cells = flattenCells(item);
      sheet.addRow(columns.map((column) => value(cells.get(column)))).commit();
    }
    // Hold the next page until the client has taken this one: exceljs itself never waits, and its
    // zip writer hands the page on over the next turns of the event loop.
    await new Promise((resolve) => setImmediate(resolve));
    while (!out.destroyed && out.writableNeedDrain) await drained(out, out);
    if (out.destroyed) return;
  }
  sheet.commit();
  await workbook.commit();
}

/** The most characters an Excel cell holds. */
const MAX_CELL = 32_767;

function value(cell: Cell | undefined): string | number | boolean | null {
  if (cell === undefined) return null;
  // Excel refuses to open a file with a cell longer than it can hold.
  if (typeof cell === 'string') return xmlSafe(cell.length > MAX_CELL ? cell.slice(0, MAX_CELL) : cell);
  // 1e400 parses as Infinity, which a number cell cannot hold.
  return typeof cell === 'number' && !Number.isFinite(cell) ? String(cell) : cell;
}

/** Resolves on `drain` of `stream`, or when `out` is closed (the client went away). */
async function drained(stream: EventEmitter, out: PassThrough): Promise<void> {
  const ac = new AbortController();
  try {
    await Promise.race([once(stream, 'drain', { signal: ac.signal }), once(out, 'close', { signal: ac.signal })]);
  } finally {
    ac.abort();
  }
}
