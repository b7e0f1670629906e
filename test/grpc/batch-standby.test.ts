import { afterEach, describe, expect, it } from 'vitest';
import type { PowerModelSpec } from '../../src/domain';
import * as pb from '../../src/gen/wattplace/v1/wattplace';
import { catalogSpec, createPowerModel } from '../../src/power';
import { startTestServer, type TestServer } from '../helpers/grpc';

/**
 * PlaceBatch and STANDBY: an empty host (nothing allocated, nothing reserved) is
 * priced at its standby watts whether it is ON or already in STANDBY, and the
 * answer lists the ON hosts the batch leaves empty in standby_host_ids.
 *
 * The optimum is found by brute force: every assignment of the 8 workloads to the
 * 4 hosts (4^8 = 65,536), kept when every host stays within its CPU ceiling
 * (0.8 × cores, allocation ratio 1) and its memory, priced with the power model
 * the server builds from the same spec: P(load / capacity) for a host that holds
 * anything, standby watts for one that holds nothing.
 */

const GiB = 2 ** 30;
const CEILING = 0.8; // server default cpuCeiling

interface FleetHost {
  readonly id: string;
  readonly cores: number;
  readonly memGiB: number;
  readonly power: PowerModelSpec;
}
interface Demand {
  readonly id: string;
  readonly cores: number;
  readonly memGiB: number;
}

const linear = (idleWatts: number, maxWatts: number, standbyWatts: number): PowerModelSpec => ({ kind: 'linear', idleWatts, maxWatts, standbyWatts });

function wirePower(s: PowerModelSpec): pb.PowerModel {
  if (s.kind === 'linear') return { model: { $case: 'linear', linear: { idleWatts: s.idleWatts, maxWatts: s.maxWatts } }, standbyWatts: s.standbyWatts };
  if (s.kind === 'table') return { model: { $case: 'table', table: { watts: [...s.watts] } }, standbyWatts: s.standbyWatts };
  return { model: { $case: 'exponential', exponential: { k0: s.k0, k1: s.k1, k2: s.k2 } }, standbyWatts: s.standbyWatts };
}

const wireHost = (h: FleetHost, state: pb.PowerState): pb.Host => ({
  id: h.id,
  site: '',
  capacity: { cpuMillis: BigInt(h.cores * 1000), memBytes: BigInt(h.memGiB * GiB) },
  power: wirePower(h.power),
  state,
  labels: {},
});
const wireWorkload = (w: Demand): pb.Workload => ({ id: w.id, demand: { cpuMillis: BigInt(w.cores * 1000), memBytes: BigInt(w.memGiB * GiB) }, selector: {} });

/** Total watts of `where` (host index per workload), or Infinity when a host is over its limits. */
function fleetWatts(hosts: readonly FleetHost[], ws: readonly Demand[], where: readonly number[]): number {
  const cpu = new Array<number>(hosts.length).fill(0);
  const mem = new Array<number>(hosts.length).fill(0);
  const n = new Array<number>(hosts.length).fill(0);
  ws.forEach((w, i) => {
    cpu[where[i]] += w.cores;
    mem[where[i]] += w.memGiB;
    n[where[i]]++;
  });
  let total = 0;
  for (let h = 0; h < hosts.length; h++) {
    if (cpu[h] > CEILING * hosts[h].cores + 1e-9 || mem[h] > hosts[h].memGiB) return Infinity;
    const model = createPowerModel(hosts[h].power);
    total += n[h] === 0 ? model.standbyWatts : model.watts(cpu[h] / hosts[h].cores);
  }
  return total;
}

/** Brute force over every assignment: the optimum watts and one assignment reaching it. */
function bruteForce(hosts: readonly FleetHost[], ws: readonly Demand[]): { watts: number; where: number[] } {
  const where = new Array<number>(ws.length).fill(0);
  let best = { watts: Infinity, where: [...where] };
  const total = hosts.length ** ws.length;
  for (let k = 0; k < total; k++) {
    for (let i = 0, x = k; i < ws.length; i++, x = Math.floor(x / hosts.length)) where[i] = x % hosts.length;
    const w = fleetWatts(hosts, ws, where);
    if (w < best.watts - 1e-9) best = { watts: w, where: [...where] };
  }
  return best;
}

// Power models of the scenarios.
const BIG = linear(180, 420, 12); // 64 cores: 3.75 W per core above idle
const MID = linear(110, 260, 8); // 32 cores: 4.6875 W per core
const SMALL = linear(45, 120, 3); // 8 cores: 9.375 W per core
const X5675 = catalogSpec('ibm-x3550-x5675', 10)!; // SPECpower table, 58.4 W idle … 222 W
const X3480 = catalogSpec('ibm-x3250-x3480', 5)!; // 42.3 W idle … 113 W
const G5 = catalogSpec('hp-ml110-g5', 6)!; // 93.7 W idle … 135 W

