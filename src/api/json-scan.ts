/**
 * One validating pass over a JSON text in bytes that keeps only where the
 * values a caller selected sit. The Kubernetes extender reads a few fields of
 * each Node (name, labels, allocatable) out of bodies of a megabyte and more,
 * and echoes most of it back: building the whole object tree with JSON.parse
 * (and decoding the bytes to a string first) costs several times this scan,
 * and the tree is garbage right after.
 *
 * Validity is exactly JSON.parse's (of the text decoded as UTF-8): RFC 8259
 * grammar, whitespace space/tab/LF/CR, no control characters in strings,
 * escapes \" \\ \/ \b \f \n \r \t \uXXXX, any nesting depth. Duplicate keys
 * are allowed; the last one counts, as in JSON.parse. Bytes of 0x80 and up
 * are taken as they are inside strings (invalid UTF-8 decodes to U+FFFD,
 * which JSON.parse accepts there too) and are an error anywhere else.
 */

/**
 * What to keep: member names of an object, or '*' for every element of an
 * array, each either `true` (its span) or a selection inside it.
 */
export type Selection = { readonly [key: string]: Selection | true };

/** Where one selected value sits: bytes [start, end) of the text. */
export interface Span {
  readonly start: number;
  readonly end: number;
  /** The value's first byte: '{' '[' '"' 't' 'f' 'n' or a number's first character. */
  readonly kind: number;
  /** An object's selected members (the last of duplicate keys). */
  readonly members?: Map<string, Span>;
  /** An array's elements, when '*' is selected. */
  readonly elements?: Span[];
}

export const QUOTE = 0x22;
export const LBRACE = 0x7b;
export const LBRACKET = 0x5b;
const BACKSLASH = 0x5c;
const RBRACE = 0x7d;
const RBRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;
const MINUS = 0x2d;

/** Thrown inside the scan; never escapes it. */
class Invalid {}
const INVALID = new Invalid();

/**
 * Scans `b` as one JSON text. The spans of the values `select` names (from
 * the top-level value down), or null when `b` is not valid JSON.
 */
export function scanJson(b: Uint8Array, select: Selection | true): Span | null {
  const s = new Scanner(b);
  try {
    const i = s.space(0);
    const top = s.value(i, select);
    if (s.space(s.pos) !== b.length) return null;
    return top;
  } catch (e) {
    if (e === INVALID) return null;
    throw e;
  }
}

/** The text of a string value's span, decoded (quotes and escapes resolved). */
export function decodeString(b: Uint8Array, span: Span): string {
  for (let k = span.start + 1; k < span.end - 1; k++) {
    if (b[k] === BACKSLASH || b[k] >= 0x80) return JSON.parse(utf8(b, span.start, span.end)) as string;
  }
  let out = '';
  for (let k = span.start + 1; k < span.end - 1; k++) out += String.fromCharCode(b[k]);
  return out;
}

/** The bytes [start, end) as UTF-8 text. */
function utf8(b: Uint8Array, start: number, end: number): string {
  return Buffer.from(b.buffer, b.byteOffset + start, end - start).toString('utf8');
}

/** The value of a span, parsed (for the small parts a caller reads). */
export function parseSpan(b: Uint8Array, span: Span): unknown {
  return JSON.parse(utf8(b, span.start, span.end));
}

class Scanner {
  /** Offset just past the last value scanned. */
  pos = 0;
  /** Open containers of a skipped value: 1 = object, 2 = array. */
  private stack = new Uint8Array(64);

  constructor(private readonly b: Uint8Array) {}

  space(i: number): number {
    const b = this.b;
    const n = b.length;
    while (i < n) {
      const c = b[i];
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
      i++;
    }
    return i;
  }

  /** A value at i (not whitespace), selected as `sel` (undefined: only validated). Sets pos past it. */
  value(i: number, sel: Selection | true | undefined): Span | null {
    const c = this.b[i];
    if (sel === undefined || sel === true || (c !== LBRACE && c !== LBRACKET)) {
      this.pos = c === LBRACE || c === LBRACKET ? this.skipContainer(i) : this.scalar(i);
      return sel === undefined ? null : { start: i, end: this.pos, kind: c };
    }
    return c === LBRACE ? this.object(i, sel) : this.array(i, sel);
  }

  private object(i: number, sel: Selection): Span {
    const b = this.b;
    const start = i;
    const members = new Map<string, Span>();
    i = this.space(i + 1);
    if (b[i] === RBRACE) {
      this.pos = i + 1;
      return { start, end: this.pos, kind: LBRACE, members };
    }
    for (;;) {
      if (b[i] !== QUOTE) throw INVALID;
      const ks = i;
      i = this.string(i);
      const key = selectedKey(b, ks, i, sel);
      i = this.space(i);
      if (b[i] !== COLON) throw INVALID;
      i = this.space(i + 1);
      const want = key === undefined ? undefined : sel[key];
      const v = this.value(i, want);
      if (v && key !== undefined) members.set(key, v);
      i = this.space(this.pos);
      if (b[i] === COMMA) {
        i = this.space(i + 1);
        continue;
      }
      if (b[i] !== RBRACE) throw INVALID;
      this.pos = i + 1;
      return { start, end: this.pos, kind: LBRACE, members };
    }
  }

  private array(i: number, sel: Selection): Span {
    const b = this.b;
    const start = i;
    const each = Object.hasOwn(sel, '*') ? sel['*'] : undefined;
    const elements: Span[] | undefined = each === undefined ? undefined : [];
    i = this.space(i + 1);
    if (b[i] === RBRACKET) {
      this.pos = i + 1;
      return { start, end: this.pos, kind: LBRACKET, elements };
    }
    for (;;) {
      const v = this.value(i, each);
      if (v) elements!.push(v);
      i = this.space(this.pos);
      if (b[i] === COMMA) {
        i = this.space(i + 1);
        continue;
      }
      if (b[i] !== RBRACKET) throw INVALID;
      this.pos = i + 1;
      return { start, end: this.pos, kind: LBRACKET, elements };
    }
  }

