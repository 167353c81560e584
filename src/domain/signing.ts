import { BASE62, hmacSha256Base62 } from './hmac-sha256.js';
import { safeEqual } from './ids.js';

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

/** apify-shared `createHmacSignature`: HMAC-SHA256, first 30 hex digits, in base62. */
export function hmacSig(secret: string, message: string): string {
  return hmacSha256Base62(secret, message);
}

/** Record signatures remembered (they never change); the map is emptied when it reaches this size. */
const MAX_REMEMBERED = 100_000;
const remembered = new Map<string, string>();

/**
 * The signature of a record URL: permanent, bound to the key. Remembered, because every page of
 * keys signs each of its 1000 keys again.
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
