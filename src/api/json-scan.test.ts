import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeString, LBRACE, LBRACKET, parseSpan, QUOTE, scanJson, type Selection, type Span } from './json-scan';

const B = (s: string): Buffer => Buffer.from(s, 'utf8');
const H = (hex: string): Buffer => Buffer.from(hex.replace(/\s+/g, ''), 'hex');
/** Bytes from text and hex pieces: strings as UTF-8, numbers as single bytes. */
const bytes = (...parts: (string | number)[]): Buffer => Buffer.concat(parts.map((p) => (typeof p === 'number' ? Buffer.of(p) : B(p))));

const parses = (b: Uint8Array): boolean => {
  try {
    JSON.parse(Buffer.from(b).toString('utf8'));
    return true;
  } catch {
    return false;
  }
};
const scans = (b: Uint8Array, sel: Selection | true = true): boolean => scanJson(b, sel) !== null;

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);

/**
 * What is wrong with a span, checked against the value JSON.parse gives at its
 * place (null: nothing): it must parse to that value, `kind` must be its first
 * byte, it has no whitespace at either end, and (recursively) exactly the
 * selected members and elements are there. Plain code, not expect(), so the
 * properties can run it on every case.
 */
function spanProblem(b: Uint8Array, span: Span, sel: Selection | true, value: unknown, at = '$'): string | null {
  const got = JSON.stringify(parseSpan(b, span));
  if (got !== JSON.stringify(value)) return `${at}: parses to ${got}, JSON.parse has ${JSON.stringify(value)}`;
  if (span.kind !== b[span.start]) return `${at}: kind ${span.kind}, first byte ${b[span.start]}`;
  if (WS.has(b[span.start]) || WS.has(b[span.end - 1])) return `${at}: whitespace at an end of [${span.start}, ${span.end})`;
  if (sel === true) return null;
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    if (span.elements !== undefined) return `${at}: an object with elements`;
    if (!span.members) return `${at}: no members`;
    const want = Object.keys(sel).filter((k) => k !== '*' && Object.hasOwn(value, k)).sort();
    const have = [...span.members.keys()].sort();
    if (JSON.stringify(have) !== JSON.stringify(want)) return `${at}: members ${JSON.stringify(have)}, selected and present ${JSON.stringify(want)}`;
    for (const k of want) {
      const p = spanProblem(b, span.members.get(k)!, sel[k], (value as Record<string, unknown>)[k], `${at}.${JSON.stringify(k)}`);
      if (p) return p;
    }
    return null;
  }
  if (Array.isArray(value)) {
    if (span.members !== undefined) return `${at}: an array with members`;
    if (!Object.hasOwn(sel, '*')) return span.elements === undefined ? null : `${at}: elements without '*'`;
    if (span.elements?.length !== value.length) return `${at}: ${span.elements?.length} elements, JSON.parse has ${value.length}`;
    for (let i = 0; i < value.length; i++) {
      const p = spanProblem(b, span.elements[i], sel['*'], value[i], `${at}[${i}]`);
      if (p) return p;
    }
    return null;
  }
  return span.members === undefined && span.elements === undefined ? null : `${at}: a scalar with members or elements`;
}

/** Scans `text` with `sel`, checks every selected span against JSON.parse, returns the top span. */
function scanChecked(text: string | Uint8Array, sel: Selection | true): Span {
  const b = typeof text === 'string' ? B(text) : text;
  const top = scanJson(b, sel);
  expect(top).not.toBeNull();
  expect(spanProblem(b, top!, sel, JSON.parse(Buffer.from(b).toString('utf8')))).toBeNull();
  return top!;
}

/** The span at a path of member names and element indices. */
function at(top: Span, ...steps: (string | number)[]): Span | undefined {
  let s: Span | undefined = top;
  for (const k of steps) s = typeof k === 'number' ? s?.elements?.[k] : s?.members?.get(k);
  return s;
}

