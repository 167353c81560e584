import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface RawRequest {
  method: string;
  /** Path and query, starting with `/`. */
  path: string;
  headers?: Record<string, string | number>;
  /**
   * The body, sent chunk by chunk. Without a `content-length` header node:http sends it with
   * `Transfer-Encoding: chunked`.
   */
  body?: Iterable<Buffer> | AsyncIterable<Buffer>;
  /** Called with every response chunk instead of collecting the body (which is then empty). */
  onData?: (chunk: Buffer) => void;
}

/**
 * One request over a fresh connection to a real listening server. Resolves with the response even
 * when the server answers before the upload is finished and closes the connection (413): errors
 * writing the rest of the body are ignored once a response has arrived.
 */
export function rawRequest(origin: string, opts: RawRequest): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${origin}${opts.path}`, { method: opts.method, headers: opts.headers ?? {}, agent: false });
    let responded = false;
    req.on('response', (res) => {
      responded = true;
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => (opts.onData ? opts.onData(chunk) : chunks.push(chunk)));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', (err) => {
      if (!responded) reject(err);
    });
    if (!opts.body) {
      req.end();
      return;
    }
    const source = Readable.from(opts.body, { objectMode: false });
    source.on('error', (err) => req.destroy(err));
    source.pipe(req);
  });
}

/** `count` chunks of `size` bytes filled with `fill`. */
export function* chunks(count: number, size: number, fill = 0x61): Generator<Buffer> {
  for (let i = 0; i < count; i++) yield Buffer.alloc(size, fill);
}
