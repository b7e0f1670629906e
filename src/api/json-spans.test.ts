import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { arrayElementSpans } from './json-spans';

/** The extender's path: ExtenderArgs → Nodes → items. */
const NODES = ['body', 'Nodes', 'items'];
const WS = /^[ \t\n\r]*$/;

/**
 * The elements at `path`, each parsed on its own from its [start, end) byte
 * span; null when the scanner finds no array there. Also checks that the spans
 * tile the array exactly: '[' before the first, ',' between two, ']' after the
 * last, nothing but whitespace besides, and no whitespace inside a span.
 */
function elements(text: string, path: readonly string[] = NODES): unknown[] | null {
  const buf = Buffer.from(text, 'utf8');
  const spans = arrayElementSpans(buf, path);
  if (spans === null) return null;
  expect(spans.length % 2).toBe(0);
  const at = (s: number, e: number) => buf.subarray(s, e).toString('utf8');
  const out: unknown[] = [];
  for (let i = 0; i < spans.length; i += 2) {
    const [s, e] = [spans[i], spans[i + 1]];
    expect(s).toBeLessThan(e);
    const piece = at(s, e);
    expect(piece).toBe(piece.trim());
    if (i > 0) expect(at(spans[i - 1], s)).toMatch(/^[ \t\n\r]*,[ \t\n\r]*$/);
    out.push(JSON.parse(piece));
  }
  if (spans.length > 0) {
    // back over whitespace from the first span: the opening bracket; on from the last: the closing one
    let b = spans[0] - 1;
    while (WS.test(String.fromCharCode(buf[b]))) b--;
    expect(String.fromCharCode(buf[b])).toBe('[');
    let a = spans[spans.length - 1];
    while (WS.test(String.fromCharCode(buf[a]))) a++;
    expect(String.fromCharCode(buf[a])).toBe(']');
  }
  return out;
}

/** What JSON.parse finds at `path`: the reference (null unless it is an array). */
function reference(text: string, path: readonly string[] = NODES): unknown[] | null {
  let v: unknown = JSON.parse(text);
  for (const k of path) {
    if (v === null || typeof v !== 'object' || Array.isArray(v) || !Object.prototype.hasOwnProperty.call(v, k)) return null;
    v = (v as Record<string, unknown>)[k];
  }
  return Array.isArray(v) ? v : null;
}

/** An ExtenderArgs-like envelope with members before and after, the array text at body.Nodes.items. */
const envelope = (items: string) => `{"kind":"ExtenderArgs","Pod":{"metadata":{"name":"p"}},"body":{"Nodes":{"metadata":{"rv":"1"},"items":${items},"kind":"NodeList"},"x":[1]},"NodeNames":null}`;

describe('arrayElementSpans: each span parses to the element at the path', () => {
  // [case, the array's text, its elements as JSON.parse reads them (worked out by hand)]
  const rows: [string, string, unknown[]][] = [
    [
      'nested objects and arrays',
      '[{"metadata":{"name":"n1","labels":{"a":"b"}},"spec":[1,[2,[3]]]},[[]],{}]',
      [{ metadata: { name: 'n1', labels: { a: 'b' } }, spec: [1, [2, [3]]] }, [[]], {}],
    ],
    // \" inside a string does not end it, also inside a nested object's key and value
    ['escaped quotes', String.raw`["say \"hi\"",{"k\"":"v\"]"},"\""]`, ['say "hi"', { 'k"': 'v"]' }, '"']],
    // \\ right before the closing quote: the quote does end the string
    ['backslashes before a closing quote', String.raw`["a\\","\\\\",{"p":"C:\\"},"\\\""]`, ['a\\', '\\\\', { p: 'C:\\' }, '\\"']],
    ['brackets and braces inside strings', '["]","[","}","{","],[",{"k]":"}{"},["]]"]]', [']', '[', '}', '{', '],[', { 'k]': '}{' }, [']]']]],
    // \u00e9 = é; \ud83d\ude00 = 😀 (a surrogate pair); \u005d = ]; \u0022 = "
    ['unicode escapes', String.raw`["\u00e9","\ud83d\ude00","\u005d","\u0022",{"\u007b":"\u005b"}]`, ['é', '😀', ']', '"', { '{': '[' }]],
    // multi-byte UTF-8: the offsets are bytes, not UTF-16 units
    ['raw multi-byte UTF-8', '["名前",{"名前":"値"},"😀x","ß",["日本"]]', ['名前', { 名前: '値' }, '😀x', 'ß', ['日本']]],
    ['numbers, exponents included', '[0,-0,1e5,-1.5E-3,2.5e+10,1E0,123456789012345678901234567890,-7]', [0, -0, 100000, -0.0015, 25000000000, 1, 123456789012345678901234567890, -7]],
    ['true, false and null', '[true,false,null]', [true, false, null]],
    ['literals among whitespace', '[ true , false , null ]', [true, false, null]],
    ['one element', '[{"a":1}]', [{ a: 1 }]],
    ['empty array', '[]', []],
    ['empty array with whitespace inside', '[ \n\t ]', []],
    ['an array of empty arrays and objects', '[[],{},[{}]]', [[], {}, [{}]]],
    ['strings holding commas and colons', '["a,b",":",", ,"]', ['a,b', ':', ', ,']],
  ];

  it.each(rows)('%s', (_name, items, expected) => {
    const text = envelope(items);
    expect(elements(text)).toEqual(expected);
    expect(reference(text)).toEqual(expected); // the worked expectation is what JSON.parse says too
  });

  it('whitespace everywhere (tabs, CR LF, spaces before colons and commas)', () => {
    const text = '\r\n {\n\t"body" :\r\n {\t"Nodes"\n:\n{ "items" :\n\t[\n\t\t1 ,\n\t\t{ "a" : [ 1 , 2 ] }\t,\r\n\t\t"x" , [ ] , -2e-1\n\t]\n}\n}\n}\n ';
    expect(elements(text)).toEqual([1, { a: [1, 2] }, 'x', [], -0.2]);
  });

  it('pretty-printed text (JSON.stringify with tabs)', () => {
    const items = [{ metadata: { name: 'ノード' }, status: { allocatable: { cpu: '8' } } }, 'a"b\\', [true, null], 1.5e-300];
    const text = JSON.stringify({ apiVersion: 'v1', body: { Nodes: { items } }, tail: { items: [0] } }, null, '\t');
    expect(elements(text)).toEqual(items);
  });

  it('a short path and the empty path (the top-level value itself)', () => {
    expect(elements('{"items":[1,"2"]}', ['items'])).toEqual([1, '2']);
    expect(elements(' [ 1 , {"b":[]} ] ', [])).toEqual([1, { b: [] }]);
  });
});

