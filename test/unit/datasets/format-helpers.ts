import type { Readable } from 'node:stream';
import { type JsonObject, parseItemTransform } from '../../../src/domain/datasets/transform.js';
import { type DatasetFormat, type FormatOptions, formatItems, type ItemSource } from '../../../src/http/datasets/formats.js';

/** Stored item texts served in pages of `pageSize`, read again as often as asked; counts the passes. */
export function sourceOf(texts: readonly string[], pageSize = 2): ItemSource & { passes: () => number } {
  let passes = 0;
  async function* pages() {
    passes++;
    for (let i = 0; i < texts.length; i += pageSize) yield texts.slice(i, i + pageSize);
  }
  return { pages: pages(), again: () => pages(), passes: () => passes };
}

export const texts = (items: readonly JsonObject[]): string[] => items.map((item) => JSON.stringify(item));

export async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export const OPTIONS: FormatOptions = { datasetId: 'WkzbQMuFYuamGv3YF', label: 'my-dataset' };

/** The whole output of `items` in `format`, as text, with its content type. */
export async function render(
  format: DatasetFormat,
  items: readonly string[],
  options: Partial<FormatOptions> = {},
  query: Record<string, string> = {},
): Promise<{ contentType: string; text: string; bytes: Buffer }> {
  const output = formatItems(format, sourceOf(items), parseItemTransform(query), { ...OPTIONS, ...options });
  const bytes = await readAll(output.body);
  return { contentType: output.contentType, text: bytes.toString('utf8'), bytes };
}
