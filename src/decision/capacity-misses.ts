/** Sums over the recorded misses at or after a time. */
export interface MissSummary {
  readonly count: number;
  readonly cpuMillis: number;
  readonly memBytes: number;
  /** Time of the latest miss counted, or null when none. */
  readonly lastMs: number | null;
}

/** Entries kept by default: the latest misses, enough for an applier polling every few seconds. */
export const CAPACITY_MISS_ENTRIES = 256;

/**
 * Decisions that found no host with room: a Place that threw
 * NoFeasibleHostError, or an Evaluate / screen that examined at least one
 * host and found none feasible. Each keeps its time and the demand, so the
 * applier can tell whether hosts must be woken (and how much capacity was
 * missing). A ring of the latest `capacity` entries in flat arrays: recording
 * is O(1) and allocates nothing; `total` counts every miss ever recorded.
 */
export class CapacityMisses {
  private readonly t: Float64Array;
  private readonly cpu: Float64Array;
  private readonly mem: Float64Array;
  /** Next slot to write. */
  private next = 0;
  private size = 0;
  /** Misses recorded since start, including those the ring has dropped. */
  total = 0;

  constructor(readonly capacity = CAPACITY_MISS_ENTRIES) {
    if (!(Number.isInteger(capacity) && capacity > 0)) throw new Error(`capacity must be a whole number > 0, got ${capacity}`);
    this.t = new Float64Array(capacity);
    this.cpu = new Float64Array(capacity);
    this.mem = new Float64Array(capacity);
  }

  record(timeMs: number, cpuMillis: number, memBytes: number): void {
    const i = this.next;
    this.t[i] = timeMs;
    this.cpu[i] = cpuMillis;
    this.mem[i] = memBytes;
    this.next = i + 1 === this.capacity ? 0 : i + 1;
    if (this.size < this.capacity) this.size++;
    this.total++;
  }

  /**
   * Count and summed demand of the kept misses at or after `sinceMs` (a clock
   * that stepped back is fine: every kept entry is looked at, not only the
   * newest ones).
   */
  misses(sinceMs: number): MissSummary {
    let count = 0;
    let cpu = 0;
    let mem = 0;
    let last = -Infinity;
    for (let k = 0; k < this.size; k++) {
      const t = this.t[k];
      if (!(t >= sinceMs)) continue;
      count++;
      cpu += this.cpu[k];
      mem += this.mem[k];
      if (t > last) last = t;
    }
    return { count, cpuMillis: cpu, memBytes: mem, lastMs: count > 0 ? last : null };
  }
}
