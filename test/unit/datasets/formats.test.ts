/**
 * The formats of GET /v2/datasets/{id}/items, each on items with nesting, arrays, unicode and the
 * characters each format must quote or escape; their options and the 400s for bad ones.
 */
import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseItemTransform } from '../../../src/domain/datasets/transform.js';
import { ApiError } from '../../../src/errors.js';
import { DATASET_FORMATS, formatItems, parseFormat } from '../../../src/http/datasets/formats.js';
import { OPTIONS, render, sourceOf, texts } from './format-helpers.js';

const BOM = '\ufeff';

const ITEMS = texts([
  {
    name: 'Zoë "Z" Müller',
    note: 'a, b\nc',
    count: 3,
    ok: true,
    gone: null,
    tags: ['x', 'y'],
    address: { city: 'Brno', zip: '602 00' },
  },
  { name: '<&>', count: 1.5, extra: { deep: { leaf: false } }, empty: {}, none: [] },
]);

/** Expects `fn` to throw a 400 `invalid-value` whose message matches `message`. */
function expect400(fn: () => unknown, message: RegExp): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(ApiError);
  expect((thrown as ApiError).statusCode).toBe(400);
  expect((thrown as ApiError).type).toBe('invalid-value');
  expect((thrown as ApiError).message).toMatch(message);
}

describe('parseFormat', () => {
  it('defaults to json and knows the seven formats in any case', () => {
    expect(parseFormat(undefined)).toBe('json');
    expect(parseFormat('')).toBe('json');
    for (const format of DATASET_FORMATS) expect(parseFormat(format.toUpperCase())).toBe(format);
  });

  it('refuses an unknown format with a 400 that lists the formats', () => {
    expect400(
      () => parseFormat('yaml'),
      /^Invalid format "yaml": the format must be one of json, jsonl, csv, html, xlsx, xml, rss\.$/,
    );
  });
});

describe('json', () => {
  it('writes the stored texts unchanged without a transformation', async () => {
    const stored = ['{"b": 1.0, "a":1e5}', '{"big":12345678901234567890,"s":"\\u00e9"}', '{\n  "x": [ 1 ]\n}'];
    const { contentType, text } = await render('json', stored);
    expect(contentType).toBe('application/json; charset=utf-8');
    expect(text).toBe(`[${stored.join(',')}]`);
  });

  it('writes an empty array for no items, and for items all skipped', async () => {
    expect((await render('json', [])).text).toBe('[]');
    expect((await render('json', ['{}', '{"#a":1}'], {}, { clean: '1' })).text).toBe('[]');
  });

  it('writes the transformed objects when there is a transformation', async () => {
    const { text } = await render('json', ['{"a": 1.0, "b": 2}', '{"b": [1, 2]}'], {}, { fields: 'b', unwind: 'b' });
    expect(text).toBe('[{"b":2},{"b":1},{"b":2}]');
    expect(JSON.parse(text)).toEqual([{ b: 2 }, { b: 1 }, { b: 2 }]);
  });

  it('has no BOM unless asked for', async () => {
    expect((await render('json', ['{}'])).text).toBe('[{}]');
    expect((await render('json', ['{}'], { bom: true })).text).toBe(`${BOM}[{}]`);
  });
});

describe('jsonl', () => {
  it('writes one item per line, a pretty-printed item on one line with its numbers as stored', async () => {
    const stored = ['{"a":1.0}', '{\n  "b": "x\\ny",\r\n  "c": 1e5\n}'];
    const { contentType, text } = await render('jsonl', stored);
    expect(contentType).toBe('application/jsonl; charset=utf-8');
    expect(text).toBe('{"a":1.0}\n{   "b": "x\\ny",    "c": 1e5 }\n');
    expect(
      text
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line)),
    ).toEqual([{ a: 1 }, { b: 'x\ny', c: 1e5 }]);
  });

  it('writes nothing for no items, transformed objects otherwise', async () => {
    expect((await render('jsonl', [])).text).toBe('');
    expect((await render('jsonl', ITEMS, {}, { fields: 'count' })).text).toBe('{"count":3}\n{"count":1.5}\n');
  });
});