describe('scanJson: valid exactly when JSON.parse accepts the text (hand-worked table)', () => {
  const n = 100_000;
  // label, bytes, valid
  const cases: [string, Buffer, boolean][] = [
    // empty, whitespace
    ['empty text', B(''), false],
    ['whitespace only', B(' \t\n\r '), false],
    ['a value in all four kinds of whitespace', B(' \t\n\r1\r\n\t '), true],
    ['form feed is not whitespace', B('\f1'), false],
    ['vertical tab is not whitespace', B('1\v'), false],
    ['NBSP (C2 A0) is not whitespace', H('c2a0 31'), false],
    ['U+2028 (E2 80 A8) before a value', H('e280a8 31'), false],
    ['BOM EF BB BF, then 1', H('efbbbf 31'), false],
    ['BOM, then {}', H('efbbbf 7b7d'), false],
    ['NUL after the value', bytes('1', 0), false],
    // numbers
    ['0', B('0'), true],
    ['-0', B('-0'), true],
    ['01', B('01'), false],
    ['-01', B('-01'), false],
    ['00', B('00'), false],
    ['1.', B('1.'), false],
    ['.5', B('.5'), false],
    ['-.5', B('-.5'), false],
    ['1.5', B('1.5'), true],
    ['1e', B('1e'), false],
    ['1E+', B('1E+'), false],
    ['1e+5', B('1e+5'), true],
    ['1e-5', B('1e-5'), true],
    ['1e5.0', B('1e5.0'), false],
    ['1.5e', B('1.5e'), false],
    ['2E-3', B('2E-3'), true],
    ['0.0e0', B('0.0e0'), true],
    ['-', B('-'), false],
    ['--1', B('--1'), false],
    ['+1', B('+1'), false],
    ['0x10', B('0x10'), false],
    ['1 2', B('1 2'), false],
    ['Infinity', B('Infinity'), false],
    ['-Infinity', B('-Infinity'), false],
    ['NaN', B('NaN'), false],
    ['1 followed by 400 zeros (too big for a double, still JSON)', B('1' + '0'.repeat(400)), true],
    ['numbers in an array', B('[-0,0.5,1E2,-3e-0]'), true],
    ['[1.]', B('[1.]'), false],
    ['[01]', B('[01]'), false],
    ['[-]', B('[-]'), false],
    ['{"a":.5}', B('{"a":.5}'), false],
    // strings
    ['a string', B('"a"'), true],
    ['an empty string', B('""'), true],
    ['raw tab inside', B('"a\tb"'), false],
    ['raw newline inside', B('"a\nb"'), false],
    ['raw CR inside', B('"a\rb"'), false],
    ['raw NUL inside', bytes('"a', 0, 'b"'), false],
    ['raw 1F inside', bytes('"', 0x1f, '"'), false],
    ['raw DEL (7F) inside', bytes('"', 0x7f, '"'), true],
    ['\\u12 then the closing quote', B('"\\u12"'), false],
    ['\\u12 at the end of the text', B('"\\u12'), false],
    ['\\u12G4', B('"\\u12G4"'), false],
    // the bytes just outside 0-9, A-F, a-f
    ...['/', ':', '@', 'G', '`', 'g'].map((c): [string, Buffer, boolean] => [`\\u00${c}0`, B(`"\\u00${c}0"`), false]),
    ['\\u09AF and \\u0aFf', B('"\\u09AF\\u0aFf"'), true],
    ['\\u00e9 and \\u00E9', B('"\\u00e9\\u00E9"'), true],
    ['\\U0041 (capital U)', B('"\\U0041"'), false],
    ['a lone surrogate escape \\ud800', B('"\\ud800"'), true],
    ['\\x41', B('"\\x41"'), false],
    ['\\a', B('"\\a"'), false],
    ['\\0', B('"\\0"'), false],
    ['\\/', B('"\\/"'), true],
    ['all the short escapes', B('"\\"\\\\\\/\\b\\f\\n\\r\\t"'), true],
    ['a backslash escaping the closing quote', B('"\\"'), false],
    ['a backslash at the end of the text', B('"\\'), false],
    ['an escaped backslash before the closing quote', B('"\\\\"'), true],
    ['unterminated', B('"abc'), false],
    ['a lone quote', B('"'), false],
    ['single quotes', B("'a'"), false],
    ['a backslash before a raw é', bytes('"\\', 0xc3, 0xa9, '"'), false],
    ['raw é (C3 A9) inside', H('22 c3a9 22'), true],
    ['raw 🚀 (F0 9F 9A 80) inside', H('22 f09f9a80 22'), true],
    ['raw é outside a string', H('c3a9'), false],
    ['raw é in an array', H('5b c3a9 5d'), false],
    ['1 then a raw 80', H('31 80'), false],
    ['a raw A0 before a value', H('a0 31'), false],
    ['invalid UTF-8 FF inside', H('22 ff 22'), true],
    ['a truncated sequence (C3) right before the closing quote', H('22 c3 22'), true],
    ['a truncated sequence (F0 9F) and a quote more', H('22 f09f 22 22'), false],
    ['an encoded surrogate (ED A0 80) inside', H('22 eda080 22'), true],
    ['an overlong NUL (C0 80) inside', H('22 c080 22'), true],
    ['a continuation byte (80) alone inside', H('22 80 22'), true],
    ['invalid UTF-8 inside a key', H('7b 22 ff 22 3a 31 7d'), true],
    // objects and arrays
    ['[]', B('[]'), true],
    ['{}', B('{}'), true],
    ['[ ]', B('[ \n ]'), true],
    ['{ }', B('{ \t }'), true],
    ['[1,]', B('[1,]'), false],
    ['[1 , ]', B('[1 , ]'), false],
    ['{"a":1,}', B('{"a":1,}'), false],
    ['[,1]', B('[,1]'), false],
    ['[1,,2]', B('[1,,2]'), false],
    ['{,}', B('{,}'), false],
    ['[,]', B('[,]'), false],
    ['{"a" 1}: missing colon', B('{"a" 1}'), false],
    ['{"a"}', B('{"a"}'), false],
    ['{"a":}', B('{"a":}'), false],
    ['{"a"::1}', B('{"a"::1}'), false],
    ['{"a"=1}', B('{"a"=1}'), false],
    ['{1:2}', B('{1:2}'), false],
    ['{a:1}', B('{a:1}'), false],
    ['{"a":1 "b":2}: missing comma', B('{"a":1 "b":2}'), false],
    ['[1 2]', B('[1 2]'), false],
    ['{"a":1]', B('{"a":1]'), false],
    ['[1}', B('[1}'), false],
    ['[', B('['), false],
    ['{', B('{'), false],
    ['{"a":1', B('{"a":1'), false],
    ['{"a":[1}]}: crossed', B('{"a":[1}]}'), false],
    ['duplicate keys', B('{"a":1,"a":2}'), true],
    ['nested, with whitespace everywhere', B(' { "a" : [ 1 , { "b" : null } ] , "c" : "d" } '), true],
    // trailing garbage
    ['{} x', B('{} x'), false],
    ['[]]', B('[]]'), false],
    ['1 ,', B('1 ,'), false],
    ['two strings', B('"a""b"'), false],
    ['two objects', B('{}{}'), false],
    ['{} and a newline', B('{}\n'), true],
    // literals
    ['true', B('true'), true],
    ['false', B('false'), true],
    ['null', B('null'), true],
    ['truex', B('truex'), false],
    ['nul', B('nul'), false],
    ['nulll', B('nulll'), false],
    ['tru', B('tru'), false],
    ['fals', B('fals'), false],
    ['True', B('True'), false],
    ['[true false]', B('[true false]'), false],
    ['[nul]', B('[nul]'), false],
    ['{"a":truex}', B('{"a":truex}'), false],
    ['undefined', B('undefined'), false],
    // depth
    [`${n} [ then ${n} ]`, B('['.repeat(n) + ']'.repeat(n)), true],
    [`${n} [ then ${n - 1} ]`, B('['.repeat(n) + ']'.repeat(n - 1)), false],
    [`${n} [ then ${n + 1} ]`, B('['.repeat(n) + ']'.repeat(n + 1)), false],
    [`${n} {"a": then 1 and ${n} }`, B('{"a":'.repeat(n) + '1' + '}'.repeat(n)), true],
    [`${n} {"a": then 1 and ${n - 1} }`, B('{"a":'.repeat(n) + '1' + '}'.repeat(n - 1)), false],
    [`${n} [ then ${n} } (wrong closer)`, B('['.repeat(n) + '}'.repeat(n)), false],
    [`${n} [ then ${n - 1} ] and a trailing comma inside`, B('['.repeat(n) + '1,' + ']'.repeat(n)), false],
    [`[{"a": … ${n / 2} deep, alternating`, B('[{"a":'.repeat(n / 2) + '0' + '}]'.repeat(n / 2)), true],
  ];

  it.each(cases)('%s → %s', (_label, b, valid) => {
    expect(parses(b), 'JSON.parse (the table itself)').toBe(valid);
    expect(scans(b)).toBe(valid);
    // a selection reads other code paths (not the skipping ones): the verdict is the same
    expect(scans(b, { a: { '*': true }, '*': { a: true } })).toBe(valid);
  });

  it('the span of a valid top-level value covers it without the whitespace around it', () => {
    const b = B(' \n [1, 2] \t');
    expect(scanJson(b, true)).toEqual({ start: 3, end: 9, kind: LBRACKET });
    const d = B('  -12.5e3 ');
    expect(scanJson(d, true)).toEqual({ start: 2, end: 9, kind: 0x2d });
  });
});

