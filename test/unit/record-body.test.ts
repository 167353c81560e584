/**
 * A compressed upload is checked in one of two ways: small ones (declared length up to 64 KiB, what
 * apify-client sends for most records) decoded whole in one call at the end, others through a
 * decoder stream as they arrive. Both must give the same answer for every body: the decoded size,
 * 400 for a body that does not decode, 413 past the limit, and the bytes passed on unchanged.
 */
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { recordBody } from '../../src/http/body.js';
import type { ContentEncoding } from '../../src/model.js';

/** A request whose body arrives in `pieces`, with or without a declared length. */
function request(body: Buffer, declare: boolean, pieces = 3): IncomingMessage {
  const size = Math.ceil(body.length / pieces) || 1;
  const chunks: Buffer[] = [];
  for (let at = 0; at < body.length; at += size) chunks.push(body.subarray(at, at + size));
  const req = Readable.from(chunks, { objectMode: false }) as unknown as IncomingMessage;
  req.headers = declare ? { 'content-length': String(body.length) } : {};
  return req;
}

type Outcome = { decoded: number; bytes: string; etag: string } | { error: string; status: number };

async function upload(body: Buffer, encoding: ContentEncoding, maxBytes: number, declare: boolean): Promise<Outcome> {
  const r = recordBody(request(body, declare), encoding, maxBytes);
  const got: Buffer[] = [];
  try {
    for await (const chunk of r.body) got.push(chunk);
  } catch (err) {
    const e = err as { type?: string; statusCode?: number };
    return { error: e.type ?? String(err), status: e.statusCode ?? 0 };
  }
  return { decoded: r.decodedSize(), bytes: Buffer.concat(got).toString('hex'), etag: r.etag() };
}

const encoders: Record<ContentEncoding, (b: Buffer) => Buffer> = {
  gzip: (b) => gzipSync(b),
  deflate: (b) => deflateSync(b),
  br: (b) => brotliCompressSync(b),
};

const text = Buffer.from(
  JSON.stringify({ items: Array.from({ length: 50 }, (_, i) => ({ i, url: `https://example.com/${i}` })) }),
);
const zeros = Buffer.alloc(3 * 1024 * 1024);

describe('recordBody: small compressed bodies decoded whole agree with the stream decoder', () => {
  for (const encoding of ['gzip', 'deflate', 'br'] as const) {
    const enc = encoders[encoding];
    const cases: [string, Buffer, number][] = [
      ['a JSON record', enc(text), 1_000_000],
      ['a JSON record at exactly the limit', enc(text), text.length],
      ['a JSON record one byte over the limit', enc(text), text.length - 1],
      ['two gzip members / trailing bytes', Buffer.concat([enc(text), enc(Buffer.from('more'))]), 1_000_000],
      ['trailing garbage', Buffer.concat([enc(text), Buffer.from('xx')]), 1_000_000],
      ['an empty body', Buffer.alloc(0), 1_000_000],
      ['a cut-off body', enc(text).subarray(0, 20), 1_000_000],
      ['not compressed at all', Buffer.from('plain text, not compressed'), 1_000_000],
      ['3 MiB of zeros under a 100 MiB limit (past the one-call bound)', enc(zeros), 100 * 1024 * 1024],
      ['3 MiB of zeros over a 2 MiB limit', enc(zeros), 2 * 1024 * 1024],
      ['3 MiB of zeros over a 512 KiB limit', enc(zeros), 512 * 1024],
    ];
    for (const [name, body, max] of cases) {
      it(`${encoding}: ${name}`, async () => {
        expect(body.length).toBeLessThanOrEqual(64 * 1024);
        const whole = await upload(body, encoding, max, true);
        const streamed = await upload(body, encoding, max, false);
        expect(whole).toEqual(streamed);
        if ('decoded' in whole) expect(whole.bytes).toBe(body.toString('hex'));
      });
    }
  }

  it('gives the decoded size, 413 and 400 as expected (not only the same answer twice)', async () => {
    expect(await upload(gzipSync(text), 'gzip', 1_000_000, true)).toMatchObject({ decoded: text.length });
    expect(await upload(brotliCompressSync(zeros), 'br', 100 * 1024 * 1024, true)).toMatchObject({ decoded: zeros.length });
    expect(await upload(gzipSync(text), 'gzip', text.length - 1, true)).toMatchObject({ status: 413 });
    expect(await upload(Buffer.from('nope'), 'br', 1_000_000, true)).toMatchObject({ status: 400, error: 'invalid-request' });
  });
});

/** A request whose body stops after `first`: the client errors (a reset) or the stream just closes. */
function brokenRequest(first: Buffer, declared: number | undefined, how: 'error' | 'close'): IncomingMessage {
  const req = new Readable({ read() {} });
  (req as unknown as IncomingMessage).headers = declared === undefined ? {} : { 'content-length': String(declared) };
  req.push(first);
  setTimeout(() => {
    if (how === 'error') req.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
    else req.destroy();
  }, 5);
  return req as unknown as IncomingMessage;
}

async function outcome(req: IncomingMessage): Promise<{ bytes: number } | { code: string }> {
  let bytes = 0;
  try {
    for await (const chunk of recordBody(req, null, 1_000_000).body) bytes += chunk.length;
  } catch (err) {
    return { code: String((err as NodeJS.ErrnoException).code) };
  }
  return { bytes };
}

describe('recordBody: a small body (declared length) is read whole, and answers as one read as it arrives', () => {
  it('passes on the same bytes, sizes and ETag', async () => {
    for (const body of [Buffer.alloc(0), Buffer.from('x'), Buffer.alloc(64 * 1024, 7), Buffer.from(text)]) {
      for (const pieces of [1, 3, 17]) {
        const read = async (declare: boolean) => {
          const r = recordBody(request(body, declare, pieces), null, 1_000_000);
          const got: Buffer[] = [];
          for await (const chunk of r.body) got.push(chunk);
          return { bytes: Buffer.concat(got).toString('hex'), decoded: r.decodedSize(), etag: r.etag() };
        };
        const whole = await read(true);
        expect(whole).toEqual(await read(false));
        expect(whole.bytes).toBe(body.toString('hex'));
      }
    }
  });

  it('fails with the request error when the client resets mid-body', async () => {
    const whole = await outcome(brokenRequest(Buffer.alloc(100), 1000, 'error'));
    expect(whole).toEqual({ code: 'ECONNRESET' });
    expect(await outcome(brokenRequest(Buffer.alloc(100), undefined, 'error'))).toEqual(whole);
  });

  it('fails, not waits for ever, when the request closes before its end', async () => {
    const whole = await outcome(brokenRequest(Buffer.alloc(100), 1000, 'close'));
    expect(whole).toEqual({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
    expect(await outcome(brokenRequest(Buffer.alloc(100), undefined, 'close'))).toEqual(whole);
  });

  it('fails at once for a request destroyed before its body is read', async () => {
    const req = brokenRequest(Buffer.alloc(10), 1000, 'error') as unknown as Readable;
    // Whoever destroyed it (node, on a reset) had its error; here a listener stands in for it.
    req.on('error', () => undefined);
    req.destroy(Object.assign(new Error('gone'), { code: 'EPIPE' }));
    await new Promise((resolve) => setImmediate(resolve));
    expect(req.destroyed).toBe(true);
    expect(await outcome(req as unknown as IncomingMessage)).toEqual({ code: 'EPIPE' });
  });
});
