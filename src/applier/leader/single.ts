import type { Leadership } from '../ports';
import { defaultIdentity, EtcdLeadership, type EtcdLeadershipConfig } from './etcd';

/**
 * Leadership without etcd: the operator runs one applier replica, and it leads
 * from `start` to `close`. Nothing stops a second replica from acting too, so
 * without `applier.etcd.endpoints` run exactly one (README says so).
 */
export class SingleReplicaLeadership implements Leadership {
  readonly identity: string;
  private leading = false;
  private readonly listeners: ((leader: boolean) => void)[] = [];

  constructor(opts: { identity?: string } = {}) {
    this.identity = opts.identity ?? defaultIdentity();
  }

  isLeader(): boolean {
    return this.leading;
  }

  leaderIdentity(): string | null {
    return this.leading ? this.identity : null;
  }

  onChange(listener: (leader: boolean) => void): void {
    this.listeners.push(listener);
  }

  start(): Promise<void> {
    this.set(true);
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.set(false);
    return Promise.resolve();
  }

  private set(v: boolean): void {
    if (v === this.leading) return;
    this.leading = v;
    for (const l of this.listeners) l(v);
  }
}

/** `applier.etcd` set: a lease in etcd; absent: a single replica. */
export function createLeadership(
  etcd: EtcdLeadershipConfig | undefined,
  opts: { identity?: string; log?: (event: string, fields: Record<string, unknown>) => void } = {},
): Leadership {
  return etcd && etcd.endpoints.length > 0 ? new EtcdLeadership(etcd, opts) : new SingleReplicaLeadership(opts);
}
