import { PowerState, rng, type PowerModelSpec } from '../domain';

export { rng };
import { catalogSpec, createPowerModel } from '../power';
import type { Problem, SolverHost, SolverWorkload } from './problem';

/**
 * Named scenario fixtures for the optimizer: mixed fleets (large efficient
 * hosts with high idle power next to small old ones), seeded so every run
 * builds the same instance. Used by the tests and by `npm run bench:solver`.
 */

const GiB = 2 ** 30;

export interface HostType {
  readonly name: string;
  readonly cores: number;
  readonly memGiB: number;
  readonly power: PowerModelSpec;
  readonly labels?: Readonly<Record<string, string>>;
}

/** Host types of the mixed fleets. */
export const HOST_TYPES: readonly HostType[] = [
  // large, efficient per core, high idle
  { name: 'big', cores: 64, memGiB: 256, power: { kind: 'linear', idleWatts: 180, maxWatts: 420, standbyWatts: 12 } },
  // SPECpower table, medium
  { name: 'x5675', cores: 24, memGiB: 96, power: catalogSpec('ibm-x3550-x5675', 8) as PowerModelSpec },
  // old, low dynamic range
  { name: 'g4', cores: 8, memGiB: 32, power: catalogSpec('hp-ml110-g4', 5) as PowerModelSpec },
  // small, low idle
  { name: 'small', cores: 8, memGiB: 32, power: { kind: 'linear', idleWatts: 45, maxWatts: 120, standbyWatts: 3 } },
];

export interface FixtureOptions {
  readonly ceiling?: number;
  readonly state?: PowerState;
  readonly seed?: number;
}


/** A host as the problem sees it: empty, ceiling 0.8 of its CPU, may go to STANDBY. */
export function solverHost(id: string, t: HostType, opts: { ceiling?: number; state?: PowerState; labels?: Record<string, string> } = {}): SolverHost {
  const cap = t.cores * 1000;
  const ceiling = opts.ceiling ?? 0.8;
  return {
    id,
    capCpu: cap,
    cpuFree: cap,
    cpuCeilingFree: ceiling * cap,
    memFree: t.memGiB * GiB,
    baseUtil: 0,
    model: createPowerModel(t.power, `fixture.${t.name}`),
    state: opts.state ?? PowerState.STANDBY,
    labels: { type: t.name, ...(t.labels ?? {}), ...(opts.labels ?? {}) },
    canStandby: (opts.state ?? PowerState.STANDBY) !== PowerState.MAINTENANCE,
  };
}

/** Mixed fleet of `n` hosts cycling through HOST_TYPES. */
export function mixedFleet(n: number, opts: FixtureOptions = {}): SolverHost[] {
  return Array.from({ length: n }, (_, i) => solverHost(`h${i}`, HOST_TYPES[i % HOST_TYPES.length], opts));
}

/** `n` workloads: 0.5–6 cores, 1–24 GiB, seeded. */
export function workloads(n: number, seed = 7): SolverWorkload[] {
  const r = rng(seed);
  return Array.from({ length: n }, (_, i) => ({
    id: `w${i}`,
    cpu: 500 * (1 + Math.floor(r() * 12)),
    mem: GiB * (1 + Math.floor(r() * 24)),
    selector: {},
    current: -1,
  }));
}

/** Batch scenario: `hosts` × `wl` (hosts × workloads), all hosts in STANDBY and empty. */
export function batchScenario(hosts: number, wl: number, seed = 7): Problem {
  return { hosts: mixedFleet(hosts), workloads: workloads(wl, seed), maxMigrations: Infinity, migrationWatts: 0 };
}

/**
 * Consolidation scenario: `hosts` hosts, all ON, workloads spread round-robin so
 * every host carries some load (a typical fragmented cluster after churn).
 */
export function consolidationScenario(hosts: number, wl: number, maxMigrations = Infinity, seed = 11): Problem {
  const hs = mixedFleet(hosts, { state: PowerState.ON });
  const ws = workloads(wl, seed);
  const loadC = new Float64Array(hosts);
  const loadM = new Float64Array(hosts);
  const placed: SolverWorkload[] = [];
  let h = 0;
  for (const w of ws) {
    // next host (round robin) with room
    let tries = 0;
    while (tries < hosts && (loadC[h] + w.cpu > hs[h].cpuCeilingFree || loadM[h] + w.mem > hs[h].memFree)) {
      h = (h + 1) % hosts;
      tries++;
    }
    if (tries === hosts) continue;
    loadC[h] += w.cpu;
    loadM[h] += w.mem;
    placed.push({ ...w, current: h });
    h = (h + 1) % hosts;
  }
  return { hosts: hs, workloads: placed, maxMigrations, migrationWatts: 0 };
}

/**
 * The named scenarios of the tests and the benchmark (hosts × workloads):
 *   batch-5x10 … batch-100x200: mixed fleet, all hosts in STANDBY, seeded workloads;
 *   consolidation-40x80-budget30: fragmented ON fleet, at most 30 migrations;
 *   consolidation-200x400: 200 ON hosts, 400 running workloads, no migration limit.
 */
export const SCENARIOS: Readonly<Record<string, () => Problem>> = {
  'batch-5x10': () => batchScenario(5, 10),
  'batch-20x40': () => batchScenario(20, 40),
  'batch-50x100': () => batchScenario(50, 100),
  'batch-100x200': () => batchScenario(100, 200),
  'consolidation-40x80-budget30': () => consolidationScenario(40, 80, 30),
  'consolidation-200x400': () => consolidationScenario(200, 400),
};

