import { writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Kvs } from '../domain/index.js';
import type { StoreRow, UserRow } from '../model.js';
import { CliError } from './admin.js';
import { datasetMetadata, itemFileName, itemFileText, STORE_METADATA_FILE } from './layout.js';
import type { Progress } from './progress.js';
import { allStores, findStore } from './stores.js';

/** Items read at once: the most a page of the API holds. */
const PAGE = 1000;

/** The datasets to export (all of the user's, or those named by name or id), each with the folder it goes to. */
export async function selectDatasets(kvs: Kvs, user: UserRow, wanted: string[]): Promise<Map<string, StoreRow>> {
  const datasets: StoreRow[] = [];
  if (wanted.length === 0) for await (const d of allStores(kvs, user, 'dataset')) datasets.push(d);
  for (const w of new Set(wanted)) {
    const dataset = await findStore(kvs, user, w, 'dataset');
    if (!dataset) throw new CliError(`${user.username} has no dataset named or with the id "${w}"`);
    if (!datasets.some((d) => d.id === dataset.id)) datasets.push(dataset);
  }
  const folders = new Map<string, StoreRow>();
  for (const dataset of datasets) {
    const folder = dataset.name ?? dataset.id;
    if (folders.has(folder)) throw new CliError(`two datasets would both go to the folder ${folder}; export them one at a time`);
    folders.set(folder, dataset);
  }
  return folders;
}

/**
 * Writes the dataset's items as they were when it was listed (`itemCount` of them), a file each,
 * then its metadata. The next page is read while one is written.
 */
async function writeDataset(kvs: Kvs, dir: string, dataset: StoreRow, progress: Progress): Promise<number> {
  const total = dataset.itemCount;
  const read = (offset: number) => {
    const page = kvs.driver.readItems(dataset.id, offset, Math.min(PAGE, total - offset));
    // Awaited in turn; marked handled so that a failure while a page is written does not end the process.
    page.catch(() => undefined);
    return page;
  };
  let written = 0;
  let next = total > 0 ? read(0) : undefined;
  while (next) {
    const page = await next;
    const offset = written;
    // A dataset deleted meanwhile reads as empty.
    if (page.length === 0) break;
    written += page.length;
    next = written < total ? read(written) : undefined;
    // Small files are written at once: synchronous writes of small files are many times faster here.
    for (const [i, text] of page.entries()) writeFileSync(join(dir, itemFileName(offset + i)), itemFileText(text));
    progress.advance(page.length);
  }
  await writeFile(join(dir, STORE_METADATA_FILE), datasetMetadata({ ...dataset, itemCount: written }));
  return written;
}

/** Exports selected datasets under `root`, a folder each; a line per dataset. */
export async function exportDatasets(
  kvs: Kvs,
  root: string,
  folders: Map<string, StoreRow>,
  progress: Progress,
): Promise<{ items: number; lines: string[]; short: [string, string][] }> {
  let items = 0;
  const lines: string[] = [];
  const short: [string, string][] = [];
  for (const [folder, dataset] of folders) {
    const dir = join(root, folder);
    await mkdir(dir, { recursive: true });
    const count = await writeDataset(kvs, dir, dataset, progress);
    items += count;
    const label = dataset.name === null ? `unnamed dataset ${dataset.id}` : `"${dataset.name}" (${dataset.id})`;
    lines.push(`Exported ${count} item${count === 1 ? '' : 's'} of ${label} to ${dir}.`);
    if (count < dataset.itemCount) short.push([dir, `deleted while exporting, after ${count} of its ${dataset.itemCount} items`]);
  }
  return { items, lines, short };
}
