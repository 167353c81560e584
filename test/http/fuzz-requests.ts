import { brotliCompressSync, deflateSync, gzipSync, constants as zlibConstants } from 'node:zlib';
import fc from 'fast-check';
import {
  authorization,
  type FuzzRoute,
  type FuzzTargets,
  HOSTILE_NUMBERS,
  hostileQuery,
  hostileRoute,
  method,
  printable,
  query,
  route,
  routeOf,
  token,
} from './fuzz-arbitraries.js';
import { hostileJsonValue, hostileStoreBody, jsonText } from './fuzz-json.js';
import { queueWrite } from './fuzz-queues.js';

/** Generators of hostile headers and bodies, and of whole requests, for the fuzz tests. */

export interface FuzzRequest {
  method: string;
  route: FuzzRoute;
  query: string;
  headers: Record<string, string>;
  body: Buffer;
}

const ENCODINGS = [
  'gzip',
  'x-gzip',
  'br',
  'deflate',
  'identity',
  '',
  'GZIP',
  'gzip, br',
  'gzip,gzip',
  'compress',
  'zstd',
  '*',
  'chunked',
  'gzip\u00ff',
  '\u00c0\u0080',
];
const ACCEPT = [
  'gzip',
  'br',
  'deflate',
  'identity',
  '*',
  'gzip;q=0',
  '*;q=0',
  'identity;q=0',
  'identity;q=0, *;q=0',
  'br;q=1e999',
];
const RANGES = [
  'bytes=0-0',
  'bytes=-5',
  'bytes=5-',
  'bytes=5-1',
  'bytes=0-99999999999999999999',
  'bytes=1-2,3-4',
  'items=0-1',
  'bytes=',
  'bytes=-0',
  'bytes=--1',
  'bytes=0-0,-1',
  'bytes=18446744073709551616-',
];
const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'text/plain',
  'application/octet-stream',
  'image/png',
  'multipart/form-data; boundary=x',
  'application/x-www-form-urlencoded',
  '',
  ';;;',
  'text/html; charset=utf-8',
  'a/b; c="d"',
  `text/${'x'.repeat(1100)}`,
];

/**
 * What a real socket carries in a header value beyond visible ASCII (Node refuses NUL and the other
 * controls but HTAB): obs-text bytes, here as the latin1 characters Node makes of them (invalid
 * UTF-8, an encoded surrogate), a tab inside, and percent-escapes nobody should decode.
 */
export const OBS_TEXT = [
  '\u00ff',
  '\u00c0\u0080',
  '\u00c0\u00af',
  '\u00ed\u00a0\u0080',
  '\u00e2\u0082',
  '\u0080',
  'a\tb',
  '%00',
  '%ED%A0%80',
];

/** `base` with obs-text or an escape somewhere in it. */
export function hostileHeader(base: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc
    .tuple(base, fc.constantFrom(...OBS_TEXT), fc.nat())
    .map(([b, junk, at]) => `${b.slice(0, at % (b.length + 1))}${junk}${b.slice(at % (b.length + 1))}`);
}

/** `usual`, or now and then the same with hostile bytes in it. */
const orHostile = (usual: fc.Arbitrary<string>) =>
  fc.oneof({ weight: 4, arbitrary: usual }, { weight: 1, arbitrary: hostileHeader(usual) });

