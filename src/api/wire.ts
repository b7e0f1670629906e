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
function encodePlaceExact(m: pb.PlaceResponse): Buffer {
  const block = m.rejected.length > 0 ? encodeRejections(TAG_PLACE_REJECTED, m.rejected) : null;
  if (block === null) return Buffer.from(pb.PlaceResponse.encode(m).finish());
  // Fields 1–4, then the rejected list (5), then score (6) and wake (7): ts-proto's order.
  const head = pb.PlaceResponse.encode({ ...m, rejected: [], score: 0, wake: false }).finish();
  let tail: Uint8Array | undefined;
  if (m.score !== 0 || m.wake) {
    const w = new BinaryWriter();
    if (m.score !== 0) w.uint32((6 << 3) | 1).double(m.score);
    if (m.wake) w.uint32(7 << 3).bool(true);
    tail = w.finish();
  }
  return concat(head, block, tail);
}

/** EvaluateResponse → bytes, as `EvaluateResponse.encode(m).finish()` would write them. */
function encodeEvaluateExact(m: pb.EvaluateResponse): Buffer {
  const block = m.rejected.length > 0 ? encodeRejections(TAG_EVALUATE_REJECTED, m.rejected) : null;
  if (block === null) return Buffer.from(pb.EvaluateResponse.encode(m).finish());
  const head = pb.EvaluateResponse.encode({ feasible: m.feasible, rejected: [] }).finish();
  return concat(head, block);
}

/** Encoded bytes of one list entry (tag, length, message) whose message is `sub` bytes. */
const entryBytes = (sub: number): number => 1 + varintLength(sub) + sub;
const strBytes = (s: string): number => (s.length === 0 ? 0 : entryBytes(Buffer.byteLength(s)));
const rejectionBytes = (r: pb.Rejection): number => entryBytes(strBytes(r.hostId) + strBytes(r.reason));
const scoreBytes = (s: pb.HostScore): number => entryBytes(strBytes(s.hostId) + (s.marginalWatts !== 0 ? 9 : 0) + (s.score !== 0 ? 9 : 0));

/** Room kept for the entry that counts what was left out. */
const SUMMARY_ROOM = 256;

/**
 * Cuts the lists of an answer that would not fit `maxBytes` (the server's
 * maxMessageBytes, which grpc-js enforces on every answer): feasible hosts
 * are kept best first, then rejected hosts in order, as many as fit; the last
 * rejected entry, with an empty host_id, says how many were left out. Only
 * runs for an answer that is too large, which bounded ids and reasons make
 * rare (a reason is at most a few hundred bytes; see src/domain/names.ts).
 */
export function fitLists(feasible: readonly pb.HostScore[], rejected: readonly pb.Rejection[], fixedBytes: number, maxBytes: number): { feasible: pb.HostScore[]; rejected: pb.Rejection[] } {
  let budget = maxBytes - fixedBytes - SUMMARY_ROOM;
  let f = 0;
  while (f < feasible.length && (budget -= scoreBytes(feasible[f])) >= 0) f++;
  if (f < feasible.length) budget = -1;
  let r = 0;
  while (budget >= 0 && r < rejected.length && (budget -= rejectionBytes(rejected[r])) >= 0) r++;
  const leftF = feasible.length - f;
  const leftR = rejected.length - r;
  const what = [leftF > 0 ? `${leftF} feasible` : '', leftR > 0 ? `${leftR} rejected` : ''].filter(Boolean).join(' and ');
  const summary: pb.Rejection = { hostId: '', reason: `${what} hosts not listed: the answer is limited to ${maxBytes} bytes (maxMessageBytes)` };
  return { feasible: feasible.slice(0, f), rejected: [...rejected.slice(0, r), summary] };
}

/** PlaceResponse → bytes (ts-proto's bytes exactly), its lists cut to fit `maxBytes` (see fitLists). */
export function encodePlaceResponse(m: pb.PlaceResponse, maxBytes = Infinity): Buffer {
  const out = encodePlaceExact(m);
  if (out.length <= maxBytes) return out;
  const fixed = pb.PlaceResponse.encode({ ...m, rejected: [], alternatives: [] }).finish().length;
  const cut = fitLists(m.alternatives, m.rejected, fixed, maxBytes);
  return encodePlaceExact({ ...m, alternatives: cut.feasible, rejected: cut.rejected });
}

/** EvaluateResponse → bytes (ts-proto's bytes exactly), its lists cut to fit `maxBytes` (see fitLists). */
export function encodeEvaluateResponse(m: pb.EvaluateResponse, maxBytes = Infinity): Buffer {
  const out = encodeEvaluateExact(m);
  if (out.length <= maxBytes) return out;
  const cut = fitLists(m.feasible, m.rejected, 0, maxBytes);
  return encodeEvaluateExact({ feasible: cut.feasible, rejected: cut.rejected });
}

/**
 * PlacementService's definition with the fast encoders for Place and
 * Evaluate answers, which always fit `maxBytes`; requests and every other
 * method as generated.
 */
export function placementServiceWire(maxBytes: number) {
  return {
    ...pb.PlacementServiceService,
    place: { ...pb.PlacementServiceService.place, responseSerialize: (m: pb.PlaceResponse) => encodePlaceResponse(m, maxBytes) },
    evaluate: { ...pb.PlacementServiceService.evaluate, responseSerialize: (m: pb.EvaluateResponse) => encodeEvaluateResponse(m, maxBytes) },
  } as const;
}