describe('csv', () => {
  it('has the union of flattened columns, quoted values, and a BOM by default', async () => {
    const { contentType, text } = await render('csv', ITEMS);
    expect(contentType).toBe('text/csv; charset=utf-8');
    expect(text.startsWith(BOM)).toBe(true);
    const rows = parse(text, { bom: true }) as string[][];
    expect(rows).toEqual([
      [
        'name',
        'note',
        'count',
        'ok',
        'gone',
        'tags/0',
        'tags/1',
        'address/city',
        'address/zip',
        'extra/deep/leaf',
        'empty',
        'none',
      ],
      ['Zoë "Z" Müller', 'a, b\nc', '3', 'true', '', 'x', 'y', 'Brno', '602 00', '', '', ''],
      ['<&>', '', '1.5', '', '', '', '', '', '', 'false', '', ''],
    ]);
    expect(text).toContain('"Zoë ""Z"" Müller","a, b\nc",3,true,,x,y');
  });

  it('takes the columns in order of first appearance over all items, also past the first page', async () => {
    const { text } = await render('csv', texts([{ a: 1 }, { b: 2 }, { c: 3, a: 4 }, { d: { e: 5 } }]), { bom: false });
    expect(text).toBe('a,b,c,d/e\n1,,,\n,2,,\n4,,3,\n,,,5\n');
  });

  it('keeps to 2000 columns of at most 200 characters, as Apify tables do', async () => {
    const wide = Object.fromEntries(Array.from({ length: 2100 }, (_, i) => [`c${i}`, i]));
    const items = texts([{ ['n'.repeat(201)]: 'long', ['m'.repeat(200)]: 'ok' }, wide]);
    const [header, first, second] = parse((await render('csv', items)).text, { bom: true }) as string[][];
    expect(header).toHaveLength(2000);
    expect(header?.slice(0, 2)).toEqual(['m'.repeat(200), 'c0']);
    expect(header?.at(-1)).toBe('c1998');
    expect(first?.slice(0, 2)).toEqual(['ok', '']);
    expect(second?.slice(0, 3)).toEqual(['', '0', '1']);
  });

  it('reads the items twice: once for the columns, once for the rows', async () => {
    const source = sourceOf(ITEMS, 1);
    const output = formatItems('csv', source, parseItemTransform({}), OPTIONS);
    for await (const _ of output.body);
    expect(source.passes()).toBe(2);
  });

  it('honours bom, delimiter (a tab too) and skipHeaderRow', async () => {
    const items = texts([{ a: 'x;y', b: 'p\tq' }]);
    expect((await render('csv', items, { bom: false })).text).toBe('a,b\nx;y,p\tq\n');
    expect((await render('csv', items, { bom: false, delimiter: ';' })).text).toBe('a;b\n"x;y";p\tq\n');
    expect((await render('csv', items, { bom: false, delimiter: '\t' })).text).toBe('a\tb\nx;y\t"p\tq"\n');
    expect((await render('csv', items, { skipHeaderRow: true })).text).toBe(`${BOM}x;y,p\tq\n`);
    const emoji = await render('csv', items, { bom: false, delimiter: '😀' });
    expect(parse(emoji.text, { delimiter: '😀' })).toEqual([
      ['a', 'b'],
      ['x;y', 'p\tq'],
    ]);
  });

  it('reads back as written for any text values and delimiter', async () => {
    const rows = fc.array(fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.string(), fc.constant(null)), { maxKeys: 5 }), {
      minLength: 1,
      maxLength: 6,
    });
    await fc.assert(
      fc.asyncProperty(rows, fc.constantFrom(',', ';', '\t', '|', 'é'), async (values, delimiter) => {
        const columns = [...new Set(values.flatMap((value) => Object.keys(value)))];
        fc.pre(columns.length > 0);
        const { text } = await render('csv', texts(values), { delimiter });
        expect(parse(text, { bom: true, delimiter })).toEqual([
          columns,
          ...values.map((value) => columns.map((column) => (Object.hasOwn(value, column) ? (value[column] ?? '') : ''))),
        ]);
      }),
      { numRuns: 200 },
    );
  });

  it('applies the transformation before flattening', async () => {
    const { text } = await render('csv', ITEMS, { bom: false }, { fields: 'address,name', flatten: 'address' });
    expect(text).toBe('address.city,address.zip,name\nBrno,602 00,"Zoë ""Z"" Müller"\n,,<&>\n');
  });

  it('refuses an empty or longer delimiter, a quote or a line break, before reading anything', () => {
    for (const delimiter of ['', ',,', '\\t', '"', '\n', '\r']) {
      const source = sourceOf(ITEMS);
      expect400(() => formatItems('csv', source, parseItemTransform({}), { ...OPTIONS, delimiter }), /^Invalid delimiter /);
      expect(source.passes()).toBe(0);
    }
  });
});

