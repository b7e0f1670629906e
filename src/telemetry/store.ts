import { PowerState, ValidationError, echo, type HostSample, type HostSpec, type SiteCarbon } from '../domain';
import { createPowerModel, type PowerModel } from '../power';
import { HostColumns } from './columns';
import type { ClusterSnapshot } from './snapshot';
import { checkCarbon, checkSample, type SampleLimits, type SampleProblem } from './validation';

export interface RegisterResult {
  registered: number;
  updated: number;
}

export interface IngestError {
  readonly index: number;
  readonly hostId: string;
  readonly field: string;
  readonly reason: string;
}

export interface IngestResult {
  accepted: number;
  rejected: number;
  sitesAccepted: number;
  sitesRejected: number;
  errors: IngestError[];
}

/** Receives what the store accepted, in order (persistence, learned models). */
export interface TelemetryListener {
  hostsRegistered?(specs: readonly HostSpec[]): void;
  sampleAccepted?(sample: HostSample, hostIndex: number): void;
  carbonAccepted?(carbon: SiteCarbon): void;
}

/**
 * The telemetry store. The in-memory implementation holds the authoritative
 * latest state; a persistent store adds durability through a listener and
 * restores through `registerHosts` + `restoreSample` on start.
 */
export interface TelemetryStore {
  /** Validates every host first; one bad host fails the call (ValidationError). */
  registerHosts(hosts: readonly HostSpec[]): RegisterResult;
  /** Validates and keeps each good sample; bad ones are reported, the rest kept. */
  report(samples: readonly HostSample[], sites: readonly SiteCarbon[], nowMs: number): IngestResult;
  /** One sample (streaming ingest); returns the problem or null when accepted. */
  reportOne(sample: HostSample, nowMs: number): SampleProblem | null;
  hostIndex(id: string): number;
  readonly hostCount: number;
  /** A fresh read-only copy of the current state. */
  snapshot(): ClusterSnapshot;
  /** Bumped on every accepted change. */
  readonly changeCount: number;
  addListener(l: TelemetryListener): void;
}

/**
 * A host id must be text that has one UTF-8 form: an unpaired surrogate has
 * none (it would be stored as U+FFFD and be confused with a host of that name).
 */
export function checkHostId(id: string, field: string): void {
  if (!isWellFormedId(id)) throw new ValidationError(field, 'must be valid Unicode text (it has an unpaired surrogate)');
}

/** False when `id` has an unpaired surrogate (no UTF-8 form). */
export function isWellFormedId(id: string): boolean {
  return !/\p{Cs}/u.test(id);
}

/** Distinct power model specs kept for sharing (more just start a new set). */
const MAX_SHARED_MODELS = 4096;

export class MemoryStore implements TelemetryStore {
  private readonly cols = new HostColumns();
  private readonly listeners: TelemetryListener[] = [];
  /**
   * Models are immutable, so hosts of one hardware type share one model
   * object: a decision over thousands of hosts then reads a handful of models
   * instead of one per host (much less memory to touch per request). Keyed by
   * the validated spec; bounded, since specs could in principle all differ.
   */
  private readonly models = new Map<string, PowerModel>();
  /** Called after an allocation report: reservations may be confirmed by it. */
  onAllocation?: (hostIndex: number, timeMs: number, cpu: number, mem: number) => void;
  changeCount = 0;

  constructor(private readonly limits: SampleLimits) {}

  get hostCount(): number {
    return this.cols.size;
  }

  hostIndex(id: string): number {
    return this.cols.index.get(id) ?? -1;
  }

  /**
   * The latest allocation reported for host index `h`, live (not a snapshot):
   * a reservation's expected allocation is built on it, so a report can only
   * confirm a reservation once it really includes the workload.
   */
  allocatedNow(h: number): { cpu: number; mem: number } {
    return { cpu: this.cols.allocCpu[h], mem: this.cols.allocMem[h] };
  }

  addListener(l: TelemetryListener): void {
    this.listeners.push(l);
  }

  registerHosts(hosts: readonly HostSpec[]): RegisterResult {
    hosts.forEach((h, i) => checkHostId(h.id, `hosts[${i}].id`));
    const models: PowerModel[] = hosts.map((h, i) => this.model(h.power, `hosts[${i}].power`));
    const res: RegisterResult = { registered: 0, updated: 0 };
    hosts.forEach((h, i) => {
      if (this.cols.upsert(h, models[i])) res.registered++;
      else res.updated++;
    });
    this.changeCount++;
    for (const l of this.listeners) l.hostsRegistered?.(hosts);
    return res;
  }

