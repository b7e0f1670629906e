import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../domain';
import { hostSpec } from '../../test/fixtures/placement';
import { IdBytesIndex } from './id-bytes';
import { MemoryStore } from './store';

const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');

/**
 * `id`'s UTF-8 bytes inside a bigger buffer: `pad` bytes of junk before and
 * after, in a view that itself starts 3 bytes into its ArrayBuffer. Returns
 * the view and where the id sits in it.
 */
function embedded(id: string | Uint8Array, pad = 7): { b: Uint8Array; start: number; end: number } {
  const bytes = typeof id === 'string' ? utf8(id) : id;
  const buf = new Uint8Array(3 + pad + bytes.length + pad);
  buf.fill(0x78); // 'x': a byte that extends any id
  const b = buf.subarray(3);
  b.set(bytes, pad);
  return { b, start: pad, end: pad + bytes.length };
}
const find = (ix: IdBytesIndex, id: string | Uint8Array): number => {
  const { b, start, end } = embedded(id);
  return ix.find(b, start, end);
};

function indexOf(ids: readonly string[]): IdBytesIndex {
  const ix = new IdBytesIndex();
  ids.forEach((id, h) => ix.add(h, id));
  return ix;
}

// 0 … 14; the bytes of each are spelled out where they matter
const IDS = [
  'worker-1', //              0
  'worker-10', //             1  'worker-1' + '0'
  'node-a', //                2
  'node-b', //                3  differs from node-a in the last byte only
  'é', //                     4  C3 A9
  'ê', //                     5  C3 AA: differs from 'é' in the last byte only
  'e\u0301', //               6  65 CC 81: 'é' decomposed, other bytes
  '节点-1', //                7  E8 8A 82 E7 82 B9 2D 31
  '🚀', //                    8  F0 9F 9A 80
  'x', //                     9  one byte
  ' ', //                    10  one space
  'h'.repeat(253), //        11  the longest id the API accepts
  'h'.repeat(252), //        12  its prefix
  'k'.repeat(3000), //       13  longer than the initial 1 024-byte buffer
  'knoten-ü', //             14
];

