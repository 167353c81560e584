/**
 * SQLite: the sweep of value files with several processes on one file (two drivers stand for two
 * processes, each with its own clock). A live process's uploads are never touched; a dead one's
 * staging folder goes; a published file no row names goes only past the age bound.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newId } from '../../src/domain/ids.js';
import { SqliteDriver } from '../../src/storage/sqlite/index.js';
import { DEAD_AFTER_MS } from '../../src/storage/sqlite/processes.js';
import { ORPHAN_AGE_MS } from '../../src/storage/sqlite/sweep.js';
import { bytesOf, chunks, etagOf, storeRow } from './suite.js';

const MB = 1024 * 1024;
/** A body that sends its first half, then waits for `release()` before the second. */
function heldBody(data: Buffer) {
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  let started!: () => void;
  const pulled = new Promise<void>((r) => {
    started = r;
  });
  async function* body(): AsyncGenerator<Buffer> {
    // Pulled first once the staging file is open (the size hint is past the inline limit).
    started();
    yield data.subarray(0, data.length / 2);
    await gate;
    yield data.subarray(data.length / 2);
  }
  return { body: body(), pulled, release };
}

/** Every file under the value folder, relative to it. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

let dir: string;
let file: string;
const open: SqliteDriver[] = [];
const driver = (now?: () => number) => {
  const d = new SqliteDriver({ path: file, now, sweepIntervalMs: 0 });
  open.push(d);
  return d;
};
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'openkvs-sweep-'));
  file = join(dir, 'kvs.sqlite');
});
afterEach(async () => {
  for (const d of open.splice(0)) await d.close();
  await rm(dir, { recursive: true, force: true });
});

async function newStore(d: SqliteDriver): Promise<string> {
  const userId = newId();
  await d.createUser({ id: userId, username: `u${userId}`, createdAt: Date.now() });
  return (await d.createStore(storeRow(userId, null))).store.id;
}

function meta(data: Buffer) {
  return {
    contentType: 'application/octet-stream',
    contentEncoding: null,
    decodedSize: data.length,
    etag: etagOf(data),
    now: Date.now(),
  };
}

describe('SQLite value file sweep, two processes on one file', () => {
  it("never removes a live process's upload in progress, however long ago its last byte came", async () => {
    const a = driver();
    const b = driver();
    const storeId = await newStore(a);
    const data = randomBytes(3 * MB);
    const held = heldBody(data);
    const staging = a.stageValue(storeId, held.body, data.length);
    await held.pulled;
    const before = filesUnder(`${file}-blobs`);
    expect(before).toHaveLength(1);
    // Past the orphan bound: only A's liveness protects its upload.
    const old = (Date.now() - ORPHAN_AGE_MS - 60_000) / 1000;
    utimesSync(join(`${file}-blobs`, before[0] as string), old, old);
    expect(await b.sweepOrphans()).toBe(0);
    expect(filesUnder(`${file}-blobs`)).toEqual(before);
    held.release();
    expect(await a.putRecord(storeId, 'big', meta(data), await staging)).toBe('ok');
    // Committed and read back through the other process.
    expect(await b.sweepOrphans()).toBe(0);
    const back = await b.getRecord(storeId, 'big');
    expect((await bytesOf(back!.value)).equals(data)).toBe(true);
  });

  it("removes a dead process's staging folder, and the dead process's write then fails unacknowledged", async () => {
    const a = driver();
    const storeId = await newStore(a);
    const data = randomBytes(MB);
    const held = heldBody(data);
    const staging = a.stageValue(storeId, held.body, data.length);
    await held.pulled;
    expect(filesUnder(`${file}-blobs`)).toHaveLength(1);
    // Within the bound A still counts as live…
    expect(await driver(() => Date.now() + DEAD_AFTER_MS - 5_000).sweepOrphans()).toBe(0);
    expect(filesUnder(`${file}-blobs`)).toHaveLength(1);
    // …past it without a heartbeat, it is dead: its folder goes.
    expect(await driver(() => Date.now() + DEAD_AFTER_MS + 5_000).sweepOrphans()).toBe(1);
    expect(filesUnder(`${file}-blobs`)).toEqual([]);
    held.release();
    await expect(staging.then((s) => a.putRecord(storeId, 'late', meta(data), s))).rejects.toThrow();
    expect(await a.getRecordMeta(storeId, 'late')).toBeUndefined();
  });

  it('keeps a published file no row names while it is younger than the bound, removes it once older', async () => {
    const a = driver();
    const storeId = await newStore(a);
    const data = randomBytes(MB);
    const staged = await a.stageValue(storeId, chunks(data), data.length);
    expect(await a.putRecord(storeId, 'kept', meta(data), staged)).toBe('ok');
    const blobs = `${file}-blobs`;
    const referenced = filesUnder(blobs);
    // A file published by a process that has not committed its row yet (or crashed before).
    mkdirSync(join(blobs, 'ab'), { recursive: true });
    writeFileSync(join(blobs, 'ab', 'ab0123'), 'unreferenced');
    // A file staged by an older version, directly in tmp/.
    writeFileSync(join(blobs, 'tmp', 'legacy0123'), 'legacy');
    // A staging folder whose process has no row (it exited and its row was reaped).
    mkdirSync(join(blobs, 'tmp', 'f'.repeat(24)));
    writeFileSync(join(blobs, 'tmp', 'f'.repeat(24), 'x'), 'dead');
    expect(await driver().sweepOrphans()).toBe(1);
    expect(filesUnder(blobs)).toEqual([...referenced, join('ab', 'ab0123'), join('tmp', 'legacy0123')].sort());
    const justInside = () => Date.now() + ORPHAN_AGE_MS - 60_000;
    expect(await driver(justInside).sweepOrphans()).toBe(0);
    // Older than the bound: both go; the referenced file stays, whatever its age.
    const old = (Date.now() - ORPHAN_AGE_MS - 60_000) / 1000;
    for (const f of [...referenced, join('ab', 'ab0123'), join('tmp', 'legacy0123')]) utimesSync(join(blobs, f), old, old);
    expect(await driver().sweepOrphans()).toBe(2);
    expect(filesUnder(blobs)).toEqual(referenced);
    const back = await a.getRecord(storeId, 'kept');
    expect((await bytesOf(back!.value)).equals(data)).toBe(true);
  });

  it('a clean close removes the staging folder', async () => {
    const a = driver();
    const storeId = await newStore(a);
    const data = randomBytes(MB);
    expect(await a.putRecord(storeId, 'k', meta(data), await a.stageValue(storeId, chunks(data), data.length))).toBe('ok');
    const tmp = join(`${file}-blobs`, 'tmp');
    expect(readdirSync(tmp)).toHaveLength(1);
    await a.close();
    expect(readdirSync(tmp)).toEqual([]);
    const back = await driver().getRecord(storeId, 'k');
    expect((await bytesOf(back!.value)).equals(data)).toBe(true);
  });
});
