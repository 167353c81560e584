import fc from 'fast-check';

/** Generators of hostile request targets and credentials for the fuzz tests (test/http/fuzz*.test.ts). */

/** The stores a fuzz run aims at. `protected*` (alice's) and `bob*` (bob's) must come out unchanged. */
export interface FuzzTargets {
  alice: string;
  bob: string;
  protectedId: string;
  protectedName: string;
  bobStoreId: string;
  bobStoreName: string;
  /** alice's store the fuzz may write to with her token (only through this literal id). */
  playgroundId: string;
  playgroundName: string;
  /** Valid signatures of the protected store's records and key list: they grant reads, never writes. */
  signatures: string[];
  /** ETags of the protected store's records, for If-* headers. */
  etags: string[];
  /** alice's dataset that must come out unchanged. */
  datasetId: string;
  datasetName: string;
  /** alice's dataset the fuzz may push items to with her token (only through this literal id). */
  datasetPlaygroundId: string;
  /** alice's request queue that must come out unchanged (it holds a lock). */
  queueId: string;
  queueName: string;
  /** alice's queue whose requests the fuzz may change with her token (only through this literal id). */
  queuePlaygroundId: string;
  /** Ids of requests in the two queues. */
  queueRequestIds: string[];
}

export type PathKind =
  | 'collection'
  | 'store'
  | 'keys'
  | 'zip'
  | 'record'
  | 'datasets'
  | 'dataset'
  | 'items'
  | 'statistics'
  | 'queues'
  | 'queue'
  | 'queue-content'
  | 'other';

export interface FuzzRoute {
  kind: PathKind;
  path: string;
  /** The `{storeId}` segment as sent. */
  ref?: string;
  /** The `{recordKey}` segment as sent. */
  key?: string;
}

/** Percent-encodes (as UTF-8) what cannot travel in a request target; `%` stays, so bad escapes survive. */
export function urlSafe(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    if (c > 0x20 && c < 0x7f && ch !== '#' && ch !== '?' && ch !== '\\') out += ch;
    else {
      try {
        out += encodeURIComponent(ch);
      } catch {
        out += '%ED%A0%80'; // a lone surrogate, as the bytes a careless encoder would send
      }
    }
  }
  return out;
}

const printableChar = fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c));
/** Text a header value may hold (visible ASCII and spaces). */
export const printable = (maxLength = 40) => fc.string({ unit: printableChar, maxLength });

/** Percent-escapes of control characters (C0, DEL, a C1 in UTF-8): PostgreSQL `text` holds no NUL. */
export const CONTROL_ESCAPES = ['%00', '%01', '%1F', '%7F', '%09', '%0A', '%0D%0A', '%C2%85'];
/** Surrogates as the UTF-8-shaped bytes a careless encoder sends (alone, reversed, and as a CESU-8 pair). */
export const SURROGATE_ESCAPES = ['%ED%A0%80', '%ED%BF%BF', '%ED%B0%80%ED%A0%80', '%ED%A0%80%ED%B0%80'];
/** Overlong, truncated and impossible UTF-8. */
export const BAD_UTF8_ESCAPES = ['%C0%80', '%C0%AF', '%E0%80%AF', '%FF', '%FE%FF', '%80', '%C3', '%E2%82', '%F4%90%80%80'];
/** Every percent-escape that no string of the API may carry into storage. */
export const HOSTILE_ESCAPES = [...CONTROL_ESCAPES, ...SURROGATE_ESCAPES, ...BAD_UTF8_ESCAPES];
/** Numbers a double cannot hold (or holds only approximately), for query parameters and JSON bodies. */
export const HOSTILE_NUMBERS = [
  '1e400',
  '-1e400',
  '1e-400',
  '-1e-400',
  '1E+400',
  '123456789012345678901234567890',
  '-123456789012345678901234567890',
  '9007199254740993',
  '-0',
  '4.9e-324',
];

/** `junk` alone, after, before or inside a word: `%00`, `a%00`, `%00a`, `a%00b`. */
function around(junk: fc.Arbitrary<string>, word: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc
    .tuple(word, junk, word, fc.integer({ min: 0, max: 3 }))
    .map(([a, h, b, shape]) => [h, `${a}${h}`, `${h}${b}`, `${a}${h}${b}`][shape] ?? h);
}

