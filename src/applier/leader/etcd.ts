import * as os from 'node:os';
import { Etcd3 } from 'etcd3';
import { z } from 'zod';
import type { Leadership } from '../ports';

/**
 * Leadership among applier replicas as a lease in etcd (v3 API, through the
 * `etcd3` client).
 *
 * Protocol (sources: etcd v3 API reference, "Lease API" and "KV API / Txn";
 * etcd's own `concurrency.Election` follows the same pattern):
 * - Each candidate holds a lease (LeaseGrant, TTL = ceil(leaseTtlMs / 1000) s;
 *   etcd may raise it to its minimum, ~2 s with default timing) and renews it
 *   every TTL/3 (LeaseKeepAlive). A lease that is not renewed expires in etcd
 *   and its keys are deleted.
 * - The leader is whoever created the key (default `/wattplace/applier/leader`):
 *   Txn `if create_revision(key) == 0 then put(key, identity, lease) else
 *   get(key)`. Only one create can win; the key lives exactly as long as the
 *   winner's lease. Losers poll (every TTL/3) and try again once it is gone.
 * - By its own clock a leader counts its lease from the moment it *sent* the
 *   grant/renewal that etcd confirmed: etcd counts from when it received it,
 *   so the replica steps down no later than etcd frees the key (clocks drift
 *   little over one TTL). If etcd cannot be reached, the leader steps down when
 *   that clock runs out, at most one TTL after its last confirmed renewal.
 * - Every renewal also reads the key back: a key that is gone or names another
 *   lease (revoked or deleted from outside) ends leadership at once. A new
 *   leader waits one renewal interval after winning before it acts, so that a
 *   predecessor whose key was removed from outside has had its renewal to
 *   notice.
 * - `close` revokes the lease (LeaseRevoke), which deletes the key: a clean
 *   shutdown hands over within one poll interval.
 */
export const EtcdLeadershipSchema = z
  .object({
    /** etcd client URLs, e.g. http://10.0.0.5:2379. */
    endpoints: z.array(z.string().regex(/^https?:\/\/[^\s/]+(:\d{1,5})?\/?$/, 'an etcd client URL such as http://127.0.0.1:2379')).min(1).max(16),
    leaseTtlMs: z.number().int().min(2_000).max(600_000).default(15_000),
    key: z.string().min(1).max(256).default('/wattplace/applier/leader'),
  })
  .strict();
export type EtcdLeadershipConfig = z.input<typeof EtcdLeadershipSchema>;

export const defaultIdentity = (): string => `${os.hostname()}:${process.pid}`;

type Log = (event: string, fields: Record<string, unknown>) => void;

export class EtcdLeadership implements Leadership {
  readonly identity: string;
  private readonly cfg: z.output<typeof EtcdLeadershipSchema>;
  private client: Etcd3;
  private readonly renewMs: number;
  /** How long a new leader waits after winning: a renewal interval and a quarter, so a predecessor's renewal lands first. */
  private readonly graceMs: number;
  private readonly listeners: ((leader: boolean) => void)[] = [];
  private readonly log: Log;
  private leaseId: string | null = null;
  /** Monotonic ms until which our lease is alive by our own clock. */
  private leaseUntil = 0;
  /** Monotonic ms from which we act as leader (the key is ours, the grace has passed); null = key not ours. */
  private leadFrom: number | null = null;
  private lastLeader: string | null = null;
  private reported = false;
  private timer: NodeJS.Timeout | null = null;
  private expiryTimer: NodeJS.Timeout | null = null;
  private graceTimer: NodeJS.Timeout | null = null;
  private running = false;
  private ticking: Promise<void> = Promise.resolve();

  constructor(config: EtcdLeadershipConfig, opts: { identity?: string; log?: Log } = {}) {
    this.cfg = EtcdLeadershipSchema.parse(config);
    this.identity = opts.identity ?? defaultIdentity();
    this.log = opts.log ?? (() => {});
    this.renewMs = Math.floor(this.cfg.leaseTtlMs / 3);
    this.graceMs = Math.floor(this.renewMs * 1.25);
    this.client = this.newClient();
  }

  private newClient(): Etcd3 {
    return new Etcd3({ hosts: this.cfg.endpoints, dialTimeout: this.renewMs });
  }

  /**
   * Leadership by the monotonic clock, so a leader stops the moment its lease
   * runs out, whatever the timers do. The expiry and grace timers fire a little
   * after those instants (later still on a busy event loop): a caller that sees
   * the change first reports it here, so listeners never lag `isLeader()`.
   */
  isLeader(): boolean {
    const now = this.leading();
    if (now !== this.reported) this.report();
    return now;
  }

  private leading(): boolean {
    const now = performance.now();
    return this.running && this.leadFrom !== null && now >= this.leadFrom && now < this.leaseUntil;
  }

  leaderIdentity(): string | null {
    return this.isLeader() ? this.identity : this.lastLeader;
  }

  onChange(listener: (leader: boolean) => void): void {
    this.listeners.push(listener);
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await this.tick();
    this.schedule();
  }

