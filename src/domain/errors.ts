/** Most characters of a client's value any error message repeats. */
export const MAX_ECHO_CHARS = 64;
/** Longest error message the service sends (gRPC status message, HTTP error text), characters. */
export const MAX_ERROR_CHARS = 2048;

/**
 * A client's value as an error message repeats it: JSON-quoted, at most
 * MAX_ECHO_CHARS characters of it, and its length when it was cut. Every
 * message that quotes a request's string goes through here.
 */
export function echo(v: unknown, max = MAX_ECHO_CHARS): string {
  if (typeof v !== 'string') return clip(String(JSON.stringify(v)), max);
  if (v.length <= max) return JSON.stringify(v);
  return `${JSON.stringify(v.slice(0, max))}… (${v.length} characters)`;
}

/** A text cut to at most `max` characters (an ellipsis marks the cut). */
export function clip(s: string, max = MAX_ERROR_CHARS): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/**
 * A request that cannot be served as sent. `field` names the offending input
 * with a path such as `hosts[3].power.table.watts`; adapters turn it into gRPC
 * INVALID_ARGUMENT or HTTP 400.
 */
export class ValidationError extends Error {
  constructor(
    readonly field: string,
    readonly problem: string,
  ) {
    super(clip(`${clip(field, 256)}: ${problem}`));
    this.name = 'ValidationError';
  }
}

/** A referenced object (host, reservation) that does not exist. */
export class NotFoundError extends Error {
  constructor(
    readonly what: string,
    readonly id: string,
  ) {
    super(`${what} ${echo(id)} not found`);
    this.name = 'NotFoundError';
  }
}

/** No host can take the workload; `rejections` says why for each host. */
export class NoFeasibleHostError extends Error {
  constructor(
    readonly workloadId: string,
    readonly rejections: readonly { hostId: string; reason: string }[],
  ) {
    const shown = rejections.slice(0, 20).map((r) => `${clip(r.hostId, MAX_ECHO_CHARS)}: ${r.reason}`);
    const more = rejections.length > 20 ? `; … ${rejections.length - 20} more` : '';
    super(clip(`no feasible host for workload ${echo(workloadId)} (${shown.join('; ')}${more})`));
    this.name = 'NoFeasibleHostError';
  }
}

/** A limit (batch size, message size) was exceeded. */
export class LimitError extends ValidationError {}
