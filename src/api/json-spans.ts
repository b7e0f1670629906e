/**
 * Where the elements of one array sit in a JSON text, as byte offsets, so an
 * answer can echo them byte for byte instead of serializing them again. The
 * Kubernetes extender's filter, asked with full Node objects, must send the
 * passing ones back: for 500 Nodes that is ~1.4 MB that JSON.stringify would
 * rebuild from objects, while copying the request's own bytes costs nothing.
 *
 * The input must already have passed JSON.parse (the scanner does not
 * validate). Member lookup follows JSON.parse: when a key appears twice, the
 * last one counts, and keys are compared after unescaping.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;

const isSpace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

function skipSpace(b: Uint8Array, i: number): number {
  while (i < b.length && isSpace(b[i])) i++;
  return i;
}

/** b[i] is a string's opening quote; returns the offset just past its closing quote. */
function stringEnd(b: Uint8Array, i: number): number {
  const n = b.length;
  let j = i + 1;
  while (j < n) {
    const c = b[j];
    if (c === QUOTE) return j + 1;
    j += c === BACKSLASH ? 2 : 1;
  }
  throw new Error('json-spans: unterminated string (the input was not valid JSON)');
}

/** b[i] is the first byte of a value; returns the offset just past it. */
function valueEnd(b: Uint8Array, i: number): number {
  const c = b[i];
  if (c === QUOTE) return stringEnd(b, i);
  if (c === LBRACE || c === LBRACKET) {
    // One tight loop over the bytes, strings skipped inline: this runs over
    // every byte of the echoed objects.
    const n = b.length;
    let depth = 0;
    while (i < n) {
      const ch = b[i++];
      if (ch === QUOTE) {
        while (i < n) {
          const s = b[i++];
          if (s === QUOTE) break;
          if (s === BACKSLASH) i++;
        }
      } else if (ch === LBRACE || ch === LBRACKET) depth++;
      else if ((ch === RBRACE || ch === RBRACKET) && --depth === 0) return i;
    }
    throw new Error('json-spans: unbalanced brackets (the input was not valid JSON)');
  }
  while (i < b.length) {
    const ch = b[i];
    if (ch === COMMA || ch === RBRACE || ch === RBRACKET || isSpace(ch)) break;
    i++;
  }
  return i;
}

/** Whether the key string b[s..e) (quotes included) reads as `key`. */
function keyIs(b: Uint8Array, s: number, e: number, key: string): boolean {
  // An escape or a non-ASCII byte: compare the decoded key; else the bytes are the characters.
  for (let k = s + 1; k < e - 1; k++) if (b[k] === BACKSLASH || b[k] >= 0x80) return JSON.parse(Buffer.from(b.buffer, b.byteOffset + s, e - s).toString('utf8')) === key;
  if (e - s - 2 !== key.length) return false;
  for (let k = 0; k < key.length; k++) if (b[s + 1 + k] !== key.charCodeAt(k)) return false;
  return true;
}

/**
 * The elements of the array at `path` (member names from the top-level
 * object) as [start, end) byte offsets, two numbers per element; null when
 * the path does not lead to an array. One pass over the text.
 */
export function arrayElementSpans(b: Uint8Array, path: readonly string[]): number[] | null {
  const found: Found = { spans: null };
  walk(b, skipSpace(b, 0), path, 0, found);
  return found.spans;
}

interface Found {
  spans: number[] | null;
}

/**
 * Skips the value at b[i] and returns the offset just past it; on the way,
 * follows `path` from `depth` on. A member matching the path resets what an
 * earlier one found: the last duplicate key wins, as in JSON.parse.
 */
function walk(b: Uint8Array, i: number, path: readonly string[], depth: number, found: Found): number {
  const c = b[i];
  if (depth === path.length) {
    if (c !== LBRACKET) return valueEnd(b, i);
    const spans: number[] = [];
    found.spans = spans;
    i = skipSpace(b, i + 1);
    if (b[i] === RBRACKET) return i + 1;
    for (;;) {
      const e = valueEnd(b, i);
      spans.push(i, e);
      i = skipSpace(b, e);
      if (b[i] !== COMMA) return i + 1; // past the closing bracket
      i = skipSpace(b, i + 1);
    }
  }
  if (c !== LBRACE) return valueEnd(b, i);
  i = skipSpace(b, i + 1);
  if (b[i] === RBRACE) return i + 1;
  for (;;) {
    const ks = i;
    const ke = stringEnd(b, i);
    i = skipSpace(b, skipSpace(b, ke) + 1); // past the colon
    if (keyIs(b, ks, ke, path[depth])) {
      found.spans = null;
      i = walk(b, i, path, depth + 1, found);
    } else i = valueEnd(b, i);
    i = skipSpace(b, i);
    if (b[i] !== COMMA) return i + 1; // past the closing brace
    i = skipSpace(b, i + 1);
  }
}