/** One escape, each class about as likely as the others, and NUL (which PostgreSQL refuses) the likeliest. */
const hostileEscape = fc.oneof(
  fc.constant('%00'),
  fc.constantFrom(...CONTROL_ESCAPES),
  fc.constantFrom(...SURROGATE_ESCAPES),
  fc.constantFrom(...BAD_UTF8_ESCAPES),
);

/** A URL string segment with a control character, a surrogate or broken UTF-8 percent-escaped in it. */
export const hostileSegment = (word: fc.Arbitrary<string> = fc.constantFrom('a', 'k', 'x')) => around(hostileEscape, word);

const PERCENT_JUNK = [
  '%',
  '%z',
  '%zz',
  '%0',
  '%%',
  '%00',
  '%2F',
  '%2f',
  '%C0%AF',
  '%E2%82',
  '%FF',
  '%25',
  '%2e%2e',
  '%7E',
  '%20',
];
const KEY_CHAR = /^[a-zA-Z0-9!\-_.'()]$/;
const validKey = fc.stringMatching(/^[a-zA-Z0-9!\-_.'()]{1,24}$/);

export const keySegment: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: validKey },
  { weight: 1, arbitrary: validKey.map(encodeURIComponent) },
  { weight: 1, arbitrary: validKey.map((k) => [...k].map((c) => `%${c.charCodeAt(0).toString(16)}`).join('')) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 24 }).map(urlSafe) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 24 }).map(urlSafe) },
  { weight: 3, arbitrary: hostileSegment(validKey) },
  {
    weight: 2,
    arbitrary: fc
      .array(
        fc.oneof(
          fc.constantFrom(...PERCENT_JUNK),
          printableChar.filter((c) => KEY_CHAR.test(c)),
        ),
        { maxLength: 10 },
      )
      .map((parts) => parts.join('')),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '',
      '.',
      '..',
      '%2e%2e',
      'a/b',
      'a%2Fb',
      '../../etc/passwd',
      'k/',
      'x'.repeat(256),
      'x'.repeat(257),
      'y'.repeat(17_000),
      'a%20b',
      'a+b',
      '~',
      '%C3%A9',
      'json',
      'binary',
      'gz',
    ),
  },
);

/** Some characters of `id` percent-encoded: the same store, spelled differently. */
const encodedVariant = (id: string) =>
  fc
    .array(fc.boolean(), { minLength: id.length, maxLength: id.length })
    .map((mask) => [...id].map((c, i) => (mask[i] ? `%${c.charCodeAt(0).toString(16).toUpperCase()}` : c)).join(''));

/** `~name`, `username~name` and ids with a hostile escape in the name, in the username, or in both. */
export function hostileRef(t: FuzzTargets): fc.Arbitrary<string> {
  const names = fc.constantFrom(t.protectedName, t.playgroundName, t.bobStoreName, 'x');
  const users = fc.constantFrom('alice', 'bob', 'admin', 'nobody');
  const name = hostileSegment(names);
  const user = hostileSegment(users);
  return fc.oneof(
    name.map((n) => `~${n}`),
    fc.tuple(users, name).map(([u, n]) => `${u}~${n}`),
    fc.tuple(user, names).map(([u, n]) => `${u}~${n}`),
    fc.tuple(user, name).map(([u, n]) => `${u}~${n}`),
    hostileSegment(fc.constantFrom(t.playgroundId, t.protectedId, t.bobStoreId)),
  );
}

function refSegment(t: FuzzTargets): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: hostileRef(t) },
    { weight: 5, arbitrary: fc.constant(t.playgroundId) },
    { weight: 3, arbitrary: fc.constantFrom(t.protectedId, t.bobStoreId) },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        `~${t.protectedName}`,
        `~${t.playgroundName}`,
        `~${t.bobStoreName}`,
        `alice~${t.protectedName}`,
        `alice~${t.playgroundName}`,
        `bob~${t.bobStoreName}`,
        `bob~${t.protectedName}`,
        '~',
        'alice~',
        '~~',
        'nobody~x',
        `%7E${t.protectedName}`,
      ),
    },
    { weight: 1, arbitrary: fc.constantFrom(t.protectedId, t.playgroundId, t.bobStoreId).chain(encodedVariant) },
    { weight: 1, arbitrary: fc.stringMatching(/^[a-zA-Z0-9]{17}$/) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 24 }).map(urlSafe) },
    { weight: 1, arbitrary: fc.constantFrom('x'.repeat(100), 'x'.repeat(17_000), '%zz', '%', '..', '.') },
  );
}

