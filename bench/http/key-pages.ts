import { HttpTimer, median, timeRuns } from '../measure.js';
import { treeCpuSeconds } from './cpu.js';
import { PAGE_KEYS } from './operations.js';
import { TARGET_LABELS, type Target, type TargetName } from './targets.js';

export type PageKind = 'first' | 'middle' | 'spread';

/** The time of one key page read alone: one keep-alive connection, one request after another. */
export interface PageLatency {
  target: TargetName;
  /** Keys in the store. */
  size: number;
  /** The first page, the page in the middle, or pages spread over the store, a different one each request. */
  page: PageKind;
  /** Keys on the page. */
  items: number;
  /** Median of the round medians, milliseconds from sending the request to the last byte of the answer. */
  ms: number;
  /** Lowest and highest round median. */
  spread: [number, number];
  /** CPU the server (and its database) used per page, milliseconds. */
  cpuMs: number;
}

interface Case extends Omit<PageLatency, 'ms' | 'spread' | 'cpuMs'> {
  t: Target;
  /** Read in turn, one a request. */
  urls: string[];
  next: number;
  medians: number[];
  cpu: number;
  requests: number;
}

/**
 * Reads `limit=1000` pages from each target's key stores (1,000 keys and the larger ones): the
 * first page of each; of the larger ones also the page in the middle, and pages spread over the
 * store, a different one each request (a client reading through a store; nothing a server caches
 * per page helps there). Rounds interleave the cases, so that a slow moment of the machine hits
 * all of them alike.
 */
export async function measureKeyPages(
  targets: readonly Target[],
  token: string,
  o: { rounds: number; requests: number },
): Promise<PageLatency[]> {
  const cases: Case[] = [];
  for (const t of targets) {
    const stores = t.openkvs!.stores;
    const base = (id: string) => `${t.origin}/v2/key-value-stores/${id}/keys?limit=${PAGE_KEYS}`;
    const add = (size: number, page: PageKind, urls: string[]) =>
      cases.push({ t, target: t.name, size, page, items: PAGE_KEYS, urls, next: 0, medians: [], cpu: 0, requests: 0 });
    const after = (id: string, key: string) => `${base(id)}&exclusiveStartKey=${encodeURIComponent(key)}`;
    add(PAGE_KEYS, 'first', [base(stores.keys)]);
    for (const [size, s] of stores.large) {
      add(size, 'first', [base(s.id)]);
      add(size, 'middle', [after(s.id, s.middleKey)]);
      add(
        size,
        'spread',
        s.spreadKeys.map((k) => after(s.id, k)),
      );
    }
  }
  const client = new HttpTimer(token);
  const read = (c: Case) => client.get(c.urls[c.next++ % c.urls.length]!);
  try {
    for (const c of cases) {
      const url = c.urls[0]!;
      const res = await client.get(url);
      const count = res.status === 200 ? (JSON.parse(res.body.toString()) as { data: { count: number } }).data.count : -1;
      if (count !== c.items) throw new Error(`GET ${url}: status ${res.status}, ${count} keys, not ${c.items}`);
      await timeRuns(Math.max(5, o.requests), () => read(c));
    }
    for (let r = 0; r < o.rounds; r++) {
      for (const c of cases) {
        const before = treeCpuSeconds(c.t.pid) + treeCpuSeconds(c.t.dbPid);
        c.medians.push(median(await timeRuns(o.requests, () => read(c))));
        c.cpu += treeCpuSeconds(c.t.pid) + treeCpuSeconds(c.t.dbPid) - before;
        c.requests += o.requests;
      }
    }
  } finally {
    client.close();
  }
  const results = cases.map(
    (c): PageLatency => ({
      target: c.target,
      size: c.size,
      page: c.page,
      items: c.items,
      ms: median(c.medians),
      spread: [Math.min(...c.medians), Math.max(...c.medians)],
      cpuMs: (c.cpu / c.requests) * 1000,
    }),
  );
  console.log(
    `\nKey pages read alone (limit=${PAGE_KEYS}, one connection, medians of ${o.rounds} rounds × ${o.requests} requests)`,
  );
  for (const p of results) {
    const first = results.find((b) => b.target === p.target && b.size === PAGE_KEYS && b.page === 'first');
    console.log(
      `  ${TARGET_LABELS[p.target].padEnd(18)} store of ${p.size.toLocaleString('en').padStart(9)}  ${p.page.padEnd(6)}` +
        `  ${p.ms.toFixed(2).padStart(6)} ms  (${p.spread[0].toFixed(2)}–${p.spread[1].toFixed(2)})  CPU ${p.cpuMs.toFixed(2)} ms` +
        (first ? `  × ${(p.ms / first.ms).toFixed(2)} the 1k store` : ''),
    );
  }
  return results;
}
