/**
 * apify-client 2.25.0 `downloadItems` against a real `openkvs serve`: every format the API has,
 * with the options that shape the bytes (attachment, bom, delimiter, skipHeaderRow, xmlRoot,
 * xmlRow), each answer checked as a reader of that format would read it.
 */
import type { ApifyClient, DatasetClientDownloadItemsOptions } from 'apify-client';
import { DownloadItemsFormat } from 'apify-client';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientFor } from './client.js';
import { fetchRaw } from './http.js';
import { type CompatServer, startOpenkvs } from './server.js';
import { readXlsx } from './xlsx.js';

let server: CompatServer;
let alice: ApifyClient;
let id: string;

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const rows = [
  { url: 'https://example.com/a', title: 'Fish & Chips <b>', price: 1.5, inStock: true },
  { url: 'https://example.com/b', title: 'Comma, "quote"\nnew line', price: 2, inStock: false, note: 'Žluťoučký kůň 🐎' },
  { url: 'https://example.com/c', title: 'Third', price: null },
];
const header = ['url', 'title', 'price', 'inStock', 'note'];
/** The rows as CSV cells: booleans and numbers as text, null and missing as empty. */
const cells = [
  ['https://example.com/a', 'Fish & Chips <b>', '1.5', 'true', ''],
  ['https://example.com/b', 'Comma, "quote"\nnew line', '2', 'false', 'Žluťoučký kůň 🐎'],
  ['https://example.com/c', 'Third', '', '', ''],
];

/** The answer to a plain GET of the items in `query`, with alice's token. */
const itemsRaw = (query: string) =>
  fetchRaw(`${server.origin}/v2/datasets/${id}/items?${query}`, {
    headers: { authorization: `Bearer ${server.token('alice')}` },
  });

const download = (format: DownloadItemsFormat, options: DatasetClientDownloadItemsOptions = {}) =>
  alice.dataset(id).downloadItems(format, options);

const startsWithBom = (buf: Buffer) => buf.subarray(0, 3).equals(BOM);
const text = (buf: Buffer) => (startsWithBom(buf) ? buf.subarray(3) : buf).toString('utf8');

beforeAll(async () => {
  server = await startOpenkvs(['alice']);
  alice = clientFor(server.origin, server.token('alice'));
  id = (await alice.datasets().getOrCreate('formats')).id;
  await alice.dataset(id).pushItems(rows);
});
afterAll(() => server?.close());

