/**
 * Requests that never became HTTP requests are answered with the Apify envelope, but never into a
 * response already under way on the same connection (its headers are out: more bytes would corrupt
 * what the client reads), as node's own handler does.
 */
import { once } from 'node:events';
import { createServer, get, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createDrain } from '../../src/http/drain.js';
import { createClientErrorHandler } from '../../src/http/errors.js';

function socket() {
  const s = new PassThrough();
  let written = '';
  s.on('data', (chunk: Buffer) => {
    written += chunk.toString('latin1');
  });
  return { s, written: () => written };
}

const timeout = Object.assign(new Error('request timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' });
const overflow = Object.assign(new Error('header overflow'), { code: 'HPE_HEADER_OVERFLOW' });
const garbage = Object.assign(new Error('parse error'), { code: 'HPE_INVALID_METHOD' });
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('the clientError handler', () => {
  it.each([
    [timeout, 408, 'Request Timeout', 'request-timeout'],
    [overflow, 431, 'Request Header Fields Too Large', 'request-header-fields-too-large'],
    [garbage, 400, 'Bad Request', 'invalid-request'],
  ])('answers %s in the envelope and closes when no response is under way', async (err, status, reason, type) => {
    const { s, written } = socket();
    createClientErrorHandler(() => false)(err, s);
    await settle();
    expect(written()).toMatch(new RegExp(`^HTTP/1\\.1 ${status} ${reason}\\r\\n`));
    expect(written()).toContain('connection: close\r\n');
    const body = written().slice(written().indexOf('\r\n\r\n') + 4);
    expect(written()).toContain(`content-length: ${Buffer.byteLength(body)}\r\n`);
    expect(JSON.parse(body).error.type).toBe(type);
    expect(s.destroyed).toBe(true);
  });

  it('writes nothing into a response whose headers are out, and closes', async () => {
    const { s, written } = socket();
    createClientErrorHandler((socket) => socket === s)(timeout, s);
    await settle();
    expect(written()).toBe('');
    expect(s.destroyed).toBe(true);
  });
});

describe('what tells an answer under way', () => {
  it('is true from the headers until the answer is finished, on that connection only', async () => {
    const drain = createDrain();
    const server = createServer({ ServerResponse: drain.Response });
    const answers: [IncomingMessage, ServerResponse][] = [];
    server.on('request', (req, res) => answers.push([req, res]));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const response = new Promise<IncomingMessage>((resolve) =>
        get({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', path: '/' }, resolve),
      );
      await expect.poll(() => answers.length).toBe(1);
      const [req, res] = answers[0] as [IncomingMessage, ServerResponse];
      expect(drain.underWay(req.socket)).toBe(false);
      res.writeHead(200, { 'content-length': '4' });
      res.write('ab');
      expect(drain.underWay(req.socket)).toBe(true);
      expect(drain.underWay(new PassThrough())).toBe(false);
      res.end('cd');
      await once(res, 'finish');
      expect(drain.underWay(req.socket)).toBe(false);
      (await response).resume();
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
