/**
 * The dataset rows (issue 21): the items pushed and read, the seeding of the datasets through the
 * API, and the reads measured alone, one after another: pages of 1000 items at offset 0 and deep in
 * a 1M-item dataset, and CSV downloads of a 100k-item dataset with the server's resident memory.
 */
import { Agent, request } from 'node:http';
import { HttpTimer, median, timeRuns } from '../measure.js';
import { treeCpuSeconds } from './cpu.js';
import { DATASET_ITEM_BYTES, DATASET_ITEMS, DATASET_PAGE, DEEP_OFFSET, itemsPath } from './operations.js';
import type { Summary } from './report.js';
import { sampleMemory, statusKb } from './rss.js';
import type { Api } from './stores.js';
import { TARGET_LABELS, type Target, type TargetName } from './targets.js';

/** Items in the dataset downloaded as CSV. */
export const CSV_ITEMS = 100_000;
/** Pages spread over the 1M-item dataset, each read once a round (nothing cached per page helps). */
export const SPREAD_ITEM_PAGES = 200;

const FILLER = 'lorem ipsum dolor sit amet '.repeat(Math.ceil(DATASET_ITEM_BYTES / 27) + 1);

/** Item `n`: a 1 KB JSON object of the shape crawlers push, numbered so that a page can be checked. */
export function datasetItem(n: number): string {
  const head = `{"n":${n},"url":"https://example.com/catalog/item/${n}","status":200,"title":"An example page","text":"`;
  const tail = '"}';
  return head + FILLER.slice(0, DATASET_ITEM_BYTES - head.length - tail.length) + tail;
}

/** The body of one push: a JSON array of `count` items numbered from `from`. */
export function pushBody(from: number, count = DATASET_PAGE): Buffer {
  const items: string[] = new Array(count);
  for (let i = 0; i < count; i++) items[i] = datasetItem(from + i);
  return Buffer.from(`[${items.join(',')}]`);
}

/** The datasets of one openkvs target (ids). */
export interface BenchDatasets {
  /** Empty at the start; the push rows append to it. */
  push: string;
  /** `DATASET_ITEMS` items. */
  items: string;
  /** `CSV_ITEMS` items. */
  csv: string;
}

/**
 * Pushes `count` items through the API, 1000 to a request, two requests at a time (one is parsed
 * while the other commits). Pushes are contiguous, so every page at a multiple of 1000 holds
 * items numbered from a multiple of 1000, in order.
 */
async function seed(api: Api, id: string, count: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const from = next;
      next += DATASET_PAGE;
      await api.call(
        'POST',
        `/v2/datasets/${id}/items`,
        pushBody(from, Math.min(DATASET_PAGE, count - from)),
        'application/json',
      );
    }
  };
  await Promise.all([worker(), worker()]);
  const { res } = await api.call('GET', itemsPath(id, 0, 1));
  const total = Number(res.headers.get('x-apify-pagination-total'));
  if (total !== count) throw new Error(`dataset ${id}: X-Apify-Pagination-Total ${total} after pushing ${count} items`);
}

/** Creates the benchmark datasets and seeds them through the API, as crawlers would. */
export async function createBenchDatasets(api: Api): Promise<BenchDatasets> {
  const create = async (name: string) => {
    const { bytes } = await api.call('POST', `/v2/datasets?name=${name}`);
    return (JSON.parse(bytes.toString()) as { data: { id: string } }).data.id;
  };
  const datasets = {
    push: await create('bench-push'),
    items: await create('bench-items-1m'),
    csv: await create('bench-csv-100k'),
  };
  await seed(api, datasets.items, DATASET_ITEMS);
  await seed(api, datasets.csv, CSV_ITEMS);
  return datasets;
}

export type ItemPageKind = 'first' | 'deep' | 'spread';

/** The time of one page of 1000 items read alone (one keep-alive connection, one request after another). */
export interface ItemPageLatency {
  target: TargetName;
  /** Offset 0, offset `DEEP_OFFSET`, or `SPREAD_ITEM_PAGES` pages across the dataset, a different one each request. */
  page: ItemPageKind;
  /** Median of the round medians, milliseconds from sending the request to the last byte of the answer. */
  ms: number;
  spread: [number, number];
  /** CPU the server (and its database) used per page, milliseconds. */
  cpuMs: number;
}