/**
 * The cloud of the consolidation comparison in issue 12, re-created from its
 * description: hosts of 32 vCPU / 128 GiB and 64 vCPU / 256 GiB (even odds,
 * seeded), VMs of 1–8 vCPU and 2–32 GiB (whole numbers, uniform) using 5–60 %
 * of their vCPUs, placed at random within capacity (allocation ratio 1: Σ vCPU
 * ≤ vCPUs, Σ memory ≤ memory; the 0.8 ceiling is not applied to the start, so
 * some hosts begin above it). Power is linear; the large host is the more
 * efficient one per vCPU (170 W idle for 64 vCPU against 110 W for 32).
 */
export interface CloudHost {
  readonly id: string;
  readonly vcpus: number;
  readonly memGiB: number;
  readonly power: PowerModelSpec;
}

export interface CloudVm {
  readonly id: string;
  readonly vcpus: number;
  readonly memGiB: number;
  /** Share of its vCPUs it uses. */
  readonly util: number;
  /** Index of the host it runs on. */
  readonly host: number;
}

export interface Cloud {
  readonly hosts: readonly CloudHost[];
  readonly vms: readonly CloudVm[];
}

export const CLOUD_HOST_TYPES: readonly Omit<CloudHost, 'id'>[] = [
  { vcpus: 32, memGiB: 128, power: { kind: 'linear', idleWatts: 110, maxWatts: 260, standbyWatts: 8 } },
  { vcpus: 64, memGiB: 256, power: { kind: 'linear', idleWatts: 170, maxWatts: 400, standbyWatts: 12 } },
];

/** `hosts` hosts and `vms` VMs of the issue-12 cloud, seeded; VMs that find no host with room are left out. */
export function cloudScenario(hosts: number, vms: number, seed = 12): Cloud {
  const r = rng(seed);
  const hs: CloudHost[] = Array.from({ length: hosts }, (_, i) => ({ id: `host-${String(i).padStart(4, '0')}`, ...CLOUD_HOST_TYPES[r() < 0.5 ? 0 : 1] }));
  const cpu = new Float64Array(hosts);
  const mem = new Float64Array(hosts);
  const out: CloudVm[] = [];
  for (let i = 0; i < vms; i++) {
    const vcpus = 1 + Math.floor(r() * 8);
    const memGiB = 2 + Math.floor(r() * 31);
    const util = 0.05 + r() * 0.55;
    const fits = (h: number) => cpu[h] + vcpus <= hs[h].vcpus && mem[h] + memGiB <= hs[h].memGiB;
    let h = Math.floor(r() * hosts);
    for (let tries = 0; tries < 50 && !fits(h); tries++) h = Math.floor(r() * hosts);
    if (!fits(h)) {
      const start = h;
      do h = (h + 1) % hosts;
      while (h !== start && !fits(h));
      if (!fits(h)) continue;
    }
    cpu[h] += vcpus;
    mem[h] += memGiB;
    out.push({ id: `vm-${String(i).padStart(5, '0')}`, vcpus, memGiB, util, host: h });
  }
  return { hosts: hs, vms: out };
}

/**
 * The capacity bound on hosts left on: the fewest hosts whose vCPUs under the
 * ceiling hold every VM's vCPUs, and the fewest whose memory holds every VM's
 * memory (largest hosts first), whichever is more. A bin-packing lower bound: no
 * plan within the ceiling and memory leaves fewer hosts on.
 */
export function cloudCapacityBound(c: Cloud, ceiling = 0.8): number {
  let dc = 0;
  let dm = 0;
  for (const v of c.vms) {
    dc += v.vcpus;
    dm += v.memGiB;
  }
  const fewest = (caps: number[], demand: number) => {
    caps.sort((a, b) => b - a);
    let s = 0;
    for (let k = 0; k < caps.length; k++) {
      s += caps[k];
      if (s >= demand - 1e-9) return k + 1;
    }
    return Infinity;
  };
  return Math.max(
    fewest(c.hosts.map((h) => h.vcpus * ceiling), dc),
    fewest(c.hosts.map((h) => h.memGiB), dm),
  );
}

/**
 * The issue-12 cloud as a consolidation problem: every host ON and in scope,
 * every VM movable at its vCPUs (allocation ratio 1, ceiling `ceiling`) and
 * memory, current host as generated.
 */
export function cloudProblem(c: Cloud, opts: { ceiling?: number; migrationWatts?: number } = {}): Problem {
  const ceiling = opts.ceiling ?? 0.8;
  const hosts: SolverHost[] = c.hosts.map((h) => ({
    id: h.id,
    capCpu: h.vcpus * 1000,
    cpuFree: h.vcpus * 1000,
    cpuCeilingFree: ceiling * h.vcpus * 1000,
    memFree: h.memGiB * GiB,
    baseUtil: 0,
    model: createPowerModel(h.power, `cloud.${h.vcpus}`),
    state: PowerState.ON,
    labels: {},
    canStandby: true,
  }));
  const workloads: SolverWorkload[] = c.vms.map((v) => ({ id: v.id, cpu: v.vcpus * 1000, mem: v.memGiB * GiB, selector: {}, current: v.host }));
  return { hosts, workloads, maxMigrations: Infinity, migrationWatts: opts.migrationWatts ?? 0 };
}
