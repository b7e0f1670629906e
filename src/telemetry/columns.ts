import { DEFAULT_SITE, type HostSpec, PowerState } from '../domain';
import type { PowerModel } from '../power';
import { IdBytesIndex } from './id-bytes';
import type { ClusterSnapshot } from './snapshot';

function grow<T extends Float64Array | Int32Array | Uint8Array>(a: T, size: number, fill?: number): T {
  const b = new (a.constructor as new (n: number) => T)(size);
  b.set(a);
  if (fill !== undefined) b.fill(fill, a.length);
  return b;
}

/**
 * The mutable per-host state behind the memory store, in columns. Writers are
 * the store's ingest and register paths; readers get copies via snapshot().
 */
export class HostColumns {
  size = 0;
  readonly ids: string[] = [];
  readonly specs: HostSpec[] = [];
  readonly models: PowerModel[] = [];
  readonly index = new Map<string, number>();
  /** The same ids by their UTF-8 bytes (shared by snapshots, like `index`). */
  readonly idBytes = new IdBytesIndex();
  readonly sites: string[] = [DEFAULT_SITE];
  readonly siteIdx = new Map<string, number>([[DEFAULT_SITE, 0]]);
  siteCarbon = new Float64Array(8).fill(NaN);
  siteCarbonMs = new Float64Array(8).fill(NaN);
  siteIndex = new Int32Array(16);
  capCpu = new Float64Array(16);
  capMem = new Float64Array(16);
  state = new Uint8Array(16);
  /** 1 while the host is being drained for STANDBY (in memory only: the applier sets it again after a restart). */
  draining = new Uint8Array(16);
  lastSampleMs = new Float64Array(16).fill(NaN);
  cpuUtil = new Float64Array(16).fill(NaN);
  memUtil = new Float64Array(16).fill(NaN);
  watts = new Float64Array(16).fill(NaN);
  allocCpu = new Float64Array(16);
  allocMem = new Float64Array(16);
  private version = 0;
  /** Bumped on every inventory change, so snapshots can share unchanged inventory arrays. */
  private inventoryVersion = 0;
  private shared?: { v: number; ids: string[]; specs: HostSpec[]; models: PowerModel[]; sites: string[] };

  private ensure(n: number): void {
    if (n <= this.capCpu.length) return;
    const size = Math.max(n, this.capCpu.length * 2);
    this.siteIndex = grow(this.siteIndex, size);
    this.capCpu = grow(this.capCpu, size);
    this.capMem = grow(this.capMem, size);
    this.state = grow(this.state, size);
    this.draining = grow(this.draining, size);
    this.lastSampleMs = grow(this.lastSampleMs, size, NaN);
    this.cpuUtil = grow(this.cpuUtil, size, NaN);
    this.memUtil = grow(this.memUtil, size, NaN);
    this.watts = grow(this.watts, size, NaN);
    this.allocCpu = grow(this.allocCpu, size);
    this.allocMem = grow(this.allocMem, size);
  }

  site(name: string): number {
    let i = this.siteIdx.get(name);
    if (i === undefined) {
      i = this.sites.length;
      this.sites.push(name);
      this.siteIdx.set(name, i);
      this.inventoryVersion++;
      if (i >= this.siteCarbon.length) {
        this.siteCarbon = grow(this.siteCarbon, i * 2, NaN);
        this.siteCarbonMs = grow(this.siteCarbonMs, i * 2, NaN);
      }
    }
    return i;
  }

  /** Adds or replaces a host's inventory; returns true when it is new. Telemetry is kept on update. */
  upsert(spec: HostSpec, model: PowerModel): boolean {
    let h = this.index.get(spec.id);
    const isNew = h === undefined;
    if (h === undefined) {
      h = this.size++;
      this.ensure(this.size);
      this.ids.push(spec.id);
      this.specs.push(spec);
      this.models.push(model);
      this.index.set(spec.id, h);
      this.idBytes.add(h, spec.id);
    } else {
      this.specs[h] = spec;
      this.models[h] = model;
    }
    this.siteIndex[h] = this.site(spec.site);
    this.capCpu[h] = spec.capacity.cpuMillis;
    this.capMem[h] = spec.capacity.memBytes;
    this.state[h] = spec.state;
    this.inventoryVersion++;
    return isNew;
  }

  /** Replaces the model decisions use for host h (a learned one), keeping the declared spec. */
  setModel(h: number, model: PowerModel): void {
    this.models[h] = model;
    this.inventoryVersion++;
  }

  setState(h: number, state: PowerState): void {
    this.state[h] = state;
    this.specs[h] = { ...this.specs[h], state };
    this.inventoryVersion++;
  }

  setDraining(h: number, draining: boolean): void {
    this.draining[h] = draining ? 1 : 0;
  }

  snapshot(): ClusterSnapshot {
    const n = this.size;
    // Hosts are never removed and their indices never change, so the live index
    // map is safe to share: an id registered after this snapshot maps to i >= n.
    const index = this.index;
    const idBytes = this.idBytes;
    if (this.shared?.v !== this.inventoryVersion) {
      this.shared = { v: this.inventoryVersion, ids: this.ids.slice(), specs: this.specs.slice(), models: this.models.slice(), sites: this.sites.slice() };
    }
    const inv = this.shared;
    return {
      version: ++this.version,
      size: n,
      ids: inv.ids,
      specs: inv.specs,
      models: inv.models,
      siteIndex: this.siteIndex.slice(0, n),
      sites: inv.sites,
      siteCarbon: this.siteCarbon.slice(0, this.sites.length),
      capCpu: this.capCpu.slice(0, n),
      capMem: this.capMem.slice(0, n),
      state: this.state.slice(0, n),
      draining: this.draining.slice(0, n),
      lastSampleMs: this.lastSampleMs.slice(0, n),
      cpuUtil: this.cpuUtil.slice(0, n),
      memUtil: this.memUtil.slice(0, n),
      watts: this.watts.slice(0, n),
      allocCpu: this.allocCpu.slice(0, n),
      allocMem: this.allocMem.slice(0, n),
      indexOf: (id: string) => {
        const i = index.get(id);
        return i !== undefined && i < n ? i : -1;
      },
      indexOfUtf8: (b: Uint8Array, start: number, end: number) => {
        const i = idBytes.find(b, start, end);
        return i < n ? i : -1;
      },
    };
  }
}
