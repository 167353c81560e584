import { HttpTimer, median, timeRuns } from '../measure.js';
import { treeCpuSeconds } from './cpu.js';
import { PAGE_KEYS } from './operations.js';
import { TARGET_LABELS, type Target, type TargetName } from './targets.js';

/** The time of one key page read alone: one keep-alive connection, one request after another. */
export interface PageLatency {
  target: TargetName;
  /** Keys in the store. */
  size: number;
  page: 'first' | 'middle';
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
  url: string;
  medians: number[];
  cpu: number;
  requests: number;
}

/**
 * Reads `limit=1000` pages from each target's key stores (1,000 keys and the larger ones): the
 * first page of each, and a page from the middle of the larger ones. Rounds interleave the cases,
 * so that a slow moment of the machine hits all of them alike.
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
    const add = (size: number, page: 'first' | 'middle', url: string, items: number) =>
      cases.push({ t, target: t.name, size, page, items, url, medians: [], cpu: 0, requests: 0 });
    add(PAGE_KEYS, 'first', base(stores.keys), PAGE_KEYS);
    for (const [size, s] of stores.large) {
      add(size, 'first', base(s.id), PAGE_KEYS);
      add(size, 'middle', `${base(s.id)}&exclusiveStartKey=${encodeURIComponent(s.middleKey)}`, PAGE_KEYS);
    }
  }
  const client = new HttpTimer(token);
  try {
    for (const c of cases) {
      const res = await client.get(c.url);
      const count = res.status === 200 ? (JSON.parse(res.body.toString()) as { data: { count: number } }).data.count : -1;
      if (count !== c.items) throw new Error(`GET ${c.url}: status ${res.status}, ${count} keys, not ${c.items}`);
      await timeRuns(Math.max(5, o.requests), () => client.get(c.url));
    }
    for (let r = 0; r < o.rounds; r++) {
      for (const c of cases) {
        const before = treeCpuSeconds(c.t.pid) + treeCpuSeconds(c.t.dbPid);
        c.medians.push(median(await timeRuns(o.requests, () => client.get(c.url))));
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
