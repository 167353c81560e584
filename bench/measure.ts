import { Agent, type IncomingHttpHeaders, request } from 'node:http';

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** One keep-alive connection, requests one after another, as a client paging through keys does. */
export class HttpTimer {
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 1 });
  readonly #token: string;

  constructor(token: string) {
    this.#token = token;
  }

  /** GETs `url`; returns the body and the milliseconds from sending to the last byte received. */
  get(url: string): Promise<{ ms: number; status: number; headers: IncomingHttpHeaders; body: Buffer }> {
    return this.send('GET', url);
  }

  /** Sends `method` to `url` with a JSON `body`, if any; as `get`. */
  send(
    method: string,
    url: string,
    body?: string,
  ): Promise<{ ms: number; status: number; headers: IncomingHttpHeaders; body: Buffer }> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.#token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    return new Promise((resolve, reject) => {
      const start = process.hrtime.bigint();
      request(url, { method, agent: this.#agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const ms = Number(process.hrtime.bigint() - start) / 1e6;
          resolve({ ms, status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
        });
      })
        .on('error', reject)
        .end(body);
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}

/** Milliseconds `fn` takes, `count` times in a row. */
export async function timeRuns(count: number, fn: () => Promise<unknown>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = process.hrtime.bigint();
    await fn();
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return times;
}
