import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { BlobFiles, INLINE_MAX_BYTES } from '../../src/storage/sqlite/blobs.js';

/** BlobFiles.stage: an upload kept in memory while small, written to this process's staging folder past that. */

const root = mkdtempSync(join(tmpdir(), 'openkvs-blob-staging-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const blobs = () => new BlobFiles(join(root, `blobs-${n++}`), 'proc-1');
const sizes = (count: number) => Array.from({ length: count }, (_, i) => 1 + ((i * 7919) % 70_000));
const chunksOf = (list: number[]) => list.map((size) => randomBytes(size));

/** Yields `chunks`, then fails as a cut connection would. */
async function* failingAfter(chunks: Buffer[]): AsyncGenerator<Buffer> {
  yield* chunks;
  throw new Error('aborted');
}

describe('BlobFiles.stage', () => {
  it('keeps a body up to the inline limit in memory, byte for byte', async () => {
    const files = blobs();
    const chunks = chunksOf([1, 0, 65_536, INLINE_MAX_BYTES - 65_537]);
    const staged = await files.stage(Readable.from(chunks));
    expect(staged).toEqual({ kind: 'inline', size: INLINE_MAX_BYTES, data: Buffer.concat(chunks) });
  });

  it('writes a larger body, in every order of chunk sizes, to a file in the staging folder', async () => {
    for (const sizeHint of [undefined, 20_000_000]) {
      const files = blobs();
      const chunks = chunksOf([3, 0, 200_000, ...sizes(300)]);
      const whole = Buffer.concat(chunks);
      const staged = await files.stage(Readable.from(chunks), sizeHint);
      if (staged.kind !== 'file') throw new Error(`staged ${staged.kind}`);
      expect(staged.size).toBe(whole.length);
      expect(staged.tmpPath.startsWith(files.stagingDir)).toBe(true);
      expect(readFileSync(staged.tmpPath).equals(whole)).toBe(true);
    }
  });

  it('removes the temporary file of a body that fails after spilling, and reports the failure', async () => {
    const files = blobs();
    await expect(files.stage(failingAfter(chunksOf(sizes(40))))).rejects.toThrow('aborted');
    expect(readdirSync(files.stagingDir)).toEqual([]);
  });

  it('stops reading the body when the staging folder cannot be made', async () => {
    const files = blobs();
    // A file where the staging folder should be: making the folder fails.
    const dir = join(files.dir, 'tmp');
    mkdirSync(files.dir, { recursive: true });
    writeFileSync(dir, 'not a folder');
    const body = Readable.from(chunksOf(sizes(40)));
    await expect(files.stage(body)).rejects.toThrow();
    expect(body.destroyed).toBe(true);
  });
});