  /** b[i] is '"'; returns the offset past the closing quote. */
  private string(i: number): number {
    const b = this.b;
    const n = b.length;
    i++;
    for (;;) {
      if (i >= n) throw INVALID;
      const c = b[i++];
      if (c === QUOTE) return i;
      if (c < 0x20) throw INVALID;
      if (c === BACKSLASH) {
        const e = b[i++];
        if (e === 0x75) {
          // \uXXXX
          for (let k = 0; k < 4; k++) if (!isHex(b[i++])) throw INVALID;
        } else if (e !== QUOTE && e !== BACKSLASH && e !== 0x2f && e !== 0x62 && e !== 0x66 && e !== 0x6e && e !== 0x72 && e !== 0x74) throw INVALID;
      }
    }
  }

  /** A string, number or literal at i; returns the offset past it. */
  private scalar(i: number): number {
    const b = this.b;
    const c = b[i];
    if (c === QUOTE) return this.string(i);
    if (c === 0x74) return this.literal(i, TRUE);
    if (c === 0x66) return this.literal(i, FALSE);
    if (c === 0x6e) return this.literal(i, NULL);
    return this.number(i);
  }

  private literal(i: number, word: readonly number[]): number {
    for (let k = 0; k < word.length; k++) if (this.b[i + k] !== word[k]) throw INVALID;
    return i + word.length;
  }

  /** -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
  private number(i: number): number {
    const b = this.b;
    if (b[i] === MINUS) i++;
    if (b[i] === 0x30) i++;
    else if (b[i] >= 0x31 && b[i] <= 0x39) while (isDigit(b[i])) i++;
    else throw INVALID;
    if (b[i] === 0x2e) {
      i++;
      if (!isDigit(b[i])) throw INVALID;
      while (isDigit(b[i])) i++;
    }
    if (b[i] === 0x65 || b[i] === 0x45) {
      i++;
      if (b[i] === 0x2b || b[i] === MINUS) i++;
      if (!isDigit(b[i])) throw INVALID;
      while (isDigit(b[i])) i++;
    }
    return i;
  }

  /**
   * Validates the object or array at i without keeping anything; returns the
   * offset past it. Iterative (an explicit stack of open containers), so any
   * depth JSON.parse accepts is accepted here too.
   */
  private skipContainer(i: number): number {
    const b = this.b;
    let depth = 0;
    // States: at a value (after '[' ',' ':'), or after a value, or at a key (after '{' or ',' in an object).
    let c = b[i];
    for (;;) {
      // i is at the first byte of a value
      if (c === LBRACE || c === LBRACKET) {
        if (depth === this.stack.length) {
          const s = new Uint8Array(depth * 2);
          s.set(this.stack);
          this.stack = s;
        }
        this.stack[depth++] = c === LBRACE ? 1 : 2;
        i = this.space(i + 1);
        const close = c === LBRACE ? RBRACE : RBRACKET;
        if (b[i] === close) {
          depth--;
          i++;
        } else {
          if (c === LBRACE) i = this.keyColon(i);
          c = b[i];
          continue;
        }
      } else i = this.scalar(i);
      // after a value: close containers or move to the next value
      for (;;) {
        if (depth === 0) return i;
        i = this.space(i);
        const top = this.stack[depth - 1];
        const d = b[i];
        if (d === COMMA) {
          i = this.space(i + 1);
          if (top === 1) i = this.keyColon(i);
          break;
        }
        if ((top === 1 && d === RBRACE) || (top === 2 && d === RBRACKET)) {
          depth--;
          i++;
          continue;
        }
        throw INVALID;
      }
      c = b[i];
    }
  }

  /** A key and its colon at i; returns the offset of the member's value. */
  private keyColon(i: number): number {
    if (this.b[i] !== QUOTE) throw INVALID;
    i = this.space(this.string(i));
    if (this.b[i] !== COLON) throw INVALID;
    return this.space(i + 1);
  }
}

/** Own member names of each selection (cached): the keys an object's members are matched against. */
const KEYS = new WeakMap<Selection, string[]>();

/**
 * The key b[s..e) (quotes included) when `sel` selects it, else undefined.
 * Plain ASCII keys are compared byte by byte with the selected names, so the
 * many keys nobody selected cost no string.
 */
function selectedKey(b: Uint8Array, s: number, e: number, sel: Selection): string | undefined {
  let keys = KEYS.get(sel);
  if (!keys) KEYS.set(sel, (keys = Object.keys(sel)));
  const len = e - s - 2;
  for (let k = s + 1; k < e - 1; k++) {
    if (b[k] === BACKSLASH || b[k] >= 0x80) {
      const key = JSON.parse(utf8(b, s, e)) as string;
      return key !== '*' && keys.includes(key) ? key : undefined;
    }
  }
  next: for (const key of keys) {
    if (key.length !== len || key === '*') continue;
    for (let k = 0; k < len; k++) if (b[s + 1 + k] !== key.charCodeAt(k)) continue next;
    return key;
  }
  return undefined;
}

const TRUE = [0x74, 0x72, 0x75, 0x65];
const FALSE = [0x66, 0x61, 0x6c, 0x73, 0x65];
const NULL = [0x6e, 0x75, 0x6c, 0x6c];

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
const isHex = (c: number): boolean => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
