/**
 * Ids and tokens: the shape the Apify clients expect, real randomness, and tokens kept only as
 * SHA-256 hashes, down to the bytes of the database files.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashToken, newId, newToken } from '../../src/domain/ids.js';
import { createTestContext } from '../helpers/context.js';

const ALPHANUMERIC = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const ID_REGEX = /^[a-zA-Z0-9]{17}$/;
const TOKEN_REGEX = /^[A-Za-z0-9_-]{32,}$/;

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

describe('store ids', () => {
  const ids = Array.from({ length: 10_000 }, () => newId());

  it('are 17 characters of [a-zA-Z0-9]', () => {
    for (const id of ids) expect(id).toMatch(ID_REGEX);
  });

  it('are distinct over 10,000', () => {
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('use every character about equally often (170,000 characters)', () => {
    const counts = new Map<string, number>([...ALPHANUMERIC].map((c) => [c, 0]));
    for (const id of ids) for (const c of id) counts.set(c, (counts.get(c) ?? 0) + 1);
    expect(counts.size).toBe(62);
    const mean = (ids.length * 17) / 62;
    let chiSquare = 0;
    for (const [c, n] of counts) {
      // The standard deviation is about 52, so ±40% is about 21 of them: this never flakes.
      expect(n, `character ${c}`).toBeGreaterThan(mean * 0.6);
      expect(n, `character ${c}`).toBeLessThan(mean * 1.4);
      chiSquare += (n - mean) ** 2 / mean;
    }
    // 61 degrees of freedom: mean 61, standard deviation about 11.
    expect(chiSquare).toBeLessThan(250);
  });

  it('use every character at every position (no fixed or biased first character)', () => {
    const mean = ids.length / 62;
    for (let pos = 0; pos < 17; pos += 1) {
      const counts = new Map<string, number>();
      for (const id of ids) counts.set(id[pos] as string, (counts.get(id[pos] as string) ?? 0) + 1);
      expect(counts.size, `position ${pos}`).toBe(62);
      // About 161 expected, standard deviation about 12.6: ±60% is more than 7 of them.
      for (const [c, n] of counts) {
        expect(n, `character ${c} at position ${pos}`).toBeGreaterThan(mean * 0.4);
        expect(n, `character ${c} at position ${pos}`).toBeLessThan(mean * 1.6);
      }
    }
  });

  it('are what the API hands out for new stores and users', async () => {
    const ctx = await createTestContext();
    try {
      const stores = await Promise.all(Array.from({ length: 20 }, () => ctx.createStore()));
      for (const s of stores) expect(s.id).toMatch(ID_REGEX);
      expect(new Set(stores.map((s) => s.id)).size).toBe(20);
      const alice = await ctx.kvs.users.byName('alice');
      expect(alice?.id).toMatch(ID_REGEX);
    } finally {
      await ctx.close();
    }
  });
});

describe('tokens', () => {
  it('are at least 32 characters of [A-Za-z0-9_-] and distinct', () => {
    const tokens = Array.from({ length: 2000 }, () => newToken());
    for (const t of tokens) expect(t).toMatch(TOKEN_REGEX);
    expect(new Set(tokens).size).toBe(tokens.length);
  });

  it('issued to users have the same shape and differ between tokens of one user', async () => {
    const ctx = await createTestContext();
    try {
      const alice = await ctx.kvs.users.byName('alice');
      const extra = await ctx.kvs.users.addToken(alice?.id ?? '');
      for (const t of [ctx.alice, ctx.bob, extra.token]) expect(t).toMatch(TOKEN_REGEX);
      expect(new Set([ctx.alice, ctx.bob, extra.token]).size).toBe(3);
    } finally {
      await ctx.close();
    }
  });

  it('hash deterministically to their SHA-256 hex, never to the token itself', () => {
    const token = newToken();
    const hash = hashToken(token);
    expect(hashToken(token)).toBe(hash);
    expect(hash).toBe(sha256(token));
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(hash).not.toBe(token);
    expect(hash).not.toContain(token);
    expect(hashToken(newToken())).not.toBe(hash);
    expect(hashToken(`${token}x`)).not.toBe(hash);
  });
});

/** Every file under `dir`, concatenated. */
function bytesUnder(dir: string): Buffer {
  const parts: Buffer[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    parts.push(statSync(path).isDirectory() ? bytesUnder(path) : readFileSync(path));
  }
  return Buffer.concat(parts);
}

describe('the database at rest', () => {
  it('holds the SHA-256 of every token and never a token in clear', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'openkvs-ids-test-'));
    try {
      const ctx = await createTestContext({ path: join(dir, 'kvs.sqlite') });
      const alice = await ctx.kvs.users.byName('alice');
      const extra = (await ctx.kvs.users.addToken(alice?.id ?? '', 'ci')).token;
      const revoked = (await ctx.kvs.users.addToken(alice?.id ?? '')).token;
      // Tokens in use, in the header and in the query, must not be written anywhere either.
      const store = await ctx.createStore('kept', extra);
      const put = await ctx.request({
        method: 'PUT',
        url: `/v2/key-value-stores/${store.id}/records/k?token=${ctx.alice}`,
        headers: { 'content-type': 'text/plain' },
        payload: 'some value',
      });
      expect(put.statusCode).toBe(201);
      expect((await ctx.request({ method: 'GET', url: '/v2/key-value-stores', token: ctx.bob })).statusCode).toBe(200);
      expect(await ctx.kvs.users.revoke(revoked)).toBe(true);
      const live = [ctx.alice, ctx.bob, extra];
      const whileOpen = bytesUnder(dir);
      await ctx.close();
      const afterClose = bytesUnder(dir);
      expect(afterClose.length).toBeGreaterThan(0);
      for (const bytes of [whileOpen, afterClose]) {
        for (const token of [...live, revoked]) {
          expect(bytes.includes(token), 'a token is stored in clear').toBe(false);
          // Nor its random part without the prefix.
          expect(bytes.includes(token.slice(-24)), 'part of a token is stored in clear').toBe(false);
        }
      }
      for (const token of live) expect(afterClose.includes(sha256(token)), 'the hash of a live token').toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
