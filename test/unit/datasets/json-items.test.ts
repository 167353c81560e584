/**
 * Splitting a dataset push body into items: each item is the exact JSON text it had in the body,
 * and every body that is not an object or an array of objects is refused with a 400 naming where.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { splitItems } from '../../../src/domain/datasets/json-items.js';
import { InvalidValueError } from '../../../src/errors.js';

/** Expects splitItems(text) to throw a 400 `invalid-value` whose message matches `message`. */
function expectRefused(text: string, message: RegExp): void {
  let thrown: unknown;
  try {
    splitItems(text);
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(InvalidValueError);
  const err = thrown as InvalidValueError;
  expect(err.statusCode).toBe(400);
  expect(err.type).toBe('invalid-value');
  expect(err.message).toMatch(message);
}

describe('splitItems', () => {
  it('keeps each item as its exact text: key order, number spelling, escapes, inner whitespace', () => {
    const first = '{"b": 1.0, "a":1e5,"big":12345678901234567890,"s":"\\u00e9\\"}{[,\\\\"}';
    const second = '{\n    "x" : [ 1 , {"y":"]"} ],\n    "z":null\n  }';
    const body = ` \n[ ${first} ,\n  ${second}\t,{}]\r\n`;
    expect(splitItems(body)).toEqual({ items: [first, second, '{}'], clean: 2 });
  });

  it('takes one object as one item, trimmed', () => {
    expect(splitItems('\n  {"a":  1.50}  \n')).toEqual({ items: ['{"a":  1.50}'], clean: 1 });
  });

  it('tolerates a leading UTF-8 byte order mark', () => {
    expect(splitItems('\uFEFF[{"a":1}]')).toEqual({ items: ['{"a":1}'], clean: 1 });
    expect(splitItems('\uFEFF{"a":1}')).toEqual({ items: ['{"a":1}'], clean: 1 });
  });

  it('gives no items for an empty array', () => {
    expect(splitItems('[]')).toEqual({ items: [], clean: 0 });
    expect(splitItems(' [ \n ] ')).toEqual({ items: [], clean: 0 });
  });

  it('counts as clean the items with a top-level field not starting with #', () => {
    const body = JSON.stringify([{}, { '#debug': 1 }, { '#a': 1, b: 2 }, { a: { '#b': 1 } }, { ' #x': 1 }]);
    expect(splitItems(body).clean).toBe(3);
  });

  it('keeps a __proto__ field as an ordinary field', () => {
    const { items, clean } = splitItems('[{"__proto__":{"a":1}}]');
    expect(items).toEqual(['{"__proto__":{"a":1}}']);
    expect(clean).toBe(1);
  });

  it('refuses text that is not JSON', () => {
    expectRefused('', /not valid JSON/);
    expectRefused('[{"a":1},]', /not valid JSON/);
    expectRefused('{"a":1}{"b":2}', /not valid JSON/);
    expectRefused("{'a':1}", /not valid JSON/);
    expectRefused('[{"a":01}]', /not valid JSON/);
    expectRefused('\uFEFF\uFEFF{}', /not valid JSON/);
  });

  it('refuses a top-level value that is neither an object nor an array', () => {
    expectRefused('"text"', /must be a JSON object or an array of JSON objects, not a string\./);
    expectRefused('12', /not a number\./);
    expectRefused('null', /not null\./);
    expectRefused('true', /not a boolean\./);
  });

  it('refuses an array element that is not an object, naming its index', () => {
    expectRefused('[{},{},{},"a"]', /^Invalid item at index 3: a dataset item must be a JSON object, not a string\.$/);
    expectRefused('[null]', /index 0: .* not null\./);
    expectRefused('[{}, 5]', /index 1: .* not a number\./);
    expectRefused('[{}, {}, [{}]]', /index 2: .* not an array\./);
    expectRefused('[[]]', /index 0: .* not an array\./);
  });

  it('refuses nesting deeper than 128 levels and takes 128', () => {
    const nested = (levels: number) => `${'{"a":'.repeat(levels - 1)}{}${'}'.repeat(levels - 1)}`;
    expect(splitItems(nested(128)).items).toEqual([nested(128)]);
    expect(splitItems(`[{},${nested(128)}]`).items).toHaveLength(2);
    expectRefused(nested(129), /^Invalid item at index 0: JSON nested deeper than 128 levels\.$/);
    expectRefused(`[{},{},${nested(129)}]`, /^Invalid item at index 2: JSON nested deeper than 128 levels\.$/);
    // Strings full of brackets do not count as nesting.
    expect(splitItems(`[{"s":"${'{['.repeat(500)}"}]`).items).toHaveLength(1);
  });

  const whitespace = fc.stringMatching(/^[ \t\n\r]{0,10}$/);
  const objects = fc.array(fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 4 }), { maxKeys: 6 }), { maxLength: 8 });

  it('splits any array of objects, at any indentation, into substrings that parse to the items', () => {
    fc.assert(
      fc.property(objects, fc.oneof(fc.integer({ min: 0, max: 10 }), whitespace), whitespace, (values, indent, around) => {
        const body = around + JSON.stringify(values, null, indent) + around;
        const { items } = splitItems(body);
        // -0 is written as 0: compare with what the JSON says.
        const expected = JSON.parse(JSON.stringify(values));
        expect(items).toHaveLength(values.length);
        let from = 0;
        items.forEach((item, i) => {
          const at = body.indexOf(item, from);
          expect(at).toBeGreaterThanOrEqual(from);
          from = at + item.length;
          expect(JSON.parse(item)).toEqual(expected[i]);
          expect(item.trim()).toBe(item);
        });
      }),
      { numRuns: 300 },
    );
  });

  it('gives back JSON.stringify texts exactly when the body is compact', () => {
    fc.assert(
      fc.property(objects, (values) => {
        expect(splitItems(JSON.stringify(values)).items).toEqual(values.map((v) => JSON.stringify(v)));
      }),
      { numRuns: 300 },
    );
  });
});