/** CSV downloads of the `CSV_ITEMS`-item dataset, `concurrency` at once. */
export interface CsvDownloads {
  target: TargetName;
  concurrency: number;
  /** Bytes of one download. */
  bytes: number;
  /** Median milliseconds of a download, from the request to its last byte. */
  ms: number;
  /** Bytes downloaded per second of the rounds (all downloads at once), MB/s; the median round. */
  mbps: number;
  /** CPU the server (and its database) used per download, milliseconds. */
  cpuMs: number;
  /** The server's resident memory before the first download, and the highest sampled during them (every 20 ms). */
  rssBeforeMb: number;
  rssPeakMb: number;
}

export interface DatasetReads {
  pages: ItemPageLatency[];
  csv: CsvDownloads[];
}

export interface DatasetReadOptions {
  /** Rounds × requests of the page latencies. */
  pageRounds: number;
  pageRequests: number;
  /** Rounds of CSV downloads; each round downloads once alone, then `CSV_CONCURRENCY` at once. */
  csvRounds: number;
}

/** The larger CSV case: a few downloads at once, so that memory a download holds would show several times. */
export const CSV_CONCURRENCY = 4;

/** Downloads `url` with a keep-alive agent, counting the bytes; `lines` counts newlines too (to check the first one). */
function download(
  url: string,
  token: string,
  agent: Agent,
  lines = false,
): Promise<{ ms: number; bytes: number; lines: number }> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    request(url, { agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let bytes = 0;
      let newlines = 0;
      res.on('data', (c: Buffer) => {
        bytes += c.length;
        if (lines) for (let i = c.indexOf(10); i !== -1; i = c.indexOf(10, i + 1)) newlines++;
      });
      res.on('error', reject);
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`GET ${url}: status ${res.statusCode}`));
        else resolve({ ms: Number(process.hrtime.bigint() - start) / 1e6, bytes, lines: newlines });
      });
    })
      .on('error', reject)
      .end();
  });
}

/**
 * Reads pages of 1000 items from the 1M-item dataset of each openkvs target (offset 0, offset
 * 900,000, and pages spread across it), then downloads the 100k-item dataset as CSV from every
 * target (the baselines send the bytes openkvs sent) with the server's memory sampled. Rounds
 * interleave the cases, so that a slow moment of the machine hits all of them alike.
 */