/** Each UTF-16 unit outside printable ASCII as \uXXXX (hex case as asked): an ASCII-only JSON string. */
function escapedJson(s: string, all: boolean, upper: boolean): string {
  const hex = (c: number) => '\\u' + (upper ? c.toString(16).toUpperCase() : c.toString(16)).padStart(4, '0');
  if (!all) return JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => hex(c.charCodeAt(0)));
  let out = '"';
  for (let i = 0; i < s.length; i++) out += hex(s.charCodeAt(i));
  return out + '"';
}

/** A selection of every member name the value has at each level (arrays: '*', their elements' selections merged). */
function selectAll(v: unknown): Selection | true {
  if (v === null || typeof v !== 'object') return true;
  const out: Record<string, Selection | true> = Object.create(null);
  if (Array.isArray(v)) {
    out['*'] = v.map(selectAll).reduce(merge, true);
    return out;
  }
  for (const [k, x] of Object.entries(v)) out[k] = selectAll(x);
  return out;
}
function merge(a: Selection | true, b: Selection | true): Selection | true {
  if (a === true) return b;
  if (b === true) return a;
  const out: Record<string, Selection | true> = Object.create(null);
  for (const k of Object.keys(a)) out[k] = a[k];
  for (const k of Object.keys(b)) out[k] = Object.hasOwn(out, k) ? merge(out[k], b[k]) : b[k];
  return out;
}

