import { createHmac } from 'node:crypto';
import { safeEqual } from './ids.js';

const BASE62 = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** Base62 of a non-negative integer, most significant digit first (apify-shared `encodeBase62`). */
export function base62(value: bigint): string {
  if (value === 0n) return '0';
  let n = value;
  let out = '';
  while (n > 0n) {
    out = BASE62[Number(n % 62n)] + out;
    n /= 62n;
  }
  return out;
}

/**
 * Base62 of a number given as hex digits (a multiple of 5 of them), by long division on 20-bit
 * limbs: the same digits as `base62(BigInt('0x' + hex))`, without BigInt's cost on the hot path of
 * key listings (one signature per key).
 */
function base62OfHex(hex: string): string {
  const limbs: number[] = [];
  for (let i = 0; i < hex.length; i += 5) limbs.push(Number.parseInt(hex.slice(i, i + 5), 16));
  let out = '';
  let start = 0;
  while (start < limbs.length) {
    let rem = 0;
    for (let i = start; i < limbs.length; i++) {
      const cur = rem * 0x100000 + (limbs[i] as number);
      limbs[i] = Math.floor(cur / 62);
      rem = cur % 62;
    }
    out = BASE62[rem] + out;
    while (start < limbs.length && limbs[start] === 0) start++;
  }
  return out === '' ? '0' : out;
}

/** apify-shared `createHmacSignature`: HMAC-SHA256, first 30 hex digits, in base62. */
export function hmacSig(secret: string, message: string): string {
  return base62OfHex(createHmac('sha256', secret).update(message).digest('hex').slice(0, 30));
}

/** Record signatures remembered (they never change); the map is emptied when it reaches this size. */
const MAX_REMEMBERED = 100_000;
const remembered = new Map<string, string>();

/**
 * The signature of a record URL: permanent, bound to the key. Remembered, because every page of
 * keys signs each of its 1000 keys again (an HMAC and a base62 conversion, about 3 µs each).
 */
export function recordSignature(secret: string, key: string): string {
  const id = `${secret}\0${key}`;
  let sig = remembered.get(id);
  if (sig === undefined) {
    sig = hmacSig(secret, key);
    if (remembered.size >= MAX_REMEMBERED) remembered.clear();
    remembered.set(id, sig);
  }
  return sig;
}

/**
 * apify-shared `createStorageContentSignature`: base64url (unpadded) of `0.<expiresAt>.<hmac>`,
 * where `expiresAt` is milliseconds since the epoch or 0 for never.
 */
export function storageContentSignature(secret: string, resourceId: string, expiresAt = 0): string {
  const version = 0;
  const hmac = hmacSig(secret, `${version}.${expiresAt}.${resourceId}`);
  return Buffer.from(`${version}.${expiresAt}.${hmac}`).toString('base64url');
}

export function verifyRecordSignature(secret: string, key: string, signature: string): boolean {
  return safeEqual(recordSignature(secret, key), signature);
}

/** Verifies a storage-content signature; padded (Python) and unpadded (JS) base64url both pass. */
export function verifyStorageContentSignature(secret: string, resourceId: string, signature: string, now = Date.now()): boolean {
  if (!/^[A-Za-z0-9_-]+={0,2}$/.test(signature) || signature.length > 200) return false;
  const decoded = Buffer.from(signature.replace(/=+$/, ''), 'base64url').toString('utf8');
  const parts = decoded.split('.');
  if (parts.length !== 3) return false;
  const [version, expiresAt, hmac] = parts as [string, string, string];
  if (version !== '0' || !/^\d{1,16}$/.test(expiresAt)) return false;
  if (!safeEqual(hmacSig(secret, `${version}.${expiresAt}.${resourceId}`), hmac)) return false;
  const expiry = Number(expiresAt);
  return expiry === 0 || now < expiry;
}
