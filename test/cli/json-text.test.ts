import { describe, expect, it } from 'vitest';
import { compactJson, indentJson, nestingDepth } from '../../src/cli/json-text.js';
import { itemFileName, itemFileText, itemPositionOf } from '../../src/cli/layout.js';

/** A seeded generator, so that a failure names the value it failed on and reproduces. */
function prng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const STRINGS = [
  '',
  'a',
  'two words',
  'quote " inside',
  'back\\slash',
  'tab\there',
  'line\nbreak',
  '{[:,]}',
  'héllo',
  '🙂',
  '\u2028',
  '#hidden',
  '1',
  '10',
  '__proto__',
];
const NUMBERS = [0, -0, 1, -1, 1.5, 1e21, 1.5e300, 5e-324, 2 ** 53, 123456789.125, -0.001];

/** How deep a parsed value nests, as a push counts it. */
const depthOf = (v: unknown): number =>
  typeof v === 'object' && v !== null ? 1 + Math.max(0, ...Object.values(v).map(depthOf)) : 0;

function randomValue(rand: () => number, depth: number): unknown {
  const pick = <T>(list: T[]) => list[Math.floor(rand() * list.length)] as T;
  const r = rand();
  if (depth > 0 && r < 0.3) {
    const o: Record<string, unknown> = {};
    for (let i = Math.floor(rand() * 5); i > 0; i--) o[pick(STRINGS)] = randomValue(rand, depth - 1);
    return o;
  }
  if (depth > 0 && r < 0.5) return Array.from({ length: Math.floor(rand() * 4) }, () => randomValue(rand, depth - 1));
  return pick<unknown>([...STRINGS, ...NUMBERS, true, false, null]);
}

describe('compactJson and indentJson', () => {
  it('undo and redo what JSON.stringify(value, null, tab) does, on 2,000 generated values', () => {
    const rand = prng(21);
    for (let n = 0; n < 2000; n++) {
      const value = { item: n, data: randomValue(rand, 5) };
      const pretty = JSON.stringify(value, null, '\t');
      const compact = JSON.stringify(value);
      expect(compactJson(pretty), pretty).toBe(compact);
      expect(indentJson(compact), compact).toBe(pretty);
      expect(compactJson(JSON.stringify(value, null, 2))).toBe(compact);
      expect(nestingDepth(compact), compact).toBe(depthOf(value));
    }
  });

  it('keep numbers, escapes, key order and repeated keys as written', () => {
    const written = '{ "b" : 1.0, "1": 12345678901234567890, "s": "caf\\u00e9 \\" , { } \\/", "b": [ 1E3 , {}, [ ] ] }';
    const compact = '{"b":1.0,"1":12345678901234567890,"s":"caf\\u00e9 \\" , { } \\/","b":[1E3,{},[]]}';
    expect(compactJson(written)).toBe(compact);
    expect(indentJson(compact)).toBe(
      '{\n\t"b": 1.0,\n\t"1": 12345678901234567890,\n\t"s": "caf\\u00e9 \\" , { } \\/",\n\t"b": [\n\t\t1E3,\n\t\t{},\n\t\t[]\n\t]\n}',
    );
  });
});

it('nestingDepth skips brackets and escaped quotes inside strings', () => {
  expect(nestingDepth('{}')).toBe(1);
  expect(nestingDepth('{"a":[]}')).toBe(2);
  expect(nestingDepth('{"a":"[[[{","b":"\\\\"}')).toBe(1);
  expect(nestingDepth('{"a\\"[":[{},{"b":[1]}]}')).toBe(4);
});

describe('dataset item files', () => {
  it('are numbered from 1 with at least nine digits, as memory-storage names them', () => {
    expect(itemFileName(0)).toBe('000000001.json');
    expect(itemFileName(999_999_999)).toBe('1000000000.json');
    expect(itemPositionOf('000000001.json')).toBe(0);
    expect(itemPositionOf('000012345.json')).toBe(12344);
    expect(itemPositionOf('1000000000.json')).toBe(999_999_999);
    for (const other of [
      '1.json',
      '000000000.json',
      '0000000001.json',
      '000000001.JSON',
      '00000000a.json',
      '__metadata__.json',
    ]) {
      expect(itemPositionOf(other), other).toBeUndefined();
    }
  });

  it('hold what memory-storage writes for the item a stored text holds', () => {
    for (const text of ['{"a":1,"b":{"c":[1,2,{}]},"d":[]}', '{"#debug":true}', '{}', '{"n":1.0,"big":12345678901234567890}']) {
      const canonical = JSON.stringify(JSON.parse(text));
      if (canonical === text) expect(itemFileText(text)).toBe(JSON.stringify(JSON.parse(text), null, '\t'));
      else expect(compactJson(itemFileText(text))).toBe(text);
    }
  });
});
