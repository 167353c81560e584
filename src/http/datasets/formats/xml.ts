import type { ItemTransform, JsonObject } from '../../../domain/datasets/transform.js';
import { escapeXml, type ItemPages, transformedPages } from './items.js';

const START =
  'A-Z_a-z\\u00c0-\\u00d6\\u00d8-\\u00f6\\u00f8-\\u02ff\\u0370-\\u037d\\u037f-\\u1fff\\u200c\\u200d\\u2070-\\u218f\\u2c00-\\u2fef\\u3001-\\ud7ff\\uf900-\\ufdcf\\ufdf0-\\ufffd\\u{10000}-\\u{effff}';
const REST = `${START}\\-.0-9\\u00b7\\u0300-\\u036f\\u203f\\u2040`;
/** An XML 1.0 Name without `:` (a colon would need a namespace declaration). */
const XML_NAME = new RegExp(`^[${START}][${REST}]*$`, 'u');
const NOT_REST = new RegExp(`[^${REST}]`, 'gu');
const XML_START = new RegExp(`^[${START}]`, 'u');

export function isXmlName(name: string): boolean {
  return XML_NAME.test(name);
}

/**
 * The element or attribute name for a field: the field name itself when it is an XML name,
 * otherwise every character a name cannot hold becomes `_`, with `_` put in front when the first
 * character cannot start a name (`#debug` → `_debug`, `first name` → `first_name`, `1st` → `_1st`).
 */
export function xmlName(key: string): string {
  if (XML_NAME.test(key)) return key;
  const name = key.replace(NOT_REST, '_');
  return XML_START.test(name) ? name : `_${name}`;
}

/**
 * The element `name` for `value`, per the Apify docs: an object's fields become child elements, an
 * array repeats the element once per value, null is an empty element; in an object, the fields of
 * `@` become attributes and `#` is the text when there are no child elements.
 */
export function element(name: string, value: unknown): string {
  if (Array.isArray(value))
    return value.map((v) => (Array.isArray(v) ? `<${name}>${element(name, v)}</${name}>` : element(name, v))).join('');
  if (value === null || value === undefined) return `<${name}/>`;
  if (typeof value !== 'object') return `<${name}>${escapeXml(String(value))}</${name}>`;
  const object = value as JsonObject;
  let open = name;
  let children = '';
  const attributes = Object.hasOwn(object, '@') ? object['@'] : undefined;
  if (typeof attributes === 'object' && attributes !== null && !Array.isArray(attributes)) {
    const seen = new Set<string>();
    for (const [key, attribute] of Object.entries(attributes)) {
      const attributeName = xmlName(key);
      if (seen.has(attributeName)) continue;
      seen.add(attributeName);
      open += ` ${attributeName}="${escapeXml(text(attribute))}"`;
    }
  }
  for (const key of Object.keys(object)) if (key !== '@' && key !== '#') children += element(xmlName(key), object[key]);
  if (children === '' && Object.hasOwn(object, '#')) children = escapeXml(text(object['#']));
  return children === '' ? `<${open}/>` : `<${open}>${children}</${name}>`;
}

/** An attribute or `#` value as text: objects and arrays as their JSON. */
function text(value: unknown): string {
  if (value === null || value === undefined) return '';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

const DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n';

export interface XmlOptions {
  root: string;
  row: string;
}

/** `<items><item>…</item>…</items>`, root and row names as given (validated by the caller). */
export async function* xmlChunks(pages: ItemPages, transform: ItemTransform, options: XmlOptions): AsyncGenerator<string> {
  yield `${DECLARATION}<${options.root}>\n`;
  for await (const items of transformedPages(pages, transform)) {
    if (items.length > 0) yield items.map((item) => `${element(options.row, item)}\n`).join('');
  }
  yield `</${options.root}>\n`;
}

export interface RssOptions {
  title: string;
  link: string;
  description: string;
}

/** An RSS 2.0 feed: one `<item>` per output item, its fields as child elements. */
export async function* rssChunks(pages: ItemPages, transform: ItemTransform, options: RssOptions): AsyncGenerator<string> {
  yield `${DECLARATION}<rss version="2.0"><channel><title>${escapeXml(options.title)}</title><link>${escapeXml(options.link)}</link><description>${escapeXml(options.description)}</description>\n`;
  for await (const items of transformedPages(pages, transform)) {
    if (items.length > 0) yield items.map((item) => `${element('item', item)}\n`).join('');
  }
  yield '</channel></rss>\n';
}
