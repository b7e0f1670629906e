/**
 * Fast wire encoding of the two large decision answers, PlaceResponse and
 * EvaluateResponse. Both list every rejected host with its reason: on a large
 * cluster that is a thousand or more small messages per answer, and ts-proto's
 * generic writer (one TextEncoder call per string, one fork/join per message)
 * would spend more time on them than the decision itself.
 *
 * The rejected list is written here straight into one buffer sized from the
 * string lengths, which is exact when every host id and reason is ASCII (as
 * host names and the filters' reasons are); any other text makes ts-proto
 * encode the answer. The output is byte-for-byte what ts-proto writes
 * (wire.test.ts compares them).
 */
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import * as pb from '../gen/wattplace/v1/wattplace';

/** Field tags (field number << 3 | wire type 2) of the rejected lists and of Rejection's fields. */
const TAG_PLACE_REJECTED = (5 << 3) | 2;
const TAG_EVALUATE_REJECTED = (2 << 3) | 2;
const TAG_HOST_ID = (1 << 3) | 2;
const TAG_REASON = (2 << 3) | 2;

/** Room past the computed size, so that a non-ASCII string can never fill it exactly (see below). */
const SLACK = 8;

const varintLength = (n: number): number => (n < 128 ? 1 : n < 1 << 14 ? 2 : n < 1 << 21 ? 3 : n < 1 << 28 ? 4 : 5);

function writeVarint(b: Buffer, p: number, n: number): number {
  while (n >= 128) {
    b[p++] = (n & 127) | 128;
    n >>>= 7;
  }
  b[p++] = n;
  return p;
}

/**
 * The encoded `rejected` entries (each: tag, length, Rejection) as bytes, or
 * null when some text is not ASCII (the caller then uses ts-proto).
 *
 * Sizes are computed from string lengths, which are byte lengths for ASCII;
 * each string is then written as UTF-8 into the rest of the buffer, which
 * returns the bytes written: equal to the length only for ASCII text. (A
 * non-ASCII string has more UTF-8 bytes than chars; Buffer#write writes whole
 * chars only, so a string cut short by the end of the buffer still wrote
 * more bytes than its length as long as SLACK ≥ 5 bytes lie beyond it.)
 */
export function encodeRejections(tag: number, list: readonly pb.Rejection[]): Buffer | null {
  let size = 0;
  for (let i = 0; i < list.length; i++) {
    const h = list[i].hostId.length;
    const r = list[i].reason.length;
    const sub = (h > 0 ? 1 + varintLength(h) + h : 0) + (r > 0 ? 1 + varintLength(r) + r : 0);
    size += 1 + varintLength(sub) + sub;
  }
  const b = Buffer.allocUnsafe(size + SLACK);
  let p = 0;
  for (let i = 0; i < list.length; i++) {
    const { hostId, reason } = list[i];
    const h = hostId.length;
    const r = reason.length;
    b[p++] = tag;
    p = writeVarint(b, p, (h > 0 ? 1 + varintLength(h) + h : 0) + (r > 0 ? 1 + varintLength(r) + r : 0));
    if (h > 0) {
      b[p++] = TAG_HOST_ID;
      p = writeVarint(b, p, h);
      if (b.write(hostId, p, 'utf8') !== h) return null;
      p += h;
    }
    if (r > 0) {
      b[p++] = TAG_REASON;
      p = writeVarint(b, p, r);
      if (b.write(reason, p, 'utf8') !== r) return null;
      p += r;
    }
  }
  return b.subarray(0, size);
}

function concat(head: Uint8Array, block: Buffer, tail?: Uint8Array): Buffer {
  const parts: Uint8Array[] = [head, block];
  if (tail) parts.push(tail);
  return Buffer.concat(parts);
}

/** PlaceResponse → bytes, as `PlaceResponse.encode(m).finish()` would write them. */
export function encodePlaceResponse(m: pb.PlaceResponse): Buffer {
  const block = m.rejected.length > 0 ? encodeRejections(TAG_PLACE_REJECTED, m.rejected) : null;
  if (block === null) return Buffer.from(pb.PlaceResponse.encode(m).finish());
  // Fields 1–4, then the rejected list (5), then score (6): ts-proto's order.
  const head = pb.PlaceResponse.encode({ ...m, rejected: [], score: 0 }).finish();
  const tail = m.score !== 0 ? new BinaryWriter().uint32((6 << 3) | 1).double(m.score).finish() : undefined;
  return concat(head, block, tail);
}

/** EvaluateResponse → bytes, as `EvaluateResponse.encode(m).finish()` would write them. */
export function encodeEvaluateResponse(m: pb.EvaluateResponse): Buffer {
  const block = m.rejected.length > 0 ? encodeRejections(TAG_EVALUATE_REJECTED, m.rejected) : null;
  if (block === null) return Buffer.from(pb.EvaluateResponse.encode(m).finish());
  const head = pb.EvaluateResponse.encode({ feasible: m.feasible, rejected: [] }).finish();
  return concat(head, block);
}

/**
 * PlacementService's definition with the fast encoders for Place and
 * Evaluate answers; requests and every other method as generated.
 */
export const PlacementServiceWire = {
  ...pb.PlacementServiceService,
  place: { ...pb.PlacementServiceService.place, responseSerialize: encodePlaceResponse },
  evaluate: { ...pb.PlacementServiceService.evaluate, responseSerialize: encodeEvaluateResponse },
} as const;