describe('scanJson: validity equals JSON.parse on mutated documents (property)', () => {
  const special = [...'"\\{}[],:0123456789-+.eEtfnul \n\t\r/'].map((c) => c.charCodeAt(0)).concat([0x00, 0x1f, 0x7f, 0x80, 0xbf, 0xc3, 0xe2, 0xed, 0xf0, 0xff]);
  const byte = fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(...special));
  const mutation = fc.record({ op: fc.constantFrom('insert', 'delete', 'replace'), at: fc.nat(), byte });
  const value = fc.oneof(fc.jsonValue({ maxDepth: 4 }), fc.jsonValue({ maxDepth: 4, stringUnit: 'binary' }), fc.jsonValue({ maxDepth: 3, stringUnit: 'grapheme' }));
  const layout = fc.constantFrom('compact', 'pretty', 'tabs-crlf');

  function mutate(b: Buffer, ms: readonly { op: string; at: number; byte: number }[]): Buffer {
    const a = Array.from(b);
    for (const m of ms) {
      if (m.op === 'insert') a.splice(m.at % (a.length + 1), 0, m.byte);
      else if (a.length === 0) continue;
      else if (m.op === 'delete') a.splice(m.at % a.length, 1);
      else a[m.at % a.length] = m.byte;
    }
    return Buffer.from(a);
  }

  it('compact and pretty texts with 0–3 byte mutations: scanJson valid ⇔ JSON.parse succeeds, with and without a selection', () => {
    let valid = 0;
    let invalid = 0;
    let mutatedValid = 0;
    fc.assert(
      fc.property(value, layout, fc.array(mutation, { maxLength: 3 }), (v, how, ms) => {
        const text = how === 'compact' ? JSON.stringify(v) : how === 'pretty' ? JSON.stringify(v, null, 2) : JSON.stringify(v, null, '\t').replace(/\n/g, '\r\n');
        const b = mutate(B(text), ms);
        const ok = parses(b);
        const sel = selectAll(v);
        if (scans(b) !== ok) throw new Error(`scanJson(true) ${!ok}, JSON.parse ${ok}`);
        const top = scanJson(b, sel);
        if ((top !== null) !== ok) throw new Error(`scanJson(selection) ${!ok}, JSON.parse ${ok}`);
        if (ok) {
          valid++;
          if (ms.length > 0) mutatedValid++;
          const p = spanProblem(b, top!, sel, JSON.parse(b.toString('utf8')));
          if (p) throw new Error(p);
        } else invalid++;
      }),
      { numRuns: 20_000, seed: 20261128 },
    );
    // both verdicts are common, and some mutations leave a valid (different) document
    expect(valid).toBeGreaterThan(4_000);
    expect(invalid).toBeGreaterThan(4_000);
    expect(mutatedValid).toBeGreaterThan(500);
  });
});

describe('decodeString (property)', () => {
  const lone = fc.string({ unit: fc.oneof(fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)), fc.constantFrom('a', '"', '\\', '/')) });
  const str = fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary-ascii' }), lone);

  it('any string as a JSON string (raw UTF-8, ASCII-only, all escaped) is valid and decodes to itself, alone or inside an array', () => {
    fc.assert(
      fc.property(str, fc.constantFrom('raw', 'ascii', 'all', 'ALL'), (s, how) => {
        const text = how === 'raw' ? JSON.stringify(s) : escapedJson(s, how !== 'ascii', how === 'ALL');
        const b = B(text);
        const span = scanJson(b, true);
        expect(span).not.toBeNull();
        expect([span!.start, span!.end, span!.kind]).toEqual([0, b.length, QUOTE]);
        expect(decodeString(b, span!)).toBe(s);
        const c = B(`[0, ${text} ,"x"]`);
        const top = scanJson(c, { '*': true });
        expect(top!.elements!.length).toBe(3);
        expect(decodeString(c, top!.elements![1])).toBe(s);
        expect(decodeString(c, top!.elements![2])).toBe('x');
      }),
      { numRuns: 2_000, seed: 20261129 },
    );
  });

  it.each([
    ['"abc"', 'abc'],
    ['""', ''],
    ['"a\\"b"', 'a"b'],
    ['"\\u00e9t\\u00C9"', 'étÉ'],
    ['"\\ud83d\\ude80"', '🚀'],
    ['"a\\/b\\\\c"', 'a/b\\c'],
    ['"\\b\\f\\n\\r\\t"', '\b\f\n\r\t'],
    ['"knoten-ü"', 'knoten-ü'],
  ])('%s decodes to %j', (text, want) => {
    const b = B(text);
    expect(decodeString(b, scanJson(b, true)!)).toBe(want);
  });

  it('invalid UTF-8 in a string decodes as JSON.parse reads it (U+FFFD)', () => {
    const b = H('22 61 ff 62 c3 22');
    expect(decodeString(b, scanJson(b, true)!)).toBe('a\uFFFDb\uFFFD');
  });
});

