import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as pb from '../gen/wattplace/v1/wattplace';
import { encodeEvaluateResponse, encodePlaceResponse } from './wire';

const tsProtoPlace = (m: pb.PlaceResponse) => Buffer.from(pb.PlaceResponse.encode(m).finish());
const tsProtoEvaluate = (m: pb.EvaluateResponse) => Buffer.from(pb.EvaluateResponse.encode(m).finish());

const capacityReason = 'insufficient cpu: requested 4000m, free 1200m of 24000m (allocated 22800m, reserved 0m)';

// Named scenarios: each is encoded by wire.ts and by ts-proto; the bytes must be identical.
const placeCases: Record<string, pb.PlaceResponse> = {
  'typical answer': {
    hostId: 'host-00042',
    marginalWatts: 3.25,
    reservationId: '6f1c1c52-5d0e-4a57-9c1e-2f4f7d6f5b1a',
    alternatives: [
      { hostId: 'host-00007', marginalWatts: 3.5, score: -3.5 },
      { hostId: 'host-00100', marginalWatts: 4, score: -4 },
    ],
    rejected: [
      { hostId: 'host-00001', reason: 'host is in MAINTENANCE' },
      { hostId: 'host-00002', reason: capacityReason },
      { hostId: 'host-00003', reason: 'stale telemetry: last sample 612.3 s ago, bound 60.0 s' },
    ],
    score: -3.25,
    wake: true,
  },
  'zero score and watts are left out': { hostId: 'h', marginalWatts: 0, reservationId: 'r', alternatives: [], rejected: [{ hostId: 'x', reason: 'y' }], score: 0, wake: false },
  'empty host id or reason is left out of the entry': {
    hostId: 'h',
    marginalWatts: 1,
    reservationId: 'r',
    alternatives: [],
    rejected: [
      { hostId: '', reason: 'unknown' },
      { hostId: 'a', reason: '' },
      { hostId: '', reason: '' },
    ],
    score: 1,
    wake: false,
  },
  // 127/128 and 16383/16384 bytes: the one-, two- and three-byte length prefixes.
  'length prefixes at varint boundaries': {
    hostId: 'h',
    marginalWatts: 1,
    reservationId: 'r',
    alternatives: [],
    rejected: [
      { hostId: 'a'.repeat(127), reason: 'b'.repeat(128) },
      { hostId: 'c', reason: 'd'.repeat(16_383) },
      { hostId: 'e', reason: 'f'.repeat(16_384) },
      { hostId: 'g', reason: 'h'.repeat(300_000) },
    ],
    score: -1,
    wake: false,
  },
  'non-ASCII label value in a reason (falls back to ts-proto)': {
    hostId: 'h',
    marginalWatts: 1,
    reservationId: 'r',
    alternatives: [],
    rejected: [
      { hostId: 'a', reason: 'label selector room=Zürich: host has room=Köln' },
      { hostId: 'b', reason: capacityReason },
    ],
    score: -1,
    wake: false,
  },
  'non-ASCII host id (falls back to ts-proto)': {
    hostId: 'h',
    marginalWatts: 1,
    reservationId: 'r',
    alternatives: [],
    rejected: [{ hostId: 'knoten-✓-1', reason: 'host is in MAINTENANCE' }],
    score: -1,
    wake: false,
  },
  // The last string ends the buffer: 'éab' (3 chars, 4 bytes) must not pass for ASCII by filling it exactly.
  'non-ASCII text at the very end of the list': {
    hostId: 'h',
    marginalWatts: 1,
    reservationId: 'r',
    alternatives: [],
    rejected: [
      { hostId: 'a', reason: 'host is in MAINTENANCE' },
      { hostId: 'b', reason: 'éab' },
    ],
    score: -1,
    wake: false,
  },
  'astral char at the end': {
    hostId: 'h',
    marginalWatts: 1,
    reservationId: 'r',
    alternatives: [],
    rejected: [{ hostId: 'a', reason: 'x𝄞' }],
    score: -1,
    wake: false,
  },
  'wake with nothing rejected, zero score': { hostId: 'h', marginalWatts: 2, reservationId: 'r', alternatives: [], rejected: [], score: 0, wake: true },
  'wake after rejections and score': { hostId: 'h', marginalWatts: 2, reservationId: 'r', alternatives: [], rejected: [{ hostId: 'x', reason: 'host is draining for standby' }], score: -2, wake: true },
  'no rejections': { hostId: 'h', marginalWatts: 2, reservationId: 'r', alternatives: [{ hostId: 'b', marginalWatts: 3, score: -3 }], rejected: [], score: -2, wake: false },
};

describe('encodePlaceResponse: the same bytes as ts-proto', () => {
  for (const [name, m] of Object.entries(placeCases)) {
    it(name, () => {
      const fast = encodePlaceResponse(m);
      expect(fast.equals(tsProtoPlace(m))).toBe(true);
      expect(pb.PlaceResponse.decode(fast)).toEqual(m);
    });
  }

  it('a lone surrogate at the end (not valid UTF-16, written as U+FFFD by both)', () => {
    const m: pb.PlaceResponse = { hostId: 'h', marginalWatts: 1, reservationId: 'r', alternatives: [], rejected: [{ hostId: 'b', reason: 'y\ud800' }], score: -1, wake: false };
    expect(encodePlaceResponse(m).equals(tsProtoPlace(m))).toBe(true);
  });

  it('holds for arbitrary answers (any text, any doubles)', () => {
    const text = fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 20 }));
    const score = fc.record({ hostId: text, marginalWatts: fc.double(), score: fc.double() });
    fc.assert(
      fc.property(
        fc.record({
          hostId: text,
          marginalWatts: fc.double(),
          reservationId: text,
          alternatives: fc.array(score, { maxLength: 4 }),
          rejected: fc.array(fc.record({ hostId: text, reason: text }), { maxLength: 30 }),
          score: fc.double(),
          wake: fc.boolean(),
        }),
        (m) => {
          expect(encodePlaceResponse(m).equals(tsProtoPlace(m))).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('encodeEvaluateResponse: the same bytes as ts-proto', () => {
  const cases: Record<string, pb.EvaluateResponse> = {
    'feasible and rejected': {
      feasible: [
        { hostId: 'host-1', marginalWatts: 1.5, score: -1.5 },
        { hostId: 'host-2', marginalWatts: 0, score: 0 },
      ],
      rejected: [
        { hostId: 'host-3', reason: capacityReason },
        { hostId: 'host-4', reason: 'cpu utilization after placement 0.912 would exceed the ceiling 0.8' },
      ],
    },
    'only rejected': { feasible: [], rejected: [{ hostId: 'a', reason: 'b' }] },
    'only feasible': { feasible: [{ hostId: 'a', marginalWatts: 2, score: -2 }], rejected: [] },
    'non-ASCII reason': { feasible: [], rejected: [{ hostId: 'a', reason: 'Größe' }] },
  };
  for (const [name, m] of Object.entries(cases)) {
    it(name, () => {
      const fast = encodeEvaluateResponse(m);
      expect(fast.equals(tsProtoEvaluate(m))).toBe(true);
      expect(pb.EvaluateResponse.decode(fast)).toEqual(m);
    });
  }
});
