/**
 * JSON texts reshaped without parsing their values: numbers, string escapes and key order stay as
 * written (a 64-bit id a Python client pushed is not rounded to a double on the way through).
 * Both take valid JSON; the caller has checked it with `JSON.parse`.
 */

/** A string token, or a run of whitespace outside strings. */
const STRING_OR_SPACE = /"[^"\\]*(?:\\.[^"\\]*)*"|[ \t\n\r]+/g;
/** A string, a run of whitespace, a punctuation mark, or a number or literal. */
const TOKEN = /"[^"\\]*(?:\\.[^"\\]*)*"|[ \t\n\r]+|[{}[\]:,]|[^{}[\]:,"\s]+/g;

/**
 * The text with every whitespace outside strings removed. For a text `JSON.stringify(v, null, gap)`
 * wrote, that is `JSON.stringify(v)`: the bytes Crawlee sends to the API when it pushes `v`.
 */
export function compactJson(text: string): string {
  return text.replace(STRING_OR_SPACE, (m) => (m.charCodeAt(0) === 0x22 ? m : ''));
}

/** The same value laid out as `JSON.stringify(value, null, indent)` lays it out, tokens kept as written. */
export function indentJson(text: string, indent = '\t'): string {
  let out = '';
  let depth = 0;
  // After `{` or `[`, the line break waits for the next token: an empty container stays `{}` or `[]`.
  let opened = false;
  for (const [token] of text.matchAll(TOKEN)) {
    const c = token.charCodeAt(0);
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) continue;
    const closing = token === '}' || token === ']';
    if (opened && !closing) out += `\n${indent.repeat(depth)}`;
    if (closing) {
      depth--;
      if (!opened) out += `\n${indent.repeat(depth)}`;
    }
    opened = false;
    if (token === '{' || token === '[') {
      depth++;
      opened = true;
      out += token;
    } else if (token === ',') out += `,\n${indent.repeat(depth)}`;
    else if (token === ':') out += ': ';
    else out += token;
  }
  return out;
}

/** How deep the text nests: 1 for `{}`, 2 for `{"a":[]}`, as a push counts it. */
export function nestingDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // Skip the string: its closing quote is the first one after an even run of backslashes.
      for (i = text.indexOf('"', i + 1); ; i = text.indexOf('"', i + 1)) {
        let backslashes = 0;
        while (text.charCodeAt(i - 1 - backslashes) === 0x5c) backslashes++;
        if (backslashes % 2 === 0) break;
      }
    } else if (c === 0x7b || c === 0x5b) deepest = Math.max(deepest, ++depth);
    else if (c === 0x7d || c === 0x5d) depth--;
  }
  return deepest;
}