describe('downloadItems', () => {
  it('json: the items as a JSON array holding each item as it was stored', async () => {
    const body = await download(DownloadItemsFormat.JSON);
    expect(startsWithBom(body)).toBe(false);
    expect(JSON.parse(body.toString('utf8'))).toEqual(rows);
    for (const row of rows) expect(body.toString('utf8')).toContain(JSON.stringify(row));
  });

  it('jsonl: one item per line', async () => {
    const body = await download(DownloadItemsFormat.JSONL);
    expect(body.toString('utf8')).toBe(`${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
  });

  it('csv: a header of every field, one row per item, quoted where needed, with a BOM by default', async () => {
    const body = await download(DownloadItemsFormat.CSV);
    expect(startsWithBom(body)).toBe(true);
    expect(parse(text(body))).toEqual([header, ...cells]);
  });

  it('csv: bom, delimiter and skipHeaderRow', async () => {
    const noBom = await download(DownloadItemsFormat.CSV, { bom: false });
    expect(startsWithBom(noBom)).toBe(false);
    expect(parse(noBom)).toEqual([header, ...cells]);
    const semicolon = await download(DownloadItemsFormat.CSV, { delimiter: ';' });
    expect(parse(text(semicolon), { delimiter: ';' })).toEqual([header, ...cells]);
    expect(text(semicolon).split('\n')[0]).toBe(header.join(';'));
    const tab = await download(DownloadItemsFormat.CSV, { delimiter: '\t', bom: false });
    expect(parse(tab, { delimiter: '\t' })).toEqual([header, ...cells]);
    const headless = await download(DownloadItemsFormat.CSV, { skipHeaderRow: true });
    expect(parse(text(headless))).toEqual(cells);
  });

  it('csv: fields, desc, offset and limit choose the columns and rows', async () => {
    const body = await download(DownloadItemsFormat.CSV, { fields: ['title', 'url'], desc: true, limit: 2 });
    expect(parse(text(body))).toEqual([
      ['title', 'url'],
      ['Third', 'https://example.com/c'],
      ['Comma, "quote"\nnew line', 'https://example.com/b'],
    ]);
    const skipped = await download(DownloadItemsFormat.CSV, { omit: ['note', 'title'], offset: 1, limit: 1 });
    expect(parse(text(skipped))).toEqual([
      ['url', 'price', 'inStock'],
      ['https://example.com/b', '2', 'false'],
    ]);
  });

  it('csv: nested objects and arrays become "parent/child" columns, as on the Apify platform', async () => {
    const nested = alice.dataset((await alice.datasets().getOrCreate()).id);
    await nested.pushItems([
      { id: 1, address: { city: 'Praha', zip: '11000' }, tags: ['a', 'b'] },
      { id: 2, address: { city: 'Brno' }, tags: ['c'] },
    ]);
    const [head, ...body] = parse(text(await nested.downloadItems(DownloadItemsFormat.CSV))) as string[][];
    const records = body.map((row) => Object.fromEntries(head!.map((h, i) => [h, row[i]])));
    expect([...head!].sort()).toEqual(['address/city', 'address/zip', 'id', 'tags/0', 'tags/1']);
    expect(records).toEqual([
      { id: '1', 'address/city': 'Praha', 'address/zip': '11000', 'tags/0': 'a', 'tags/1': 'b' },
      { id: '2', 'address/city': 'Brno', 'address/zip': '', 'tags/0': 'c', 'tags/1': '' },
    ]);
  });

  it('xlsx: a workbook whose first sheet is the same table', async () => {
    const body = await download(DownloadItemsFormat.XLSX);
    expect(body.subarray(0, 4).equals(Buffer.from('PK\x03\x04', 'latin1'))).toBe(true);
    const sheet = await readXlsx(body);
    expect(sheet[0]).toEqual(header);
    expect(sheet.slice(1).map((row) => row.slice(0, 2))).toEqual(cells.map((row) => row.slice(0, 2)));
    expect(sheet[2]?.[4]).toBe('Žluťoučký kůň 🐎');
    expect(String(sheet[1]?.[2])).toBe('1.5');
  });

  it('xml: <items> of <item>, values escaped, null as an empty element; xmlRoot and xmlRow rename them', async () => {
    const xml = (await download(DownloadItemsFormat.XML)).toString('utf8');
    expect(xml).toMatch(/^(<\?xml[^>]*\?>\s*)?<items>/);
    expect(xml).toMatch(/<\/items>\s*$/);
    const items = [...xml.matchAll(/<item>([\s\S]*?)<\/item>/g)].map((m) => m[1]!);
    expect(items).toHaveLength(3);
    expect(items[0]).toContain('<url>https://example.com/a</url>');
    expect(items[0]).toMatch(/<title>Fish &amp; Chips &lt;b(&gt;|>)<\/title>/);
    expect(items[0]).toContain('<price>1.5</price>');
    expect(items[0]).toContain('<inStock>true</inStock>');
    expect(items[1]).toContain('<note>Žluťoučký kůň 🐎</note>');
    expect(items[2]).toMatch(/<price\s*\/>|<price><\/price>/);
    expect(xml).not.toContain('<b>');

    const renamed = (await download(DownloadItemsFormat.XML, { xmlRoot: 'products', xmlRow: 'product' })).toString('utf8');
    expect(renamed).toMatch(/^(<\?xml[^>]*\?>\s*)?<products>/);
    expect(renamed).toMatch(/<\/products>\s*$/);
    expect(renamed.match(/<product>/g)).toHaveLength(3);
    expect(renamed).not.toContain('<item>');
  });

  it('html: a table with a header row and one row per item, values escaped', async () => {
    const html = (await download(DownloadItemsFormat.HTML)).toString('utf8');
    expect(html).toContain('<table');
    for (const name of header) expect(html).toMatch(new RegExp(`<th[^>]*>${name}</th>`));
    expect(html.match(/<tr[\s>]/g)).toHaveLength(4);
    expect(html).toContain('Fish &amp; Chips &lt;b');
    expect(html).toContain('Žluťoučký kůň 🐎');
    expect(html).not.toContain('<b>');
  });

  it('rss: an <rss> feed with a <channel> of one <item> per dataset item', async () => {
    const rss = (await download(DownloadItemsFormat.RSS)).toString('utf8');
    expect(rss).toMatch(/^(<\?xml[^>]*\?>\s*)?<rss[\s>]/);
    expect(rss).toMatch(/<\/rss>\s*$/);
    expect(rss).toContain('<channel>');
    expect(rss.match(/<item>/g)).toHaveLength(3);
    expect(rss).toContain('<url>https://example.com/b</url>');
  });

  it('bom=1 puts a BOM before the other text formats, which have none by default', async () => {
    for (const format of [
      DownloadItemsFormat.JSON,
      DownloadItemsFormat.JSONL,
      DownloadItemsFormat.XML,
      DownloadItemsFormat.HTML,
    ]) {
      expect(startsWithBom(await download(format)), format).toBe(false);
      const withBom = await download(format, { bom: true });
      expect(startsWithBom(withBom), format).toBe(true);
      expect(text(withBom)).toBe((await download(format)).toString('utf8'));
    }
  });

  it('each format has its content type; attachment=1 adds Content-Disposition: attachment', async () => {
    const types: Record<string, string> = {
      json: 'application/json',
      jsonl: 'application/jsonl',
      csv: 'text/csv',
      xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
      xml: 'application/xml',
      html: 'text/html',
      rss: 'application/rss+xml',
    };
    for (const [format, type] of Object.entries(types)) {
      const inline = await itemsRaw(`format=${format}`);
      expect(inline.status, format).toBe(200);
      expect(inline.headers['content-type']?.split(';')[0], format).toBe(type);
      expect(inline.headers['content-disposition'], format).toBeUndefined();
      expect(inline.headers['x-apify-pagination-total'], format).toBe('3');
      const attached = await itemsRaw(`format=${format}&attachment=1`);
      expect(attached.headers['content-disposition'], format).toMatch(/^attachment\b/);
      // A workbook is a zip with timestamps inside: only the text formats compare byte for byte.
      if (format !== 'xlsx') expect(attached.body.equals(inline.body), format).toBe(true);
    }
  });

  it('an unknown format is refused with 400', async () => {
    const res = await itemsRaw('format=pdf');
    expect(res.status).toBe(400);
  });
});