const OTHER_PATHS = [
  '/',
  '/health',
  '/v2',
  '/v2/',
  '/assets/x.js',
  '/assets/..%2f..%2fpackage.json',
  '/assets/%2e%2e/%2e%2e/package.json',
  '//v2/key-value-stores',
  '/v2//key-value-stores',
  '/V2/KEY-VALUE-STORES',
  '/v2/key-value-stores//records/k',
  '/v2/key-value-stores/x/records/k/extra/',
  '/v2/datasets',
  '/v2/actors/x/runs/last/key-value-store',
  '/openapi.json',
  '/docs',
  '/metrics',
];

export function route(t: FuzzTargets): fc.Arbitrary<FuzzRoute> {
  const ref = refSegment(t);
  const base = '/v2/key-value-stores';
  const slash = fc.constantFrom('', '/');
  return fc.oneof(
    { weight: 2, arbitrary: slash.map((s): FuzzRoute => ({ kind: 'collection', path: `${base}${s}` })) },
    {
      weight: 3,
      arbitrary: fc.tuple(ref, slash).map(([r, s]): FuzzRoute => ({ kind: 'store', path: `${base}/${r}${s}`, ref: r })),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(ref, slash).map(([r, s]): FuzzRoute => ({ kind: 'keys', path: `${base}/${r}/keys${s}`, ref: r })),
    },
    { weight: 1, arbitrary: ref.map((r): FuzzRoute => ({ kind: 'zip', path: `${base}/${r}/records`, ref: r })) },
    { weight: 4, arbitrary: datasetRoute(t) },
    { weight: 4, arbitrary: queueRoute(t) },
    {
      weight: 8,
      arbitrary: fc
        .tuple(ref, keySegment)
        .map(([r, k]): FuzzRoute => ({ kind: 'record', path: `${base}/${r}/records/${k}`, ref: r, key: k })),
    },
    {
      weight: 1,
      arbitrary: fc
        .oneof(
          fc.constantFrom(...OTHER_PATHS),
          fc.webPath().map(urlSafe),
          fc.string({ maxLength: 30 }).map((s) => `/${urlSafe(s)}`),
        )
        .map((p): FuzzRoute => ({ kind: 'other', path: p.startsWith('/') ? p : `/${p}` })),
    },
  );
}

/** A route of the dataset endpoints, naming datasets (and key-value stores, which they must not reach) every way. */
export function datasetRoute(t: FuzzTargets): fc.Arbitrary<FuzzRoute> {
  const ref = fc.oneof(
    { weight: 4, arbitrary: fc.constant(t.datasetPlaygroundId) },
    { weight: 3, arbitrary: fc.constantFrom(t.datasetId, `~${t.datasetName}`, `alice~${t.datasetName}`, `bob~${t.datasetName}`) },
    { weight: 2, arbitrary: refSegment(t) },
    { weight: 1, arbitrary: hostileSegment(fc.constantFrom(t.datasetId, t.datasetPlaygroundId, `~${t.datasetName}`)) },
  );
  const below = fc.constantFrom('', '/', '/items', '/items', '/items', '/items/', '/statistics', '/items/..', '/items/x');
  return fc.oneof(
    { weight: 1, arbitrary: fc.constantFrom('/v2/datasets', '/v2/datasets/').map(routeOf) },
    { weight: 6, arbitrary: fc.tuple(ref, below).map(([r, b]) => routeOf(`/v2/datasets/${r}${b}`)) },
  );
}

/** A route of the request-queue endpoints, naming queues (and other kinds, which they must not reach) every way. */
export function queueRoute(t: FuzzTargets): fc.Arbitrary<FuzzRoute> {
  const ref = fc.oneof(
    { weight: 4, arbitrary: fc.constant(t.queuePlaygroundId) },
    { weight: 3, arbitrary: fc.constantFrom(t.queueId, `~${t.queueName}`, `alice~${t.queueName}`, `bob~${t.queueName}`) },
    { weight: 2, arbitrary: refSegment(t) },
    { weight: 1, arbitrary: fc.constantFrom(t.datasetId, t.datasetPlaygroundId) },
    { weight: 1, arbitrary: hostileSegment(fc.constantFrom(t.queueId, t.queuePlaygroundId, `~${t.queueName}`)) },
  );
  const id = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...t.queueRequestIds) }, { weight: 2, arbitrary: keySegment });
  const below = fc.oneof(
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        '',
        '/',
        '/head',
        '/head/lock',
        '/requests',
        '/requests/',
        '/requests/batch',
        '/requests/unlock',
        '/requests/..',
        '/head/..',
      ),
    },
    { weight: 3, arbitrary: id.map((i) => `/requests/${i}`) },
    { weight: 2, arbitrary: id.map((i) => `/requests/${i}/lock`) },
  );
  return fc.oneof(
    { weight: 1, arbitrary: fc.constantFrom('/v2/request-queues', '/v2/request-queues/').map(routeOf) },
    { weight: 6, arbitrary: fc.tuple(ref, below).map(([r, b]) => routeOf(`/v2/request-queues/${r}${b}`)) },
  );
}