  async close(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    if (this.graceTimer) clearTimeout(this.graceTimer);
    await this.ticking;
    const id = this.leaseId;
    this.leaseId = null;
    this.leadFrom = null;
    this.report();
    if (id) await this.call(this.client.leaseClient.leaseRevoke({ ID: id })).catch(() => {});
    this.client.close();
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.ticking = this.tick().finally(() => this.schedule());
    }, this.renewMs);
  }

  /** One round: hold a live lease, then hold or try to take the key. Never throws. */
  private async tick(): Promise<void> {
    try {
      await this.renew();
      if (this.leaseId) await this.campaign();
    } catch (e) {
      this.log('leader_etcd_error', { error: String((e as Error).message ?? e).slice(0, 200) });
      // A fresh connection for the next try: gRPC's own reconnect backs off
      // for up to minutes and the client's circuit breaker holds a failed host
      // open, both longer than a lease lives.
      if (this.running) {
        this.client.close();
        this.client = this.newClient();
      }
    }
    this.report();
  }

  private async renew(): Promise<void> {
    const sent = performance.now();
    if (this.leaseId && sent >= this.leaseUntil) this.dropLease('lease ran out by the local clock');
    if (!this.leaseId) {
      const g = await this.call(this.client.leaseClient.leaseGrant({ TTL: Math.ceil(this.cfg.leaseTtlMs / 1000) }));
      if (!this.running) {
        await this.call(this.client.leaseClient.leaseRevoke({ ID: g.ID })).catch(() => {});
        return;
      }
      this.leaseId = g.ID;
      this.setLeaseUntil(sent, Number(g.TTL));
      return;
    }
    const id = this.leaseId;
    const stream = await this.call(this.client.leaseClient.leaseKeepAlive());
    try {
      const res = await this.call(
        new Promise<{ TTL: string }>((resolve, reject) => {
          stream.on('data', resolve);
          stream.on('error', reject);
          stream.write({ ID: id });
        }),
      );
      if (Number(res.TTL) <= 0) this.dropLease('etcd says the lease is gone');
      else if (this.leaseId === id) this.setLeaseUntil(sent, Number(res.TTL));
    } finally {
      stream.end();
    }
  }

  private async campaign(): Promise<void> {
    const id = this.leaseId as string;
    const key = this.cfg.key;
    const r = await this.call(this.client.if(key, 'Create', '==', 0).then(this.client.put(key).value(this.identity).lease(id)).else(this.client.get(key)).commit());
    if (r.succeeded) {
      if (this.leadFrom === null) this.leadFrom = performance.now() + this.graceMs;
      this.lastLeader = this.identity;
      return;
    }
    const kv = r.responses[0]?.response_range?.kvs?.[0];
    if (kv && kv.lease === id) {
      // Still ours.
      if (this.leadFrom === null) this.leadFrom = performance.now() + this.graceMs;
      this.lastLeader = this.identity;
      return;
    }
    if (this.leadFrom !== null) this.log('leader_lost', { identity: this.identity, reason: 'the key names another lease' });
    this.leadFrom = null;
    this.lastLeader = kv ? kv.value.toString('utf8').slice(0, 256) : null;
  }

  private setLeaseUntil(sent: number, ttlS: number): void {
    this.leaseUntil = sent + Math.min(this.cfg.leaseTtlMs, ttlS * 1000);
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    // Report the step-down the moment the lease runs out, not at the next tick.
    this.expiryTimer = this.at(this.leaseUntil, () => {
      this.expiryTimer = null;
      this.report();
    });
    this.report();
  }

  private dropLease(reason: string): void {
    if (this.leadFrom !== null) this.log('leader_lost', { identity: this.identity, reason });
    this.leaseId = null;
    this.leadFrom = null;
    this.leaseUntil = 0;
  }

  private report(): void {
    const now = this.leading();
    // A leader that is waiting out its grace becomes one without an etcd event: look again then.
    if (!now && this.leadFrom !== null && this.running && !this.graceTimer) {
      this.graceTimer = this.at(this.leadFrom, () => {
        this.graceTimer = null;
        this.report();
      });
    }
    if (now === this.reported) return;
    this.reported = now;
    this.log(now ? 'leader_acquired' : 'leader_released', { identity: this.identity });
    for (const l of this.listeners) l(now);
  }

  /**
   * Runs `fn` once the monotonic clock has passed `t`. Node's timers count from
   * the event loop's cached time and may fire a little before `t` by
   * `performance.now()`: then wait again for the rest.
   */
  private at(t: number, fn: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => {
      if (performance.now() <= t) {
        const again = this.at(t, fn);
        if (this.expiryTimer === timer) this.expiryTimer = again;
        if (this.graceTimer === timer) this.graceTimer = again;
      } else fn();
    }, Math.max(0, t - performance.now()) + 1);
    timer.unref();
    return timer;
  }

  /** Every etcd call ends within one renewal interval. */
  private call<T>(p: Promise<T>): Promise<T> {
    let t: NodeJS.Timeout | undefined;
    return Promise.race([
      p,
      new Promise<never>((_, reject) => {
        t = setTimeout(() => reject(new Error(`etcd did not answer within ${this.renewMs} ms`)), this.renewMs);
      }),
    ]).finally(() => clearTimeout(t));
  }
}