  /**
   * Sets the power model decisions use for host index `h` (e.g. a learned
   * one); null restores the model of the registered spec. Not an inventory
   * change: listeners are not called, the spec is unchanged.
   */
  setPowerModel(h: number, model: PowerModel | null): void {
    if (h < 0 || h >= this.cols.size) return;
    this.cols.setModel(h, model ?? this.model(this.cols.specs[h].power, `hosts[${h}].power`));
    this.changeCount++;
  }

  /** The model of `spec` (validated; errors name `field`), shared with every host of the same spec. */
  private model(spec: HostSpec['power'], field: string): PowerModel {
    const built = createPowerModel(spec, field);
    const key = JSON.stringify(built.spec);
    const known = this.models.get(key);
    if (known) return known;
    if (this.models.size >= MAX_SHARED_MODELS) this.models.clear();
    this.models.set(key, built);
    return built;
  }

  setPowerState(hostId: string, state: PowerState): boolean {
    const h = this.hostIndex(hostId);
    if (h < 0) return false;
    this.cols.setState(h, state);
    this.changeCount++;
    for (const l of this.listeners) l.hostsRegistered?.([this.cols.specs[h]]);
    return true;
  }

  /**
   * Marks a host as being drained for STANDBY (or no longer): a draining host
   * takes nothing new. In memory only, not persisted and not an inventory
   * change (listeners are not called): the applier that drains the host sets
   * it again after a restart. False when the host is unknown.
   */
  setDraining(hostId: string, draining: boolean): boolean {
    const h = this.hostIndex(hostId);
    if (h < 0) return false;
    this.cols.setDraining(h, draining);
    this.changeCount++;
    return true;
  }

  report(samples: readonly HostSample[], sites: readonly SiteCarbon[], nowMs: number): IngestResult {
    const res: IngestResult = { accepted: 0, rejected: 0, sitesAccepted: 0, sitesRejected: 0, errors: [] };
    for (let i = 0; i < samples.length; i++) {
      const p = this.reportOne(samples[i], nowMs);
      if (p === null) res.accepted++;
      else {
        res.rejected++;
        res.errors.push({ index: i, hostId: samples[i].hostId ?? '', field: `samples[${i}].${p.field}`, reason: p.reason });
      }
    }
    const c = this.cols;
    for (let i = 0; i < sites.length; i++) {
      const s = sites[i];
      const known = s.site ? c.siteIdx.get(s.site) : undefined;
      const p = checkCarbon(s, known !== undefined ? c.siteCarbonMs[known] : NaN, nowMs, this.limits);
      if (p !== null) {
        res.sitesRejected++;
        res.errors.push({ index: i, hostId: '', field: `sites[${i}].${p.field}`, reason: p.reason });
        continue;
      }
      const si = known ?? c.site(s.site);
      c.siteCarbon[si] = s.gramsCo2PerKwh;
      c.siteCarbonMs[si] = s.time;
      res.sitesAccepted++;
      this.changeCount++;
      for (const l of this.listeners) l.carbonAccepted?.(s);
    }
    return res;
  }

  reportOne(s: HostSample, nowMs: number): SampleProblem | null {
    const c = this.cols;
    const h = s.hostId ? (c.index.get(s.hostId) ?? -1) : -1;
    if (h < 0 && s.hostId) return { field: 'host_id', reason: `unknown host ${echo(s.hostId)}: register it first` };
    const p = checkSample(s, h >= 0 ? c.lastSampleMs[h] : NaN, nowMs, this.limits);
    if (p !== null) return p;
    c.lastSampleMs[h] = s.time;
    c.cpuUtil[h] = s.cpuUtil;
    c.memUtil[h] = s.memUtil;
    c.watts[h] = s.watts;
    if (s.allocated) {
      c.allocCpu[h] = s.allocated.cpuMillis;
      c.allocMem[h] = s.allocated.memBytes;
      this.onAllocation?.(h, s.time, s.allocated.cpuMillis, s.allocated.memBytes);
    }
    this.changeCount++;
    for (const l of this.listeners) l.sampleAccepted?.(s, h);
    return null;
  }

  snapshot(): ClusterSnapshot {
    return this.cols.snapshot();
  }
}
