import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JsonWriter } from './json-writer';

/** What a writer holds after `f`, as a Buffer and as UTF-8 text. */
function written(f: (w: JsonWriter) => unknown, sizeHint?: number): { buf: Buffer; text: string } {
  const w = new JsonWriter(sizeHint);
  f(w);
  const buf = w.done();
  return { buf, text: buf.toString('utf8') };
}

describe('JsonWriter.str: quoted, escaped, valid UTF-8 JSON', () => {
  // [case, input, the JSON text expected (worked out by hand), its UTF-8 byte length]
  const rows: [string, string, string, number][] = [
    ['empty', '', '""', 2],
    ['printable ASCII, copied as is', 'node-0042.example', '"node-0042.example"', 19],
    ['the printable range ends: space and tilde', ' ~', '" ~"', 4],
    ['a quote', 'a"b', '"a\\"b"', 6],
    ['a backslash', 'a\\b', '"a\\\\b"', 6],
    ['a trailing backslash', 'C:\\', '"C:\\\\"', 6],
    ['ASCII before the first character to escape is not left behind', 'abcdef"', '"abcdef\\""', 10],
    ['newline, tab, CR', 'a\nb\tc\r', '"a\\nb\\tc\\r"', 11], // " a \n b \t c \r " = 1+1+2+1+2+1+2+1
    ['other control characters as \\u00XX', '\u0000\u0001\u001f', '"\\u0000\\u0001\\u001f"', 20],
    // DEL (0x7f) is not printable but JSON needs no escape for it: one raw byte
    ['DEL', '\u007f', '"\u007f"', 3],
    // é = U+00E9 = C3 A9; 名前 = 3 bytes each; 😀 = U+1F600 = F0 9F 98 80
    ['two-byte UTF-8', 'é', '"é"', 4],
    ['three-byte UTF-8', '名前', '"名前"', 8],
    ['a surrogate pair: one four-byte character', '😀', '"😀"', 6],
    // lone surrogates cannot be UTF-8: written as \uXXXX escapes (6 ASCII bytes each)
    ['a lone high surrogate', 'a\ud800', '"a\\ud800"', 9],
    ['a lone low surrogate', '\udc00x', '"\\udc00x"', 9],
    ['a reversed pair: two lone surrogates', '\ude00\ud83d', '"\\ude00\\ud83d"', 14],
  ];

  it.each(rows)('%s', (_name, s, json, bytes) => {
    const { buf, text } = written((w) => w.str(s));
    expect(text).toBe(json);
    expect(buf.length).toBe(bytes);
    expect(buf.equals(Buffer.from(json, 'utf8'))).toBe(true);
    expect(JSON.parse(text)).toBe(s);
    // lone surrogates survive: the same string as JSON.stringify then JSON.parse gives
    expect(JSON.parse(text)).toBe(JSON.parse(JSON.stringify(s)));
  });

  it('strings in sequence land one after another, whichever way each one is written', () => {
    const { text } = written((w) => w.raw('[').str('a').raw(',').str('é"').raw(',').str('b\\').raw(',').str('\ud800').raw(',').str('z').raw(']'));
    expect(text).toBe('["a","é\\"","b\\\\","\\ud800","z"]');
    expect(JSON.parse(text)).toEqual(['a', 'é"', 'b\\', '\ud800', 'z']);
  });
});

describe('JsonWriter.num', () => {
  // [value, text] — the text is what JSON.stringify writes (no NaN or Infinity in JSON)
  const rows: [number, string][] = [
    [0, '0'],
    [1, '1'],
    [5, '5'],
    [9, '9'],
    [10, '10'],
    [11, '11'],
    [99, '99'],
    [-1, '-1'],
    [-9, '-9'],
    [-0, '0'],
    [0.5, '0.5'],
    [9.5, '9.5'],
    [8.999, '8.999'],
    [-0.25, '-0.25'],
    [123.456, '123.456'],
    [1e21, '1e+21'],
    [1e-7, '1e-7'],
    [9007199254740991, '9007199254740991'],
    [NaN, 'null'],
    [Infinity, 'null'],
    [-Infinity, 'null'],
  ];
  it.each(rows)('%s → %s', (v, json) => {
    const { text } = written((w) => w.num(v));
    expect(text).toBe(json);
    expect(JSON.parse(text)).toBe(Number.isFinite(v) ? (v === 0 ? 0 : v) : null);
  });

  it('the digits 0–9 as members of an array', () => {
    const { text } = written((w) => {
      w.raw('[');
      for (let i = 0; i <= 9; i++) (i ? w.raw(',') : w).num(i);
      w.raw(']');
    });
    expect(text).toBe('[0,1,2,3,4,5,6,7,8,9]');
  });

  it('any double is written as JSON.stringify writes it (property)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.double(), fc.integer({ min: -20, max: 20 }), fc.integer()), (v) => {
        expect(written((w) => w.num(v)).text).toBe(JSON.stringify(v));
      }),
      { numRuns: 500, seed: 11 },
    );
  });
});