describe('IdBytesIndex.find', () => {
  it('finds every added id by its UTF-8 bytes inside a bigger buffer', () => {
    const ix = indexOf(IDS);
    IDS.forEach((id, h) => expect(find(ix, id), JSON.stringify(id.slice(0, 20))).toBe(h));
  });

  it('the bytes are the UTF-8 encoding (hand-spelled bytes)', () => {
    const ix = indexOf(IDS);
    expect(find(ix, Uint8Array.of(0xc3, 0xa9))).toBe(4);
    expect(find(ix, Uint8Array.of(0xc3, 0xaa))).toBe(5);
    expect(find(ix, Uint8Array.of(0x65, 0xcc, 0x81))).toBe(6);
    expect(find(ix, Uint8Array.of(0xe8, 0x8a, 0x82, 0xe7, 0x82, 0xb9, 0x2d, 0x31))).toBe(7);
    expect(find(ix, Uint8Array.of(0xf0, 0x9f, 0x9a, 0x80))).toBe(8);
    // Latin-1 'é' (one byte E9) is not the UTF-8 id
    expect(find(ix, Uint8Array.of(0xe9))).toBe(-1);
    // UTF-16 code units are not bytes
    expect(find(ix, Uint8Array.of(0x3d, 0xd8, 0x80, 0xde))).toBe(-1);
  });

  it.each([
    ['worker-', -1], // prefix of 0 and 1
    ['worker-1', 0],
    ['worker-10', 1],
    ['worker-100', -1], // 1 + '0'
    ['orker-1', -1], // suffix of 0
    ['Worker-1', -1], // case-sensitive
    ['worker-2', -1], // 0 with the last byte changed
    ['node-c', -1], // 2 and 3 with the last byte changed
    ['node-', -1],
    ['node-ab', -1],
    ['e', -1], // prefix of 6
    ['\u0301', -1], // suffix of 6
    ['节点', -1], // prefix of 7
    ['节点-1 ', -1], // 7 and a space
    ['k'.repeat(2999), -1],
    ['k'.repeat(3001), -1],
    ['h'.repeat(254), -1],
    ['h'.repeat(252), 12],
    ['h'.repeat(253), 11],
    ['  ', -1], // two spaces (10 is one)
    ['X', -1],
    ['knoten-u', -1],
  ])('%j → %i', (id, want) => {
    expect(find(indexOf(IDS), id)).toBe(want);
  });

  it('byte prefixes and suffixes of multi-byte characters are not ids', () => {
    const ix = indexOf(IDS);
    expect(find(ix, Uint8Array.of(0xc3))).toBe(-1); // first byte of 'é' / 'ê'
    expect(find(ix, Uint8Array.of(0xa9))).toBe(-1);
    expect(find(ix, Uint8Array.of(0xf0, 0x9f, 0x9a))).toBe(-1); // 🚀 less its last byte
    expect(find(ix, Uint8Array.of(0xf0, 0x9f, 0x9a, 0x81))).toBe(-1); // 🚀 with the last byte + 1
    expect(find(ix, Uint8Array.of(0xe8, 0x8a, 0x82))).toBe(-1); // 节
  });

  it('the range is what counts, not the bytes around it', () => {
    const ix = indexOf(IDS);
    const b = utf8('worker-10|node-ab');
    expect(ix.find(b, 0, 8)).toBe(0); // worker-1
    expect(ix.find(b, 0, 9)).toBe(1); // worker-10
    expect(ix.find(b, 1, 9)).toBe(-1); // orker-10
    expect(ix.find(b, 10, 16)).toBe(2); // node-a
    expect(ix.find(b, 10, 17)).toBe(-1); // node-ab
    expect(ix.find(b, 16, 17)).toBe(-1); // b
    expect(ix.find(b, 9, 9)).toBe(-1); // empty: no empty id was added
  });

  it('an empty id is found by an empty range (and only by it)', () => {
    const ix = indexOf(['a', '', 'b']);
    expect(ix.find(utf8('zzz'), 2, 2)).toBe(1);
    expect(ix.find(utf8('a'), 0, 1)).toBe(0);
    expect(ix.find(utf8('ab'), 0, 2)).toBe(-1);
    expect(ix.find(utf8('b'), 0, 1)).toBe(2);
  });

  it('an empty index finds nothing', () => {
    const ix = new IdBytesIndex();
    expect(ix.find(utf8('a'), 0, 1)).toBe(-1);
    expect(ix.find(utf8('a'), 0, 0)).toBe(-1);
  });

  it('grows past its initial sizes: 100 000 ids, all found, in one buffer of all of them', () => {
    const n = 100_000;
    const ids = Array.from({ length: n }, (_, i) => (i % 3 === 0 ? `node-${i}` : i % 3 === 1 ? `ノード-${i}` : `n${i}.example.org`));
    const ix = indexOf(ids);
    // the ids back to back, with a separator, as a request body would carry them
    const parts = ids.map((id) => utf8(id));
    const all = Buffer.concat(parts.flatMap((p) => [p, utf8(',')]));
    let at = 0;
    let wrong = 0;
    for (let h = 0; h < n; h++) {
      if (ix.find(all, at, at + parts[h].length) !== h) wrong++;
      at += parts[h].length + 1;
    }
    expect(wrong).toBe(0);
    expect(find(ix, `node-${n}`)).toBe(-1);
    expect(find(ix, 'node-1')).toBe(-1); // 1 % 3 = 1: ノード-1
    expect(find(ix, 'ノード-1')).toBe(1);
    expect(find(ix, `n${n - 1}.example.org`)).toBe(-1); // (n − 1) % 3 = 0: node-99999
    expect(find(ix, `node-${n - 1}`)).toBe(n - 1);
    expect(find(ix, 'n2.example.or')).toBe(-1);
  });

  it('adding out of order throws and changes nothing', () => {
    const ix = new IdBytesIndex();
    expect(() => ix.add(1, 'a')).toThrow('IdBytesIndex: host 1 added out of order (expected 0)');
    ix.add(0, 'a');
    expect(() => ix.add(2, 'c')).toThrow('IdBytesIndex: host 2 added out of order (expected 1)');
    expect(() => ix.add(0, 'again')).toThrow('IdBytesIndex: host 0 added out of order (expected 1)');
    expect(() => ix.add(-1, 'neg')).toThrow('IdBytesIndex: host -1 added out of order (expected 1)');
    expect(find(ix, 'c')).toBe(-1);
    expect(find(ix, 'again')).toBe(-1);
    ix.add(1, 'b');
    expect([find(ix, 'a'), find(ix, 'b'), find(ix, 'c')]).toEqual([0, 1, -1]);
  });

  it('property: distinct strings added in order are each found at their index; others are not found', () => {
    const str = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 12 }),
      fc.string({ unit: 'grapheme', maxLength: 6 }),
      fc.string({ unit: 'binary-ascii', maxLength: 12 }),
      fc.string({ unit: fc.constantFrom('a', 'b', 'é', '-'), maxLength: 5 }), // near-misses of each other
    );
    fc.assert(
      fc.property(fc.uniqueArray(str, { maxLength: 300 }), fc.array(str, { maxLength: 10 }), fc.nat(20), (ids, others, pad) => {
        const ix = indexOf(ids);
        const pos = new Map(ids.map((id, h) => [id, h]));
        ids.forEach((id, h) => {
          const { b, start, end } = embedded(id, pad);
          expect(ix.find(b, start, end)).toBe(h);
        });
        // strings drawn apart, and each id with a byte more or less: found only when they are ids too
        const probes = [...others, ...ids.slice(0, 20).flatMap((id) => [id + 'x', id.slice(1), id.slice(0, -1)])];
        for (const p of probes) {
          if (utf8(p).toString('utf8') !== p) continue; // a half of a surrogate pair (from slicing) has no UTF-8 of its own
          expect(find(ix, p)).toBe(pos.get(p) ?? -1);
        }
      }),
      { numRuns: 200, seed: 20261127 },
    );
  });
});

