/**
 * Requests that never became HTTP requests are answered with the Apify envelope, but never into a
 * response already under way on the same connection (its headers are out: more bytes would corrupt
 * what the client reads), as node's own handler does.
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { clientErrorHandler } from '../../src/http/errors.js';

function socket(inFlight?: { _headerSent: boolean }) {
  const s = new PassThrough() as PassThrough & { _httpMessage?: { _headerSent: boolean } };
  if (inFlight) s._httpMessage = inFlight;
  let written = '';
  s.on('data', (chunk: Buffer) => {
    written += chunk.toString('latin1');
  });
  return { s, written: () => written };
}

const timeout = Object.assign(new Error('request timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' });

describe('clientErrorHandler', () => {
  it('answers 408 in the envelope and closes when no response is under way', async () => {
    for (const inFlight of [undefined, { _headerSent: false }]) {
      const { s, written } = socket(inFlight);
      clientErrorHandler(timeout, s);
      await new Promise((resolve) => setImmediate(resolve));
      expect(written()).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
      expect(written()).toContain('"type":"request-timeout"');
      expect(s.destroyed).toBe(true);
    }
  });

  it('writes nothing into a response whose headers are out, and closes', async () => {
    const { s, written } = socket({ _headerSent: true });
    clientErrorHandler(timeout, s);
    await new Promise((resolve) => setImmediate(resolve));
    expect(written()).toBe('');
    expect(s.destroyed).toBe(true);
  });
});
