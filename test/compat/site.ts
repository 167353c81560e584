import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A local website for crawlers: `count` HTML pages, every one reachable from `/`. */
export interface Site {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  /** The absolute URL of every page, `/` first. */
  urls: string[];
  /** The title of the page at an absolute URL. */
  titleOf(url: string): string;
  /** How many times each path was asked for. */
  hits: Map<string, number>;
  /** Every request for a page, in order: its path and when it came (ms). */
  log: { path: string; at: number }[];
  /**
   * From now on, answer no new page past the first `pages` distinct ones served: their requests
   * wait until `release()`. Lets a test stop a crawl where it likes before it can end by itself.
   */
  holdAfter(pages: number): void;
  /** Answers the held requests and holds no more. */
  release(): void;
  close(): Promise<void>;
}

export const pagePath = (i: number) => (i === 0 ? '/' : `/p/${i}.html`);

/**
 * Starts the site: page i links to pages 2i+1 and 2i+2 (a binary tree, so a crawl fans out), back
 * to `/` and to page i-1 (links a crawler must deduplicate), and one to a mail address it must skip.
 */
export async function startSite(count: number): Promise<Site> {
  const pages = new Map<string, string>();
  const titles = new Map<string, string>();
  for (let i = 0; i < count; i++) {
    const title = i === 0 ? 'Home' : `Page ${i} – ünïcode`;
    const links = [2 * i + 1, 2 * i + 2, 0, i - 1]
      .filter((j) => j >= 0 && j < count && j !== i)
      .map((j) => `<a href="${pagePath(j)}">to ${j}</a>`);
    titles.set(pagePath(i), title);
    pages.set(
      pagePath(i),
      `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body>${links.join(' ')} <a href="mailto:x@example.com">mail</a></body></html>`,
    );
  }
  const hits = new Map<string, number>();
  const log: { path: string; at: number }[] = [];
  const held: { res: ServerResponse; page: string }[] = [];
  let limit = Number.POSITIVE_INFINITY;
  const send = (res: ServerResponse, page: string) =>
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);

  const server = createServer((req, res) => {
    const path = req.url ?? '';
    const page = pages.get(path);
    if (page === undefined) {
      res.writeHead(404).end();
      return;
    }
    log.push({ path, at: Date.now() });
    const seen = hits.has(path);
    hits.set(path, (hits.get(path) ?? 0) + 1);
    if (!seen && hits.size > limit) held.push({ res, page });
    else send(res, page);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const release = () => {
    limit = Number.POSITIVE_INFINITY;
    for (const { res, page } of held.splice(0)) if (!res.destroyed) send(res, page);
  };
  return {
    origin,
    urls: [...pages.keys()].map((path) => `${origin}${path}`),
    titleOf: (url) => titles.get(new URL(url).pathname) ?? '',
    hits,
    log,
    holdAfter(n) {
      limit = n;
    },
    release,
    close: () =>
      new Promise<void>((resolve) => {
        release();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
