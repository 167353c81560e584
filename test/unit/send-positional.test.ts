import { randomBytes } from 'node:crypto';
import { get, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freeSendBuffers, SEND_BUFFERS, SEND_CHUNK_BYTES, sendPositional } from '../../src/http/send-positional.js';
import type { PositionalValue } from '../../src/storage/driver.js';
import { sleep, until } from '../helpers/time.js';

/**
 * sendPositional: a value read in place into one of a fixed set of buffers, reused only once the
 * socket has taken its bytes; streamed when every buffer is in use. Served by a bare Fastify app from values held in memory, so that
 * reads can be made slow, short or failing.
 */

const MiB = 1024 * 1024;
const values = new Map<string, Buffer>();
/** What each request's stream became (destroyed = the file would be closed). */
const streams: PassThrough[] = [];
const answered: number[] = [];
let app: FastifyInstance;
let origin: string;

type Behaviour = 'normal' | 'fail-first' | 'fail-later' | 'short' | 'empty' | 'slow' | 'piecemeal' | 'held';

/**
 * Reads of 'held' values wait here until the test opens the gate, each keeping its buffer taken:
 * a buffer held by a slow reader would depend on the kernel's socket buffers, which on some
 * machines take a whole value at once.
 */
const gate = { held: 0, entered: () => {}, open: () => {}, opened: Promise.resolve() };

function positional(data: Buffer, behaviour: Behaviour): PositionalValue {
  return {
    async read(target, position) {
      await new Promise((resolve) => setImmediate(resolve));
      if (behaviour === 'slow') await sleep(2);
      if (behaviour === 'held') {
        gate.held++;
        gate.entered();
        await gate.opened;
      }
      if (behaviour === 'fail-first' || (behaviour === 'fail-later' && position > 0)) throw new Error('EIO: read failed');
      const end = behaviour === 'empty' ? 0 : behaviour === 'short' ? Math.min(data.length, SEND_CHUNK_BYTES + 10) : data.length;
      const most = behaviour === 'piecemeal' ? 300_000 : target.length;
      const n = Math.max(0, Math.min(most, end - position));
      data.copy(target, 0, position, position + n);
      return n;
    },
  };
}

beforeAll(async () => {
  app = Fastify();
  app.addHook('onResponse', (_req, reply, done) => {
    answered.push(reply.statusCode);
    done();
  });
  app.get<{ Params: { name: string }; Querystring: { behaviour?: Behaviour } }>('/v/:name', async (req, reply) => {
    const data = values.get(req.params.name)!;
    // The same bytes as a stream: what a download is sent from when every buffer is in use.
    const stream = new PassThrough();
    stream.end(data);
    streams.push(stream);
    reply.header('content-type', 'application/octet-stream');
    reply.header('content-length', data.length);
    reply.header('x-checked', 'yes');
    await sendPositional(reply, { stream, positional: positional(data, req.query.behaviour ?? 'normal') }, data.length);
    return reply;
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await app.close();
});

interface Download {
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
  /** Whether the connection ended before the promised length. */
  cut: boolean;
}

/** GETs `path`; `slow` pauses the reading now and then so that the server's writes wait on the socket. */
function download(path: string, slow = false): Promise<Download> {
  return new Promise((resolve, reject) => {
    get(`${origin}${path}`, { agent: false }, (res) => {
      const parts: Buffer[] = [];
      let cut = false;
      res.on('data', (part: Buffer) => {
        parts.push(part);
        // Long enough pauses for the kernel's socket buffers (a few MiB) to fill, so that the
        // server's writes wait, holding their buffers.
        if (slow && parts.length % 64 === 1) {
          res.pause();
          setTimeout(() => res.resume(), 40);
        }
      });
      res.on('aborted', () => {
        cut = true;
      });
      res.on('error', () => {
        cut = true;
      });
      res.on('close', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(parts), cut }));
    }).on('error', reject);
  });
}

