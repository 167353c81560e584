import { Agent, type IncomingHttpHeaders, request } from 'node:http';
import { sleep } from './time.js';

/** An HTTP answer, read whole. */
export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface SendOptions {
  headers?: Record<string, string | number>;
  /** The body at once, or piece by piece (each piece written as it comes, e.g. slowly). */
  body?: Buffer | AsyncIterable<Buffer>;
  /** Gives up (rejects with code `TIMEOUT`) when no whole answer came within this time (default 30 s). */
  timeoutMs?: number;
  /** Called on a `100 Continue` (sent with `Expect: 100-continue`): the server has read the request's headers. */
  onContinue?: () => void;
}

/** The code of a request that got no HTTP answer: `ECONNREFUSED`, `ECONNRESET`, `TIMEOUT`, … */
export function failureCode(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { afterStatus?: number };
  const code = typeof e?.code === 'string' ? e.code : (e?.message ?? String(err));
  // A body cut off after the status line: the server could no longer say anything else.
  return e?.afterStatus === undefined ? code : `${code} after a ${e.afterStatus} status line`;
}

/**
 * A client of one openkvs origin that keeps its connections alive between requests, as
 * apify-client and browsers do, with up to `sockets` requests at once.
 */
export class KeepAliveClient {
  readonly origin: string;
  readonly #token: string;
  readonly #agent: Agent;

  constructor(origin: string, token: string, sockets: number) {
    this.origin = origin;
    this.#token = token;
    this.#agent = new Agent({ keepAlive: true, maxSockets: sockets });
  }

  /** Resolves with the whole answer; rejects when the connection fails or `timeoutMs` passes first. */
  send(method: string, path: string, options: SendOptions = {}): Promise<Answer> {
    const headers = { authorization: `Bearer ${this.#token}`, ...options.headers };
    return new Promise<Answer>((resolve, reject) => {
      const req = request(`${this.origin}${path}`, { method, headers, agent: this.#agent });
      const timer = setTimeout(() => {
        req.destroy(Object.assign(new Error(`no answer within ${options.timeoutMs ?? 30_000} ms`), { code: 'TIMEOUT' }));
      }, options.timeoutMs ?? 30_000);
      let status: number | undefined;
      const fail = (err: Error) => {
        clearTimeout(timer);
        reject(status === undefined ? err : Object.assign(err, { afterStatus: status }));
      };
      req.on('error', fail);
      if (options.onContinue) req.once('continue', options.onContinue);
      req.on('response', (res) => {
        status = res.statusCode;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', fail);
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
        });
      });
      const body = options.body;
      if (body === undefined || Buffer.isBuffer(body)) {
        req.end(body);
        return;
      }
      (async () => {
        for await (const piece of body) {
          if (req.destroyed) return;
          if (!req.write(piece)) await new Promise((r) => req.once('drain', r));
        }
        req.end();
      })().catch((err: Error) => req.destroy(err));
    });
  }

  /** Closes every connection (those of a killed server are useless). */
  close(): void {
    this.#agent.destroy();
  }
}

/** `body` in `pieces` parts, one every `ms / pieces` milliseconds; `onFirst` runs once the first part is handed out. */
export async function* dribble(body: Buffer, pieces: number, ms: number, onFirst?: () => void): AsyncGenerator<Buffer> {
  const step = Math.ceil(body.length / pieces);
  for (let i = 0; i < pieces; i++) {
    yield body.subarray(i * step, (i + 1) * step);
    if (i === 0) onFirst?.();
    if (i < pieces - 1) await sleep(ms / pieces);
  }
}

/** Runs `work` on every item with at most `limit` at once. */
export async function eachLimit<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++] as T);
  });
  await Promise.all(lanes);
}

/**
 * Why an answer is not a clean "try again": anything but a 503 in the Apify envelope
 * (`service-unavailable`, with a message) and a `Retry-After` in seconds. Undefined when it is one.
 */
export function notCleanUnavailable(answer: Answer, method = 'GET'): string | undefined {
  const text = answer.body.toString('utf8').slice(0, 200);
  if (answer.status !== 503) return `status ${answer.status}: ${text}`;
  if (!/^[1-9]\d*$/.test(String(answer.headers['retry-after'] ?? ''))) return `503 without Retry-After: ${text}`;
  if (method === 'HEAD') return undefined;
  try {
    const { error } = JSON.parse(answer.body.toString('utf8')) as { error?: { type?: unknown; message?: unknown } };
    if (error?.type === 'service-unavailable' && typeof error.message === 'string') return undefined;
  } catch {
    // not JSON: reported below
  }
  return `503 not in the Apify envelope: ${text}`;
}
