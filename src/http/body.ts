import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { Readable, type Transform } from 'node:stream';
import { brotliDecompressSync, createBrotliDecompress, createGunzip, createInflate, gunzipSync, inflateSync } from 'node:zlib';
import { sha256 } from '../domain/ids.js';
import { unstorableJson } from '../domain/validation.js';
import {
  InvalidRequestError,
  InvalidValueError,
  RecordTooLargeError,
  RequestTooLargeError,
  UnsupportedContentEncodingError,
} from '../errors.js';
import type { ContentEncoding } from '../model.js';

/** Largest JSON body of the store endpoints, after decompression (apify-shared MAX_PAYLOAD_SIZE_BYTES). */
export const MAX_JSON_BODY_BYTES = 9_437_184;

/** The encoding named by a `Content-Encoding` header; `null` for none or identity; 415 otherwise. */
export function parseContentEncoding(header: string | string[] | undefined): ContentEncoding | null {
  if (header === undefined) return null;
  const value = (Array.isArray(header) ? header.join(',') : header).trim().toLowerCase();
  if (value === '' || value === 'identity') return null;
  if (value === 'gzip' || value === 'x-gzip') return 'gzip';
  if (value === 'deflate' || value === 'br') return value;
  throw new UnsupportedContentEncodingError(Array.isArray(header) ? header.join(', ') : header);
}

export function createDecoder(encoding: ContentEncoding): Transform {
  if (encoding === 'gzip') return createGunzip();
  if (encoding === 'deflate') return createInflate();
  return createBrotliDecompress();
}

/** The declared body length, or undefined when absent or chunked. */
export function declaredLength(req: IncomingMessage): number | undefined {
  const raw = req.headers['content-length'];
  if (raw === undefined || !/^\d+$/.test(raw)) return undefined;
  return Number(raw);
}

const corrupt = (encoding: string) =>
  new InvalidRequestError(`The request body could not be decoded as Content-Encoding "${encoding}".`);

/**
 * Runs compressed bytes through a decoder, discarding the output but counting it, to prove the
 * bytes decode and to bound what they decode to.
 */
class DecodeCheck {
  readonly #decoder: Transform;
  readonly #encoding: ContentEncoding;
  readonly #maxDecoded: number;
  readonly #tooLarge: (limit: number) => Error;
  /** Settles when the decoder is gone (destroyed on a verdict, or failed). */
  readonly #closed: Promise<void>;
  decoded = 0;
  error: Error | undefined;

