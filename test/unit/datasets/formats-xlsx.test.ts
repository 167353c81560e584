/** format=xlsx: the workbook read back with exceljs, and the rows held back while the client does not read. */
import { randomBytes } from 'node:crypto';
import ExcelJS from 'exceljs';
import { describe, expect, it } from 'vitest';
import { parseItemTransform } from '../../../src/domain/datasets/transform.js';
import { formatItems } from '../../../src/http/datasets/formats.js';
import { OPTIONS, readAll, sourceOf, texts } from './format-helpers.js';

/** Reads a workbook (exceljs declares its own `Buffer` type, which Node's Buffer does not match). */
async function load(bytes: Buffer): Promise<ExcelJS.Workbook> {
  const workbook = new ExcelJS.Workbook();
  await workbook.xlsx.load(bytes as unknown as Parameters<typeof workbook.xlsx.load>[0]);
  return workbook;
}

async function sheetValues(bytes: Buffer): Promise<unknown[][]> {
  const workbook = await load(bytes);
  expect(workbook.worksheets).toHaveLength(1);
  const rows: unknown[][] = [];
  workbook.worksheets[0]!.eachRow({ includeEmpty: true }, (row) => {
    rows.push((row.values as unknown[]).slice(1));
  });
  return rows;
}

describe('xlsx', () => {
  it('is a workbook with a header row and typed cells, the same columns as csv', async () => {
    const items = texts([
      { name: 'Zoë "Z" <&>', count: 3, ok: true, gone: null, tags: ['x', 'y'], address: { city: 'Brno' } },
      { name: 'ctl\u0001 and 😀', count: 1.5, more: 'a,b\nc' },
    ]);
    const output = formatItems('xlsx', sourceOf(items), parseItemTransform({}), { ...OPTIONS, bom: true });
    expect(output.contentType).toBe('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    const bytes = await readAll(output.body);
    expect(bytes.subarray(0, 2).toString('latin1')).toBe('PK');
    const rows = await sheetValues(bytes);
    expect(rows[0]).toEqual(['name', 'count', 'ok', 'gone', 'tags/0', 'tags/1', 'address/city', 'more']);
    expect(rows[1]).toEqual(['Zoë "Z" <&>', 3, true, undefined, 'x', 'y', 'Brno']);
    expect(rows[2]).toEqual(['ctl\ufffd and 😀', 1.5, undefined, undefined, undefined, undefined, undefined, 'a,b\nc']);
    expect(rows).toHaveLength(3);
  });

  it('cuts strings to the 32,767 characters an Excel cell holds', async () => {
    const items = texts([{ long: 'é'.repeat(40_000), short: 'ok' }]);
    const output = formatItems('xlsx', sourceOf(items), parseItemTransform({}), OPTIONS);
    const rows = await sheetValues(await readAll(output.body));
    expect(rows[1]).toEqual(['é'.repeat(32_767), 'ok']);
  });

  it('applies the transformation', async () => {
    const output = formatItems(
      'xlsx',
      sourceOf(texts([{ a: 1, b: [{ c: 2 }, { c: 3 }] }])),
      parseItemTransform({ unwind: 'b' }),
      OPTIONS,
    );
    expect(await sheetValues(await readAll(output.body))).toEqual([
      ['a', 'c'],
      [1, 2],
      [1, 3],
    ]);
  });

  it('writes a header-only workbook for no items', async () => {
    const output = formatItems('xlsx', sourceOf([]), parseItemTransform({}), OPTIONS);
    const workbook = await load(await readAll(output.body));
    expect(workbook.worksheets).toHaveLength(1);
  });

  it('reads no further ahead than the client reads', async () => {
    let rowPages = 0;
    let pass = 0;
    // Random text does not compress: the output fills up as the rows are written.
    const page = Array.from({ length: 50 }, () => JSON.stringify({ text: randomBytes(600).toString('base64') }));
    async function* pages() {
      const mine = ++pass;
      for (let i = 0; i < 300; i++) {
        if (mine === 2) rowPages++;
        yield page;
      }
    }
    const output = formatItems('xlsx', { pages: pages(), again: pages }, parseItemTransform({}), OPTIONS);
    const iterator = output.body[Symbol.asyncIterator]();
    const first = await iterator.next();
    for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(rowPages).toBeGreaterThan(0);
    expect(rowPages, `pages read ahead`).toBeLessThan(150);
    // Read on: the rest follows, and the workbook is whole.
    const chunks: Buffer[] = [first.value as Buffer];
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) chunks.push(next.value as Buffer);
    expect(rowPages).toBe(300);
    const workbook = await load(Buffer.concat(chunks));
    expect(workbook.worksheets[0]!.rowCount).toBe(1 + 300 * 50);
  });
});
