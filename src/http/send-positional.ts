import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import type { PositionalValue } from '../storage/driver.js';

/** Bytes read at a time. Each read is one trip to libuv's thread pool. */
export const SEND_CHUNK_BYTES = 512 * 1024;
/** How many downloads at once are sent from the buffers; any more stream their value as before. */
export const SEND_BUFFERS = 16;

/**
 * The buffers: one 8 MiB block, allocated and touched at the first download and never freed, so
 * memory stays flat (see docs/performance.md for the pool that fragmented the heap).
 */
let free: Buffer[] | undefined;

function takeBuffer(): Buffer | undefined {
  if (!free) {
    const block = Buffer.allocUnsafeSlow(SEND_BUFFERS * SEND_CHUNK_BYTES).fill(0);
    free = Array.from({ length: SEND_BUFFERS }, (_, i) => block.subarray(i * SEND_CHUNK_BYTES, (i + 1) * SEND_CHUNK_BYTES));
  }
  return free.pop();
}

/** How many buffers are free now (for tests); `SEND_BUFFERS` before the first download. */
export const freeSendBuffers = (): number => free?.length ?? SEND_BUFFERS;

/** Resolves once `chunk` is handed to the kernel (the buffer is free again), rejects if the connection went away. */
function write(res: ServerResponse, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    res.write(chunk, (err) => (err ? reject(err) : resolve()));
  });
}

/**
 * Sends `size` bytes of a value readable in place as the whole body of `reply`, whose status and
 * headers are set, reusing a fixed buffer per read instead of the stream's buffer per chunk; when
 * every buffer is in use, the value is streamed. Kept for bench row `get-9mb` (docs/performance.md).
 *
 * The first read happens before anything is sent, so a failing (or empty) file still gets an error answer.
 * A value that ends early, or fails later, ends the connection (its length is promised).
 * `stream` (the value's stream, unread) is destroyed at the end, closing the file.
 */
export async function sendPositional(
  reply: FastifyReply,
  value: { stream: Readable; positional: PositionalValue },
  size: number,
): Promise<void> {
  const buffer = takeBuffer();
  if (!buffer) {
    reply.send(value.stream);
    return;
  }
  let position = 0;
  try {
    let read = size === 0 ? 0 : await value.positional.read(buffer, 0);
    if (read <= 0 && size > 0) throw new Error(`value of ${size} bytes is empty`);
    reply.hijack();
    const res = reply.raw;
    const headers = reply.getHeaders();
    for (const name in headers) if (headers[name] !== undefined) res.setHeader(name, headers[name]!);
    res.statusCode = reply.statusCode;
    for (;;) {
      if (read <= 0 && position < size) throw new Error(`value ended after ${position} of ${size} bytes`);
      const chunk = buffer.subarray(0, Math.min(read, size - position));
      position += chunk.length;
      await write(res, chunk);
      if (res.destroyed) return;
      if (position >= size) break;
      read = await value.positional.read(buffer, position);
    }
    res.end();
  } catch (err) {
    if (!reply.sent) throw err;
    // A client that went away is no failure of the server's.
    if (!reply.raw.destroyed) reply.log.warn({ err }, 'sending a stored value failed');
    reply.raw.destroy();
  } finally {
    value.stream.destroy();
    // Every write was awaited (its callback runs, with an error if the connection went away), so
    // nothing uses the buffer any more.
    free?.push(buffer);
  }
}