describe('scanJson selections on ExtenderArgs bodies', () => {
  const SEL: Selection = {
    Pod: true,
    NodeNames: { '*': true },
    Nodes: { items: { '*': { metadata: { name: true, labels: true }, status: { allocatable: true } } } },
  };
  const fixture = (name: string) => fs.readFileSync(path.join(__dirname, 'k8s', 'fixtures', name), 'utf8').trim();
  const POD = fixture('pod-web.json');
  const NODE = fixture('node-worker.json');
  const NODE2 = NODE.replace('"name": "worker-1"', '"name": "wörker-2"').replace('"topology.kubernetes.io/zone": "nova-az1"', '"topology.kubernetes.io/zone": "nova-az2"');
  const BODY = `{
  "apiVersion": "v1",
  "Pod": ${POD},
  "Nodes": { "kind": "NodeList", "apiVersion": "v1", "metadata": { "resourceVersion": "1" }, "items": [${NODE}, ${NODE2}] },
  "NodeNames": ["worker-1", "wörker-2", "w\\u00f6rker-3"],
  "kind": "ExtenderArgs"
}
`;
  const ALLOCATABLE = { cpu: '15890m', 'ephemeral-storage': '96589652429', 'hugepages-1Gi': '0', 'hugepages-2Mi': '0', memory: '65215652Ki', 'nvidia.com/gpu': '2', pods: '110' };

  it('the fixtures: every selected span parses to what JSON.parse has there; nothing unselected is kept', () => {
    const b = B(BODY);
    const top = scanChecked(b, SEL);
    expect([top.start, top.end, top.kind]).toEqual([0, b.length - 1, LBRACE]); // the final newline is not in it
    expect([...top.members!.keys()].sort()).toEqual(['NodeNames', 'Nodes', 'Pod']);
    expect([...at(top, 'Nodes')!.members!.keys()]).toEqual(['items']);
    expect(at(top, 'Nodes', 'items')!.elements!.length).toBe(2);
    for (const i of [0, 1]) {
      expect([...at(top, 'Nodes', 'items', i)!.members!.keys()].sort()).toEqual(['metadata', 'status']);
      expect([...at(top, 'Nodes', 'items', i, 'metadata')!.members!.keys()].sort()).toEqual(['labels', 'name']);
      expect([...at(top, 'Nodes', 'items', i, 'status')!.members!.keys()]).toEqual(['allocatable']);
      expect(parseSpan(b, at(top, 'Nodes', 'items', i, 'status', 'allocatable')!)).toEqual(ALLOCATABLE);
    }
    // worked out from the fixture by hand
    expect(decodeString(b, at(top, 'Nodes', 'items', 0, 'metadata', 'name')!)).toBe('worker-1');
    expect(decodeString(b, at(top, 'Nodes', 'items', 1, 'metadata', 'name')!)).toBe('wörker-2');
    const labels = (i: number) => parseSpan(b, at(top, 'Nodes', 'items', i, 'metadata', 'labels')!) as Record<string, string>;
    expect([labels(0)['topology.kubernetes.io/zone'], labels(1)['topology.kubernetes.io/zone']]).toEqual(['nova-az1', 'nova-az2']);
    expect(Object.keys(labels(0)).length).toBe(8);
    expect(at(top, 'NodeNames')!.elements!.map((s) => decodeString(b, s))).toEqual(['worker-1', 'wörker-2', 'wörker-3']);
    expect(at(top, 'NodeNames')!.elements!.map((s) => s.kind)).toEqual([QUOTE, QUOTE, QUOTE]);
    // the pod's span is the fixture's text, byte for byte
    const pod = at(top, 'Pod')!;
    expect(b.subarray(pod.start, pod.end).toString('utf8')).toBe(POD);
    expect((parseSpan(b, pod) as { metadata: { name: string } }).metadata.name).toBe('web-7c9d8f6b5-x2k4q');
  });

  it('a pod alone, the fixture as the whole body: Pod is not there, nothing else is selected', () => {
    const top = scanChecked(POD, SEL);
    expect(top.members!.size).toBe(0); // the pod has kind, apiVersion, metadata, spec, status
  });

  it('kind is the first byte of each selected value', () => {
    const b = B('{"NodeNames": ["a", 1, -2, true, false, null, {}, [], 0.5]}');
    const top = scanChecked(b, SEL);
    expect(String.fromCharCode(...at(top, 'NodeNames')!.elements!.map((s) => s.kind))).toBe('"1-tfn{[0');
  });

  describe('the last of duplicate keys counts', () => {
    const item = (name: string) => `{"metadata": {"name": "${name}"}}`;
    // body, path, the value there (by hand)
    const cases: [string, string, (string | number)[], unknown][] = [
      ['top level', `{"Nodes": {"items": [${item('first')}]}, "Pod": {}, "Nodes": {"items": [${item('second')}]}}`, ['Nodes', 'items', 0, 'metadata', 'name'], 'second'],
      ['top level, the later one null', `{"Nodes": {"items": [${item('first')}]}, "Nodes": null}`, ['Nodes'], null],
      ['top level, the later one a number', `{"Nodes": {"items": [${item('first')}]}, "Nodes": 5}`, ['Nodes'], 5],
      ['top level, the later one a string', `{"Nodes": {"items": [${item('first')}]}, "Nodes": "x"}`, ['Nodes'], 'x'],
      ['top level, the later one an array', `{"Nodes": {"items": [${item('first')}]}, "Nodes": [${item('arr')}]}`, ['Nodes'], [{ metadata: { name: 'arr' } }]],
      ['top level, the earlier one null', `{"Nodes": null, "Nodes": {"items": [${item('late')}]}}`, ['Nodes', 'items', 0, 'metadata', 'name'], 'late'],
      ['Pod (selected whole)', '{"Pod": {"a": 1}, "Pod": {"b": 2}}', ['Pod'], { b: 2 }],
      ['three times', '{"Pod": 1, "NodeNames": [], "Pod": 2, "Pod": 3}', ['Pod'], 3],
      ['nested items', '{"Nodes": {"items": [1], "items": [2, 3]}}', ['Nodes', 'items'], [2, 3]],
      ['nested name', '{"Nodes": {"items": [{"metadata": {"name": "a", "name": "b"}}]}}', ['Nodes', 'items', 0, 'metadata', 'name'], 'b'],
      ['nested metadata, the later one without labels', '{"Nodes": {"items": [{"metadata": {"name": "x", "labels": {"k": "v"}}, "metadata": {"name": "y"}}]}}', ['Nodes', 'items', 0, 'metadata'], { name: 'y' }],
      ['nested metadata, the later one false', '{"Nodes": {"items": [{"metadata": {"name": "x"}, "status": {}, "metadata": false}]}}', ['Nodes', 'items', 0, 'metadata'], false],
      ['escaped first, raw later', '{"\\u0050od": 1, "Pod": 2}', ['Pod'], 2],
      ['raw first, escaped later', '{"Pod": 1, "\\u0050od": 2}', ['Pod'], 2],
    ];
    it.each(cases)('%s: %s', (_label, body, steps, want) => {
      const top = scanChecked(body, SEL); // spans against JSON.parse (which keeps the last too)
      const b = B(body);
      const s = at(top, ...steps)!;
      expect(parseSpan(b, s)).toEqual(want);
    });

    it('no member of an earlier duplicate survives in the later one', () => {
      const body = '{"Nodes": {"items": [{"metadata": {"name": "x", "labels": {"k": "v"}}, "metadata": {"name": "y"}}]}}';
      const top = scanChecked(body, SEL);
      expect([...at(top, 'Nodes', 'items', 0, 'metadata')!.members!.keys()]).toEqual(['name']);
      const later = scanChecked(`{"Nodes": {"items": [${item('first')}]}, "Nodes": null}`, SEL);
      expect(at(later, 'Nodes')!.members).toBeUndefined();
      expect(at(later, 'Nodes')!.kind).toBe(0x6e);
    });

    it('the span is the later value’s bytes', () => {
      const body = '{"Pod": [1], "Pod": [2]}';
      const s = at(scanChecked(body, SEL), 'Pod')!;
      expect([s.start, s.end]).toEqual([20, 23]);
    });
  });

  describe('keys are matched by their decoded text', () => {
    it.each([
      ['\\u004eodes', '{"\\u004eodes": {"items": [{"metadata": {"\\u006eame": "n1"}}]}}', ['Nodes', 'items', 0, 'metadata', 'name'], 'n1'],
      ['all escaped, upper-case hex', '{"\\u0050\\u006F\\u0064": 7}', ['Pod'], 7],
      ['NodeNames with one escape in the middle', '{"Node\\u004eames": ["a"]}', ['NodeNames', 0], 'a'],
      ['an escaped key inside an escaped one', '{"\\u004eodes": {"\\u0069tems": [{"status": {"allocatabl\\u0065": {"cpu": "1"}}}]}}', ['Nodes', 'items', 0, 'status', 'allocatable'], { cpu: '1' }],
    ])('%s', (_label, body, steps, want) => {
      const top = scanChecked(body, SEL);
      expect(parseSpan(B(body), at(top, ...(steps as (string | number)[]))!)).toEqual(want);
    });

    it.each([
      ['"Nodes\\u0000" (a NUL more)', '{"Nodes\\u0000": {"items": []}}'],
      ['"nodes" (case)', '{"nodes": {"items": []}}'],
      ['"Nodes " (a space more)', '{"Nodes ": {"items": []}}'],
      ['"Node" (a prefix)', '{"Node": {"items": []}}'],
      ['"\\"Pod\\"" (quotes in the name)', '{"\\"Pod\\"": 1}'],
      ['"P\\u00f6d"', '{"P\\u00f6d": 1}'],
      ['"Pöd" raw', '{"Pöd": 1}'],
    ])('%s is not selected', (_label, body) => {
      expect(scanChecked(body, SEL).members!.size).toBe(0);
    });

    it('raw non-ASCII keys, escaped or not, and not their look-alikes', () => {
      const sel: Selection = { 名前: true, ñame: true, '🚀': true, 'a/b': true };
      // "n\u0303ame" is ñ decomposed: other text, not selected; "名前x" is longer
      const top = scanChecked('{"名前": 1, "ñame": 2, "🚀": 3, "n\\u0303ame": 4, "名前x": 5, "a\\/b": 6}', sel);
      expect(Object.fromEntries([...top.members!].map(([k, s]) => [k, s.kind - 0x30]))).toEqual({ 名前: 1, ñame: 2, '🚀': 3, 'a/b': 6 });
      const esc = scanChecked('{"\\u540d\\u524d": 1, "\\u00f1ame": 2, "\\ud83d\\ude80": 3}', sel);
      expect([...esc.members!.keys()].sort()).toEqual(['ñame', '名前', '🚀'].sort());
    });

    it('a key of invalid UTF-8 is the text JSON.parse makes of it (U+FFFD)', () => {
      const b = bytes('{"', 0xff, '": 7, "x', 0xc3, '": 8}');
      const top = scanChecked(b, { '\uFFFD': true, 'x\uFFFD': true, 'x\u00c3': true });
      expect(Object.fromEntries([...top.members!].map(([k, s]) => [k, parseSpan(b, s)]))).toEqual({ '\uFFFD': 7, 'x\uFFFD': 8 });
    });
  });

  describe("'*' is for array elements only", () => {
    it.each([
      ['{"*": 1}', { '*': true }, []],
      ['{"*": 1, "a": 2, "\\u002a": 3}', { '*': true, a: true }, ['a']],
      ['{"NodeNames": {"*": "worker-1"}}', SEL, ['NodeNames']],
      ['{"Nodes": {"items": {"*": {"metadata": {"name": "x"}}}}}', SEL, ['Nodes']],
    ] as [string, Selection, string[]][])('%s: members %j, and none named *', (body, sel, keys) => {
      const top = scanChecked(body, sel);
      expect([...top.members!.keys()]).toEqual(keys);
    });

    it('an object where elements were expected has no members; an array where members were expected has no elements', () => {
      const top = scanChecked('{"NodeNames": {"*": "w", "a": 1}, "Nodes": [{"items": []}]}', SEL);
      expect(at(top, 'NodeNames')!.members!.size).toBe(0);
      expect(at(top, 'NodeNames')!.elements).toBeUndefined();
      expect(at(top, 'Nodes')!.elements).toBeUndefined();
      expect(at(top, 'Nodes')!.members).toBeUndefined();
    });
  });

  describe('names Object.prototype has are matched only when the selection has them itself', () => {
    const PROTO_KEYS = '"constructor": {"a": 1}, "__proto__": {"Pod": 1}, "toString": 1, "hasOwnProperty": 2, "valueOf": 3, "__defineGetter__": 4, "isPrototypeOf": 5, "propertyIsEnumerable": 6';

    it('an ExtenderArgs selection keeps only its own names', () => {
      const top = scanChecked(`{${PROTO_KEYS}, "Pod": 6}`, SEL);
      expect([...top.members!.keys()]).toEqual(['Pod']);
      const nested = scanChecked(`{"Nodes": {${PROTO_KEYS}, "items": [{${PROTO_KEYS}, "metadata": {${PROTO_KEYS}, "name": "n"}}]}}`, SEL);
      expect([...at(nested, 'Nodes')!.members!.keys()]).toEqual(['items']);
      expect([...at(nested, 'Nodes', 'items', 0)!.members!.keys()]).toEqual(['metadata']);
      expect([...at(nested, 'Nodes', 'items', 0, 'metadata')!.members!.keys()]).toEqual(['name']);
    });

    it('a selection that names them selects them (escaped too)', () => {
      const sel: Selection = { constructor: true as const, toString: { '*': true as const }, ['__proto__']: { name: true } };
      expect(Object.keys(sel)).toEqual(['constructor', 'toString', '__proto__']); // an own member, not the prototype
      const b = B(`{"constructor": 1, "toString": [1, 2], "__proto_\\u005f": {"name": "p", "x": 1}, "valueOf": 2, "hasOwnProperty": 3}`);
      const top = scanChecked(b, sel);
      expect([...top.members!.keys()].sort()).toEqual(['__proto__', 'constructor', 'toString']);
      expect(parseSpan(b, at(top, '__proto__', 'name')!)).toBe('p');
      expect([...at(top, '__proto__')!.members!.keys()]).toEqual(['name']);
      expect(at(top, 'toString')!.elements!.length).toBe(2);
    });

    it('inherited names are not names of the selection; a selection without a prototype works', () => {
      const inherited = Object.create({ Pod: true, '*': true }) as Selection;
      expect([...scanChecked('{"Pod": 1}', inherited).members!.keys()]).toEqual([]);
      expect(scanChecked('[1, 2]', inherited).elements).toBeUndefined();
      const bare = Object.assign(Object.create(null) as Record<string, true>, { Pod: true as const, constructor: true as const });
      expect([...scanChecked('{"Pod": 1, "constructor": 2, "toString": 3}', bare).members!.keys()].sort()).toEqual(['Pod', 'constructor']);
    });
  });
});

