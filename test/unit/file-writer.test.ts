import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileWriter, WRITE_BEHIND_BYTES, WRITE_BEHIND_CHUNKS } from '../../src/storage/sqlite/blobs.js';
import { sleep } from '../helpers/time.js';

/**
 * FileWriter: the chunks of an upload written behind it, one writev in flight, the chunks that
 * arrive meanwhile in the next one; `add` waits once too much waits.
 */

const dir = mkdtempSync(join(tmpdir(), 'openkvs-file-writer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A stand-in file: writes into memory, at most `most` bytes per writev, each after `delay` ms. */
class FakeFile {
  readonly written: Buffer[] = [];
  readonly batches: number[] = [];
  synced = false;
  closed = false;
  constructor(readonly o: { most?: number; delay?: number; failOnCall?: number } = {}) {}
  async writev(buffers: Buffer[]): Promise<{ bytesWritten: number }> {
    this.batches.push(buffers.length);
    if (this.o.delay) await sleep(this.o.delay);
    if (this.batches.length === this.o.failOnCall) throw new Error('ENOSPC: no space left on device');
    const all = Buffer.concat(buffers);
    const n = Math.min(all.length, this.o.most ?? all.length);
    this.written.push(all.subarray(0, n));
    return { bytesWritten: n };
  }
  async sync(): Promise<void> {
    this.synced = true;
  }
  async close(): Promise<void> {
    this.closed = true;
  }
  bytes(): Buffer {
    return Buffer.concat(this.written);
  }
}

const asHandle = (fake: FakeFile) => fake as unknown as FileHandle;
const chunksOf = (sizes: number[]) => sizes.map((n) => randomBytes(n));

describe('FileWriter', () => {
  it('writes every chunk in order to a real file, grouping those that arrive while a write runs', async () => {
    const path = join(dir, 'real');
    const writer = new FileWriter(await open(path, 'wx'));
    const chunks = chunksOf([1, 65_536, 3, 0, 200_000, ...Array.from({ length: 300 }, (_, i) => 1 + ((i * 7919) % 70_000))]);
    for (const chunk of chunks) await writer.add(chunk);
    await writer.finish();
    expect(readFileSync(path).equals(Buffer.concat(chunks))).toBe(true);
  });

  it('goes on where a short write stopped, byte for byte', async () => {
    const fake = new FakeFile({ most: 10_001, delay: 1 });
    const writer = new FileWriter(asHandle(fake));
    const chunks = chunksOf([5_000, 7_000, 30_000, 1, 65_536]);
    for (const chunk of chunks) await writer.add(chunk);
    await writer.finish();
    expect(fake.bytes().equals(Buffer.concat(chunks))).toBe(true);
    expect(fake.synced && fake.closed).toBe(true);
  });

  it('sends the chunks that arrived during a write together in the next one', async () => {
    const fake = new FakeFile({ delay: 5 });
    const writer = new FileWriter(asHandle(fake));
    const chunks = chunksOf(Array.from({ length: 40 }, () => 1000));
    for (const chunk of chunks) await writer.add(chunk);
    await writer.finish();
    expect(fake.bytes().equals(Buffer.concat(chunks))).toBe(true);
    // The first write took one chunk; the 39 others arrived while it ran.
    expect(fake.batches).toEqual([1, 39]);
  });

  it(`makes the upload wait once more than ${WRITE_BEHIND_BYTES} bytes or ${WRITE_BEHIND_CHUNKS} chunks wait`, async () => {
    for (const [size, count] of [
      [256 * 1024, WRITE_BEHIND_BYTES / (256 * 1024) + 2],
      [10, WRITE_BEHIND_CHUNKS + 2],
    ] as const) {
      const fake = new FakeFile({ delay: 50 });
      const writer = new FileWriter(asHandle(fake));
      let waited = false;
      for (let i = 0; i < count; i++) {
        const started = Date.now();
        await writer.add(randomBytes(size));
        if (Date.now() - started >= 25) waited = true;
      }
      expect(waited, `chunks of ${size}`).toBe(true);
      await writer.finish();
      expect(fake.bytes().length).toBe(size * count);
    }
  });

  it('reports a failed write at the next chunk or at the end, and closes the file once the write stops', async () => {
    const fake = new FakeFile({ delay: 2, failOnCall: 2 });
    const writer = new FileWriter(asHandle(fake));
    await writer.add(randomBytes(100));
    await writer.add(randomBytes(100));
    await sleep(20);
    await expect(writer.add(randomBytes(100))).rejects.toThrow('ENOSPC');
    await expect(writer.finish()).rejects.toThrow('ENOSPC');
    expect(fake.synced).toBe(false);
    await writer.abort();
    expect(fake.closed).toBe(true);
  });

  it('abort waits for the write in flight before it closes the file', async () => {
    const fake = new FakeFile({ delay: 30 });
    const writer = new FileWriter(asHandle(fake));
    await writer.add(randomBytes(1000));
    await writer.add(randomBytes(1000));
    const closing = writer.abort();
    expect(fake.closed).toBe(false);
    await closing;
    expect(fake.closed).toBe(true);
    // The chunk that waited behind the first write was dropped, not written after the close.
    expect(fake.batches).toEqual([1]);
  });
});
