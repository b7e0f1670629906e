/**
 * Request decoding for every wattplace.v1 RPC, with the bounds of what a
 * request may carry checked as it is decoded.
 *
 * grpc-js answers any exception of a request deserializer with
 * INTERNAL "Error deserializing request", before a handler runs: a client's
 * mistake would look like a server fault. The deserializers here never throw:
 * a body that is not a valid message, or that carries a string beyond its
 * bound, decodes to a `BadRequest` holding the ValidationError, and the
 * handler answers it with INVALID_ARGUMENT (grpc.ts).
 *
 * Valid means: the protobuf wire format (tags with a field number ≥ 1 and a
 * known wire type, lengths within the body, no stray end-group, groups nested
 * at most 100 deep as @bufbuild/protobuf's reader allows), strings in UTF-8
 * (proto3's rule), and the bounds of src/domain/names.ts on every id, name
 * and label.
 */
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { checkLabels, checkName, MAX_SELECTOR_ENTRIES, ValidationError } from '../domain';
import * as pb from '../gen/wattplace/v1/wattplace';

/** A request that could not be taken: the handler answers `error` as INVALID_ARGUMENT. */
export class BadRequest {
  constructor(readonly error: ValidationError) {}
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const decodeUtf8 = (b: Uint8Array): string => {
  try {
    return utf8.decode(b);
  } catch {
    throw new Error('a string field is not valid UTF-8');
  }
};

interface MessageType<T> {
  decode(input: BinaryReader | Uint8Array, length?: number): T;
}

/**
 * Walks the top-level fields of a message without decoding them: every tag
 * valid, no end-group without its start-group, no field running past the end.
 * ts-proto's decoders stop quietly at a stray end-group (and accept one as the
 * last byte), so this is checked first.
 */
function scanTopLevel(bytes: Uint8Array): void {
  const r = new BinaryReader(bytes);
  while (r.pos < bytes.length) {
    const [fieldNo, wireType] = r.tag();
    if (wireType === WireType.EndGroup) throw new Error(`end-group tag of field ${fieldNo} without its start-group`);
    r.skip(wireType, fieldNo);
    if (r.pos > bytes.length) throw new Error(`field ${fieldNo} runs past the end of the message`);
  }
}

/** Decodes `bytes` as `type`, strictly; throws a ValidationError on `field` saying why it is not a `name`. */
export function decodeStrict<T>(type: MessageType<T>, name: string, bytes: Uint8Array, field = 'body'): T {
  const reader = new BinaryReader(bytes, decodeUtf8);
  let m: T;
  try {
    scanTopLevel(bytes);
    m = type.decode(reader);
  } catch (e) {
    const why = e instanceof RangeError && /call stack/i.test(e.message) ? 'nested too deeply' : e instanceof Error ? e.message : String(e);
    throw new ValidationError(field, `not a valid ${name} (${why})`);
  }
  // ts-proto's decode stops quietly at an end-group tag or a zero tag; either one is invalid at the top.
  if (reader.pos !== bytes.length) throw new ValidationError(field, `not a valid ${name} (invalid tag at byte ${reader.pos} of ${bytes.length})`);
  return m;
}

/** A grpc-js request deserializer that never throws: BadRequest for what is not a valid request. */
export function requestDeserializer<T>(type: MessageType<T>, name: string, check: (m: T) => void, field = 'body'): (b: Buffer) => T | BadRequest {
  return (b) => {
    try {
      const m = decodeStrict(type, name, b, field);
      check(m);
      return m;
    } catch (e) {
      if (e instanceof ValidationError) return new BadRequest(e);
      return new BadRequest(new ValidationError(field, `not a valid ${name} (${e instanceof Error ? e.message : String(e)})`));
    }
  };
}

// ------------------------------------------------------------ bounds per message

const id = (v: string, field: string) => checkName(v, field);
const ids = (vs: readonly string[], field: string) => vs.forEach((v, i) => checkName(v, `${field}[${i}]`));

function host(h: pb.Host, field: string): void {
  id(h.id, `${field}.id`);
  id(h.site, `${field}.site`);
  checkLabels(h.labels, `${field}.labels`);
}

function workload(w: pb.Workload | undefined, field: string): void {
  if (!w) return;
  id(w.id, `${field}.id`);
  checkLabels(w.selector, `${field}.selector`, MAX_SELECTOR_ENTRIES);
}

function candidates(cs: readonly pb.Candidate[]): void {
  cs.forEach((c, i) => id(c.hostId, `candidates[${i}].host_id`));
}

export const checkHostSample = (s: pb.HostSample, field = 'host_id'): void => void id(s.hostId, field);

/** The checks of each request message, by the RPC's method name in the service definition. */
export const REQUEST_BOUNDS = {
  registerHosts: (r: pb.RegisterHostsRequest) => r.hosts.forEach((h, i) => host(h, `hosts[${i}]`)),
  report: (r: pb.ReportRequest) => {
    r.samples.forEach((s, i) => id(s.hostId, `samples[${i}].host_id`));
    r.sites.forEach((s, i) => id(s.site, `sites[${i}].site`));
  },
  getPowerModel: (r: pb.GetPowerModelRequest) => id(r.hostId, 'host_id'),
  evaluate: (r: pb.EvaluateRequest) => {
    workload(r.workload, 'workload');
    candidates(r.candidates);
  },
  place: (r: pb.PlaceRequest) => {
    workload(r.workload, 'workload');
    candidates(r.candidates);
  },
  release: (r: pb.ReleaseRequest) => id(r.reservationId, 'reservation_id'),
  placeBatch: (r: pb.PlaceBatchRequest) => r.workloads.forEach((w, i) => workload(w, `workloads[${i}]`)),
  planConsolidation: (r: pb.PlanConsolidationRequest) => {
    r.running.forEach((x, i) => {
      workload(x.workload, `running[${i}].workload`);
      id(x.hostId, `running[${i}].host_id`);
    });
    ids(r.hostIds, 'host_ids');
  },
} as const;

type Def = { readonly path: string; readonly requestStream: boolean; readonly requestDeserialize: (b: Buffer) => unknown };

/** The message type and its full name for each request, from the method's path. */
const REQUEST_TYPES: Record<string, [MessageType<unknown>, string]> = {
  registerHosts: [pb.RegisterHostsRequest, 'wattplace.v1.RegisterHostsRequest'],
  report: [pb.ReportRequest, 'wattplace.v1.ReportRequest'],
  streamReport: [pb.HostSample, 'wattplace.v1.HostSample'],
  getPowerModel: [pb.GetPowerModelRequest, 'wattplace.v1.GetPowerModelRequest'],
  evaluate: [pb.EvaluateRequest, 'wattplace.v1.EvaluateRequest'],
  place: [pb.PlaceRequest, 'wattplace.v1.PlaceRequest'],
  release: [pb.ReleaseRequest, 'wattplace.v1.ReleaseRequest'],
  placeBatch: [pb.PlaceBatchRequest, 'wattplace.v1.PlaceBatchRequest'],
  planConsolidation: [pb.PlanConsolidationRequest, 'wattplace.v1.PlanConsolidationRequest'],
};

/**
 * A service definition with the strict, bounded request deserializers for
 * every method. Throws (at start-up) for a method this file does not know, so
 * an RPC added to the proto cannot go without them.
 */
export function withStrictRequests<S extends Record<string, Def>>(def: S): S {
  const out: Record<string, Def> = {};
  for (const [method, d] of Object.entries(def)) {
    const t = REQUEST_TYPES[method];
    if (!t) throw new Error(`grpc-decode: no request type registered for ${d.path}`);
    const check = (REQUEST_BOUNDS as Record<string, (m: unknown) => void>)[method] ?? (method === 'streamReport' ? (m: unknown) => checkHostSample(m as pb.HostSample) : undefined);
    if (!check) throw new Error(`grpc-decode: no request bounds registered for ${d.path}`);
    out[method] = { ...d, requestDeserialize: requestDeserializer(t[0], t[1], check) };
  }
  return out as S;
}
