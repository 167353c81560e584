import { writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Kvs } from '../domain/index.js';
import type { StoreRow, UserRow } from '../model.js';
import type { StoredQueueRequest } from '../storage/driver.js';
import { CliError } from './admin.js';
import { queueMetadata, requestFileName, requestFileText, STORE_METADATA_FILE } from './layout.js';
import type { Progress } from './progress.js';
import { allStores, findStore } from './stores.js';

/** Requests read at once. */
const PAGE = 1000;

/** The queues to export (all of the user's, or those named by name or id), each with the folder it goes to. */
export async function selectQueues(kvs: Kvs, user: UserRow, wanted: string[]): Promise<Map<string, StoreRow>> {
  const queues: StoreRow[] = [];
  if (wanted.length === 0) for await (const q of allStores(kvs, user, 'queue')) queues.push(q);
  for (const w of new Set(wanted)) {
    const queue = await findStore(kvs, user, w, 'queue');
    if (!queue) throw new CliError(`${user.username} has no request queue named or with the id "${w}"`);
    if (!queues.some((q) => q.id === queue.id)) queues.push(queue);
  }
  const folders = new Map<string, StoreRow>();
  for (const queue of queues) {
    const folder = queue.name ?? queue.id;
    if (folders.has(folder))
      throw new CliError(`two request queues would both go to the folder ${folder}; export them one at a time`);
    folders.set(folder, queue);
  }
  return folders;
}

/** Every request of a queue (or only the live-locked ones), a page at a time, in id order. */
async function* requestPages(
  kvs: Kvs,
  queueId: string,
  filter?: 'locked',
  now = Date.now(),
): AsyncGenerator<StoredQueueRequest[]> {
  let after: string | undefined;
  for (;;) {
    const page = await kvs.driver.listRequests(queueId, { limit: PAGE, after, filter, now });
    yield page.items;
    const last = page.items[page.items.length - 1];
    if (!page.isTruncated || !last) return;
    after = last.id;
  }
}

/**
 * The place of each pending request, from 1, in queue order. The head hides the requests other
 * clients hold live locks on, so each lock holder's head places its own before the next unlocked
 * request; locked requests between the same two unlocked ones (of different holders) go by lock
 * expiry, as the head handed them out. Locks are not exported: the clients holding them work
 * against the server, not the files.
 */
async function pendingOrder(kvs: Kvs, queue: StoreRow): Promise<Map<string, number>> {
  const now = Date.now();
  const pending = queue.itemCount - queue.handledCount;
  const head = async (clientKey?: string) =>
    pending > 0 ? (await kvs.driver.listHead(queue.id, pending, { now, clientKey })).map((r) => r.id) : [];
  const locked = new Map<string, { client: string | null; expires: number }>();
  for await (const page of requestPages(kvs, queue.id, 'locked', now)) {
    for (const r of page) locked.set(r.id, { client: r.lockClient, expires: r.lockExpiresAt ?? now });
  }
  const base = await head();
  // Locked requests by the unlocked request they come before (undefined: after the last).
  const before = new Map<string | undefined, string[]>();
  const place = (ids: string[], client: string | null) => {
    let waiting: string[] = [];
    for (const id of [...ids, undefined]) {
      const lock = id === undefined ? undefined : locked.get(id);
      if (id !== undefined && lock?.client === client) waiting.push(id);
      else if (!lock && waiting.length > 0) {
        before.set(id, [...(before.get(id) ?? []), ...waiting]);
        waiting = [];
      }
    }
  };
  // Locks taken without a clientKey show in the head of the callers without one, as this export's.
  place(base, null);
  for (const client of new Set([...locked.values()].map((l) => l.client))) if (client !== null) place(await head(client), client);
  const order = new Map<string, number>();
  const byExpiry = (a: string, b: string) => (locked.get(a)?.expires ?? 0) - (locked.get(b)?.expires ?? 0) || (a < b ? -1 : 1);
  for (const id of [...base.filter((i) => !locked.has(i)), undefined]) {
    for (const l of (before.get(id) ?? []).sort(byExpiry)) order.set(l, order.size + 1);
    if (id !== undefined) order.set(id, order.size + 1);
  }
  return order;
}

/**
 * Writes a queue's requests, a file each, then its metadata. Pending requests get `orderNo` 1, 2, 3…
 * in queue order (memory-storage's own are times, which the queue does not keep); those added or
 * locked meanwhile go last.
 */
async function writeQueue(kvs: Kvs, dir: string, queue: StoreRow, progress: Progress) {
  const order = await pendingOrder(kvs, queue);
  let next = order.size + 1;
  let handled = 0;
  let pending = 0;
  for await (const page of requestPages(kvs, queue.id)) {
    for (const r of page) {
      const orderNo = r.handledAt !== null ? null : (order.get(r.id) ?? next++);
      if (orderNo === null) handled++;
      else pending++;
      // Small files are written at once: synchronous writes of small files are many times faster here.
      writeFileSync(join(dir, requestFileName(r.id)), requestFileText(r, orderNo));
    }
    progress.advance(page.length);
  }
  await writeFile(join(dir, STORE_METADATA_FILE), queueMetadata(queue, { handled, pending }));
  return { handled, pending };
}

/** Exports selected queues under `root`, a folder each; a line per queue. */
export async function exportQueues(
  kvs: Kvs,
  root: string,
  folders: Map<string, StoreRow>,
  progress: Progress,
): Promise<{ requests: number; lines: string[] }> {
  let requests = 0;
  const lines: string[] = [];
  for (const [folder, queue] of folders) {
    const dir = join(root, folder);
    await mkdir(dir, { recursive: true });
    const { handled, pending } = await writeQueue(kvs, dir, queue, progress);
    const count = handled + pending;
    requests += count;
    const label = queue.name === null ? `unnamed request queue ${queue.id}` : `"${queue.name}" (${queue.id})`;
    lines.push(`Exported ${count} request${count === 1 ? '' : 's'} (${handled} handled) of ${label} to ${dir}.`);
  }
  return { requests, lines };
}
