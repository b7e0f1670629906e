/**
 * Fast wire encoding of the two large decision answers, PlaceResponse and
 * EvaluateResponse. Both list every rejected host with its reason: on a large
 * cluster that is a thousand or more small messages per answer, and ts-proto's
 * generic writer (one TextEncoder call per string, one fork/join per message)
 * would spend more time on them than the decision itself.
 *
 * The rejected list is built here as one string of protobuf bytes (one char
 * per byte) and turned into bytes by one `Buffer.from(…, 'latin1')`. That is
 * exact when every host id and reason is ASCII, which one length check on the
 * concatenated text confirms; otherwise ts-proto encodes the list. The output
 * is byte-for-byte what ts-proto writes (wire.test.ts compares them).
 */
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import * as pb from '../gen/wattplace/v1/wattplace';

/** Field tags (field number << 3 | wire type 2) of the rejected lists. */
const TAG_PLACE_REJECTED = String.fromCharCode((5 << 3) | 2);
const TAG_EVALUATE_REJECTED = String.fromCharCode((2 << 3) | 2);
const TAG_HOST_ID = String.fromCharCode((1 << 3) | 2);
const TAG_REASON = String.fromCharCode((2 << 3) | 2);

const SMALL = 1 << 14;
const varintCache: string[] = new Array(SMALL);

/** The varint bytes of `n` (0 ≤ n < 2^32), one char per byte. */
function varint(n: number): string {
  if (n < SMALL) {
    let s = varintCache[n];
    if (s === undefined) s = varintCache[n] = n < 128 ? String.fromCharCode(n) : String.fromCharCode((n & 127) | 128, n >>> 7);
    return s;
  }
  let s = '';
  while (n >= 128) {
    s += String.fromCharCode((n & 127) | 128);
    n >>>= 7;
  }
  return s + String.fromCharCode(n);
}

const varintLength = (n: number): number => (n < 128 ? 1 : n < SMALL ? 2 : n < 1 << 21 ? 3 : n < 1 << 28 ? 4 : 5);

/**
 * The encoded `rejected` entries (each: tag, length, Rejection) as bytes, or
 * null when some text is not ASCII (the caller then uses ts-proto).
 */
export function encodeRejections(tag: string, list: readonly pb.Rejection[]): Buffer | null {
  let out = '';
  let text = '';
  for (let i = 0; i < list.length; i++) {
    const { hostId, reason } = list[i];
    const h = hostId.length;
    const r = reason.length;
    const size = (h > 0 ? 1 + varintLength(h) + h : 0) + (r > 0 ? 1 + varintLength(r) + r : 0);
    out += tag + varint(size);
    if (h > 0) out += TAG_HOST_ID + varint(h) + hostId;
    if (r > 0) out += TAG_REASON + varint(r) + reason;
    text += hostId + reason;
  }
  // Every char below 0x80 ⇔ as many UTF-8 bytes as chars: then char lengths are byte lengths.
  if (Buffer.byteLength(text, 'utf8') !== text.length) return null;
  return Buffer.from(out, 'latin1');
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
