import { Readable } from 'node:stream';
import type { ItemTransform } from '../../domain/datasets/transform.js';
import { InvalidValueError } from '../../errors.js';
import { csvChunks } from './formats/csv.js';
import { htmlChunks } from './formats/html.js';
import type { ItemPages } from './formats/items.js';
import { jsonChunks, jsonlChunks } from './formats/json.js';
import { collectColumns } from './formats/table.js';
import { xlsxStream } from './formats/xlsx.js';
import { isXmlName, rssChunks, xmlChunks } from './formats/xml.js';

export type { ItemPages } from './formats/items.js';

/** The values of the `format` parameter of `GET /v2/datasets/{id}/items`. */
export const DATASET_FORMATS = ['json', 'jsonl', 'csv', 'html', 'xlsx', 'xml', 'rss'] as const;
export type DatasetFormat = (typeof DATASET_FORMATS)[number];

const CONTENT_TYPES: Record<DatasetFormat, string> = {
  json: 'application/json; charset=utf-8',
  jsonl: 'application/jsonl; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  html: 'text/html; charset=utf-8',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  xml: 'application/xml; charset=utf-8',
  rss: 'application/rss+xml; charset=utf-8',
};

/** The format named by the `format` parameter: `json` when absent or empty, a 400 when unknown. */
export function parseFormat(value: string | undefined): DatasetFormat {
  if (value === undefined || value === '') return 'json';
  const format = value.toLowerCase();
  if ((DATASET_FORMATS as readonly string[]).includes(format)) return format as DatasetFormat;
  throw new InvalidValueError(`Invalid format "${value}": the format must be one of ${DATASET_FORMATS.join(', ')}.`);
}

/** The stored items to write: `pages` for the first pass, `again()` for a second (tables need their columns first). */
export interface ItemSource {
  pages: ItemPages;
  again: () => ItemPages;
}

export interface FormatOptions {
  /** Prefix a UTF-8 byte order mark; by default only csv has one. Ignored for xlsx. */
  bom?: boolean;
  /** The csv field delimiter, one character (default `,`). */
  delimiter?: string;
  /** Leave out the csv header row. */
  skipHeaderRow?: boolean;
  /** xml root and row element names (default `items` and `item`). */
  xmlRoot?: string;
  xmlRow?: string;
  /** rss channel title and description (default `Dataset <label>` and `Items in dataset with id "<datasetId>".`). */
  feedTitle?: string;
  feedDescription?: string;
  /** rss channel link, e.g. the URL of the items. */
  feedLink?: string;
  datasetId: string;
  /** The dataset's name, or its id when it has none. */
  label: string;
}

export interface DatasetOutput {
  contentType: string;
  /** File name extension for a `Content-Disposition: attachment`. */
  extension: DatasetFormat;
  /** The document, produced as the client reads it. */
  body: Readable;
}

const BOM = '\ufeff';

/**
 * Writes items in a format. Options are checked before anything is read (bad ones throw a 400);
 * the body then streams with backpressure and holds one page of items at a time. Tables (csv,
 * html, xlsx) read the items twice: once for the columns, once for the rows.
 */
export function formatItems(
  format: DatasetFormat,
  source: ItemSource,
  transform: ItemTransform,
  options: FormatOptions,
): DatasetOutput {
  const contentType = CONTENT_TYPES[format];
  if (format === 'xlsx')
    return { contentType, extension: format, body: Readable.from(xlsxChunks(source, transform), { objectMode: false }) };
  const chunks = textChunks(format, source, transform, options);
  const bom = options.bom ?? format === 'csv';
  return { contentType, extension: format, body: Readable.from(withBom(bom, chunks), { objectMode: false }) };
}

function textChunks(
  format: DatasetFormat,
  source: ItemSource,
  transform: ItemTransform,
  options: FormatOptions,
): AsyncIterable<string> {
  switch (format) {
    case 'csv': {
      const delimiter = csvDelimiter(options.delimiter);
      const skipHeaderRow = options.skipHeaderRow ?? false;
      return tableChunks(source, transform, (columns, pages) =>
        csvChunks(columns, pages, transform, { delimiter, skipHeaderRow }),
      );
    }
    case 'html':
      return tableChunks(source, transform, (columns, pages) => htmlChunks(columns, pages, transform));
    case 'xml':
      return xmlChunks(source.pages, transform, {
        root: elementName('xmlRoot', options.xmlRoot, 'items'),
        row: elementName('xmlRow', options.xmlRow, 'item'),
      });
    case 'rss':
      return rssChunks(source.pages, transform, {
        title: options.feedTitle || `Dataset ${options.label}`,
        link: options.feedLink ?? '',
        description: options.feedDescription || `Items in dataset with id "${options.datasetId}".`,
      });
    case 'jsonl':
      return jsonlChunks(source.pages, transform);
    default:
      return jsonChunks(source.pages, transform);
  }
}

async function* tableChunks(
  source: ItemSource,
  transform: ItemTransform,
  rows: (columns: readonly string[], pages: ItemPages) => AsyncIterable<string>,
): AsyncGenerator<string> {
  const columns = await collectColumns(source.pages, transform);
  yield* rows(columns, source.again());
}

async function* withBom(bom: boolean, chunks: AsyncIterable<string>): AsyncGenerator<Buffer> {
  if (bom) yield Buffer.from(BOM);
  for await (const chunk of chunks) yield Buffer.from(chunk);
}

async function* xlsxChunks(source: ItemSource, transform: ItemTransform): AsyncGenerator<Buffer> {
  const columns = await collectColumns(source.pages, transform);
  yield* xlsxStream(columns, source.again(), transform);
}

/** A csv delimiter: any one character but a quote or a line break (`%09` gives a tab). */
function csvDelimiter(value: string | undefined): string {
  if (value === undefined) return ',';
  if ([...value].length !== 1 || value === '"' || value === '\n' || value === '\r')
    throw new InvalidValueError(
      `Invalid delimiter "${value}": the delimiter must be a single character other than a double quote or a line break.`,
    );
  return value;
}

function elementName(parameter: string, value: string | undefined, fallback: string): string {
  if (value === undefined || value === '') return fallback;
  if (!isXmlName(value)) throw new InvalidValueError(`Invalid ${parameter} "${value}": it must be a valid XML element name.`);
  return value;
}
