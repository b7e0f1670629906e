import type { HostSample, HostSpec, SiteCarbon } from '../../domain';

export const enum Kind {
  Sample = 0,
  Host = 1,
  Carbon = 2,
}

export type Payload = HostSample | { spec: HostSpec; json: string; time: number } | SiteCarbon;

export interface QueueLimits {
  /** Most points held (queued + in flight). */
  readonly maxPoints: number;
  /** Most estimated line-protocol bytes held. */
  readonly maxBytes: number;
}

/**
 * The write-behind queue: FIFO of points waiting for InfluxDB, in parallel
 * arrays (no wrapper object per point). Bounded by count and by estimated
 * line-protocol bytes; when a push would exceed either bound, the oldest
 * queued points are dropped and counted (`dropped`). Points taken for a write
 * (`take`) are "in flight": they still count towards the bounds, are never
 * dropped (the write may already have reached the server), and are offered
 * again by the next `take` until `commit`, so order is kept across retries.
 */
export class WriteQueue {
  private kinds: number[] = [];
  private vals: (Payload | undefined)[] = [];
  private sizes: number[] = [];
  private head = 0;
  /** Bytes of the queued (not in-flight) points. */
  private queuedBytes = 0;
  /** The batch being written (or waiting to be retried), oldest first. */
  private fKinds: number[] = [];
  private fVals: Payload[] = [];
  private fBytes = 0;
  /** Points dropped because the buffer was full, by kind. */
  readonly dropped = [0, 0, 0];

  constructor(private readonly limits: QueueLimits) {}

  /** Queued plus in flight. */
  get points(): number {
    return this.kinds.length - this.head + this.fKinds.length;
  }
  get bytes(): number {
    return this.queuedBytes + this.fBytes;
  }
  /** Waiting, not in flight. */
  get queued(): number {
    return this.kinds.length - this.head;
  }
  get inflight(): number {
    return this.fKinds.length;
  }
  get droppedTotal(): number {
    return this.dropped[0] + this.dropped[1] + this.dropped[2];
  }

  private full(bytes: number): boolean {
    return this.points + 1 > this.limits.maxPoints || this.bytes + bytes > this.limits.maxBytes;
  }

  /** Adds a point; returns how many points were dropped to make room (0 normally). */
  push(kind: Kind, v: Payload, bytes: number): number {
    let n = 0;
    while (this.queued > 0 && this.full(bytes)) {
      this.dropped[this.kinds[this.head]]++;
      this.queuedBytes -= this.sizes[this.head];
      this.vals[this.head] = undefined;
      this.head++;
      n++;
    }
    if (this.full(bytes)) {
      // Only the in-flight batch is held and there is still no room: the new point is dropped.
      this.dropped[kind]++;
      this.compact();
      return n + 1;
    }
    this.kinds.push(kind);
    this.vals.push(v);
    this.sizes.push(bytes);
    this.queuedBytes += bytes;
    if (n > 0) this.compact();
    return n;
  }

  /**
   * The next batch, oldest first: the failed batch again when one is pending,
   * else up to `max` points moved from the front of the queue into flight.
   * `visit` sees each point in order. Returns the batch size.
   */
  take(max: number, visit: (kind: Kind, v: Payload) => void): number {
    if (this.fKinds.length === 0) {
      const n = Math.min(max, this.queued);
      for (let i = 0; i < n; i++) {
        const j = this.head + i;
        this.fKinds.push(this.kinds[j]);
        this.fVals.push(this.vals[j]!);
        this.fBytes += this.sizes[j];
        this.queuedBytes -= this.sizes[j];
        this.vals[j] = undefined;
      }
      this.head += n;
      this.compact();
    }
    for (let i = 0; i < this.fKinds.length; i++) visit(this.fKinds[i] as Kind, this.fVals[i]);
    return this.fKinds.length;
  }

  /** The in-flight batch was written (or permanently refused): forget it. */
  commit(): void {
    this.fKinds = [];
    this.fVals = [];
    this.fBytes = 0;
  }

  private compact(): void {
    if (this.head > 65_536 && this.head * 2 > this.kinds.length) {
      this.kinds = this.kinds.slice(this.head);
      this.vals = this.vals.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
  }
}