function extraHeaders(t: FuzzTargets): fc.Arbitrary<Record<string, string>> {
  const etag = t.etags.length > 0 ? fc.constantFrom(...t.etags) : fc.constant('"x"');
  const date = fc.oneof(
    fc.date({ noInvalidDate: true }).map((d) => d.toUTCString()),
    fc.constantFrom('garbage', '0', 'Thu, 01 Jan 1970 00:00:00 GMT', 'Sat, 13 Sep 275760 00:00:00 GMT'),
  );
  const listOf = (items: string[]) => fc.array(fc.constantFrom(...items), { maxLength: 3 }).map((a) => a.join(', '));
  return fc.record(
    {
      'content-type': orHostile(fc.oneof(fc.constantFrom(...CONTENT_TYPES), printable(40))),
      'accept-encoding': orHostile(fc.oneof(listOf(ACCEPT), printable(20))),
      'if-match': orHostile(fc.oneof(etag, fc.constantFrom('*', '"x"', 'W/"x"', '""', '"'), printable(20))),
      'if-none-match': orHostile(
        fc.oneof(
          etag,
          etag.map((e) => `W/${e}`),
          fc.constantFrom('*', '"x", *', '"'),
          printable(20),
        ),
      ),
      'if-modified-since': orHostile(date),
      'if-unmodified-since': date,
      'if-range': orHostile(fc.oneof(etag, date)),
      range: orHostile(
        fc.oneof(
          fc.constantFrom(...RANGES),
          fc.tuple(fc.nat(), fc.nat()).map(([a, b]) => `bytes=${a}-${b}`),
          fc.constantFrom(...HOSTILE_NUMBERS).map((n) => `bytes=${n}-`),
          printable(20),
        ),
      ),
      'content-md5': fc.oneof(printable(30), fc.constantFrom('1B2M2Y8AsgTpgAmY7PhCfg==', 'AAAA')),
      'x-content-sha256': fc.oneof(
        printable(70),
        fc.constant('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'),
      ),
      origin: orHostile(fc.constantFrom('https://a.example', 'null', '')),
      'access-control-request-method': fc.constantFrom('PUT', 'GET', 'DELETE', 'FOO', ''),
      'access-control-request-headers': fc.constantFrom('authorization,content-type', 'x-evil', ''),
      cookie: orHostile(token(t).map((x) => `token=${x}`)),
      'x-forwarded-for': fc.constantFrom('1.2.3.4', 'garbage', ''),
      'x-anything': orHostile(printable(30)),
    },
    { requiredKeys: [] },
  );
}

export type BodyShape = 'none' | 'gzip' | 'deflate' | 'br' | 'truncated-gzip' | 'truncated-br' | 'gzip+junk' | 'gzip-twice';

const STORE_BODY_FIELDS = fc.record(
  {
    name: fc.oneof(fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,20}[a-z0-9]$/), printable(70), fc.constant(null), fc.integer()),
    title: fc.oneof(printable(30), fc.constant('t'.repeat(1025)), fc.constant(null), fc.boolean()),
    generalAccess: fc.constantFrom(
      'RESTRICTED',
      'ANYONE_WITH_ID_CAN_READ',
      'ANYONE_WITH_NAME_CAN_READ',
      'FOLLOW_USER_SETTING',
      'x',
      null,
    ),
    schema: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant({ collections: { c: { keys: ['a'] } } })),
  },
  { requiredKeys: [] },
);

const JSON_JUNK = [
  '{',
  '[',
  '{"name":',
  '\uFEFF{}',
  '[]',
  'null',
  '"x"',
  '1e999',
  '{"__proto__":{"polluted":1}}',
  '{"constructor":{"prototype":{"polluted":1}}}',
  `${'['.repeat(5000)}${']'.repeat(5000)}`,
  `{"name":"${'a'.repeat(64)}"}`,
  '{"name":"x","name":"y"}',
];

const plainBody = fc.oneof(
  { weight: 2, arbitrary: fc.constant(Buffer.alloc(0)) },
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 2048 }).map((a) => Buffer.from(a)) },
  {
    weight: 4,
    arbitrary: fc
      .oneof(
        fc.json({ maxDepth: 3 }),
        STORE_BODY_FIELDS.map((o) => JSON.stringify(o)),
        fc.constantFrom(...JSON_JUNK),
      )
      .map((s) => Buffer.from(s)),
  },
  { weight: 2, arbitrary: hostileStoreBody },
);