const ROUTE_SHAPES: [PathKind, RegExp][] = [
  ['queues', /^\/v2\/request-queues\/?$/],
  ['queue', /^\/v2\/request-queues\/([^/]+)\/?$/],
  ['queue-content', /^\/v2\/request-queues\/([^/]+)\/(.+)$/],
  ['datasets', /^\/v2\/datasets\/?$/],
  ['dataset', /^\/v2\/datasets\/([^/]+)\/?$/],
  ['items', /^\/v2\/datasets\/([^/]+)\/items\/?$/],
  ['statistics', /^\/v2\/datasets\/([^/]+)\/statistics\/?$/],
  ['collection', /^\/v2\/key-value-stores\/?$/],
  ['store', /^\/v2\/key-value-stores\/([^/]+)\/?$/],
  ['keys', /^\/v2\/key-value-stores\/([^/]+)\/keys\/?$/],
  ['zip', /^\/v2\/key-value-stores\/([^/]+)\/records$/],
  ['record', /^\/v2\/key-value-stores\/([^/]+)\/records\/(.*)$/],
];

/**
 * The route a WHATWG URL parser (fetch, axios, light-my-request) makes of a path: it removes dot
 * segments, so `…/records/..` becomes the store itself. (A leading `//` would name a host: one
 * slash is kept; the wire fuzz sends such paths as they are.)
 */
export function asUrlClientSends(r: FuzzRoute): FuzzRoute {
  const path = new URL(r.path.replace(/^\/+/, '/'), 'http://localhost').pathname;
  return path === r.path ? r : routeOf(path);
}

/** The route a path names, as the router would match it. */
export function routeOf(path: string): FuzzRoute {
  for (const [kind, shape] of ROUTE_SHAPES) {
    const m = shape.exec(path);
    if (m) return { kind, path, ref: m[1], key: m[2] };
  }
  return { kind: 'other', path };
}

/** Routes below a store with a hostile escape in the store reference or in the record key. */
export function hostileRoute(t: FuzzTargets): fc.Arbitrary<FuzzRoute> {
  const base = '/v2/key-value-stores';
  const ref = fc.oneof(hostileRef(t), fc.constantFrom(t.playgroundId, t.protectedId, `~${t.playgroundName}`));
  const below = fc.oneof(
    fc.constantFrom('', '/keys', '/records', '/records/json'),
    hostileSegment(fc.constantFrom('k', 'json', 'gz')).map((k) => `/records/${k}`),
  );
  return fc.tuple(ref, below).map(([r, b]) => routeOf(`${base}/${r}${b}`));
}

export const method = fc.oneof(
  { weight: 6, arbitrary: fc.constant('GET') },
  { weight: 2, arbitrary: fc.constant('HEAD') },
  { weight: 5, arbitrary: fc.constant('PUT') },
  { weight: 3, arbitrary: fc.constant('POST') },
  { weight: 2, arbitrary: fc.constant('DELETE') },
  { weight: 1, arbitrary: fc.constantFrom('OPTIONS', 'PATCH') },
);

/** Valid tokens, near-misses and junk. */
export function token(t: FuzzTargets): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(t.alice, t.bob) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        t.alice.slice(0, -1),
        `${t.alice}x`,
        t.alice.toUpperCase(),
        ` ${t.bob}`,
        'okvs_',
        '',
        'null',
        'undefined',
        'a'.repeat(10_000),
      ),
    },
    { weight: 1, arbitrary: printable(60) },
  );
}

