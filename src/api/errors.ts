import { status } from '@grpc/grpc-js';
import { clip, LimitError, NoFeasibleHostError, NotFoundError, ValidationError } from '../domain';

/** An RPC that this server does not offer (a feature not enabled). */
export class UnimplementedError extends Error {}

type Classified = { grpc: status; http: number; outcome: string; message: string; expected: boolean };

/**
 * Maps an error from the core to a gRPC status code and an HTTP status. The
 * message is cut to MAX_ERROR_CHARS whatever it holds: a status message
 * travels in one HTTP/2 header (grpc-message), and a header larger than the
 * peer's limit is never delivered at all.
 */
export function classify(e: unknown): Classified {
  const c = classifyRaw(e);
  return { ...c, message: clip(c.message) };
}

function classifyRaw(e: unknown): Classified {
  if (e instanceof UnimplementedError) return { grpc: status.UNIMPLEMENTED, http: 501, outcome: 'unimplemented', message: e.message, expected: true };
  if (e instanceof LimitError) return { grpc: status.INVALID_ARGUMENT, http: 400, outcome: 'invalid', message: e.message, expected: true };
  if (e instanceof ValidationError) return { grpc: status.INVALID_ARGUMENT, http: 400, outcome: 'invalid', message: e.message, expected: true };
  if (e instanceof NotFoundError) return { grpc: status.NOT_FOUND, http: 404, outcome: 'not_found', message: e.message, expected: true };
  if (e instanceof NoFeasibleHostError) return { grpc: status.RESOURCE_EXHAUSTED, http: 409, outcome: 'no_feasible_host', message: e.message, expected: true };
  const message = e instanceof Error ? e.message : String(e);
  return { grpc: status.INTERNAL, http: 500, outcome: 'error', message: `internal error: ${message}`, expected: false };
}
