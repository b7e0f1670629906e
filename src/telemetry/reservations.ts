import { randomUUID } from 'node:crypto';
import { NotFoundError } from '../domain';

export interface Reservation {
  readonly id: string;
  readonly workloadId: string;
  readonly hostIndex: number;
  readonly hostId: string;
  readonly cpuMillis: number;
  readonly memBytes: number;
  readonly createdMs: number;
  readonly expiresMs: number;
  /** The host's allocation once this reservation lands: confirmed when a report reaches it. */
  readonly expectCpu: number;
  readonly expectMem: number;
}

export type ReservationEnd = 'released' | 'confirmed' | 'expired';

/**
 * Demand placed by `Place` but not yet visible in telemetry. Each open
 * reservation counts against its host until it is released, confirmed by an
 * allocation report that includes it, or expires after `ttlMs`.
 *
 * All methods are synchronous; Node runs them one at a time, so a decision's
 * read of `cpu`/`mem` and its `reserve` cannot interleave with another's.
 */
export class ReservationBook {
  /** Reserved millicores and bytes per host index. */
  cpu = new Float64Array(64);
  mem = new Float64Array(64);
  /** Insertion order = creation order = expiry order (one TTL for all). */
  private readonly open = new Map<string, Reservation>();
  private readonly byHost = new Map<number, Reservation[]>();
  onEnd?: (r: Reservation, how: ReservationEnd) => void;

  constructor(readonly ttlMs: number) {}

  get size(): number {
    return this.open.size;
  }

  /** Makes the per-host arrays cover `n` hosts. */
  ensureHosts(n: number): void {
    if (n <= this.cpu.length) return;
    const size = Math.max(n, this.cpu.length * 2);
    const c = new Float64Array(size);
    c.set(this.cpu);
    const m = new Float64Array(size);
    m.set(this.mem);
    this.cpu = c;
    this.mem = m;
  }

  reserve(
    workloadId: string,
    hostIndex: number,
    hostId: string,
    cpuMillis: number,
    memBytes: number,
    nowMs: number,
    allocated: { cpu: number; mem: number },
  ): Reservation {
    this.ensureHosts(hostIndex + 1);
    const r: Reservation = {
      id: randomUUID(),
      workloadId,
      hostIndex,
      hostId,
      cpuMillis,
      memBytes,
      createdMs: nowMs,
      expiresMs: nowMs + this.ttlMs,
      expectCpu: allocated.cpu + this.cpu[hostIndex] + cpuMillis,
      expectMem: allocated.mem + this.mem[hostIndex] + memBytes,
    };
    this.cpu[hostIndex] += cpuMillis;
    this.mem[hostIndex] += memBytes;
    this.open.set(r.id, r);
    const list = this.byHost.get(hostIndex);
    if (list) list.push(r);
    else this.byHost.set(hostIndex, [r]);
    return r;
  }

  /** Open reservations on host `hostIndex` (a zero-size reservation counts too). */
  countOn(hostIndex: number): number {
    return this.byHost.get(hostIndex)?.length ?? 0;
  }

  get(id: string): Reservation | undefined {
    return this.open.get(id);
  }

  /** Open reservations, oldest first (read-only view, e.g. for consolidation planning). */
  list(): IterableIterator<Reservation> {
    return this.open.values();
  }

  release(id: string): Reservation {
    const r = this.open.get(id);
    if (!r) throw new NotFoundError('reservation', id);
    this.drop(r, 'released');
    return r;
  }

  /** Drops every reservation whose TTL has passed. */
  expire(nowMs: number): number {
    let n = 0;
    for (const r of this.open.values()) {
      if (r.expiresMs > nowMs) break;
      this.drop(r, 'expired');
      n++;
    }
    return n;
  }

  /**
   * An allocation report for a host at `timeMs`: reservations made before it
   * whose expected allocation the report reaches are now part of the allocation.
   */
  confirm(hostIndex: number, timeMs: number, allocCpu: number, allocMem: number): number {
    const list = this.byHost.get(hostIndex);
    if (!list) return 0;
    let n = 0;
    for (const r of list.slice()) {
      if (r.createdMs <= timeMs && allocCpu >= r.expectCpu && allocMem >= r.expectMem) {
        this.drop(r, 'confirmed');
        n++;
      }
    }
    return n;
  }

  private drop(r: Reservation, how: ReservationEnd): void {
    this.open.delete(r.id);
    const h = r.hostIndex;
    this.cpu[h] -= r.cpuMillis;
    this.mem[h] -= r.memBytes;
    if (this.cpu[h] < 1e-6) this.cpu[h] = 0;
    if (this.mem[h] < 1e-6) this.mem[h] = 0;
    const list = this.byHost.get(h);
    if (list) {
      const i = list.indexOf(r);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.byHost.delete(h);
    }
    this.onEnd?.(r, how);
  }
}