describe('html', () => {
  it('is a table with a header row and one row per item, every text escaped', async () => {
    const { contentType, text } = await render(
      'html',
      texts([
        { a: '<b>&"\'', 'c<d': 1 },
        { a: null, e: [true] },
      ]),
    );
    expect(contentType).toBe('text/html; charset=utf-8');
    expect(text).toBe(
      '<table>\n<tr><th>a</th><th>c&lt;d</th><th>e/0</th></tr>\n' +
        '<tr><td>&lt;b&gt;&amp;&quot;&#39;</td><td>1</td><td></td></tr>\n' +
        '<tr><td></td><td></td><td>true</td></tr>\n</table>\n',
    );
  });
});

describe('xml', () => {
  it('writes the example of the Apify docs', async () => {
    const item = {
      name: 'Paul Newman',
      address: [
        { type: 'home', street: '21st', city: 'Chicago' },
        { type: 'office', street: null, city: null },
      ],
    };
    const { contentType, text } = await render('xml', texts([item]));
    expect(contentType).toBe('application/xml; charset=utf-8');
    expect(text).toBe(
      '<?xml version="1.0" encoding="UTF-8"?>\n<items>\n<item><name>Paul Newman</name>' +
        '<address><type>home</type><street>21st</street><city>Chicago</city></address>' +
        '<address><type>office</type><street/><city/></address></item>\n</items>\n',
    );
  });

  it('turns @ into attributes and # into text, as the docs describe', async () => {
    const item = {
      address: [
        { '@': { type: 'home' }, street: '21st' },
        { '@': { type: 'office', 'a b': '"&' }, '#': 'unknown' },
      ],
    };
    const { text } = await render('xml', texts([item]));
    expect(text).toContain(
      '<item><address type="home"><street>21st</street></address><address type="office" a_b="&quot;&amp;">unknown</address></item>',
    );
  });

  it('makes field names valid XML names and escapes text', async () => {
    const item = { '#debug': 'a<b', 'first name': 'R&D', '1st': 'x\u0001y', '': 1, 'ok-name.1': 'é😀', nested: [[1, 2], []] };
    const { text } = await render('xml', texts([item]));
    expect(text).toContain(
      '<item><_debug>a&lt;b</_debug><first_name>R&amp;D</first_name><_1st>x\ufffdy</_1st><_>1</_>' +
        '<ok-name.1>é😀</ok-name.1><nested><nested>1</nested><nested>2</nested></nested><nested></nested></item>',
    );
  });

  it('takes xmlRoot and xmlRow, and refuses names that are not XML names', async () => {
    const { text } = await render('xml', texts([{ a: 1 }, {}]), { xmlRoot: 'products', xmlRow: 'product' });
    expect(text).toBe(
      '<?xml version="1.0" encoding="UTF-8"?>\n<products>\n<product><a>1</a></product>\n<product/>\n</products>\n',
    );
    for (const name of ['1abc', 'a b', 'a<b', 'ns:item', '-x']) {
      expect400(
        () => formatItems('xml', sourceOf([]), parseItemTransform({}), { ...OPTIONS, xmlRoot: name }),
        /^Invalid xmlRoot /,
      );
      expect400(() => formatItems('xml', sourceOf([]), parseItemTransform({}), { ...OPTIONS, xmlRow: name }), /^Invalid xmlRow /);
    }
  });
});

describe('rss', () => {
  it('is an RSS 2.0 channel with one item per dataset item', async () => {
    const items = texts([{ title: 'Pasta & more', link: 'https://example.com/1', tags: ['a', 'b'] }]);
    const { contentType, text } = await render('rss', items, { feedLink: 'https://example.com/items?a=1&b=2' });
    expect(contentType).toBe('application/rss+xml; charset=utf-8');
    expect(text).toBe(
      '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>Dataset my-dataset</title>' +
        '<link>https://example.com/items?a=1&amp;b=2</link>' +
        '<description>Items in dataset with id &quot;WkzbQMuFYuamGv3YF&quot;.</description>\n' +
        '<item><title>Pasta &amp; more</title><link>https://example.com/1</link><tags>a</tags><tags>b</tags></item>\n' +
        '</channel></rss>\n',
    );
  });

  it('takes feedTitle and feedDescription', async () => {
    const { text } = await render('rss', [], { feedTitle: 'Latest <posts>', feedDescription: 'Scraped' });
    expect(text).toContain('<title>Latest &lt;posts&gt;</title><link></link><description>Scraped</description>');
  });
});
