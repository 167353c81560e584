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

/** apify-shared `createHmacSignature`: HMAC-SHA256, first 30 hex digits, in base62. */
export function hmacSig(secret: string, message: string): string {
  const hex = createHmac('sha256', secret).update(message).digest('hex').slice(0, 30);
  return base62(BigInt(`0x${hex}`));
}

/** The signature of a record URL: permanent, bound to the key. */
export function recordSignature(secret: string, key: string): string {
  return hmacSig(secret, key);
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
