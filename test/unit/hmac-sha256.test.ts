/**
 * The hand-written HMAC-SHA256 behind URL signatures: the same bytes as node:crypto and the same
 * base62 as apify-shared's formula, for any secret and message (ASCII or not, any length).
 */
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hmacSha256, hmacSha256Base62 } from '../../src/domain/hmac-sha256.js';
import { base62, hmacSig } from '../../src/domain/signing.js';

const nodeHmac = (secret: string, message: string) => createHmac('sha256', secret).update(message).digest();
/** apify-shared `createHmacSignature`, as written there. */
const apifySig = (secret: string, message: string) =>
  base62(BigInt(`0x${nodeHmac(secret, message).toString('hex').slice(0, 30)}`));

const ascii = fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c));
/** Any UTF-16 code unit, lone surrogates included (node encodes those as U+FFFD). */
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
const strings = (maxLength: number) =>
  fc.oneof(
    fc.string({ unit: ascii, maxLength }),
    fc.string({ unit: 'binary-ascii', maxLength }),
    fc.string({ unit: 'binary', maxLength }),
    fc.string({ unit: codeUnit, maxLength }),
  );

function expectSameAsNode(secret: string, message: string): void {
  expect(Buffer.from(hmacSha256(secret, message))).toEqual(nodeHmac(secret, message));
  expect(hmacSha256Base62(secret, message)).toBe(apifySig(secret, message));
}

describe('hmacSha256', () => {
  it('matches node:crypto and the apify-shared signature for random secrets and messages', () => {
    fc.assert(
      fc.property(strings(200), strings(300), (secret, message) => expectSameAsNode(secret, message)),
      { numRuns: 2000 },
    );
  });

  it('matches at every padding boundary of the message (one or two final blocks)', () => {
    const lengths = [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 121, 127, 128, 129, 183, 184, 300];
    for (const n of lengths) {
      fc.assert(
        fc.property(strings(80), fc.string({ unit: ascii, minLength: n, maxLength: n }), (secret, message) =>
          expectSameAsNode(secret, message),
        ),
        { numRuns: 50 },
      );
    }
    // The same boundaries counted in UTF-8 bytes: 'é' is two of them, '€' three.
    for (const n of lengths) {
      expectSameAsNode('secret', 'é'.repeat(n >> 1) + 'a'.repeat(n & 1));
      expectSameAsNode('secret', '€'.repeat(Math.floor(n / 3)) + 'a'.repeat(n % 3));
    }
  });

  it('matches for secrets around the 64-byte block, in characters and in UTF-8 bytes', () => {
    for (const n of [0, 1, 63, 64, 65, 128, 200]) {
      expectSameAsNode('s'.repeat(n), 'message');
      expectSameAsNode('é'.repeat(n >> 1), 'message');
    }
    // 40 characters but 80 bytes: hashed first, as a long key must be.
    expectSameAsNode('é'.repeat(40), 'message');
  });

  it('matches for messages longer than its scratch buffer', () => {
    expectSameAsNode('secret', 'k'.repeat(5000));
    expectSameAsNode('secret', 'ж'.repeat(5000));
    expectSameAsNode('secret', 'k'.repeat(100_000));
  });

  it('stays right across more secrets than it remembers', () => {
    for (let i = 0; i < 2500; i++) expectSameAsNode(`secret-${i}`, `key-${i % 7}`);
    expectSameAsNode('secret-0', 'key-0');
  });
});

describe('hmacSha256Base62', () => {
  it('drops leading zeros, as apify-shared does, when the digest starts with zero digits', () => {
    // Messages found by search whose digest under this secret starts with 1..6 zero hex digits.
    const messages = ['key-12', 'key-142', 'key-1294', 'key-21823', 'key-479278', 'key-12259629'];
    for (const [i, message] of messages.entries()) {
      const hex = nodeHmac('hmac-secret-key', message).toString('hex');
      expect(hex.startsWith('0'.repeat(i + 1))).toBe(true);
      expect(hex[i + 1]).not.toBe('0');
      const sig = hmacSha256Base62('hmac-secret-key', message);
      expect(sig).toBe(apifySig('hmac-secret-key', message));
      expect(sig[0]).not.toBe('0');
    }
    // Six zero hex digits leave under 96 bits: at most 17 base62 digits instead of 20 or 21.
    expect(hmacSha256Base62('hmac-secret-key', 'key-12259629').length).toBeLessThanOrEqual(17);
  });

  it('is what hmacSig returns, with the apify-shared test vectors', () => {
    expect(hmacSha256Base62('hmac-secret-key', 'hmac-message-to-be-authenticated')).toBe('pcVagAsudj8dFqdlg7mG');
    expect(hmacSha256Base62('hmac-same-secret-key', 'hmac-same-message-to-be-authenticated')).toBe('FYMcmTIm3idXqleF1Sw5');
    fc.assert(fc.property(strings(40), strings(60), (secret, message) => hmacSig(secret, message) === apifySig(secret, message)));
  });
});
