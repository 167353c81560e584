import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import type { PositionalValue } from '../storage/driver.js';

/** Bytes read at a time. Each read is one trip to libuv's thread pool. */
export const SEND_CHUNK_BYTES = 1024 * 1024;
/**
 * Buffers kept for the next answers, 32 MiB at most. Once a second the pool gives up the buffers
 * that no answer needed meanwhile (the fewest it held since the last look), so that a moment of
 * many downloads does not keep its memory for ever.
 */
const POOL_MAX = 32;
const POOL_TRIM_MS = 1000;
const pool: Buffer[] = [];
/** The fewest buffers the pool held since the last trim. */
let poolLow = 0;
let trimmer: NodeJS.Timeout | undefined;

function trimPool(): void {
  pool.length -= poolLow;
  poolLow = pool.length;
  if (pool.length === 0 && trimmer) {
    clearInterval(trimmer);
    trimmer = undefined;
  }
}

const takeBuffer = (): Buffer => {
  const buffer = pool.pop() ?? Buffer.allocUnsafeSlow(SEND_CHUNK_BYTES);
  poolLow = Math.min(poolLow, pool.length);
  return buffer;
};
/** How many buffers the pool holds now (for tests). */
export const pooledSendBuffers = (): number => pool.length;

const giveBuffer = (buffer: Buffer): void => {
  if (pool.length >= POOL_MAX) return;
  pool.push(buffer);
  trimmer ??= setInterval(trimPool, POOL_TRIM_MS).unref();
};

/** Resolves once `chunk` is handed to the kernel (the buffer is free again), rejects if the connection went away. */
function write(res: ServerResponse, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    res.write(chunk, (err) => (err ? reject(err) : resolve()));
  });
}

/**
 * Sends `size` bytes of a value readable in place as the whole body of `reply`, whose status and
 * headers are set: two buffers of 1 MiB (taken from a pool and given back), one read ahead while
 * the other is written, each reused once the socket has taken its bytes. The stream form of
 * the value allocates a new buffer per 256 KiB, which on a 9 MB record costs about as much CPU
 * in page faults, copies and garbage collection as the sending itself.
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
  // A value that fits in one buffer needs only that one.
  const buffers = size <= SEND_CHUNK_BYTES ? [takeBuffer()] : [takeBuffer(), takeBuffer()];
  let position = 0;
  let pending: Promise<void> | undefined;
  try {
    let read = size === 0 ? 0 : await value.positional.read(buffers[0]!, 0);
    if (read <= 0 && size > 0) throw new Error(`value of ${size} bytes is empty`);
    reply.hijack();
    const res = reply.raw;
    const headers = reply.getHeaders();
    for (const name in headers) if (headers[name] !== undefined) res.setHeader(name, headers[name]!);
    res.statusCode = reply.statusCode;
    for (let turn = 0; ; turn ^= 1) {
      if (read <= 0 && position < size) throw new Error(`value ended after ${position} of ${size} bytes`);
      const chunk = buffers[turn]!.subarray(0, Math.min(read, size - position));
      position += chunk.length;
      if (pending) await pending;
      if (res.destroyed) return;
      pending = write(res, chunk);
      // Handled now, awaited later: a connection that goes away while a read runs is no unhandled rejection.
      pending.catch(() => undefined);
      if (position >= size) break;
      // The other buffer's write was awaited above: it is free.
      // (A short read of a value that fit in one buffer brings in the second one now.)
      buffers[turn ^ 1] ??= takeBuffer();
      read = await value.positional.read(buffers[turn ^ 1]!, position);
    }
    await pending;
    pending = undefined;
    res.end();
  } catch (err) {
    if (!reply.sent) throw err;
    // A client that went away is no failure of the server's.
    if (!reply.raw.destroyed) reply.log.warn({ err }, 'sending a stored value failed');
    reply.raw.destroy();
  } finally {
    value.stream.destroy();
    // A write still in flight keeps its buffer until the socket lets go of it.
    if (pending)
      pending.then(
        () => buffers.forEach(giveBuffer),
        () => undefined,
      );
    else buffers.forEach(giveBuffer);
  }
}