export async function measureDatasetReads(
  targets: readonly Target[],
  reference: Target,
  token: string,
  o: DatasetReadOptions,
): Promise<DatasetReads> {
  const openkvs = targets.filter((t) => (t.name === 'sqlite' || t.name === 'postgres') && t.openkvs?.stores.datasets);
  interface PageCase {
    t: Target;
    page: ItemPageKind;
    offsets: number[];
    next: number;
    medians: number[];
    cpu: number;
    requests: number;
  }
  const pageCases: PageCase[] = [];
  // At multiples of 1000, where every page starts with an item numbered so (see `seed`).
  const pagesInDataset = DATASET_ITEMS / DATASET_PAGE;
  const spread = Array.from(
    { length: SPREAD_ITEM_PAGES },
    (_, i) => Math.floor((i * (pagesInDataset - 1)) / SPREAD_ITEM_PAGES) * DATASET_PAGE,
  );
  for (const t of openkvs) {
    for (const [page, offsets] of [
      ['first', [0]],
      ['deep', [DEEP_OFFSET]],
      ['spread', spread],
    ] as const) {
      pageCases.push({ t, page, offsets: [...offsets], next: 0, medians: [], cpu: 0, requests: 0 });
    }
  }
  const url = (c: PageCase, offset: number) => `${c.t.origin}${itemsPath(c.t.openkvs!.stores.datasets!.items, offset)}`;
  const client = new HttpTimer(token);
  const read = (c: PageCase) => client.get(url(c, c.offsets[c.next++ % c.offsets.length]!));
  try {
    for (const c of pageCases) {
      for (const offset of c.page === 'spread' ? [c.offsets[1]!] : c.offsets) {
        const res = await client.get(url(c, offset));
        const items = res.status === 200 ? (JSON.parse(res.body.toString()) as { n: number }[]) : [];
        const total = Number(res.headers['x-apify-pagination-total']);
        if (items.length !== DATASET_PAGE || total !== DATASET_ITEMS || items[0]!.n % DATASET_PAGE !== 0) {
          throw new Error(
            `GET ${url(c, offset)}: status ${res.status}, ${items.length} items from n=${items[0]?.n}, total ${total}; ` +
              `expected ${DATASET_PAGE} items from a multiple of ${DATASET_PAGE}, total ${DATASET_ITEMS}`,
          );
        }
      }
      await timeRuns(Math.max(5, o.pageRequests), () => read(c));
    }
    for (let r = 0; r < o.pageRounds; r++) {
      for (const c of pageCases) {
        const before = treeCpuSeconds(c.t.pid) + treeCpuSeconds(c.t.dbPid);
        c.medians.push(median(await timeRuns(o.pageRequests, () => read(c))));
        c.cpu += treeCpuSeconds(c.t.pid) + treeCpuSeconds(c.t.dbPid) - before;
        c.requests += o.pageRequests;
      }
    }
  } finally {
    client.close();
  }
  const pages = pageCases.map(
    (c): ItemPageLatency => ({
      target: c.t.name,
      page: c.page,
      ms: median(c.medians),
      spread: [Math.min(...c.medians), Math.max(...c.medians)],
      cpuMs: (c.cpu / c.requests) * 1000,
    }),
  );

  // CSV: the baselines answer every items request with openkvs's CSV when the URL asks for it.
  const csvId = reference.openkvs!.stores.datasets!.csv;
  const csvUrl = (t: Target) =>
    `${t.origin}/v2/datasets${t.openkvs ? `/${t.openkvs.stores.datasets!.csv}` : `/${csvId}`}/items?format=csv`;
  interface CsvCase {
    t: Target;
    concurrency: number;
    ms: number[];
    rates: number[];
    cpu: number;
    downloads: number;
    bytes: number;
    rssBeforeKb: number;
    rssPeakKb: number;
  }
  const csvTargets = targets.filter((t) => !t.openkvs || openkvs.includes(t));
  const csvCases: CsvCase[] = csvTargets.flatMap((t) =>
    [1, CSV_CONCURRENCY].map((concurrency) => ({
      t,
      concurrency,
      ms: [],
      rates: [],
      cpu: 0,
      downloads: 0,
      bytes: 0,
      rssBeforeKb: 0,
      rssPeakKb: 0,
    })),
  );
  const agent = new Agent({ keepAlive: true, maxSockets: CSV_CONCURRENCY });
  try {
    for (const t of csvTargets) {
      const before = statusKb(t.pid, 'VmRSS') ?? 0;
      // One download checks the rows (a header line and one line per item) and warms the path up;
      // its memory counts with the downloads one at a time.
      const memory = sampleMemory(t.pid);
      const first = await download(csvUrl(t), token, agent, true);
      const firstPeak = memory.stop().rssPeakKb;
      if (first.lines < CSV_ITEMS) throw new Error(`${csvUrl(t)}: ${first.lines} lines for ${CSV_ITEMS} items`);
      for (const c of csvCases.filter((x) => x.t === t)) {
        c.rssBeforeKb = before;
        c.rssPeakKb = c.concurrency === 1 ? firstPeak : 0;
        c.bytes = first.bytes;
      }
    }
    for (let r = 0; r < o.csvRounds; r++) {
      for (const c of csvCases) {
        const memory = sampleMemory(c.t.pid);
        const cpuBefore = treeCpuSeconds(c.t.pid) + treeCpuSeconds(c.t.dbPid);
        const start = process.hrtime.bigint();
        const done = await Promise.all(Array.from({ length: c.concurrency }, () => download(csvUrl(c.t), token, agent)));
        const seconds = Number(process.hrtime.bigint() - start) / 1e9;
        c.cpu += treeCpuSeconds(c.t.pid) + treeCpuSeconds(c.t.dbPid) - cpuBefore;
        c.rssPeakKb = Math.max(c.rssPeakKb, memory.stop().rssPeakKb);
        c.downloads += done.length;
        c.ms.push(...done.map((d) => d.ms));
        c.rates.push(done.reduce((s, d) => s + d.bytes, 0) / seconds / 1e6);
        const wrong = done.find((d) => d.bytes !== c.bytes);
        if (wrong) throw new Error(`${csvUrl(c.t)}: ${wrong.bytes} bytes, not ${c.bytes} as the first time`);
      }
    }
  } finally {
    agent.destroy();
  }
  const csv = csvCases.map(
    (c): CsvDownloads => ({
      target: c.t.name,
      concurrency: c.concurrency,
      bytes: c.bytes,
      ms: median(c.ms),
      mbps: median(c.rates),
      cpuMs: (c.cpu / c.downloads) * 1000,
      rssBeforeMb: c.rssBeforeKb / 1024,
      rssPeakMb: c.rssPeakKb / 1024,
    }),
  );
  printDatasetReads({ pages, csv }, o);
  return { pages, csv };
}

