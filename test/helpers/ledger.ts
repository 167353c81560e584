import { createHash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';

export const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** A record value a test sends: the bytes as uploaded, with their Content-Type and Content-Encoding. */
export interface TestValue {
  key: string;
  body: Buffer;
  contentType: string;
  encoding: 'gzip' | null;
  sha: string;
}

/**
 * small: up to 16 KiB (JSON, text or binary); empty: 0 bytes; large: past the 256 KiB inline limit
 * (a file on SQLite, chunks on PostgreSQL); edge: exactly at or one past the limit; gzip and
 * gzip-large: gzip-encoded bodies below and past the limit (stored as sent).
 */
export type ValueKind = 'small' | 'empty' | 'large' | 'edge' | 'gzip' | 'gzip-large';

/** The inline limit of both drivers: larger values are files (SQLite) or 1 MiB chunks (PostgreSQL). */
export const INLINE_LIMIT = 256 * 1024;
const between = (min: number, max: number) => min + Math.floor(Math.random() * (max - min + 1));

/** A new value for `key`, whose first bytes (or decoded first bytes) say which key and attempt it is. */
export function makeValue(key: string, label: string, kind: ValueKind): TestValue {
  const head = `${label} key=${key}\n`;
  const make = (body: Buffer, contentType: string, encoding: 'gzip' | null = null): TestValue => ({
    key,
    body,
    contentType,
    encoding,
    sha: sha256(body),
  });
  switch (kind) {
    case 'empty':
      return make(Buffer.alloc(0), 'text/plain; charset=utf-8');
    case 'small': {
      const pad = randomBytes(between(0, 12 * 1024));
      const flavour = between(0, 2);
      if (flavour === 0) return make(Buffer.from(JSON.stringify({ head, pad: pad.toString('base64') })), 'application/json');
      if (flavour === 1) return make(Buffer.from(head + pad.toString('hex')), 'text/plain; charset=utf-8');
      return make(Buffer.concat([Buffer.from(head), pad]), 'application/octet-stream');
    }
    case 'large': {
      // Mostly one PostgreSQL chunk; one in five spans two.
      const size = Math.random() < 0.8 ? between(INLINE_LIMIT + 1, 600_000) : between(1_048_577, 1_400_000);
      return make(Buffer.concat([Buffer.from(head), randomBytes(size)]), 'image/png');
    }
    case 'edge': {
      const size = INLINE_LIMIT + between(0, 1);
      return make(Buffer.concat([Buffer.from(head), randomBytes(size - head.length)]), 'application/octet-stream');
    }
    case 'gzip': {
      const text = JSON.stringify({ head, items: Array.from({ length: between(10, 2000) }, (_, i) => ({ i, label })) });
      return make(gzipSync(text), 'application/json; charset=utf-8', 'gzip');
    }
    case 'gzip-large':
      // Random bytes do not compress, so the gzip stream stays past the inline limit.
      return make(gzipSync(Buffer.concat([Buffer.from(head), randomBytes(between(280_000, 600_000))])), 'text/csv', 'gzip');
  }
}

/** What a record read back looked like; undefined when it was absent (404). */
export interface Observed {
  sha: string;
  size: number;
  contentType: string | undefined;
  encoding: string | undefined;
}

/** A value sent, without its bytes. */
export interface ValueInfo {
  sha: string;
  size: number;
  contentType: string;
  encoding: 'gzip' | null;
}

const ABSENT = 'absent';

/**
 * What each key may hold, from the writes sent and acknowledged. An acknowledged write (201) must
 * be there, byte for byte; a write without an acknowledgement may be there whole or not at all.
 * Writes of one key must be sequential (one writer per key), so that the last acknowledged write,
 * plus whatever was sent after it, is all the key may hold.
 */
export class Ledger {
  readonly #allowed = new Map<string, Set<string>>();
  /** Where a key's present value came from, for the messages: an acknowledgement or a read after a restart. */
  readonly #origin = new Map<string, string>();
  /** The value each key is known to have committed: the last acknowledged one, or the one read back. */
  readonly #committed = new Map<string, string>();
  /** What each value sent looked like (not its bytes, which the writers drop once sent). */
  readonly #values = new Map<string, ValueInfo>();
  /** PUTs sent, and PUTs answered 201. */
  attempts = 0;
  acks = 0;

  attempt(value: TestValue): void {
    let allowed = this.#allowed.get(value.key);
    if (!allowed) {
      allowed = new Set([ABSENT]);
      this.#allowed.set(value.key, allowed);
    }
    allowed.add(value.sha);
    this.#values.set(value.sha, {
      sha: value.sha,
      size: value.body.length,
      contentType: value.contentType,
      encoding: value.encoding,
    });
    this.attempts++;
  }

  ack(value: TestValue): void {
    this.#allowed.set(value.key, new Set([value.sha]));
    this.#origin.set(value.key, 'acknowledged write');
    this.#committed.set(value.key, value.sha);
    this.acks++;
  }

  /** Whether `observed` is a value of `key` that was never acknowledged nor read back before: a write cut off after its commit. */
  isNewUnacknowledged(key: string, observed: Observed | undefined): boolean {
    return observed !== undefined && this.#committed.get(key) !== observed.sha;
  }

  keys(): string[] {
    return [...this.#allowed.keys()];
  }

  has(key: string): boolean {
    return this.#allowed.has(key);
  }

  /** The value a key must hold now, if exactly one acknowledged value is possible. */
  settled(key: string): ValueInfo | undefined {
    const allowed = this.#allowed.get(key);
    if (allowed?.size !== 1 || allowed.has(ABSENT)) return undefined;
    return this.#values.get([...allowed][0] as string);
  }

  /** Why `observed` is not what `key` may hold; undefined when it is. */
  check(key: string, observed: Observed | undefined): string | undefined {
    const allowed = this.#allowed.get(key) ?? new Set([ABSENT]);
    const origin = this.#origin.get(key);
    const what =
      origin === undefined ? 'unacknowledged write' : allowed.size === 1 ? origin : `${origin} (or a later unacknowledged one)`;
    if (!observed) return allowed.has(ABSENT) ? undefined : `${key}: ${what} lost (404)`;
    const value = allowed.has(observed.sha) ? this.#values.get(observed.sha) : undefined;
    if (!value) {
      return `${key}: ${what}: read back ${observed.size} bytes that are none of the ${allowed.size} allowed values`;
    }
    if (observed.contentType !== value.contentType)
      return `${key}: Content-Type ${observed.contentType}, sent ${value.contentType}`;
    if ((observed.encoding ?? null) !== value.encoding)
      return `${key}: Content-Encoding ${observed.encoding}, sent ${value.encoding}`;
    return undefined;
  }

  /** Records what a key was found to hold once nothing writes it: from now on that is what it must hold. */
  settle(key: string, observed: Observed | undefined): void {
    const allowed = this.#allowed.get(key);
    const unchanged = allowed?.size === 1 && observed !== undefined && allowed.has(observed.sha);
    if (!unchanged) {
      if (observed) this.#origin.set(key, 'write found committed after an earlier restart');
      else this.#origin.delete(key);
    }
    this.#allowed.set(key, new Set([observed ? observed.sha : ABSENT]));
    if (observed) this.#committed.set(key, observed.sha);
    else this.#committed.delete(key);
  }
}