describe('arrayElementSpans: duplicate keys, the last one wins at each level (as JSON.parse)', () => {
  // [case, text, what JSON.parse gives at body.Nodes.items (null: not an array)]
  const rows: [string, string, unknown[] | null][] = [
    ['two Nodes, the second without items', '{"body":{"Nodes":{"items":[1,2]},"Nodes":{"metadata":{}}}}', null],
    ['two Nodes, the second with other items', '{"body":{"Nodes":{"items":[1,2]},"Nodes":{"items":[3]}}}', [3]],
    ['two items keys', '{"body":{"Nodes":{"items":[1],"items":[2,3]}}}', [2, 3]],
    ['two items keys, the second null', '{"body":{"Nodes":{"items":[1],"items":null}}}', null],
    ['two items keys, only the second an array', '{"body":{"Nodes":{"items":"x","items":[4]}}}', [4]],
    ['two items keys, the second an empty array', '{"body":{"Nodes":{"items":[1,2],"items":[]}}}', []],
    ['two bodies at the top level', '{"body":{"Nodes":{"items":[1]}},"body":{"Nodes":{"items":[5,6]}}}', [5, 6]],
    ['two bodies, the second a number', '{"body":{"Nodes":{"items":[1]}},"body":7}', null],
    ['two bodies, the second without Nodes, other members after', '{"body":{"Nodes":{"items":[1]}},"body":{},"z":{"Nodes":{"items":[2]}}}', null],
    ['a duplicate that is not on the path does not matter', '{"body":{"Nodes":{"items":[1]},"x":1,"x":2},"y":3,"y":4}', [1]],
    ['the path keys under another key do not count (after)', '{"body":{"Nodes":{"items":[1]}},"other":{"body":{"Nodes":{"items":[9]}}}}', [1]],
    ['the path keys under another key do not count (before)', '{"other":{"Nodes":{"items":[9]}},"body":{"Nodes":{"items":[1]}}}', [1]],
    ['the path again inside an element', '{"body":{"Nodes":{"items":[{"body":{"Nodes":{"items":[7]}}},8]}}}', [{ body: { Nodes: { items: [7] } } }, 8]],
    ['a later duplicate Nodes that is an array', '{"body":{"Nodes":{"items":[1]},"Nodes":[{"items":[2]}]}}', null],
  ];
  it.each(rows)('%s', (_name, text, expected) => {
    expect(reference(text)).toEqual(expected);
    expect(elements(text)).toEqual(expected);
  });
});

