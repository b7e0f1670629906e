import { describe, expect, it } from 'vitest';
import { JsonDepthScanner } from '.';

const scan = (max: number, ...chunks: string[]) => {
  const s = new JsonDepthScanner(max);
  const ok = chunks.every((c) => s.feed(Buffer.from(c)));
  return { ok, deepest: s.deepest };
};

describe('JsonDepthScanner', () => {
  const cases: [string, number, string[], boolean, number][] = [
    // [name, max, chunks, within the limit, deepest]
    ['flat object', 2, ['{"a":1}'], true, 1],
    ['object in array in object: depth 3', 3, ['{"a":[{"b":2}]}'], true, 3],
    ['the same one level too deep', 2, ['{"a":[{"b":2}]}'], false, 3],
    ['brackets inside a string do not count', 1, ['{"a":"[[[{{{"}'], true, 1],
    ['an escaped quote does not end the string', 1, ['{"a":"\\"[[["}'], true, 1],
    ['an escaped backslash does end it', 1, ['{"a":"\\\\",', '"b":[1]}'], false, 2],
    ['a string split across chunks', 1, ['{"a":"[[', '["}'], true, 1],
    ['an escape split across chunks', 1, ['{"a":"\\', '"[["}'], true, 1],
    ['16 KiB of [ stops at max + 1', 100, ['['.repeat(16 * 1024)], false, 101],
    ['siblings do not add up: [[],[],[]] is depth 2', 2, ['[[],[],[]]'], true, 2],
    ['non-ASCII text is skipped byte by byte', 1, ['{"zone":"Zürich ü [ "}'], true, 1],
  ];
  it.each(cases)('%s', (_n, max, chunks, ok, deepest) => {
    expect(scan(max, ...chunks)).toEqual({ ok, deepest });
  });
});