describe('scanJson: a selected path inside arbitrary members (property)', () => {
  const key = fc.oneof(
    { arbitrary: fc.string({ unit: 'binary', maxLength: 6 }), weight: 3 },
    { arbitrary: fc.string({ unit: 'grapheme-ascii', maxLength: 6 }), weight: 3 },
    { arbitrary: fc.constantFrom('__proto__', 'constructor', 'toString', '*', 'Nodes', 'items', 'name', 'Node', 'Nodes ', ''), weight: 2 },
  );
  const json = fc.jsonValue({ maxDepth: 2, stringUnit: 'binary' });
  const member = fc.tuple(key, json, fc.constantFrom('plain', 'escaped'));
  const step = fc.oneof(
    fc.record({ kind: fc.constant('key' as const), key: key.filter((k) => k !== '*'), how: fc.constantFrom('plain', 'escaped'), before: fc.array(member, { maxLength: 4 }), after: fc.array(member, { maxLength: 4 }), dupBefore: fc.option(json, { nil: undefined }) }),
    fc.record({ kind: fc.constant('element' as const), before: fc.array(json, { maxLength: 3 }), after: fc.array(json, { maxLength: 3 }) }),
  );
  const ws = fc.constantFrom('', ' ', '\n  ', '\t', '\r\n');

  const keyText = (k: string, how: string) => (how === 'escaped' ? escapedJson(k, true, false) : JSON.stringify(k));

  it('the span at the path parses to the value JSON.parse has there; every selected span checks out', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 5 }), json, ws, (steps, leaf, sp) => {
        let text = JSON.stringify(leaf);
        let sel: Selection | true = true;
        for (let i = steps.length - 1; i >= 0; i--) {
          const s = steps[i];
          if (s.kind === 'key') {
            // members before (perhaps the same name, an earlier duplicate), the one on the path, members after (other names)
            const members: [string, string][] = s.before.map(([k, v, how]) => [keyText(k, how), JSON.stringify(v)]);
            if (s.dupBefore !== undefined) members.push([keyText(s.key, 'plain'), JSON.stringify(s.dupBefore)]);
            members.push([keyText(s.key, s.how), text]);
            for (const [k, v, how] of s.after) if (k !== s.key) members.push([keyText(k, how), JSON.stringify(v)]);
            text = `{${sp}${members.map(([k, v]) => `${k}${sp}:${sp}${v}`).join(`${sp},${sp}`)}${sp}}`;
            sel = { [s.key]: sel };
          } else {
            text = `[${sp}${[...s.before.map((v) => JSON.stringify(v)), text, ...s.after.map((v) => JSON.stringify(v))].join(`,${sp}`)}${sp}]`;
            sel = { '*': sel };
          }
        }
        const b = B(text);
        const top = scanChecked(b, sel);
        // walk the path in the span tree and in JSON.parse's tree
        let span: Span | undefined = top;
        let value: unknown = JSON.parse(text);
        for (const s of steps) {
          if (s.kind === 'key') {
            span = span?.members?.get(s.key);
            value = (value as Record<string, unknown>)[s.key];
          } else {
            span = span?.elements?.[s.before.length];
            value = (value as unknown[])[s.before.length];
          }
        }
        expect(span).toBeDefined();
        expect(JSON.stringify(parseSpan(b, span!))).toBe(JSON.stringify(value));
        expect(JSON.stringify(value)).toBe(JSON.stringify(leaf));
      }),
      { numRuns: 1_500, seed: 20261130 },
    );
  });
});
