/**
 * The key page written without the schema serializer: the same JSON as `JSON.stringify` of the
 * `KeyList` object for any strings at all (keys read back from a database are not trusted to follow
 * the key rules), fields in the schema's order, `recordPublicUrl` put together from its parts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type KeyPage, keyListJson } from '../../src/http/key-value-stores/keys.js';

const page = (recordUrlBase: string, items: KeyPage['items'], start: string | null, next: string | null): KeyPage => ({
  recordUrlBase,
  items,
  count: items.length,
  limit: 1000,
  exclusiveStartKey: start,
  isTruncated: next !== null,
  nextExclusiveStartKey: next,
});

/** What the schema serializer was given: the KeyList object with whole URLs. */
function keyList(p: KeyPage) {
  const { recordUrlBase, items, ...rest } = p;
  return {
    items: items.map((i) => ({ key: i.key, size: i.size, recordPublicUrl: `${recordUrlBase}${i.key}?signature=${i.signature}` })),
    ...rest,
  };
}

describe('keyListJson', () => {
  it('is JSON.stringify of { data: KeyList } for any strings and sizes', () => {
    const text = fc.oneof(
      fc.string(),
      fc.string({ unit: 'grapheme' }),
      fc.constantFrom('', '"', '\\', '\u0000', '\u007f', '\u2028', '\ud800', 'a"b\\c\nd'),
    );
    const item = fc.record({ key: text, size: fc.nat(), signature: text });
    fc.assert(
      fc.property(text, fc.array(item, { maxLength: 20 }), fc.option(text), fc.option(text), (base, items, start, next) => {
        const p = page(base, items, start, next);
        const json = keyListJson(p);
        expect(json).toBe(JSON.stringify({ data: keyList(p) }));
        expect(JSON.parse(json)).toEqual({ data: keyList(p) });
      }),
      { numRuns: 500 },
    );
  });

  it('writes plain keys and URLs as they are, in the schema order', () => {
    const p = page('http://h/v2/key-value-stores/x/records/', [{ key: "a-b_c.d!e'(f)", size: 3, signature: 'Z9' }], null, null);
    expect(keyListJson(p)).toBe(
      '{"data":{"items":[{"key":"a-b_c.d!e\'(f)","size":3,"recordPublicUrl":"http://h/v2/key-value-stores/x/records/a-b_c.d!e\'(f)?signature=Z9"}],' +
        '"count":1,"limit":1000,"exclusiveStartKey":null,"isTruncated":false,"nextExclusiveStartKey":null}}',
    );
  });

  it('writes an empty page', () => {
    expect(JSON.parse(keyListJson(page('http://h/', [], 'zz', null)))).toEqual({
      data: { items: [], count: 0, limit: 1000, exclusiveStartKey: 'zz', isTruncated: false, nextExclusiveStartKey: null },
    });
  });
});