/** Fleet "big-mid-small": one 64-core, one 32-core and two 8-core hosts, all ON and empty. */
const BIG_MID_SMALL: readonly FleetHost[] = [
  { id: 'big-64', cores: 64, memGiB: 256, power: BIG },
  { id: 'mid-32', cores: 32, memGiB: 128, power: MID },
  { id: 'small-a', cores: 8, memGiB: 32, power: SMALL },
  { id: 'small-b', cores: 8, memGiB: 32, power: SMALL },
];

const mixed: Demand[] = [4, 4, 3, 3, 2, 2, 1, 1].map((c, i) => ({ id: `w${i}`, cores: c, memGiB: 4 * c }));

interface Scenario {
  readonly name: string;
  readonly hosts: readonly FleetHost[];
  readonly workloads: readonly Demand[];
  /** The brute-force optimum, worked out by hand (checked against the brute force). */
  readonly optimum: number;
}

const scenarios: Scenario[] = [
  {
    // 20 cores, 80 GiB. With every ON host priced as staying on, the cheapest place is
    // the one with the lowest watts per core, big-64: 180 + 3.75·20 = 255 W, fleet
    // 255 + 110 + 2·45 = 455 W. Priced at standby, mid-32 alone (20 ≤ 25.6 cores):
    // 110 + 4.6875·20 = 203.75 W, + big 12 + two small 2·3 = 221.75 W
    // (big-64 alone: 255 + 8 + 6 = 269 W; mid + one small taking 6 cores:
    // 110 + 4.6875·14 + 45 + 9.375·6 = 276.875 + 12 + 3 = 291.875 W).
    name: 'linear big/mid/2 small, all ON and empty',
    hosts: BIG_MID_SMALL,
    workloads: mixed,
    optimum: 221.75,
  },
  {
    // Memory decides which host can hold the batch alone: 8 workloads of 1 core and
    // 20 GiB = 8 cores, 160 GiB. Only big-64 holds all (160 ≤ 256 GiB): 180 + 3.75·8 =
    // 210 W, + mid 8 + two small 2·3 = 224 W. mid-32 holds 6 (120 ≤ 128 GiB), a small
    // host 1 (20 ≤ 32 GiB): mid 6 + two small 1 each = 110 + 4.6875·6 + 2·(45 + 9.375)
    // + big 12 = 258.875 W; mid 6 + big 2 = 138.125 + 187.5 + 2·3 = 331.625 W.
    name: 'memory-bound batch on the same fleet',
    hosts: BIG_MID_SMALL,
    workloads: Array.from({ length: 8 }, (_, i) => ({ id: `m${i}`, cores: 1, memGiB: 20 })),
    optimum: 224,
  },
  {
    // SPECpower tables (piecewise linear in 10 % steps), 14 cores, 56 GiB.
    // x5675-24 alone: 14/24 = 58.3 % → 140 + (153 − 140)·0.833 = 150.833 W, + standby
    // of the others 5 + 2·6 = 167.833 W. x3480-16 takes at most 12.8 cores, so it
    // cannot hold all: with 12 cores (75 %: 87 + 9.1·0.5 = 91.55 W) + x5675-24 with 2
    // (8.33 %: 58.4 + 39.6·0.833 = 91.4 W) = 182.95 + 2·6 = 194.95 W. A G5 host in use
    // draws ≥ 93.7 W. Optimum 167.833 W.
    name: 'SPECpower tables, all ON and empty',
    hosts: [
      { id: 'x5675-24', cores: 24, memGiB: 96, power: X5675 },
      { id: 'x3480-16', cores: 16, memGiB: 64, power: X3480 },
      { id: 'g5-a', cores: 4, memGiB: 16, power: G5 },
      { id: 'g5-b', cores: 4, memGiB: 16, power: G5 },
    ],
    workloads: [3, 3, 2, 2, 1, 1, 1, 1].map((c, i) => ({ id: `t${i}`, cores: c, memGiB: 4 * c })),
    optimum: 150.8333333 + 17,
  },
  {
    // Fleet "four-empty-on": 18 cores and 48 GiB over four hosts of different curves.
    // on-b takes 12 cores (70 + 120·12/16 = 160 W), on-d 6 (40 + 70·6/8 = 92.5 W), on-a and
    // on-c stand by (10 + 6 W): 268.5 W. All on the largest host, as when empty ON hosts
    // were priced at P(0): 160 + 190·18/32 = 266.875 + 5 + 6 + 3 = 280.875 W (4.6 % more).
    name: 'four empty ON hosts of different curves',
    hosts: [
      { id: 'on-a', cores: 32, memGiB: 128, power: linear(160, 350, 10) },
      { id: 'on-b', cores: 16, memGiB: 64, power: linear(70, 190, 5) },
      { id: 'on-c', cores: 16, memGiB: 64, power: linear(90, 200, 6) },
      { id: 'on-d', cores: 8, memGiB: 32, power: linear(40, 110, 3) },
    ],
    workloads: [3, 2, 4, 1, 2, 3, 2, 1].map((c, i) => ({ id: `f${i}`, cores: c, memGiB: [8, 4, 16, 2, 4, 8, 4, 2][i] })),
    optimum: 268.5,
  },
];