describe('sendPositional', () => {
  it('sends values of every length around the buffer size byte for byte, with the reply headers, and closes each', async () => {
    const lengths = [0, 1, SEND_CHUNK_BYTES - 1, SEND_CHUNK_BYTES, SEND_CHUNK_BYTES + 1, 2 * SEND_CHUNK_BYTES, 3.5 * MiB];
    for (const length of lengths) {
      const name = `len-${length}`;
      values.set(name, randomBytes(length));
      const before = streams.length;
      const got = await download(`/v/${name}`);
      expect(got.status).toBe(200);
      expect(got.cut).toBe(false);
      expect(got.headers['content-length']).toBe(String(length));
      expect(got.headers['x-checked']).toBe('yes');
      expect(got.body.equals(values.get(name)!), `length ${length}`).toBe(true);
      await until(() => streams[before]!.destroyed, `stream of ${name} destroyed`);
    }
    // onResponse hooks still run for the answers sent this way.
    expect(answered.slice(-lengths.length)).toEqual(lengths.map(() => 200));
  });

  it('sends a value that comes in pieces shorter than asked for byte for byte', async () => {
    for (const length of [800_000, SEND_CHUNK_BYTES, 2.5 * MiB]) {
      values.set(`pieces-${length}`, randomBytes(length));
      const got = await download(`/v/pieces-${length}?behaviour=piecemeal`);
      expect(got.cut).toBe(false);
      expect(got.body.equals(values.get(`pieces-${length}`)!), `length ${length}`).toBe(true);
    }
  });

  it('keeps concurrent downloads apart while their buffers are reused (slow readers, slow reads)', async () => {
    const names = Array.from({ length: 8 }, (_, i) => `concurrent-${i}`);
    for (const [i, name] of names.entries()) values.set(name, randomBytes((i % 2 === 0 ? 24 : 5) * MiB + 12_345));
    const got = await Promise.all(
      names.map((name, i) => download(`/v/${name}${i % 3 === 0 ? '?behaviour=slow' : ''}`, i % 2 === 0)),
    );
    got.forEach((d, i) => {
      expect(d.status).toBe(200);
      expect(d.body.length).toBe(values.get(names[i]!)!.length);
      expect(d.body.equals(values.get(names[i]!)!), names[i]).toBe(true);
    });
  });

  it('streams the downloads beyond the buffers, every one byte for byte, and gets every buffer back', async () => {
    await until(() => freeSendBuffers() === SEND_BUFFERS, 'every buffer free before');
    const names = Array.from({ length: SEND_BUFFERS + 6 }, (_, i) => `many-${i}`);
    for (const name of names) values.set(name, randomBytes(2 * MiB + 7));
    const held = names.slice(0, SEND_BUFFERS);
    const beyond = names.slice(SEND_BUFFERS);
    gate.held = 0;
    gate.opened = new Promise((resolve) => {
      gate.open = () => resolve();
    });
    const allHeld = new Promise<void>((resolve) => {
      gate.entered = () => {
        if (gate.held === SEND_BUFFERS) resolve();
      };
    });
    // Each held download waits in its first read, its buffer taken, until every buffer is.
    const heldDownloads = held.map((name) => download(`/v/${name}?behaviour=held`));
    await allHeld;
    expect(freeSendBuffers(), 'all buffers in use at once').toBe(0);
    // The ones beyond find no buffer and are streamed: they finish while the others still wait.
    const before = streams.length;
    const streamed = await Promise.all(beyond.map((name) => download(`/v/${name}`)));
    expect(streams.slice(before).every((s) => s.readableEnded)).toBe(true);
    gate.open();
    const got = [...(await Promise.all(heldDownloads)), ...streamed];
    got.forEach((d, i) => {
      expect(d.status).toBe(200);
      expect(d.cut).toBe(false);
      expect(d.body.equals(values.get(names[i]!)!), names[i]).toBe(true);
    });
    await until(() => freeSendBuffers() === SEND_BUFFERS, 'every buffer back');
  });

  it('answers 500 when the first read fails or finds nothing, before anything is sent', async () => {
    values.set('fails-first', randomBytes(3 * MiB));
    const cases = { 'fail-first': 'EIO: read failed', empty: `value of ${3 * MiB} bytes is empty` };
    for (const [behaviour, message] of Object.entries(cases)) {
      const before = streams.length;
      const got = await download(`/v/fails-first?behaviour=${behaviour}`);
      expect(got.status).toBe(500);
      expect(got.cut).toBe(false);
      expect(JSON.parse(got.body.toString()).message).toBe(message);
      await until(() => streams[before]!.destroyed, 'stream destroyed');
    }
  });

  it('ends the connection short of the promised length when a later read fails or the value ends early', async () => {
    values.set('fails-later', randomBytes(3 * MiB));
    for (const behaviour of ['fail-later', 'short']) {
      const before = streams.length;
      const got = await download(`/v/fails-later?behaviour=${behaviour}`);
      expect(got.status).toBe(200);
      expect(got.cut, behaviour).toBe(true);
      expect(got.body.length).toBeLessThan(3 * MiB);
      expect(got.body.equals(values.get('fails-later')!.subarray(0, got.body.length))).toBe(true);
      await until(() => streams[before]!.destroyed, 'stream destroyed');
    }
    // The server goes on answering.
    expect((await download('/v/len-1')).status).toBe(200);
  });

  it('lets go of the value when the client goes away mid-download', async () => {
    values.set('abandoned', randomBytes(20 * MiB));
    for (let i = 0; i < 5; i++) {
      const before = streams.length;
      await new Promise<void>((resolve, reject) => {
        const req = get(`${origin}/v/abandoned`, { agent: false }, (res) => {
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        });
        req.on('error', () => undefined);
        req.setTimeout(5000, () => reject(new Error('no data')));
      });
      await until(() => streams[before]?.destroyed === true, 'stream of an abandoned download destroyed');
    }
    const again = await download('/v/abandoned');
    expect(again.body.equals(values.get('abandoned')!)).toBe(true);
  });
});