/** Quality 11 takes seconds for the deepest JSON bodies. */
const BROTLI_FAST = { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 5 } };

/** What `shape` makes of `plain`; `cut` (0..1) says where a truncated body ends. */
export function shapeBody(plain: Buffer, shape: BodyShape, cut: number): Buffer {
  const at = (b: Buffer) => b.subarray(0, Math.floor(b.length * cut));
  switch (shape) {
    case 'none':
      return plain;
    case 'gzip':
      return gzipSync(plain);
    case 'deflate':
      return deflateSync(plain);
    case 'br':
      return brotliCompressSync(plain, BROTLI_FAST);
    case 'truncated-gzip':
      return at(gzipSync(plain));
    case 'truncated-br':
      return at(brotliCompressSync(plain, BROTLI_FAST));
    case 'gzip+junk':
      return Buffer.concat([gzipSync(plain), Buffer.from('junk after the end')]);
    case 'gzip-twice':
      return gzipSync(gzipSync(plain));
  }
}

const SHAPE_ENCODING: Record<BodyShape, string | undefined> = {
  none: undefined,
  gzip: 'gzip',
  deflate: 'deflate',
  br: 'br',
  'truncated-gzip': 'gzip',
  'truncated-br': 'br',
  'gzip+junk': 'gzip',
  'gzip-twice': 'gzip',
};

/** A body and the Content-Encoding claimed for it (mostly the right one, often a lie). */
export const body = fc
  .record({
    plain: plainBody,
    shape: fc.constantFrom<BodyShape>(
      'none',
      'none',
      'gzip',
      'deflate',
      'br',
      'truncated-gzip',
      'truncated-br',
      'gzip+junk',
      'gzip-twice',
    ),
    cut: fc.double({ min: 0, max: 1, noNaN: true }),
    claim: fc.oneof({ weight: 7, arbitrary: fc.constant(null) }, { weight: 3, arbitrary: fc.constantFrom(...ENCODINGS) }),
  })
  .map(({ plain, shape, cut, claim }) => ({
    bytes: shapeBody(plain, shape, cut),
    contentEncoding: claim === null ? SHAPE_ENCODING[shape] : claim,
  }));

function generic(t: FuzzTargets): fc.Arbitrary<FuzzRequest> {
  return fc
    .record({
      method,
      route: route(t),
      query: query(t),
      auth: authorization(t),
      headers: extraHeaders(t),
      body,
    })
    .map(({ method: m, route: r, query: q, auth, headers, body: b }) => {
      const all: Record<string, string> = { ...headers };
      if (auth !== undefined) all.authorization = auth;
      if (b.contentEncoding !== undefined) all['content-encoding'] = b.contentEncoding;
      return { method: m, route: r, query: q, headers: all, body: b.bytes };
    });
}

/** The parameters of a key list and of the records archive. */
const LISTING_PARAMS = ['prefix', 'exclusiveStartKey', 'collection', 'signature', 'token', 'limit'];

/**
 * A read with a valid token where a hostile value reaches the lookup: in the store reference or
 * the key, or in a key list's or archive's parameters.
 */
function hostileRead(t: FuzzTargets): fc.Arbitrary<FuzzRequest> {
  const listing = fc
    .tuple(fc.constantFrom(t.playgroundId, t.protectedId, `~${t.playgroundName}`), fc.constantFrom('/keys', '/keys', '/records'))
    .map(([ref, below]) => routeOf(`/v2/key-value-stores/${ref}${below}`));
  return fc
    .record({
      method: fc.constantFrom('GET', 'GET', 'HEAD'),
      target: fc.oneof(
        fc.tuple(hostileRoute(t), fc.oneof(query(t), hostileQuery(t))),
        fc.tuple(listing, hostileQuery(t, LISTING_PARAMS)),
      ),
      token: fc.constantFrom(t.alice, t.bob),
    })
    .map(({ method: m, target: [r, q], token: tok }) => ({
      method: m,
      route: r,
      query: q,
      headers: { authorization: `Bearer ${tok}` },
      body: Buffer.alloc(0),
    }));
}