describe('PlaceBatch prices empty ON hosts at standby watts', () => {
  let t: TestServer | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it.each(scenarios)('$name: within 1 % of the brute-force optimum', async (s) => {
    const best = bruteForce(s.hosts, s.workloads);
    expect(best.watts).toBeCloseTo(s.optimum, 3);

    t = await startTestServer();
    await t.rpc.registerHosts({ hosts: s.hosts.map((h) => wireHost(h, pb.PowerState.POWER_STATE_ON)) });
    const r = await t.rpc.placeBatch({ workloads: s.workloads.map(wireWorkload), timeBudgetMs: 1500 });
    expect(r.unplaced).toEqual([]);
    expect(r.assignments).toHaveLength(s.workloads.length);

    const hostOf = new Map(r.assignments.map((a) => [a.workloadId, a.hostId]));
    const where = s.workloads.map((w) => s.hosts.findIndex((h) => h.id === hostOf.get(w.id)));
    const got = fleetWatts(s.hosts, s.workloads, where);
    expect(got).toBeLessThanOrEqual(best.watts * 1.01);
    // the server priced the answer the same way
    expect(r.stats?.objectiveWatts).toBeCloseTo(got, 6);

    // every host the batch left empty is listed, and no other
    const used = new Set(r.assignments.map((a) => a.hostId));
    expect(r.standbyHostIds).toEqual(s.hosts.filter((h) => !used.has(h.id)).map((h) => h.id));
  });
});

describe('standby_host_ids never lists a host with something on it', () => {
  let t: TestServer | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  // Fleet "big-and-three-small", all ON and empty, plus one small host in STANDBY and one
  // in MAINTENANCE. Each case puts something on (or takes out) one host, then places two
  // 1-core workloads: wherever the solver puts them, that host is not listed, and every
  // ON host left with nothing on it is.
  const fleet: FleetHost[] = [
    { id: 'big', cores: 64, memGiB: 256, power: BIG },
    { id: 'a', cores: 8, memGiB: 32, power: SMALL },
    { id: 'b', cores: 8, memGiB: 32, power: SMALL },
    { id: 'c', cores: 8, memGiB: 32, power: SMALL },
  ];
  const sample = (hostId: string, cpuUtil: number, allocated?: pb.Resources): pb.DeepPartial<pb.HostSample> => ({
    hostId,
    time: new Date(Date.now() - 1000),
    watts: 50,
    cpuUtil,
    memUtil: 0.1,
    allocated,
  });

  it.each([
    {
      // allocated 2 cores on "a": priced P(0.25) = 63.75 W whether or not the batch uses it
      name: 'cpu allocated',
      setup: (s: TestServer) => s.rpc.report({ samples: [sample('a', 0.25, { cpuMillis: 2000n, memBytes: 0n })] }),
      host: 'a',
    },
    {
      name: 'memory allocated only',
      setup: (s: TestServer) => s.rpc.report({ samples: [sample('a', 0, { cpuMillis: 0n, memBytes: BigInt(GiB) })] }),
      host: 'a',
    },
    {
      name: 'an open reservation from Place',
      setup: (s: TestServer) => s.rpc.place({ workload: wireWorkload({ id: 'r', cores: 1, memGiB: 1 }), candidates: [{ hostId: 'b' }] }),
      host: 'b',
    },
    {
      name: 'a zero-size reservation from Place',
      setup: (s: TestServer) => s.rpc.place({ workload: wireWorkload({ id: 'z', cores: 0, memGiB: 0 }), candidates: [{ hostId: 'c' }] }),
      host: 'c',
    },
    {
      // in STANDBY already: priced at standby, not listed (nothing to power down)
      name: 'already in STANDBY',
      setup: async () => {},
      host: 'standby',
    },
    {
      name: 'in MAINTENANCE',
      setup: async () => {},
      host: 'maint',
    },
  ])('$name', async ({ setup, host }) => {
    t = await startTestServer();
    await t.rpc.registerHosts({
      hosts: [
        ...fleet.map((h) => wireHost(h, pb.PowerState.POWER_STATE_ON)),
        wireHost({ id: 'standby', cores: 8, memGiB: 32, power: SMALL }, pb.PowerState.POWER_STATE_STANDBY),
        wireHost({ id: 'maint', cores: 8, memGiB: 32, power: SMALL }, pb.PowerState.POWER_STATE_MAINTENANCE),
      ],
    });
    await setup(t);
    // Two workloads of 1 core, 1 GiB: on one empty small host 45 + 9.375·2 = 63.75 W.
    const r = await t.rpc.placeBatch({ workloads: [wireWorkload({ id: 'p0', cores: 1, memGiB: 1 }), wireWorkload({ id: 'p1', cores: 1, memGiB: 1 })], timeBudgetMs: 500 });
    expect(r.assignments).toHaveLength(2);
    expect(r.standbyHostIds).not.toContain(host);
    // hosts that got part of the batch are not listed either; every other empty ON host is
    const used = new Set(r.assignments.map((a) => a.hostId));
    for (const h of used) expect(r.standbyHostIds).not.toContain(h);
    const emptyOn = fleet.map((h) => h.id).filter((h) => h !== host && !used.has(h));
    expect(r.standbyHostIds).toEqual(emptyOn);
  });
});
