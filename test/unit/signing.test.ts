import { describe, expect, it } from 'vitest';
import {
  base62,
  hmacSig,
  storageContentSignature,
  verifyRecordSignature,
  verifyStorageContentSignature,
} from '../../src/domain/signing.js';

// Test vectors published with apify-shared's hmac and storages tests.
describe('URL signing', () => {
  it('encodes base62 like apify-shared', () => {
    expect(base62(0n)).toBe('0');
    expect(base62(10n)).toBe('a');
    expect(base62(999999999n)).toBe('15FTGf');
  });

  it('computes hmac signatures like apify-shared', () => {
    expect(hmacSig('hmac-secret-key', 'hmac-message-to-be-authenticated')).toBe('pcVagAsudj8dFqdlg7mG');
    expect(hmacSig('hmac-same-secret-key', 'hmac-same-message-to-be-authenticated')).toBe('FYMcmTIm3idXqleF1Sw5');
  });

  it('computes storage-content signatures like apify-shared', () => {
    const sig = storageContentSignature('hmac-secret-key', 'resource-id', 0);
    expect(sig).toBe('MC4wLjNUd2ZFRTY1OXVmU05zbVM0N2xS');
    expect(Buffer.from(sig, 'base64url').toString()).toBe('0.0.3TwfEE659ufSNsmS47lR');
  });

  it('verifies storage-content signatures padded and unpadded, and rejects expired or foreign ones', () => {
    const now = 1_700_000_000_000;
    const sig = storageContentSignature('secret', 'storeid', now + 1000);
    expect(verifyStorageContentSignature('secret', 'storeid', sig, now)).toBe(true);
    const padded = Buffer.from(Buffer.from(sig, 'base64url').toString())
      .toString('base64')
      .replace(/\+/g, '-')
      .replace(/\//g, '_');
    expect(padded.endsWith('=')).toBe(true);
    expect(verifyStorageContentSignature('secret', 'storeid', padded, now)).toBe(true);
    expect(verifyStorageContentSignature('secret', 'storeid', sig, now + 1000)).toBe(false);
    expect(verifyStorageContentSignature('secret', 'other', sig, now)).toBe(false);
    expect(verifyStorageContentSignature('other', 'storeid', sig, now)).toBe(false);
    expect(verifyStorageContentSignature('secret', 'storeid', 'not-a-signature', now)).toBe(false);
    expect(verifyStorageContentSignature('hmac-secret-key', 'resource-id', 'MC4wLjNUd2ZFRTY1OXVmU05zbVM0N2xS')).toBe(true);
  });

  it('verifies record signatures', () => {
    const sig = hmacSig('secret', 'my-key');
    expect(verifyRecordSignature('secret', 'my-key', sig)).toBe(true);
    expect(verifyRecordSignature('secret', 'other-key', sig)).toBe(false);
    expect(verifyRecordSignature('secret', 'my-key', `${sig}x`)).toBe(false);
  });
});
