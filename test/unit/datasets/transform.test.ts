/**
 * The item transformations of GET /v2/datasets/{id}/items: each parameter alone, their order when
 * combined, and the 400s for parameters that cannot work together.
 */
import { describe, expect, it } from 'vitest';
import { type ItemQuery, type JsonObject, parseItemTransform } from '../../../src/domain/datasets/transform.js';
import { InvalidValueError } from '../../../src/errors.js';

/** The outputs of all `items` under `query`, compared through JSON text so key order counts. */
function run(query: ItemQuery, items: JsonObject[]): string[] {
  const transform = parseItemTransform(query);
  return items.flatMap((item) => transform.apply(structuredClone(item))).map((out) => JSON.stringify(out));
}

const json = (...values: unknown[]) => values.map((v) => JSON.stringify(v));

describe('parseItemTransform', () => {
  it('is the identity without parameters, and with flags that are off', () => {
    for (const query of [
      {},
      { clean: '0', skipHidden: 'false', skipEmpty: '', simplified: false },
      { fields: '', omit: ' , ' },
    ]) {
      const transform = parseItemTransform(query);
      expect(transform.identity).toBe(true);
      const item = { '#a': 1, b: { c: [1] } };
      expect(transform.apply(item)).toEqual([item]);
    }
  });

  it('is not the identity as soon as one parameter changes or drops items', () => {
    const queries: ItemQuery[] = [
      { fields: 'a' },
      { omit: 'a' },
      { unwind: 'a' },
      { flatten: 'a' },
      { clean: '1' },
      { skipHidden: 'TRUE' },
      { skipEmpty: 'true' },
      { simplified: '1' },
      { skipFailedPages: true },
    ];
    for (const query of queries) expect(parseItemTransform(query).identity, JSON.stringify(query)).toBe(false);
  });

  it('fields picks top-level fields in the order listed, skipping missing ones', () => {
    expect(run({ fields: 'c,a,x' }, [{ a: 1, b: 2, c: { d: 3 } }, { b: 1 }])).toEqual(json({ c: { d: 3 }, a: 1 }, {}));
  });

  it('takes lists as apify-client sends them and as people type them', () => {
    const item = { a: 1, b: 2, c: 3 };
    expect(run({ fields: ['b', 'a'] }, [item])).toEqual(json({ b: 2, a: 1 }));
    expect(run({ fields: ' b , a ,' }, [item])).toEqual(json({ b: 2, a: 1 }));
    expect(run({ fields: ['b,a', 'c'] }, [item])).toEqual(json({ b: 2, a: 1, c: 3 }));
  });

  it('outputFields renames the picked fields positionally', () => {
    expect(run({ fields: 'headline,url', outputFields: 'title,link' }, [{ url: 'u', headline: 'h', x: 1 }])).toEqual(
      json({ title: 'h', link: 'u' }),
    );
  });

  it('refuses outputFields without fields, or with another count', () => {
    expect(() => parseItemTransform({ outputFields: 'a' })).toThrow(InvalidValueError);
    expect(() => parseItemTransform({ outputFields: 'a' })).toThrow(/requires the fields parameter/);
    expect(() => parseItemTransform({ fields: 'a,b', outputFields: 'x' })).toThrow(
      /as many names as the fields parameter \(2\), not 1/,
    );
    try {
      parseItemTransform({ fields: 'a', outputFields: 'x,y' });
      expect.unreachable();
    } catch (err) {
      expect((err as InvalidValueError).statusCode).toBe(400);
      expect((err as InvalidValueError).type).toBe('invalid-value');
    }
  });

  it('omit drops the listed fields', () => {
    expect(run({ omit: 'a,c' }, [{ a: 1, b: 2, c: 3, d: 4 }])).toEqual(json({ b: 2, d: 4 }));
  });

  it('unwind spreads an array into one item per element, merged with the parent', () => {
    const item = { id: 1, list: [{ x: 1 }, { x: 2, id: 9 }], after: true };
    expect(run({ unwind: 'list' }, [item])).toEqual(json({ id: 1, after: true, x: 1 }, { id: 9, after: true, x: 2 }));
  });

  it('unwind keeps elements that are not objects as the value of the field', () => {
    expect(run({ unwind: 'tags' }, [{ id: 1, tags: ['a', null, [2]] }])).toEqual(
      json({ id: 1, tags: 'a' }, { id: 1, tags: null }, { id: 1, tags: [2] }),
    );
  });

  it('unwind merges an object, keeps an item whose field is missing or scalar, drops an empty array', () => {
    expect(run({ unwind: 'o' }, [{ a: 1, o: { b: 2 } }, { a: 2 }, { a: 3, o: 'x' }, { a: 4, o: null }, { a: 5, o: [] }])).toEqual(
      json({ a: 1, b: 2 }, { a: 2 }, { a: 3, o: 'x' }, { a: 4, o: null }),
    );
  });

  it('unwinds several fields in the order given', () => {
    const item = { a: [{ b: [{ c: 1 }, { c: 2 }] }, { b: [{ c: 3 }] }] };
    expect(run({ unwind: 'a,b' }, [item])).toEqual(json({ c: 1 }, { c: 2 }, { c: 3 }));
    // In the other order `b` does not exist yet when it is unwound.
    expect(run({ unwind: 'b,a' }, [item])).toEqual(json({ b: [{ c: 1 }, { c: 2 }] }, { b: [{ c: 3 }] }));
  });

  it('flatten turns nested objects of the listed fields into dotted keys where the field stood', () => {
    const item = { first: 0, foo: { bar: 'hello', deep: { x: 1, list: [1, { y: 2 }], empty: {} } }, other: { a: 1 } };
    expect(run({ flatten: 'foo' }, [item])).toEqual(
      json({
        first: 0,
        'foo.bar': 'hello',
        'foo.deep.x': 1,
        'foo.deep.list': [1, { y: 2 }],
        'foo.deep.empty': {},
        other: { a: 1 },
      }),
    );
    expect(run({ flatten: 'first,list,missing' }, [{ first: 0, list: [1] }])).toEqual(json({ first: 0, list: [1] }));
  });

  it('skipHidden drops top-level fields starting with #, and only those', () => {
    expect(run({ skipHidden: '1' }, [{ '#debug': 1, a: { '#b': 2 }, ' #c': 3 }])).toEqual(json({ a: { '#b': 2 }, ' #c': 3 }));
  });

  it('skipEmpty drops items with no fields, also those emptied by other parameters', () => {
    expect(run({ skipEmpty: '1' }, [{}, { a: 1 }])).toEqual(json({ a: 1 }));
    expect(run({ skipEmpty: '1', fields: 'a' }, [{ b: 1 }, { a: 2 }])).toEqual(json({ a: 2 }));
    expect(run({ fields: 'a' }, [{ b: 1 }])).toEqual(json({}));
  });

  it('clean is skipHidden plus skipEmpty', () => {
    expect(run({ clean: 'true' }, [{ '#a': 1 }, {}, { '#a': 1, b: 2 }])).toEqual(json({ b: 2 }));
  });

  it('skipFailedPages drops items with an errorInfo field', () => {
    expect(run({ skipFailedPages: '1' }, [{ a: 1, errorInfo: 'timeout' }, { a: 2 }, { a: 3, errorInfo: null }])).toEqual(
      json({ a: 2 }),
    );
  });

  it('simplified picks url, pageFunctionResult and errorInfo, then unwinds pageFunctionResult', () => {
    const items = [
      { url: 'u1', loadedUrl: 'x', pageFunctionResult: [{ title: 't1' }, { title: 't2' }] },
      { url: 'u2', errorInfo: 'failed', pageFunctionResult: { title: 't3' } },
    ];
    expect(run({ simplified: '1' }, items)).toEqual(
      json({ url: 'u1', title: 't1' }, { url: 'u1', title: 't2' }, { url: 'u2', errorInfo: 'failed', title: 't3' }),
    );
  });

  it('applies fields and omit before unwind, unwind before flatten', () => {
    const item = { keep: 1, drop: 2, results: [{ title: 't', meta: { a: 1 } }] };
    expect(run({ fields: 'keep,results', unwind: 'results', flatten: 'meta' }, [item])).toEqual(
      json({ keep: 1, title: 't', 'meta.a': 1 }),
    );
    expect(run({ omit: 'drop', unwind: 'results' }, [item])).toEqual(json({ keep: 1, title: 't', meta: { a: 1 } }));
  });

  it('keeps a field named __proto__ as an ordinary field through every step', () => {
    const item = JSON.parse('{"__proto__":{"polluted":1},"list":[{"__proto__":2}],"o":{"__proto__":{"x":3}}}');
    expect(run({ fields: '__proto__,o', outputFields: '__proto__,o' }, [item])).toEqual([
      '{"__proto__":{"polluted":1},"o":{"__proto__":{"x":3}}}',
    ]);
    expect(run({ unwind: 'list', omit: '__proto__' }, [item])).toEqual(['{"o":{"__proto__":{"x":3}},"__proto__":2}']);
    expect(run({ flatten: 'o' }, [item])).toEqual(['{"__proto__":{"polluted":1},"list":[{"__proto__":2}],"o.__proto__.x":3}']);
    expect(({} as { polluted?: number }).polluted).toBeUndefined();
  });
});