describe('arrayElementSpans: keys are compared after unescaping', () => {
  const rows: [string, string, readonly string[], unknown[] | null][] = [
    // \u004e = N
    ['"\\u004eodes" reads as Nodes', String.raw`{"body":{"\u004eodes":{"items":[1]}}}`, NODES, [1]],
    ['escapes in every key of the path', String.raw`{"\u0062ody":{"Node\u0073":{"it\u0065ms":[1,2]}}}`, NODES, [1, 2]],
    ['a key made only of escapes', String.raw`{"\u0062\u006f\u0064\u0079":{"Nodes":{"items":[true]}}}`, NODES, [true]],
    ['an escaped duplicate wins over the plain one before it', String.raw`{"body":{"Nodes":{"items":[1]},"\u004eodes":{"items":[2]}}}`, NODES, [2]],
    ['a plain duplicate wins over the escaped one before it', String.raw`{"body":{"\u004eodes":{"items":[1]},"Nodes":{"items":[2]}}}`, NODES, [2]],
    // "\\u004eodes" is a backslash followed by u004eodes: not Nodes
    ['an escaped backslash is not an escape', String.raw`{"body":{"\\u004eodes":{"items":[1]}}}`, NODES, null],
    ['a key with an escaped quote', String.raw`{"body":{"Node\"s":{"items":[1]}}}`, ['body', 'Node"s', 'items'], [1]],
    ['a path key with a non-ASCII character written as an escape', String.raw`{"caf\u00e9":[1]}`, ['café'], [1]],
    ['neither a prefix nor a longer key matches', '{"body":{"Node":{"items":[1]},"Nodess":{"items":[2]},"nodes":{"items":[3]}}}', NODES, null],
  ];
  it.each(rows)('%s', (_name, text, path, expected) => {
    expect(reference(text, path)).toEqual(expected);
    expect(elements(text, path)).toEqual(expected);
  });

  // Non-ASCII keys compare as decoded text, not byte for character: "名前" is
  // 6 bytes but 2 characters, and the path key "Ã©" (U+00C3 U+00A9) is not the
  // key "é" even though its characters equal the bytes of "é". JSON.parse gives [1] and undefined.
  it('a raw non-ASCII key matches the same path key', () => {
    expect(elements('{"名前":[1]}', ['名前'])).toEqual([1]);
  });
  it('a Latin-1 path key does not match the UTF-8 bytes of another key', () => {
    expect(elements('{"é":[1]}', ['\u00c3\u00a9'])).toBeNull();
  });
});

describe('arrayElementSpans: a path that does not lead to an array gives null', () => {
  const rows: [string, string][] = [
    ['empty object', '{}'],
    ['missing body', '{"Nodes":{"items":[1]}}'],
    ['missing Nodes', '{"body":{}}'],
    ['missing items', '{"body":{"Nodes":{}}}'],
    ['items is an object', '{"body":{"Nodes":{"items":{"0":1}}}}'],
    ['items is a string that looks like an array', '{"body":{"Nodes":{"items":"[1,2]"}}}'],
    ['items is null', '{"body":{"Nodes":{"items":null}}}'],
    ['items is a number', '{"body":{"Nodes":{"items":3}}}'],
    ['items is true', '{"body":{"Nodes":{"items":true}}}'],
    ['Nodes is null', '{"body":{"Nodes":null}}'],
    ['body is a string', '{"body":"Nodes"}'],
    ['body is an array holding the rest of the path', '{"body":[{"Nodes":{"items":[1]}}]}'],
    ['the top level is an array', '[{"body":{"Nodes":{"items":[1]}}}]'],
    ['the top level is a string', '"body"'],
    ['the top level is a number', ' 42 '],
    ['the top level is null', 'null'],
  ];
  it.each(rows)('%s', (_name, text) => {
    expect(reference(text)).toBeNull();
    expect(arrayElementSpans(Buffer.from(text), NODES)).toBeNull();
  });
});

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

/** Strings heavy in what a scanner can get wrong. */
const tricky = fc.constantFrom('"', '\\', '[', ']', '{', '}', ',', ':', ' ', '\n', 'a', 'é', '名', '😀', '\u0000', '\u2028', '/');
const jsonValues = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.jsonValue({ maxDepth: 3, stringUnit: 'binary' }),
  fc.jsonValue({ maxDepth: 2, stringUnit: tricky }),
);
const members = fc.array(fc.tuple(fc.string({ maxLength: 6 }), jsonValues), { maxLength: 3 });

/** An object (null prototype: "__proto__" is a plain key) from members, `skip` keys left out. */
function obj(ms: [string, unknown][], skip: string): Record<string, unknown> {
  const o: Record<string, unknown> = Object.create(null);
  for (const [k, v] of ms) if (k !== skip) o[k] = v;
  return o;
}