  constructor(encoding: ContentEncoding, maxDecoded: number, tooLarge: (limit: number) => Error) {
    this.#encoding = encoding;
    this.#maxDecoded = maxDecoded;
    this.#tooLarge = tooLarge;
    this.#decoder = createDecoder(encoding);
    this.#decoder.on('data', (chunk: Buffer) => {
      this.decoded += chunk.length;
      if (this.decoded > this.#maxDecoded && !this.error) {
        this.error = this.#tooLarge(this.#maxDecoded);
        this.#decoder.destroy();
      }
    });
    this.#decoder.on('error', () => {
      this.error ??= corrupt(this.#encoding);
    });
    this.#closed = once(this.#decoder, 'close').then(
      () => undefined,
      () => undefined,
    );
  }

  /**
   * Resolves once the decoder has taken `chunk` in: a verdict on it (too large, corrupt) comes
   * now, not with the next chunk, which a client waiting for its answer would never send.
   */
  async write(chunk: Buffer): Promise<void> {
    if (this.error) throw this.error;
    await Promise.race([new Promise<void>((resolve) => this.#decoder.write(chunk, () => resolve())), this.#closed]);
    if (this.error) throw this.error;
  }

  async end(): Promise<void> {
    if (this.error) throw this.error;
    this.#decoder.end();
    if (!this.#decoder.destroyed) await Promise.race([once(this.#decoder, 'end').catch(() => undefined), this.#closed]);
    if (this.error) throw this.error;
  }

  destroy(): void {
    this.#decoder.destroy();
  }
}

/** Compressed bodies up to this size (declared) are held and decoded in one call once they are all here. */
const SMALL_BODY_BYTES = 64 * 1024;
/** ...when they decode to at most this; a larger result is counted through a decoder stream. */
const SYNC_DECODED_BYTES = 1024 * 1024;

/**
 * The decoded length of a whole compressed body, bounded by `maxBytes` (413 past it, 400 when it
 * does not decode). One synchronous call while the result stays small: apify-client compresses
 * every upload of 1 KiB or more, and a decoder stream per request (its native state, a trip to the
 * thread pool, events) costs more than decoding a few kilobytes. The synchronous and the stream
 * decoders are the same zlib classes and agree on every input (trailing bytes, several gzip
 * members, an empty or cut-off body).
 */
async function decodedLength(
  encoding: ContentEncoding,
  data: Buffer,
  maxBytes: number,
  tooLarge: (limit: number) => Error,
): Promise<number> {
  const cap = Math.min(maxBytes, SYNC_DECODED_BYTES);
  const decode = encoding === 'gzip' ? gunzipSync : encoding === 'deflate' ? inflateSync : brotliDecompressSync;
  try {
    return decode(data, { maxOutputLength: cap }).length;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_BUFFER_TOO_LARGE') throw corrupt(encoding);
    if (cap === maxBytes) throw tooLarge(maxBytes);
  }
  // Larger than the synchronous bound (a compression bomb, or a body that compresses very well):
  // counted through a decoder stream, which leaves the event loop free meanwhile.
  const check = new DecodeCheck(encoding, maxBytes, tooLarge);
  try {
    await check.write(data);
    await check.end();
    return check.decoded;
  } finally {
    check.destroy();
  }
}

export interface RecordBody {
  body: AsyncIterable<Buffer>;
  decodedSize: () => number;
  /** SHA-256 of the bytes received (base64url): the record's strong ETag. */
  etag: () => string;
}

/** Digests a client declared for its upload: `Content-MD5` (base64) and `x-content-sha256` (hex or base64). */
export interface DeclaredDigests {
  md5?: Buffer;
  sha256?: Buffer;
}

function decodeDigest(name: string, value: string, bytes: number): Buffer {
  const v = value.trim();
  const digest = new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`).test(v) ? Buffer.from(v, 'hex') : Buffer.from(v, 'base64');
  if (digest.length !== bytes) throw new InvalidRequestError(`The ${name} header is not a valid digest.`);
  return digest;
}

/** Reads `Content-MD5` and `x-content-sha256`; a malformed one is 400. */
export function declaredDigests(req: IncomingMessage): DeclaredDigests {
  const md5 = req.headers['content-md5'];
  const sha = req.headers['x-content-sha256'];
  return {
    md5: typeof md5 === 'string' ? decodeDigest('Content-MD5', md5, 16) : undefined,
    sha256: typeof sha === 'string' ? decodeDigest('x-content-sha256', sha, 32) : undefined,
  };
}

/** Refuses a body that does not match a digest its client declared. */
function checkDigests(sha: Buffer, md5: Buffer | undefined, digests: DeclaredDigests): void {
  if (digests.sha256 && !sha.equals(digests.sha256)) throw new InvalidRequestError('The body does not match x-content-sha256.');
  if (digests.md5 && md5 && !md5.equals(digests.md5)) throw new InvalidRequestError('The body does not match Content-MD5.');
}

/**
 * An uncompressed upload whose declared bytes are all here already (a small body usually arrives
 * with its headers): taken in one read of the request and hashed in one call, without a stream
 * iterator. The request's end follows as usual.
 */
function wholeBody(req: IncomingMessage, maxBytes: number, digests: DeclaredDigests): RecordBody {
  const data = (req.read() as Buffer | null) ?? Buffer.alloc(0);
  if (data.length > maxBytes) throw new RecordTooLargeError(maxBytes);
  // The body's SHA-256 is its ETag: hashed once, and compared with a declared one from that.
  const etag = sha256(data, 'base64url');
  if (digests.sha256 || digests.md5)
    checkDigests(Buffer.from(etag, 'base64url'), digests.md5 && createHash('md5').update(data).digest(), digests);
  async function* one(): AsyncGenerator<Buffer> {
    yield data;
  }
  return { body: one(), decodedSize: () => data.length, etag: () => etag };
}

/**
 * A record upload as it arrives: stops with 413 past `maxBytes` (stored or decoded), and with 400
 * when a compressed body does not decode. The request stream is not destroyed on failure, so
 * that the error response can still be written.
 */
export function recordBody(
  req: IncomingMessage,
  encoding: ContentEncoding | null,
  maxBytes: number,
  digests: DeclaredDigests = {},
): RecordBody {
  const declared = declaredLength(req);
  // Every declared byte is buffered already (the parser may not have reached the message's end).
  if (encoding === null && declared !== undefined && req.readableFlowing === null && req.readableLength >= declared)
    return wholeBody(req, maxBytes, digests);
  let received = 0;
  let decoded = 0;
  let etag = '';
  const tooLarge = (limit: number) => new RecordTooLargeError(limit);
  // A small compressed body is decoded whole at the end; a larger one as it arrives.
  const whole = encoding !== null && declared !== undefined && declared <= SMALL_BODY_BYTES;
  async function* read(): AsyncGenerator<Buffer> {
    const check = encoding && !whole ? new DecodeCheck(encoding, maxBytes, tooLarge) : undefined;
    const held: Buffer[] = [];
    const hash = createHash('sha256');
    const md5 = digests.md5 ? createHash('md5') : undefined;
    try {
      for await (const chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
        received += chunk.length;
        if (received > maxBytes) throw new RecordTooLargeError(maxBytes);
        if (check) await check.write(chunk);
        else if (whole) held.push(chunk);
        hash.update(chunk);
        md5?.update(chunk);
        yield chunk;
      }
      const sha = hash.digest();
      checkDigests(sha, md5?.digest(), digests);
      etag = sha.toString('base64url');
      if (check) {
        await check.end();
        decoded = check.decoded;
      } else if (encoding && whole) {
        decoded = await decodedLength(
          encoding,
          held.length === 1 ? (held[0] as Buffer) : Buffer.concat(held),
          maxBytes,
          tooLarge,
        );
      } else {
        decoded = received;
      }
    } finally {
      check?.destroy();
    }
  }
  return { body: read(), decodedSize: () => decoded, etag: () => etag };
}

/**
 * Reads a text body, decoding any Content-Encoding, up to `maxBytes` decoded (413 above). An empty
 * body is `undefined`; bytes that are not UTF-8 are 400 `invalid-value` (decoded leniently, they would
 * be stored with U+FFFD where the client sent other bytes).
 */
export async function readTextBody(req: IncomingMessage, maxBytes = MAX_JSON_BODY_BYTES): Promise<string | undefined> {
  const encoding = parseContentEncoding(req.headers['content-encoding']);
  const length = declaredLength(req);
  if (length !== undefined && length > maxBytes) throw new RequestTooLargeError(maxBytes, length);
  let source: Readable = req;
  if (encoding) {
    const body = Readable.from(req.iterator({ destroyOnReturn: false }));
    source = body.pipe(createDecoder(encoding));
    // pipe() leaves the body's errors unheard: a client that hangs up mid-body ('aborted') would
    // be an uncaught exception, which ended the process. It fails the read instead.
    body.once('error', (err) => source.destroy(err));
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of source.iterator({ destroyOnReturn: encoding !== null }) as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBytes) throw new RequestTooLargeError(maxBytes);
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof RequestTooLargeError) throw err;
    if (encoding) throw corrupt(encoding);
    throw err;
  }
  if (size === 0) return undefined;
  try {
    return UTF8.decode(Buffer.concat(chunks));
  } catch {
    throw new InvalidValueError('The request body is not valid UTF-8.');
  }
}

/**
 * Reads a JSON body of a store endpoint, decoding any Content-Encoding, up to 9 MiB decoded.
 * An empty body is `undefined`; a body that is not JSON is 400 `invalid-request`, one that would not
 * read back as sent (invalid UTF-8, see `unstorableJson`) 400 `invalid-value`.
 */
export async function readJsonBody(req: IncomingMessage, maxBytes = MAX_JSON_BODY_BYTES): Promise<unknown> {
  const text = await readTextBody(req, maxBytes);
  if (text === undefined) return undefined;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new InvalidRequestError('The request body is not valid JSON.');
  }
  const problem = unstorableJson(body);
  if (problem !== undefined) throw new InvalidValueError(`Invalid value provided in ${problem}.`);
  return body;
}

/** Strict UTF-8 that keeps a byte order mark (which JSON.parse then refuses, as before). */
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