const PAGE_LABELS: Record<ItemPageKind, string> = {
  first: 'offset 0',
  deep: `offset ${DEEP_OFFSET.toLocaleString('en')}`,
  spread: `${SPREAD_ITEM_PAGES} offsets across`,
};

function printDatasetReads(r: DatasetReads, o: DatasetReadOptions): void {
  console.log(
    `\nDataset pages read alone (limit=${DATASET_PAGE}, 1 KB items, a dataset of ${DATASET_ITEMS.toLocaleString('en')};` +
      ` one connection, medians of ${o.pageRounds} rounds × ${o.pageRequests} requests)`,
  );
  for (const p of r.pages) {
    const first = r.pages.find((b) => b.target === p.target && b.page === 'first');
    console.log(
      `  ${TARGET_LABELS[p.target].padEnd(18)} ${PAGE_LABELS[p.page].padEnd(20)}  ${p.ms.toFixed(2).padStart(7)} ms` +
        `  (${p.spread[0].toFixed(2)}–${p.spread[1].toFixed(2)})  CPU ${p.cpuMs.toFixed(2)} ms` +
        (first ? `  × ${(p.ms / first.ms).toFixed(2)} offset 0` : ''),
    );
  }
  console.log(
    `\nCSV downloads of ${CSV_ITEMS.toLocaleString('en')} items (${o.csvRounds} rounds; RSS of the server sampled every 20 ms)`,
  );
  for (const c of r.csv) {
    const bare = r.csv.find((b) => b.target === 'bare' && b.concurrency === c.concurrency);
    console.log(
      `  ${TARGET_LABELS[c.target].padEnd(18)} ${`${c.concurrency} at once`.padEnd(10)} ${(c.bytes / 1e6).toFixed(1)} MB` +
        `  ${c.ms.toFixed(0).padStart(6)} ms  ${c.mbps.toFixed(0).padStart(5)} MB/s` +
        (bare && c.target !== 'bare' ? ` (${(c.mbps / bare.mbps).toFixed(2)}× bare)` : '') +
        `  CPU ${c.cpuMs.toFixed(0)} ms a download  RSS ${c.rssBeforeMb.toFixed(0)} → ≤ ${c.rssPeakMb.toFixed(0)} MB`,
    );
  }
}

/** The throughput rows of datasets with items per second and CPU per request, from the suite's summaries. */
export function printDatasetRows(summaries: readonly Summary[], labels: (op: string) => string): void {
  const rows = summaries.filter((s) => s.items !== undefined);
  if (rows.length === 0) return;
  console.log('\nDataset rows (wrk; items per second = requests × 1000)');
  for (const s of rows) {
    const first = rows.find((x) => x.op === 'items' && x.target === s.target);
    console.log(
      `  ${labels(s.op).padEnd(34)} ${TARGET_LABELS[s.target].padEnd(18)} ${Math.round(s.rps).toLocaleString('en').padStart(6)} req/s` +
        `  ${Math.round(s.rps * s.items!)
          .toLocaleString('en')
          .padStart(9)} items/s` +
        (s.vsBare === undefined || s.target === 'bare' ? '' : `  ${s.vsBare.toFixed(2)}× bare`) +
        `  server CPU ${(s.serverCpuUsPerRequest / 1000).toFixed(2)} ms/req` +
        (s.target === 'postgres' ? `  db ${(s.dbCpuUsPerRequest / 1000).toFixed(2)} ms/req` : '') +
        (s.rssPeakMb === undefined ? '' : `  RSS ≤ ${s.rssPeakMb.toFixed(0)} MB`) +
        (first && s.op === 'items-900k' ? `  offset 0 ÷ this: ${(first.rps / s.rps).toFixed(2)}` : ''),
    );
  }
}
