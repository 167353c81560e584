import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request that went through the recorder, with the status openkvs answered. */
export interface Recorded {
  method: string;
  /** Path and query as the client sent them. */
  url: string;
  status: number;
  /** `error.type` of a JSON error answer, for reports of what openkvs refused. */
  errorType?: string;
}

export interface Recorder {
  /** Point the client here instead of at openkvs. */
  origin: string;
  requests: Recorded[];
  close(): Promise<void>;
}

/** Whether a request path is one of the key-value store endpoints openkvs serves. */
export const isKvsPath = (url: string) => url === '/v2/key-value-stores' || /^\/v2\/key-value-stores[/?]/.test(url);

/** Whether a request path is one of the dataset endpoints. */
export const isDatasetPath = (url: string) => url === '/v2/datasets' || /^\/v2\/datasets[/?]/.test(url);

/** Whether a request path is one of the request-queue endpoints. */
export const isQueuePath = (url: string) => url === '/v2/request-queues' || /^\/v2\/request-queues[/?]/.test(url);

/** A recorded request as its path and its query parameters (in no particular order). */
export const pathAndQuery = (r: Recorded) => {
  const url = new URL(r.url, 'http://recorded');
  return { path: url.pathname, query: Object.fromEntries(url.searchParams), status: r.status };
};

/**
 * A pass-through HTTP proxy in front of openkvs that writes down every request a client makes,
 * so that a test can say which endpoints the Apify SDK or Crawlee touched and what they got.
 */
export async function startRecorder(target: string): Promise<Recorder> {
  const upstream = new URL(target);
  const requests: Recorded[] = [];
  const server = createServer((req, res) => {
    const entry: Recorded = { method: req.method ?? '', url: req.url ?? '', status: 0 };
    requests.push(entry);
    const forward = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent: false },
      (answer) => {
        entry.status = answer.statusCode ?? 0;
        res.writeHead(entry.status, answer.headers);
        if (entry.status >= 400 && /json/.test(answer.headers['content-type'] ?? '')) {
          const chunks: Buffer[] = [];
          answer.on('data', (c: Buffer) => chunks.push(c));
          answer.on('end', () => {
            const body = Buffer.concat(chunks);
            try {
              entry.errorType = (JSON.parse(body.toString('utf8')) as { error?: { type?: string } }).error?.type;
            } catch {
              // Not JSON after all (or encoded): the status alone is recorded.
            }
            res.end(body);
          });
        } else {
          answer.pipe(res);
        }
      },
    );
    forward.on('error', (err) => {
      entry.status = 502;
      res.destroy(err);
    });
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