/** An Authorization header: absent, well-formed, or any of the ways to get it wrong. */
export function authorization(t: FuzzTargets): fc.Arbitrary<string | undefined> {
  const tok = token(t);
  return fc.oneof(
    { weight: 3, arbitrary: fc.constant(undefined) },
    { weight: 4, arbitrary: tok.map((x) => `Bearer ${x}`) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(tok, fc.constantFrom('bearer ', 'BEARER ', 'Bearer  ', 'Bearer\t', 'Basic ', 'Token ', '', 'Bearer='))
        .map(([x, scheme]) => `${scheme}${x}`),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(tok, tok)
        .chain(([a, b]) => fc.constantFrom(`Bearer ${a} ${b}`, `Bearer ${a},Bearer ${b}`, `Bearer ${a}  `, 'Bearer', 'Bearer ')),
    },
    { weight: 1, arbitrary: printable(80) },
  );
}

const NUMBERISH = [
  '',
  '0',
  '1',
  '-1',
  '1.5',
  '1e3',
  '1e309',
  'NaN',
  'Infinity',
  '0x10',
  '99999999999999999999999999',
  '9'.repeat(5000),
  ...HOSTILE_NUMBERS,
];
const QUERY_NAMES = [
  'limit',
  'offset',
  'desc',
  'unnamed',
  'ownership',
  'exclusiveStartKey',
  'prefix',
  'collection',
  'signature',
  'token',
  'attachment',
  'disableRedirect',
  'name',
  'expiresInSecs',
  'method',
  'format',
  // The items of a dataset.
  'fields',
  'omit',
  'unwind',
  'flatten',
  'clean',
  'skipEmpty',
  'skipHidden',
  'simplified',
  'delimiter',
  'xmlRoot',
  'xmlRow',
  'view',
  'bom',
  'skipHeaderRow',
  // Request queues.
  'clientKey',
  'lockSecs',
  'forefront',
  'cursor',
  'exclusiveStartId',
  'filter',
];

/** The parameters of a dataset items read. */
export const ITEM_PARAMS = [
  'format',
  'offset',
  'limit',
  'desc',
  ...QUERY_NAMES.slice(QUERY_NAMES.indexOf('fields'), QUERY_NAMES.indexOf('clientKey')),
];
/** The parameters of the request-queue endpoints. */
export const QUEUE_PARAMS = ['limit', ...QUERY_NAMES.slice(QUERY_NAMES.indexOf('clientKey'))];

/**
 * Every hostile escape in every string position of a URL (store reference: id, `~name`,
 * `username~name`; record key; query values) plus the numbers no double holds in numeric
 * parameters: the fixed list sent on every run.
 */
