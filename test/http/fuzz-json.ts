import fc from 'fast-check';
import { HOSTILE_NUMBERS } from './fuzz-arbitraries.js';

/** Generators of JSON bodies no store can hold faithfully (and of fair ones beside them), for the fuzz tests. */
/** JSON text from pieces: strings as UTF-8, buffers as they are (raw bytes that are not UTF-8). */
export const jsonText = (...parts: (string | Buffer)[]): Buffer =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));

/** `{k1:v1,…}` from JSON texts of keys and values. */
export function jsonObject(entries: [string | Buffer, string | Buffer][]): Buffer {
  const parts: (string | Buffer)[] = ['{'];
  for (const [k, v] of entries) parts.push(parts.length > 1 ? ',' : '', k, ':', v);
  return jsonText(...parts, '}');
}

/** Characters no stored string may carry (NUL, controls, lone and reversed surrogates) and a few that it may. */
export const HOSTILE_CHARS = [
  '\u0000',
  '\u0001',
  '\u001f',
  '\u007f',
  '\ud800',
  '\udfff',
  '\udfff\ud800',
  '\u0085',
  '\ufeff',
  '\uffff',
  '\ud83d\ude00',
];
/** Raw bytes that are not UTF-8: overlong, truncated, an encoded surrogate, beyond U+10FFFF, never valid. */
export const RAW_BAD_UTF8 = [
  [0xff],
  [0xc0, 0x80],
  [0xc0, 0xaf],
  [0xe2, 0x82],
  [0xed, 0xa0, 0x80],
  [0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xfe],
].map((b) => Buffer.from(b));
/** Nesting depths: harmless, deeper than any sane limit, and deep enough to overflow a recursive walk. */
export const DEPTHS = [10, 200, 5000, 100_000];

const deepCache = new Map<string, Buffer>();
/** `n` levels of `[` or of `{"a":` (balanced, or missing the last closer). */
export function deepJson(n: number, kind: 'array' | 'object', balanced = true): Buffer {
  const id = `${n}${kind}${balanced}`;
  let text = deepCache.get(id);
  if (!text) {
    const [open, inner, close] = kind === 'array' ? ['[', '', ']'] : ['{"a":', '1', '}'];
    text = Buffer.from(`${open.repeat(n)}${inner}${close.repeat(balanced ? n : n - 1)}`);
    deepCache.set(id, text);
  }
  return text;
}

const word = fc.constantFrom('', 'a', 'fuzz-x', 'title');

/** JSON string literals a store cannot hold faithfully: escaped controls and surrogates, raw bytes that are not UTF-8. */
export const hostileJsonString: fc.Arbitrary<Buffer> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .tuple(word, fc.constantFrom(...HOSTILE_CHARS), word)
      .map(([a, c, b]) => Buffer.from(JSON.stringify(`${a}${c}${b}`))),
  },
  {
    weight: 3,
    arbitrary: fc.tuple(word, fc.constantFrom(...RAW_BAD_UTF8), word).map(([a, bad, b]) => jsonText('"', a, bad, b, '"')),
  },
  // A raw control character inside a string is not JSON at all.
  { weight: 1, arbitrary: fc.constantFrom('"a\u0000b"', '"\t"', '"a\nb"', '"\u001f"').map((x) => Buffer.from(x)) },
);
const hostileJsonNumber = fc.constantFrom(...HOSTILE_NUMBERS).map((n) => Buffer.from(n));
const deepJsonValue = fc
  .tuple(fc.constantFrom(...DEPTHS), fc.constantFrom<'array' | 'object'>('array', 'object'), fc.boolean())
  .map(([n, kind, unbalanced]) => deepJson(n, kind, !unbalanced || n < 1000));

/** A JSON value no store can hold faithfully, or one that takes a careful parser to refuse. */
export const hostileJsonValue: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 4, arbitrary: hostileJsonString },
  { weight: 2, arbitrary: hostileJsonNumber },
  { weight: 2, arbitrary: deepJsonValue },
);

/** Values a store field may well hold (unicode titles included), so that accepted updates are read back too. */
const fairJsonValue: fc.Arbitrary<Buffer> = fc
  .oneof(
    fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,20}[a-z0-9]$/),
    fc.string({ unit: 'grapheme', maxLength: 20 }),
    fc.constantFrom('RESTRICTED', 'ANYONE_WITH_ID_CAN_READ', null, 1, 'fuzz-renamed'),
  )
  .map((v) => Buffer.from(JSON.stringify(v)));

const fieldName = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('"name"', '"title"', '"generalAccess"', '"schema"') },
  { weight: 1, arbitrary: hostileJsonString },
);
/** A key inside a schema: a plain one, or a hostile string. */
const schemaKey = fc.oneof(fc.constantFrom('"title"', '"c"', '"collections"'), hostileJsonString);

/** `{"collections":{c:{kind:v}}}`: a schema whose collection `c` names its key or key prefix by `v`. */
export const collectionSchema = (c: string | Buffer, kind: string, v: string | Buffer): Buffer =>
  jsonObject([['"collections"', jsonObject([[c, jsonObject([[kind, v]])]])]]);

/** A schema whose collection `c` (key prefix `a`) also holds `v`. */
export const collectionHolding = (v: string | Buffer): Buffer =>
  jsonObject([
    [
      '"collections"',
      jsonObject([
        [
          '"c"',
          jsonObject([
            ['"keyPrefix"', '"a"'],
            ['"x"', v],
          ]),
        ],
      ]),
    ],
  ]);

/** Schemas with something hostile in their contents, their keys, or a collection's `key`/`keyPrefix`. */
export const hostileSchema: fc.Arbitrary<Buffer> = fc.oneof(
  hostileJsonValue,
  fc.tuple(schemaKey, fc.oneof(hostileJsonValue, fairJsonValue)).map(([k, v]) => jsonObject([[k, v]])),
  fc
    .tuple(schemaKey, fc.constantFrom('"key"', '"keyPrefix"'), fc.oneof(hostileJsonValue, fairJsonValue))
    .map(([c, kind, v]) => collectionSchema(c, kind, v)),
  deepJsonValue.map(collectionHolding),
);

/** Store bodies (PUT a store, POST the collection) with hostile text at the top, in any field, or inside `schema`. */
export const hostileStoreBody: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 1, arbitrary: hostileJsonValue },
  {
    weight: 4,
    arbitrary: fc
      .array(fc.tuple(fieldName, fc.oneof(hostileJsonValue, fairJsonValue)), { minLength: 1, maxLength: 3 })
      .map(jsonObject),
  },
  {
    weight: 3,
    arbitrary: fc.tuple(fc.option(fairJsonValue, { nil: undefined }), hostileSchema).map(([name, schema]) =>
      jsonObject(
        name
          ? [
              ['"name"', name],
              ['"schema"', schema],
            ]
          : [['"schema"', schema]],
      ),
    ),
  },
  { weight: 2, arbitrary: fc.array(fc.tuple(fieldName, fairJsonValue), { minLength: 1, maxLength: 3 }).map(jsonObject) },
);
