/**
 * HMAC-SHA256 with the inner and outer pad states computed once per secret, for the signature of
 * every key of a key page; `createHmac` redoes them and allocates an object per call. Kept over
 * node:crypto for the bench row `keys-1m` (uncached key pages), see docs/performance.md.
 * Results equal node:crypto's for every input (strings are hashed as their UTF-8 bytes).
 */
import { createHash } from 'node:crypto';

const K = Int32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
  0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
  0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
  0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
  0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const IV = Int32Array.from([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);

/** Work buffers, shared by every call (the code is synchronous, so calls never interleave). */
const W = new Int32Array(64);
const STATE = new Int32Array(8);
const INNER = new Int32Array(8);
const TAIL = new Uint8Array(128);
let scratch = new Uint8Array(256);
/** Longer ASCII messages are encoded by `Buffer.from` instead of growing the scratch buffer past this. */
const MAX_SCRATCH = 4096;

/** One SHA-256 compression of the block in `W[0..15]` into `st`. */
function compress(st: Int32Array): void {
  for (let i = 16; i < 64; i++) {
    const x = W[i - 15]!;
    const y = W[i - 2]!;
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    W[i] = (s1 + W[i - 7]! + s0 + W[i - 16]!) | 0;
  }
  let a = st[0]!;
  let b = st[1]!;
  let c = st[2]!;
  let d = st[3]!;
  let e = st[4]!;
  let f = st[5]!;
  let g = st[6]!;
  let h = st[7]!;
  for (let i = 0; i < 64; i++) {
    const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + s1 + ((e & f) ^ (~e & g)) + K[i]! + W[i]!) | 0;
    const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  st[0] = (st[0]! + a) | 0;
  st[1] = (st[1]! + b) | 0;
  st[2] = (st[2]! + c) | 0;
  st[3] = (st[3]! + d) | 0;
  st[4] = (st[4]! + e) | 0;
  st[5] = (st[5]! + f) | 0;
  st[6] = (st[6]! + g) | 0;
  st[7] = (st[7]! + h) | 0;
}

/** Loads the 64 bytes of `bytes` at `at` into `W[0..15]`, big-endian. */
function load(bytes: Uint8Array, at: number): void {
  for (let i = 0; i < 16; i++, at += 4) {
    W[i] = (bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!;
  }
}

/**
 * Hashes `len` bytes into `st`, then pads: `prefix` bytes were already compressed into `st`
 * (64 for the ipad block), so they count in the length.
 */
function hashBytes(st: Int32Array, bytes: Uint8Array, len: number, prefix: number): void {
  const full = len - (len % 64);
  for (let at = 0; at < full; at += 64) {
    load(bytes, at);
    compress(st);
  }
  const rest = len - full;
  TAIL.fill(0);
  for (let i = 0; i < rest; i++) TAIL[i] = bytes[full + i]!;
  TAIL[rest] = 0x80;
  const bits = (prefix + len) * 8;
  if (rest >= 56) {
    load(TAIL, 0);
    compress(st);
    load(TAIL, 64);
  } else {
    load(TAIL, 0);
  }
  W[14] = Math.floor(bits / 0x100000000) | 0;
  W[15] = bits | 0;
  compress(st);
}

/** The bytes of the last message, as node hashes them (UTF-8), set by `encode`. */
let encoded: Uint8Array = scratch;

/** Sets `encoded` to the message's UTF-8 bytes (ASCII copied into `scratch`) and returns their count. */
function encode(s: string): number {
  const len = s.length;
  if (len <= MAX_SCRATCH) {
    if (len > scratch.length) scratch = new Uint8Array(MAX_SCRATCH);
    let i = 0;
    for (; i < len; i++) {
      const code = s.charCodeAt(i);
      if (code > 0x7f) break;
      scratch[i] = code;
    }
    if (i === len) {
      encoded = scratch;
      return len;
    }
  }
  encoded = Buffer.from(s, 'utf8');
  return encoded.length;
}

/** Per secret: the state after the ipad block (0..7) and after the opad block (8..15). */
const MAX_SECRETS = 1024;
const midstates = new Map<string, Int32Array>();

function midstatesOf(secret: string): Int32Array {
  let mid = midstates.get(secret);
  if (mid !== undefined) return mid;
  let key: Uint8Array = Buffer.from(secret, 'utf8');
  if (key.length > 64) key = createHash('sha256').update(key).digest();
  const block = new Uint8Array(64);
  mid = new Int32Array(16);
  for (const [pad, offset] of [
    [0x36, 0],
    [0x5c, 8],
  ] as const) {
    for (let i = 0; i < 64; i++) block[i] = (key[i] ?? 0) ^ pad;
    STATE.set(IV);
    load(block, 0);
    compress(STATE);
    mid.set(STATE, offset);
  }
  if (midstates.size >= MAX_SECRETS) midstates.clear();
  midstates.set(secret, mid);
  return mid;
}

/** Computes HMAC-SHA256(secret, message) into `STATE`. */
function hmacIntoState(secret: string, message: string): void {
  const mid = midstatesOf(secret);
  const len = encode(message);
  for (let i = 0; i < 8; i++) INNER[i] = mid[i]!;
  hashBytes(INNER, encoded, len, 64);
  for (let i = 0; i < 8; i++) STATE[i] = mid[8 + i]!;
  W.set(INNER);
  W[8] = 0x80000000 | 0;
  W.fill(0, 9, 15);
  W[15] = (64 + 32) * 8;
  compress(STATE);
}

/** HMAC-SHA256 of the UTF-8 bytes of `message` under the UTF-8 bytes of `secret` (32 bytes). */
export function hmacSha256(secret: string, message: string): Uint8Array {
  hmacIntoState(secret, message);
  const out = new Uint8Array(32);
  for (let i = 0; i < 8; i++) {
    const word = STATE[i]!;
    out[i * 4] = word >>> 24;
    out[i * 4 + 1] = word >>> 16;
    out[i * 4 + 2] = word >>> 8;
    out[i * 4 + 3] = word;
  }
  return out;
}

/** The digits of apify-shared's base62, in order of value. */
export const BASE62 = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
const CODES = Array.from(BASE62, (c) => c.charCodeAt(0));
const ZERO = CODES[0]!;
/** 120 bits take at most 21 base62 digits (62^21 > 2^120 > 62^20); char codes, most significant first. */
const DIGITS: number[] = new Array(21).fill(ZERO);
const PAIR = 62 * 62;
const LIMB = 2 ** 40;

/**
 * apify-shared `createHmacSignature`: the first 120 bits (30 hex digits) of HMAC-SHA256 in base62,
 * most significant digit first, without leading zeros. The 120 bits are three 40-bit limbs, divided
 * by 62² ten times for digits 20 down to 1; what is left (0 or 1) is digit 0. Each dividend is below
 * 62² · 2^40 < 2^52 and each quotient below 2^40, so the double division floors exactly.
 */
export function hmacSha256Base62(secret: string, message: string): string {
  hmacIntoState(secret, message);
  const h1 = STATE[1]!;
  const h2 = STATE[2]!;
  let hi = (STATE[0]! >>> 0) * 0x100 + (h1 >>> 24);
  let mid = (h1 & 0xffffff) * 0x10000 + (h2 >>> 16);
  let lo = (h2 & 0xffff) * 0x1000000 + (STATE[3]! >>> 8);
  for (let i = 20; i > 0; i -= 2) {
    let cur = hi;
    hi = Math.floor(cur / PAIR);
    cur = (cur - hi * PAIR) * LIMB + mid;
    mid = Math.floor(cur / PAIR);
    cur = (cur - mid * PAIR) * LIMB + lo;
    lo = Math.floor(cur / PAIR);
    const rem = cur - lo * PAIR;
    const high = Math.floor(rem / 62);
    DIGITS[i] = CODES[rem - high * 62]!;
    DIGITS[i - 1] = CODES[high]!;
  }
  DIGITS[0] = CODES[lo]!;
  let lead = 0;
  while (lead < 20 && DIGITS[lead] === ZERO) lead++;
  const digits = String.fromCharCode(...DIGITS);
  return lead === 0 ? digits : digits.slice(lead);
}
