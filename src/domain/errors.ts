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
    super(`${field}: ${problem}`);
    this.name = 'ValidationError';
  }
}

/** A referenced object (host, reservation) that does not exist. */
export class NotFoundError extends Error {
  constructor(
    readonly what: string,
    readonly id: string,
  ) {
    super(`${what} ${JSON.stringify(id)} not found`);
    this.name = 'NotFoundError';
  }
}

/** No host can take the workload; `rejections` says why for each host. */
export class NoFeasibleHostError extends Error {
  constructor(
    readonly workloadId: string,
    readonly rejections: readonly { hostId: string; reason: string }[],
  ) {
    const shown = rejections.slice(0, 20).map((r) => `${r.hostId}: ${r.reason}`);
    const more = rejections.length > 20 ? `; … ${rejections.length - 20} more` : '';
    super(`no feasible host for workload ${JSON.stringify(workloadId)} (${shown.join('; ')}${more})`);
    this.name = 'NoFeasibleHostError';
  }
}

/** A limit (batch size, message size) was exceeded. */
export class LimitError extends ValidationError {}
