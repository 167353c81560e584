import { Agent, type IncomingHttpHeaders, request } from 'node:http';
import type { Readable } from 'node:stream';
import type { KeyValueStoreClient } from 'apify-client';

export interface Fetched {
  status: number;
  headers: IncomingHttpHeaders;
  /** The bytes as they came over the wire (no decoding of Content-Encoding). */
  body: Buffer;
}

/**
 * One plain HTTP request the way a browser, curl or a script without any Apify library would
 * make it: no token unless `headers` carries one, no `Accept-Encoding` unless given.
 */
export function fetchRaw(url: string, options: { method?: string; headers?: Record<string, string>; body?: Buffer } = {}) {
  return new Promise<Fetched>((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers ?? {}, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** `fetchRaw` answer body parsed as JSON. */
export const json = <T>(res: Fetched) => JSON.parse(res.body.toString('utf8')) as T;

/**
 * Stores many small records over a few keep-alive connections: fixtures for the key-listing
 * tests, made quickly and without going through the client under test.
 */
export async function putRecords(
  origin: string,
  token: string,
  storeId: string,
  records: { key: string; value: string; contentType?: string }[],
): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  const put = (r: (typeof records)[number]) =>
    new Promise<void>((resolve, reject) => {
      const req = request(
        `${origin}/v2/key-value-stores/${storeId}/records/${r.key}`,
        { method: 'PUT', agent, headers: { authorization: `Bearer ${token}`, 'content-type': r.contentType ?? 'text/plain' } },
        (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 201 ? resolve() : reject(new Error(`PUT ${r.key}: ${res.statusCode}`))));
        },
      );
      req.on('error', reject);
      req.end(r.value);
    });
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < records.length) await put(records[next++]!);
      }),
    );
  } finally {
    agent.destroy();
  }
}

type RecordValue = Parameters<KeyValueStoreClient['setRecord']>[0]['value'];
/**
 * apify-client 2.25 declares `setRecord`'s value as JSON only, yet sends a Buffer or a stream as
 * it is (its own documentation and code say so): this only tells TypeScript.
 */
export const binary = (value: Buffer | Readable) => value as unknown as RecordValue;
