/**
 * A deterministic, realistic mixed fleet for the benchmarks: SPECpower tables,
 * linear and exponential models; hosts partly loaded, some full, hot, stale, in
 * MAINTENANCE or STANDBY, so every request sees a realistic share of rejections.
 * Everything comes from one seeded generator: the same size gives the same fleet.
 */
import {
  cpuMillis,
  epochMs,
  memBytes,
  PowerState,
  rng,
  watts,
  type HostSample,
  type HostSpec,
  type PowerModelSpec,
  type Workload,
} from '../../src/domain';
import { SPECPOWER_TABLES } from '../../src/power/catalog';
import { createPowerModel } from '../../src/power';

export { rng };

/** mulberry32: small, fast, good enough for synthetic data. */

const GiB = 1024 ** 3;

interface Profile {
  readonly weight: number;
  readonly cores: number;
  readonly memGiB: number;
  readonly power: PowerModelSpec;
}

const table = (name: string): PowerModelSpec => ({ kind: 'table', watts: SPECPOWER_TABLES[name], standbyWatts: 5 });

/** Host profiles of a mixed cloud: older SPECpower-measured servers and newer ones. */
export const PROFILES: readonly Profile[] = [
  { weight: 0.25, cores: 24, memGiB: 192, power: table('ibm-x3550-x5675') },
  { weight: 0.15, cores: 24, memGiB: 256, power: table('ibm-x3550-x5670') },
  { weight: 0.1, cores: 8, memGiB: 32, power: table('hp-ml110-g5') },
  { weight: 0.05, cores: 4, memGiB: 16, power: table('ibm-x3250-x3480') },
  { weight: 0.3, cores: 64, memGiB: 512, power: { kind: 'linear', idleWatts: 120, maxWatts: 380, standbyWatts: 8 } },
  // P(u) = k0 + k1·e^(k2·u) with P(0) = 150 W, P(1) = 450 W at k2 = 1.5
  { weight: 0.15, cores: 128, memGiB: 1024, power: { kind: 'exponential', k0: 63.84, k1: 86.16, k2: 1.5, standbyWatts: 10 } },
];

function pick<T extends { weight: number }>(r: number, xs: readonly T[]): T {
  let acc = 0;
  for (const x of xs) {
    acc += x.weight;
    if (r < acc) return x;
  }
  return xs[xs.length - 1];
}

/**
 * The benchmarks run the service with this staleness bound: long enough that
 * the fresh hosts stay fresh however slowly a busy machine runs the
 * benchmark, short of STALE_AGE_MS so that the stale hosts stay stale.
 */
export const BENCH_STALE_AFTER_MS = 20 * 60_000;
const STALE_AGE_MS = 60 * 60_000;

export interface Fleet {
  readonly hosts: HostSpec[];
  /** One latest sample per host that reports (STANDBY and a few new hosts never do). */
  readonly samples: HostSample[];
}

/**
 * `n` hosts with telemetry as of `nowMs`:
 *   state: 92 % ON, 5 % STANDBY (never report), 3 % MAINTENANCE;
 *   of the ON hosts 2 % have stale telemetry (an hour old), 3 % never reported;
 *   load classes: 25 % idle (2–15 % CPU), 50 % medium (20–50 %), 18 % busy
 *   (50–72 %), 7 % hot (78–97 %: above the 0.8 ceiling);
 *   allocation 1.0–1.3 × the measured load, 3 % of hosts fully allocated;
 *   labels: zone (3), disk ssd/hdd (half each), site (3).
 */
export function buildFleet(n: number, nowMs: number, seed = 42): Fleet {
  const r = rng(seed ^ n);
  const hosts: HostSpec[] = [];
  const samples: HostSample[] = [];
  for (let i = 0; i < n; i++) {
    const p = pick(r(), PROFILES);
    const cap = p.cores * 1000;
    const mem = p.memGiB * GiB;
    const sr = r();
    const state = sr < 0.92 ? PowerState.ON : sr < 0.97 ? PowerState.STANDBY : PowerState.MAINTENANCE;
    const id = `host-${String(i).padStart(5, '0')}`;
    hosts.push({
      id,
      site: ['fra1', 'ber1', 'muc1'][i % 3],
      capacity: { cpuMillis: cpuMillis(cap), memBytes: memBytes(mem) },
      power: p.power,
      state,
      labels: { 'topology.kubernetes.io/zone': `az-${1 + (i % 3)}`, disk: r() < 0.5 ? 'ssd' : 'hdd', rack: `r${Math.floor(i / 40)}` },
    });
    if (state === PowerState.STANDBY) continue;
    const tr = r();
    if (tr < 0.03) continue; // never reported
    const stale = tr < 0.05;
    const lr = r();
    const u =
      lr < 0.25 ? 0.02 + 0.13 * r() : lr < 0.75 ? 0.2 + 0.3 * r() : lr < 0.93 ? 0.5 + 0.22 * r() : 0.78 + 0.19 * r();
    const full = r() < 0.03;
    const allocCpu = full ? cap : Math.min(cap, Math.round(cap * u * (1 + 0.3 * r())));
    const allocMem = full ? mem : Math.round(mem * (0.2 + 0.7 * r()));
    const model = createPowerModel(p.power);
    samples.push({
      hostId: id,
      time: epochMs(stale ? nowMs - STALE_AGE_MS - Math.floor(r() * 60_000) : nowMs - Math.floor(r() * 10_000)),
      watts: watts(Math.round(model.watts(u) * 10) / 10),
      cpuUtil: Math.round(u * 1000) / 1000,
      memUtil: Math.round((allocMem / mem) * 0.85 * 1000) / 1000,
      allocated: { cpuMillis: cpuMillis(allocCpu), memBytes: memBytes(allocMem) },
    });
  }
  return { hosts, samples };
}

const CPU_DEMANDS = [
  { weight: 0.3, v: 250 },
  { weight: 0.3, v: 500 },
  { weight: 0.2, v: 1000 },
  { weight: 0.15, v: 2000 },
  { weight: 0.05, v: 4000 },
];

/**
 * `count` workloads: pod/VM sized demands (250 m – 4 cores, 0.5–8 GiB, memory
 * ~2 GiB per core); 10 % carry a label selector (disk=ssd, half the hosts).
 */
export function buildWorkloads(count: number, seed = 7): Workload[] {
  const r = rng(seed);
  const out: Workload[] = [];
  for (let i = 0; i < count; i++) {
    const cpu = pick(r(), CPU_DEMANDS).v;
    out.push({
      id: `wl-${i}`,
      demand: { cpuMillis: cpuMillis(cpu), memBytes: memBytes(Math.max(0.5, (cpu / 1000) * 2) * GiB) },
      selector: r() < 0.1 ? { disk: 'ssd' } : {},
    });
  }
  return out;
}