export function hostileTargets(t: FuzzTargets): { path: string; query: string; anonymous?: boolean }[] {
  const stores = '/v2/key-value-stores';
  const out: { path: string; query: string; anonymous?: boolean }[] = [];
  for (const h of HOSTILE_ESCAPES) {
    const refs = [`~${h}`, `~a${h}b`, h, `${t.playgroundId}${h}`, `admin${h}~x`, `alice~${t.protectedName}${h}`, `${h}~${h}`];
    for (const ref of refs)
      for (const below of ['', '/keys', '/records', '/records/k']) out.push({ path: `${stores}/${ref}${below}`, query: '' });
    for (const key of [h, `k${h}`]) out.push({ path: `${stores}/${t.playgroundId}/records/${key}`, query: '' });
    for (const name of ['prefix', 'exclusiveStartKey', 'collection', 'signature', 'token', 'limit']) {
      for (const value of [h, `a${h}b`]) out.push({ path: `${stores}/${t.playgroundId}/keys`, query: `${name}=${value}` });
    }
    for (const name of ['prefix', 'collection']) out.push({ path: `${stores}/${t.playgroundId}/records`, query: `${name}=${h}` });
    for (const name of ['offset', 'limit', 'ownership', 'desc', 'unnamed']) out.push({ path: stores, query: `${name}=${h}` });
    for (const name of ['signature', 'token']) {
      out.push({ path: `${stores}/${t.protectedId}/records/json`, query: `${name}=${h}`, anonymous: true });
      out.push({ path: `/v2/datasets/${t.datasetId}/items`, query: `${name}=${h}`, anonymous: true });
    }
    for (const ref of [`~${h}`, h, `${t.datasetPlaygroundId}${h}`, `alice~${t.datasetName}${h}`]) {
      for (const below of ['', '/items', '/statistics']) out.push({ path: `/v2/datasets/${ref}${below}`, query: '' });
    }
    for (const name of ITEM_PARAMS) {
      for (const value of [h, `a${h}b`]) out.push({ path: `/v2/datasets/${t.datasetId}/items`, query: `${name}=${value}` });
    }
    for (const name of ['offset', 'limit', 'desc', 'unnamed']) out.push({ path: '/v2/datasets', query: `${name}=${h}` });
    const queues = '/v2/request-queues';
    for (const ref of [`~${h}`, h, `${t.queuePlaygroundId}${h}`, `alice~${t.queueName}${h}`]) {
      for (const below of ['', '/head', '/requests', `/requests/${t.queueRequestIds[0]}`])
        out.push({ path: `${queues}/${ref}${below}`, query: '' });
    }
    for (const below of ['/requests/', '/requests/a', '/requests/k/lock'])
      out.push({ path: `${queues}/${t.queueId}${below}${h}`, query: '' });
    for (const name of QUEUE_PARAMS) {
      for (const value of [h, `a${h}b`]) {
        out.push({ path: `${queues}/${t.queueId}/requests`, query: `${name}=${value}` });
        out.push({ path: `${queues}/${t.queueId}/head`, query: `${name}=${value}` });
      }
    }
  }
  for (const n of HOSTILE_NUMBERS) {
    out.push(
      { path: `${stores}/${t.playgroundId}/keys`, query: `limit=${n}` },
      { path: `${stores}/${t.playgroundId}/records`, query: `limit=${n}` },
      { path: stores, query: `limit=${n}&offset=${n}` },
      { path: `${stores}/${t.playgroundId}/records/gz`, query: `expiresInSecs=${n}` },
      { path: `/v2/datasets/${t.datasetId}/items`, query: `offset=${n}&limit=${n}` },
      { path: '/v2/datasets', query: `limit=${n}&offset=${n}` },
      { path: `/v2/request-queues/${t.queueId}/requests`, query: `limit=${n}` },
      { path: `/v2/request-queues/${t.queueId}/head`, query: `limit=${n}&lockSecs=${n}` },
      { path: '/v2/request-queues', query: `limit=${n}&offset=${n}` },
    );
  }
  return out;
}

/** Known parameters, each with a hostile escape or a number no double holds. */
export function hostileQuery(t: FuzzTargets, names = QUERY_NAMES): fc.Arbitrary<string> {
  const value = fc.oneof(
    { weight: 3, arbitrary: hostileSegment(fc.constantFrom('a', 'k', 'json', t.playgroundName)) },
    { weight: 1, arbitrary: fc.constantFrom(...HOSTILE_NUMBERS) },
  );
  return fc
    .array(fc.tuple(fc.constantFrom(...names), value), { minLength: 1, maxLength: 3 })
    .map((pairs) => pairs.map(([n, v]) => `${n}=${v}`).join('&'));
}

/** A query string: known parameters with garbage values, repeated names, junk pairs. */
export function query(t: FuzzTargets): fc.Arbitrary<string> {
  const value = fc.oneof(
    {
      weight: 3,
      arbitrary: fc.constantFrom(...NUMBERISH, 'true', 'false', 'TRUE', 'yes', 'ownedByMe', 'sharedWithMe', 'DELETE'),
    },
    { weight: 2, arbitrary: fc.oneof(fc.integer().map(String), fc.bigInt().map(String), fc.double().map(String)) },
    { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }).map(urlSafe) },
    { weight: 2, arbitrary: t.signatures.length > 0 ? fc.constantFrom(...t.signatures) : fc.constant('sig') },
    { weight: 2, arbitrary: token(t).map(urlSafe) },
    {
      weight: 3,
      arbitrary: fc.oneof(
        hostileSegment(fc.constantFrom('a', 'k', 'json', '1', t.playgroundName)),
        fc.constantFrom(...HOSTILE_NUMBERS),
      ),
    },
  );
  const name = fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(...QUERY_NAMES) },
    { weight: 1, arbitrary: printable(10).map(urlSafe) },
  );
  const pair = fc.oneof(
    { weight: 8, arbitrary: fc.tuple(name, value).map(([n, v]) => `${n}=${v}`) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('&', '=', '==', 'limit', 'token', '&&&', '=x', 'a[b]=1', '__proto__=1', 'limit[]=1'),
    },
  );
  // Repeated names are likely: one name drawn several times.
  return fc.array(pair, { maxLength: 6 }).map((pairs) => pairs.join('&'));
}