/** A store update of the playground (alice's) or a store creation (alice's or bob's) with a hostile JSON body. */
function storeWrite(t: FuzzTargets): fc.Arbitrary<FuzzRequest> {
  const base = '/v2/key-value-stores';
  return fc
    .record({
      create: fc.boolean(),
      token: fc.constantFrom(t.alice, t.bob),
      query: fc.oneof(
        { weight: 4, arbitrary: fc.constant('') },
        { weight: 1, arbitrary: query(t) },
        { weight: 1, arbitrary: fc.constantFrom(...HOSTILE_NUMBERS).map((n) => `name=${n}`) },
      ),
      body: hostileStoreBody,
      shape: fc.constantFrom<BodyShape>('none', 'none', 'none', 'gzip', 'deflate'),
    })
    .map(({ create, token: tok, query: q, body: b, shape }) => {
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        authorization: `Bearer ${create ? tok : t.alice}`,
      };
      if (shape !== 'none') headers['content-encoding'] = shape;
      return {
        method: create ? 'POST' : 'PUT',
        route: create
          ? { kind: 'collection', path: base }
          : { kind: 'store', path: `${base}/${t.playgroundId}`, ref: t.playgroundId },
        query: q,
        headers,
        body: shapeBody(b, shape, 1),
      };
    });
}

/** A push of hostile items to the playground dataset (alice's token, its literal id), now and then compressed. */
function datasetPush(t: FuzzTargets): fc.Arbitrary<FuzzRequest> {
  const items = fc.oneof(
    { weight: 3, arbitrary: hostileStoreBody },
    {
      weight: 2,
      arbitrary: fc.array(hostileStoreBody, { minLength: 1, maxLength: 3 }).map((b) => jsonText('[', ...join(b), ']')),
    },
    { weight: 1, arbitrary: hostileJsonValue.map((v) => jsonText('[', v, ']')) },
    { weight: 1, arbitrary: fc.constantFrom(...JSON_JUNK).map((j) => Buffer.from(j)) },
  );
  return fc
    .record({
      items,
      shape: fc.constantFrom<BodyShape>('none', 'none', 'none', 'gzip', 'deflate', 'br', 'truncated-gzip'),
      query: fc.oneof({ weight: 4, arbitrary: fc.constant('') }, { weight: 1, arbitrary: query(t) }),
    })
    .map(({ items: b, shape, query: q }) => {
      const headers: Record<string, string> = { 'content-type': 'application/json', authorization: `Bearer ${t.alice}` };
      if (shape !== 'none') headers['content-encoding'] = SHAPE_ENCODING[shape] ?? shape;
      return {
        method: 'POST',
        route: { kind: 'items', path: `/v2/datasets/${t.datasetPlaygroundId}/items`, ref: t.datasetPlaygroundId },
        query: q,
        headers,
        body: shapeBody(b, shape, 0.5),
      };
    });
}

/** `parts` with commas between them. */
const join = (parts: Buffer[]): Buffer[] => parts.flatMap((p, i) => (i === 0 ? [p] : [Buffer.from(','), p]));

/**
 * A whole request: method, target, query, headers and body, each hostile in its own way; one in
 * five aimed with a valid token, where a hostile value reaches the lookup or the storage.
 */
export function fuzzRequest(t: FuzzTargets): fc.Arbitrary<FuzzRequest> {
  return fc.oneof(
    { weight: 8, arbitrary: generic(t) },
    { weight: 1, arbitrary: hostileRead(t) },
    { weight: 2, arbitrary: storeWrite(t) },
    { weight: 1, arbitrary: datasetPush(t) },
    { weight: 2, arbitrary: queueWrite(t) },
  );
}
