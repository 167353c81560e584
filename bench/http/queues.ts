/**
 * The request queues of the queue rows (issue 22): the requests a crawler adds, the batches that
 * add them through the API, and the queues every openkvs target is measured on.
 */
import { QUEUE_BATCH } from './operations.js';
import type { Api } from './stores.js';

/** Requests in the small queue whose head is locked beside the large one's. */
export const SMALL_QUEUE = 1000;
/** Of the large queue's requests, the share handled before the head is locked (900k of 1M). */
export const HANDLED_SHARE = 0.9;
/** Batch adds in flight while seeding: one is parsed while others commit. */
const SEED_CONCURRENCY = 4;

/** Request `n` under `tag`: the shape Crawlee adds (its uniqueKey is the URL), about 150 bytes. */
export function queueRequest(tag: string, n: number, handledAt?: string): string {
  const url = `https://example.com/catalog/${tag}/${n}`;
  const handled = handledAt ? `,"handledAt":"${handledAt}"` : '';
  return `{"uniqueKey":"${url}","url":"${url}","method":"GET","userData":{"label":"DETAIL"}${handled}}`;
}

/** The body of one batch add: requests `from` … `from + count - 1` of `tag`. */
export function batchBody(tag: string, from: number, count = QUEUE_BATCH, handledAt?: string): Buffer {
  const requests: string[] = new Array(count);
  for (let i = 0; i < count; i++) requests[i] = queueRequest(tag, from + i, handledAt);
  return Buffer.from(`[${requests.join(',')}]`);
}

/** The queue object's counts. */
export interface QueueCounts {
  totalRequestCount: number;
  handledRequestCount: number;
  pendingRequestCount: number;
}

export async function queueCounts(api: Api, id: string): Promise<QueueCounts> {
  const { bytes } = await api.call('GET', `/v2/request-queues/${id}`);
  return (JSON.parse(bytes.toString()) as { data: QueueCounts }).data;
}

export async function createQueue(api: Api, name: string): Promise<string> {
  const { bytes } = await api.call('POST', `/v2/request-queues?name=${name}`);
  return (JSON.parse(bytes.toString()) as { data: { id: string } }).data.id;
}

/**
 * Adds requests `from` … `from + count - 1` of `tag` through the API, 25 to a batch (the API's
 * limit), `SEED_CONCURRENCY` batches at a time; with `handledAt` they are added as handled.
 * Every one must be processed: a batch that leaves some unprocessed stops the run.
 */
export async function seedQueue(
  api: Api,
  id: string,
  tag: string,
  from: number,
  count: number,
  handledAt?: string,
): Promise<void> {
  let next = from;
  const end = from + count;
  const worker = async () => {
    while (next < end) {
      const first = next;
      next += QUEUE_BATCH;
      const body = batchBody(tag, first, Math.min(QUEUE_BATCH, end - first), handledAt);
      const { bytes } = await api.call('POST', `/v2/request-queues/${id}/requests/batch`, body, 'application/json');
      const { data } = JSON.parse(bytes.toString()) as { data: { unprocessedRequests: unknown[] } };
      if (data.unprocessedRequests.length > 0) {
        throw new Error(`queue ${id}: ${data.unprocessedRequests.length} requests of a batch unprocessed`);
      }
    }
  };
  await Promise.all(Array.from({ length: SEED_CONCURRENCY }, worker));
}

/** The queues of one openkvs target (ids). */
export interface BenchQueues {
  /** Empty at the start; the batch-add rows add to it. */
  add: string;
  /** `SMALL_QUEUE` pending requests. */
  small: string;
  /** `large` requests, the first `HANDLED_SHARE` of them handled. */
  large: string;
  /** Requests in `large`. */
  largeSize: number;
}

/**
 * Creates the benchmark queues and seeds them through the API: the large one's handled requests
 * first (added as handled, as a queue that has been crawled that far holds them), then its pending
 * ones. Checks the counts the queue objects then show.
 */
export async function createBenchQueues(api: Api, largeSize: number): Promise<BenchQueues> {
  const queues: BenchQueues = {
    add: await createQueue(api, 'bench-add'),
    small: await createQueue(api, 'bench-queue-1k'),
    large: await createQueue(api, `bench-queue-${largeSize}`),
    largeSize,
  };
  await seedQueue(api, queues.small, 'small', 0, SMALL_QUEUE);
  const handled = Math.round(largeSize * HANDLED_SHARE);
  const started = Date.now();
  await seedQueue(api, queues.large, 'large', 0, handled, new Date().toISOString());
  await seedQueue(api, queues.large, 'large', handled, largeSize - handled);
  console.log(
    `  seeded a queue of ${largeSize.toLocaleString('en')} requests (${handled.toLocaleString('en')} handled) ` +
      `through ${Math.ceil(largeSize / QUEUE_BATCH).toLocaleString('en')} batch adds in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  const expect = async (id: string, total: number, handledCount: number) => {
    const c = await queueCounts(api, id);
    if (
      c.totalRequestCount !== total ||
      c.handledRequestCount !== handledCount ||
      c.pendingRequestCount !== total - handledCount
    ) {
      throw new Error(
        `queue ${id}: ${c.totalRequestCount} requests, ${c.handledRequestCount} handled, ${c.pendingRequestCount} pending ` +
          `after adding ${total}, ${handledCount} of them handled`,
      );
    }
  };
  await expect(queues.small, SMALL_QUEUE, 0);
  await expect(queues.large, largeSize, handled);
  return queues;
}