describe('arrayElementSpans: properties', () => {
  it('any JSON values at body.Nodes.items, among other members, compact and pretty-printed: the spans parse back to exactly the elements', () => {
    fc.assert(
      fc.property(fc.array(jsonValues, { maxLength: 6 }), members, members, members, members, (items, before, after, inBody, inNodes) => {
        const nodes = { ...obj(inNodes.slice(0, 1), 'items'), items, ...obj(inNodes.slice(1), 'items') };
        const body = Object.assign(obj(inBody, 'Nodes'), { Nodes: nodes });
        const top = Object.assign(obj(before, 'body'), { body }, obj(after, 'body'));
        for (const text of [JSON.stringify(top), JSON.stringify(top, null, 2)]) {
          const got = elements(text);
          expect(got).toEqual(reference(text));
          // -0 becomes 0 in the text: compare with the input through JSON.stringify
          expect(JSON.stringify(got)).toBe(JSON.stringify(items));
        }
      }),
      { numRuns: 200, seed: 424242 },
    );
  });

  type Tree = { t: 'val'; v: unknown; pretty: boolean } | { t: 'arr'; items: Tree[] } | { t: 'obj'; members: [string, boolean, Tree][] };

  /** Text for a tree: keys plain or written entirely as \uXXXX escapes, whitespace from `ws` in turn. */
  function render(tree: Tree, ws: string[]): string {
    let n = 0;
    const sp = () => ws[n++ % ws.length];
    const key = (k: string, escaped: boolean) =>
      escaped ? `"${Array.from({ length: k.length }, (_, i) => '\\u' + k.charCodeAt(i).toString(16).padStart(4, '0')).join('')}"` : JSON.stringify(k);
    const go = (t: Tree): string => {
      if (t.t === 'val') return t.pretty ? (JSON.stringify(t.v, null, '\t') ?? 'null') : JSON.stringify(t.v);
      if (t.t === 'arr') return `[${sp()}${t.items.map((x) => go(x)).join(`${sp()},${sp()}`)}${sp()}]`;
      return `{${sp()}${t.members.map(([k, e, v]) => `${key(k, e)}${sp()}:${sp()}${go(v)}`).join(`${sp()},${sp()}`)}${sp()}}`;
    };
    return `${sp()}${go(tree)}${sp()}`;
  }

  it('hand-written texts with duplicate and escaped keys and odd whitespace agree with JSON.parse', () => {
    const keyArb = fc.oneof(fc.constantFrom(...NODES), fc.constantFrom(...NODES), fc.string({ maxLength: 3 }), fc.string({ maxLength: 3, unit: 'binary' }));
    const { tree } = fc.letrec<{ tree: Tree; obj: Tree; arr: Tree }>((tie) => ({
      tree: fc.oneof(
        { maxDepth: 4, depthIdentifier: 'tree' },
        { arbitrary: fc.record({ t: fc.constant('val' as const), v: jsonValues, pretty: fc.boolean() }), weight: 2 },
        { arbitrary: tie('obj'), weight: 3 },
        { arbitrary: tie('arr'), weight: 2 },
      ),
      obj: fc.record({ t: fc.constant('obj' as const), members: fc.array(fc.tuple(keyArb, fc.boolean(), tie('tree')), { maxLength: 4, depthIdentifier: 'tree' }) }),
      arr: fc.record({ t: fc.constant('arr' as const), items: fc.array(tie('tree'), { maxLength: 4, depthIdentifier: 'tree' }) }),
    }));
    // The path, level by level: objects holding one or two members named by the path
    // (plain or escaped) among random members that may reuse the same names.
    const member = fc.tuple(keyArb, fc.boolean(), tree);
    /** What the last path key names: mostly an array, sometimes anything. */
    const leaf = fc.oneof({ arbitrary: tree, weight: 1 }, { arbitrary: fc.record({ t: fc.constant('arr' as const), items: fc.array(tree, { maxLength: 5 }) }), weight: 3 });
    const spine = (d: number): fc.Arbitrary<Tree> =>
      fc
        .tuple(
          fc.array(member, { maxLength: 2 }),
          fc.array(fc.tuple(fc.constant(NODES[d]), fc.boolean(), d === NODES.length - 1 ? leaf : spine(d + 1)), { minLength: 1, maxLength: 2 }),
          fc.array(member, { maxLength: 2 }),
        )
        .map(([a, b, c]): Tree => ({ t: 'obj', members: [...a, ...b, ...c] }));
    const doc = fc.oneof({ arbitrary: spine(0), weight: 4 }, { arbitrary: tree, weight: 1 });
    const wsArb = fc.array(fc.constantFrom('', '', ' ', '\n', '\t', '\r\n', ' \t '), { minLength: 1, maxLength: 7 });
    let found = 0;
    fc.assert(
      fc.property(doc, wsArb, (t, ws) => {
        const text = render(t, ws);
        const want = reference(text);
        if (want !== null) found++;
        expect(elements(text)).toEqual(want);
      }),
      { numRuns: 400, seed: 1729 },
    );
    // not vacuous: the path did lead to an array in a fair share of the texts
    expect(found).toBeGreaterThan(100);
  });
});