describe('JsonWriter.raw and bytes', () => {
  it('raw: already-JSON ASCII text, written as is', () => {
    const { text } = written((w) => w.raw('{"hosts":[').str('a').raw(',').str('b').raw('],"n":').num(2).raw(',"ok":true}'));
    expect(text).toBe('{"hosts":["a","b"],"n":2,"ok":true}');
    expect(JSON.parse(text)).toEqual({ hosts: ['a', 'b'], n: 2, ok: true });
  });

  it('bytes: copies src[start, end); later changes to src do not show', () => {
    const src = Buffer.from('xx[1,"é",3]yy', 'utf8'); // "é" is 2 bytes: [ at 2, ] at 11
    const w = new JsonWriter();
    w.raw('{"a":').bytes(src, 2, 12).raw('}');
    src.fill(0x20);
    expect(w.done().toString('utf8')).toBe('{"a":[1,"é",3]}');
  });

  it('bytes: from a Uint8Array view with an offset, and an empty slice', () => {
    const backing = new Uint8Array(Buffer.from('....{"k":null}....'));
    const view = new Uint8Array(backing.buffer, 4, 10); // {"k":null}
    const { text } = written((w) => w.raw('[').bytes(view, 0, 10).raw(',').bytes(view, 5, 9).bytes(view, 3, 3).raw(']'));
    expect(text).toBe('[{"k":null},null]');
  });
});

describe('JsonWriter grows past its size hint', () => {
  it('100 000 strings (some escaped, some non-ASCII) into a writer sized 64 bytes: the whole output parses back', () => {
    const n = 100_000;
    const want: string[] = new Array(n);
    for (let i = 0; i < n; i++) want[i] = i % 7 === 0 ? `é${i}` : i % 11 === 0 ? `q"${i}\\` : `node-${i}`;
    const w = new JsonWriter(64);
    w.raw('[');
    for (let i = 0; i < n; i++) {
      if (i) w.raw(',');
      w.str(want[i]);
    }
    w.raw(']');
    const buf = w.done();
    // byte for byte what JSON.stringify gives, and so the same length
    expect(buf.length).toBe(Buffer.byteLength(JSON.stringify(want)));
    expect(buf.toString('utf8')).toBe(JSON.stringify(want));
    expect(JSON.parse(buf.toString('utf8'))).toEqual(want);
  });

  it('one write bigger than twice the buffer: a long ASCII string, a long non-ASCII one, a large byte copy, a large object', () => {
    const ascii = 'x'.repeat(1000);
    const wide = 'é'.repeat(5000); // 10 000 bytes
    const src = Buffer.from(JSON.stringify(Array.from({ length: 3000 }, (_, i) => i)));
    const obj = { k: 'v'.repeat(20_000) };
    const { text } = written((w) => w.raw('[').str(ascii).raw(',').str(wide).raw(',').bytes(src, 0, src.length).raw(',{"k":').str(obj.k).raw('}]'), 64);
    expect(JSON.parse(text)).toEqual([ascii, wide, Array.from({ length: 3000 }, (_, i) => i), obj]);
  });

  it.each([0, 1, 63, 64, 65])('size hint %i still writes everything', (hint) => {
    const parts = Array.from({ length: 50 }, (_, i) => `p${i}-${'z'.repeat(i)}`);
    const { text } = written((w) => {
      w.raw('[');
      parts.forEach((p, i) => (i ? w.raw(',') : w).str(p).raw(',').num(i));
      w.raw(']');
    }, hint);
    expect(JSON.parse(text)).toEqual(parts.flatMap((p, i) => [p, i]));
  });
});

describe('JsonWriter: properties', () => {
  /** Any UTF-16 code unit, lone surrogates included. */
  const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
  const strings = fc.oneof(
    fc.string(), // printable ASCII: the copy path
    fc.string({ unit: 'binary' }), // any code point, no lone surrogates
    fc.string({ unit: 'grapheme' }),
    fc.string({ unit: 'binary-ascii' }), // control characters and Latin-1
    fc.string({ unit: codeUnit }),
    fc.string({ unit: fc.constantFrom('"', '\\', 'a', '\n', '\u007f', '\ud800', '\udc00', '😀') }),
  );

  it('arrays of arbitrary strings written as a JSON array parse back to the strings (lone surrogates as JSON.stringify round-trips them)', () => {
    fc.assert(
      fc.property(fc.array(strings, { maxLength: 30 }), fc.integer({ min: 0, max: 256 }), (ss, hint) => {
        const { text } = written((w) => {
          w.raw('[');
          ss.forEach((s, i) => (i ? w.raw(',') : w).str(s));
          w.raw(']');
        }, hint);
        expect(JSON.parse(text)).toEqual(ss.map((s) => JSON.parse(JSON.stringify(s))));
        expect(JSON.parse(text)).toEqual(ss);
        expect(text).toBe(JSON.stringify(ss));
      }),
      { numRuns: 400, seed: 2026 },
    );
  });
});