describe('ClusterSnapshot.indexOfUtf8', () => {
  function store(ids: string[]) {
    const st = new MemoryStore({ maxClockSkewMs: 5_000 });
    st.registerHosts(ids.map((id) => hostSpec(id)));
    return st;
  }
  const at = (snap: { indexOfUtf8(b: Uint8Array, s: number, e: number): number }, id: string) => {
    const { b, start, end } = embedded(id);
    return snap.indexOfUtf8(b, start, end);
  };

  it('agrees with indexOf for registered and unknown ids', () => {
    const st = store(['a', 'b', 'knoten-ü', '节点-1']);
    const snap = st.snapshot();
    for (const [id, h] of [['a', 0], ['b', 1], ['knoten-ü', 2], ['节点-1', 3], ['c', -1], ['knoten-u', -1], ['', -1], ['ab', -1]] as const) {
      expect([snap.indexOf(id), at(snap, id)], id).toEqual([h, h]);
    }
  });

  it('a snapshot taken before more hosts were registered does not know them (same rule as indexOf)', () => {
    const st = store(['a', 'b', 'c']);
    const before = st.snapshot();
    st.registerHosts([hostSpec('late'), hostSpec('spät'), hostSpec('a')]); // 'a' is an update: keeps index 0
    const after = st.snapshot();
    expect([before.indexOf('late'), at(before, 'late')]).toEqual([-1, -1]);
    expect([before.indexOf('spät'), at(before, 'spät')]).toEqual([-1, -1]);
    expect([before.indexOf('c'), at(before, 'c')]).toEqual([2, 2]);
    expect([after.indexOf('late'), at(after, 'late')]).toEqual([3, 3]);
    expect([after.indexOf('spät'), at(after, 'spät')]).toEqual([4, 4]);
    expect([after.indexOf('a'), at(after, 'a')]).toEqual([0, 0]);
    expect(after.size).toBe(5); // re-registering 'a' added no host
    expect(before.size).toBe(3);
  });

  it('a registration that fails registers no bytes either', () => {
    const st = store(['a']);
    expect(() => st.registerHosts([hostSpec('ok'), hostSpec('bad', { power: { kind: 'linear', idleWatts: 100, maxWatts: 50, standbyWatts: 0 } })])).toThrow();
    const snap = st.snapshot();
    expect([snap.indexOf('ok'), at(snap, 'ok')]).toEqual([-1, -1]);
    st.registerHosts([hostSpec('ok')]);
    expect(at(st.snapshot(), 'ok')).toBe(1);
  });

  // An id with an unpaired surrogate has no UTF-8 form (Buffer would store EF BF BD, the
  // bytes of U+FFFD, and confuse it with a host of that name): registration refuses it.
  it('an id with an unpaired surrogate is refused; U+FFFD itself is an ordinary id', () => {
    expect(() => store(['\uFFFD', 'a\uD800'])).toThrow('hosts[1].id: must be valid Unicode text (it has an unpaired surrogate)');
    expect(() => store(['\uDC00x'])).toThrow(ValidationError);
    const st = store(['\uFFFD', '\uD83D\uDE00']); // U+FFFD and a well-formed pair (😀)
    const snap = st.snapshot();
    expect(snap.indexOfUtf8(Uint8Array.of(0xef, 0xbf, 0xbd), 0, 3)).toBe(0);
    expect(snap.indexOfUtf8(Uint8Array.of(0xf0, 0x9f, 0x98, 0x80), 0, 4)).toBe(1);
  });
});
