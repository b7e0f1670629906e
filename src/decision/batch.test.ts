import { status, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as pb from '../gen/wattplace/v1/wattplace';
import { startTestServer, type TestServer } from '../../test/helpers/grpc';

const GiB = 1n << 30n;
const linear = (idleWatts: number, maxWatts: number, standbyWatts: number): pb.PowerModel => ({ model: { $case: 'linear', linear: { idleWatts, maxWatts } }, standbyWatts });
const host = (id: string, cores: number, memGiB: number, power: pb.PowerModel, state: pb.PowerState, labels: Record<string, string> = {}): pb.Host => ({
  id,
  site: '',
  capacity: { cpuMillis: BigInt(cores * 1000), memBytes: BigInt(memGiB) * GiB },
  power,
  state,
  labels,
});
const BIG = linear(180, 420, 12); // 64 cores, 256 GiB
const SMALL = linear(45, 120, 3); // 8 cores, 32 GiB: 6400m under the 0.8 ceiling
const { POWER_STATE_ON: ON, POWER_STATE_STANDBY: STANDBY, POWER_STATE_MAINTENANCE: MAINTENANCE } = pb.PowerState;
const wl = (id: string, cores: number, memGiB: number, selector: Record<string, string> = {}): pb.Workload => ({
  id,
  demand: { cpuMillis: BigInt(cores * 1000), memBytes: BigInt(memGiB) * GiB },
  selector,
});
const code = (e: unknown) => (e as ServiceError).code;

/**
 * Fleet "standby-mixed": two big hosts and three small ones, all in STANDBY, one
 * big host in MAINTENANCE.
 */
async function standbyMixed(t: TestServer) {
  await t.rpc.registerHosts({
    hosts: [
      host('big-0', 64, 256, BIG, STANDBY),
      host('big-1', 64, 256, BIG, STANDBY),
      host('s-0', 8, 32, SMALL, STANDBY, { slot: '0' }),
      host('s-1', 8, 32, SMALL, STANDBY, { slot: '1' }),
      host('s-2', 8, 32, SMALL, STANDBY, { slot: '2' }),
      host('m-0', 64, 256, BIG, MAINTENANCE),
    ],
  });
}

describe('PlaceBatch over gRPC', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
    await standbyMixed(t);
  });
  afterAll(() => t.close());

  it('places the batch jointly on the efficient big host and reserves it', async () => {
    // Six workloads of 3 cores (18 cores). One big host: 180 + 240·18/64 = 247.5 W.
    // Small hosts take two each (6 ≤ 6.4 cores): three hosts, 3·45 + 75·18/8 = 303.75 W.
    // Objective = 247.5 + standby of big-1 (12) and three small hosts (3·3) = 268.5 W
    // (m-0 is in MAINTENANCE and not part of the problem).
    const ws = Array.from({ length: 6 }, (_, i) => wl(`w${i}`, 3, 8));
    const r = await t.rpc.placeBatch({ workloads: ws, timeBudgetMs: 2000 });
    expect(r.unplaced).toEqual([]);
    expect(r.assignments).toHaveLength(6);
    const hosts = new Set(r.assignments.map((a) => a.hostId));
    expect(hosts.size).toBe(1);
    expect([...hosts][0]).toMatch(/^big-[01]$/);
    expect(r.reservationIds).toHaveLength(6);
    expect(r.stats?.objectiveWatts).toBeCloseTo(268.5, 6);
    expect(r.stats?.gap).toBeLessThan(1e-6);
    expect(r.stats?.lowerBoundWatts).toBeLessThanOrEqual(268.5 + 1e-6);
    expect(r.stats?.elapsedMs).toBeLessThanOrEqual(2200);
    expect(r.stats?.method).toMatch(/^(heuristic|milp|lns)$/);
    // the reservations are real: each can be released once
    await t.rpc.release({ reservationId: r.reservationIds[0] });
    await expect(t.rpc.release({ reservationId: r.reservationIds[0] })).rejects.toSatisfy((e) => code(e) === status.NOT_FOUND);
    const m = await t.server.metrics.registry.getSingleMetricAsString('wattplace_solver_answers_total');
    expect(m).toMatch(/rpc="PlaceBatch"/);
  });

  it('lists what cannot be placed, with the reason', async () => {
    const r = await t.rpc.placeBatch({ workloads: [wl('gpu', 1, 1, { gpu: 'yes' }), wl('huge', 100, 1), wl('ok', 1, 1)], timeBudgetMs: 500 });
    expect(r.assignments.map((a) => a.workloadId)).toEqual(['ok']);
    expect(r.unplaced.map((u) => u.reason)).toEqual([
      expect.stringMatching(/^workload gpu: no host can take it \(1 in MAINTENANCE, 5 do not match the selector\)$/),
      expect.stringMatching(/^workload huge: no host can take it \(1 in MAINTENANCE, 5 lack cpu\)$/),
    ]);
  });

  it.each([
    ['no workloads', {}, 'workloads'],
    ['duplicate ids', { workloads: [wl('a', 1, 1), wl('a', 1, 1)] }, 'workloads[1].id'],
    ['budget over the limit', { workloads: [wl('a', 1, 1)], timeBudgetMs: 600_000 }, 'time_budget_ms'],
    ['missing demand', { workloads: [{ id: 'a', selector: {} }] }, 'workloads[0].demand'],
  ])('%s → INVALID_ARGUMENT naming the field', async (_n, req, field) => {
    const e = await t.rpc.placeBatch(req as Partial<pb.PlaceBatchRequest>).catch((x) => x);
    expect(code(e)).toBe(status.INVALID_ARGUMENT);
    expect((e as ServiceError).details.startsWith(`${field}:`)).toBe(true);
  });
});

describe('concurrent PlaceBatch calls', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
    await standbyMixed(t);
  });
  afterAll(() => t.close());

  it('never over-commit a host: later batches find the room taken and say so', async () => {
    // Six batches of six 3-core workloads at once (108 cores). All solve against the same
    // snapshot, so they aim at the same big host; reservations are re-checked when made, so at
    // most 17 workloads (51 cores ≤ 51.2 under the ceiling) land on one big host and ≤ 2 on a small one.
    const batches = Array.from({ length: 6 }, (_, b) => Array.from({ length: 6 }, (_, i) => wl(`b${b}-w${i}`, 3, 8)));
    const rs = await Promise.all(batches.map((ws) => t.rpc.placeBatch({ workloads: ws, timeBudgetMs: 1500 })));
    const perHost = new Map<string, number>();
    let placed = 0;
    for (const r of rs) {
      expect(r.assignments.length + r.unplaced.length).toBe(6);
      expect(r.reservationIds).toHaveLength(r.assignments.length);
      for (const a of r.assignments) perHost.set(a.hostId, (perHost.get(a.hostId) ?? 0) + 3000);
      for (const u of r.unplaced) expect(u.reason).toMatch(/^workload b\d-w\d: (host \S+ was taken by a concurrent placement while the batch was solved|fits a host on its own, but no room was left)/);
      placed += r.assignments.length;
    }
    for (const [h, cpu] of perHost) expect(cpu).toBeLessThanOrEqual(h.startsWith('big') ? 51_200 : 6_400);
    expect(placed).toBeGreaterThanOrEqual(17);
  });
});

describe('PlanConsolidation over gRPC', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
    // Fleet "fragmented-small": four small hosts each running one 2-core workload, one big host ON and empty.
    await t.rpc.registerHosts({
      hosts: [0, 1, 2, 3].map((i) => host(`s-${i}`, 8, 32, SMALL, ON)).concat([host('big', 64, 256, BIG, ON)]),
    });
  });
  afterAll(() => t.close());
  const running = [0, 1, 2, 3].map((i) => ({ workload: wl(`w${i}`, 2, 4), hostId: `s-${i}` }));
  const hostIds = ['s-0', 's-1', 's-2', 's-3', 'big'];

  /** Replays the plan with the hosts' limits (6400m / 51200m under the ceiling), failing on any over-commit. */
  function replay(plan: pb.PlanConsolidationResponse) {
    const load = new Map<string, number>(hostIds.map((h) => [h, 0]));
    for (const r of running) load.set(r.hostId, load.get(r.hostId)! + 2000);
    const lim = (h: string) => (h === 'big' ? 51_200 : 6_400);
    const where = new Map(running.map((r) => [r.workload.id, r.hostId]));
    for (const m of plan.migrations) {
      expect(where.get(m.workloadId)).toBe(m.sourceHostId);
      load.set(m.targetHostId, load.get(m.targetHostId)! + 2000); // on both hosts while it migrates
      expect(load.get(m.targetHostId)!).toBeLessThanOrEqual(lim(m.targetHostId));
      load.set(m.sourceHostId, load.get(m.sourceHostId)! - 2000);
      where.set(m.workloadId, m.targetHostId);
    }
    return load;
  }

  it('packs onto two small hosts and puts the rest in STANDBY', async () => {
    // Before: four small hosts at 2/8: 4·(45 + 75·0.25) = 255 W, big ON and empty 180 W → 435 W.
    // Best after: 8 cores on two small hosts (≤ 6.4 each): 2·45 + 75·8/8 = 165 W, two small in
    // standby 2·3 W, big in standby 12 W → 183 W (all on big instead: 180 + 30 + 4·3 = 222 W).
    const r = await t.rpc.planConsolidation({ running, hostIds, timeBudgetMs: 2000 });
    expect(r.wattsBefore).toBeCloseTo(435, 6);
    expect(r.wattsAfter).toBeCloseTo(183, 6);
    // objective = watts after + 2 migrations × consolidationMigrationWatts (default 2 W) = 187
    expect(r.stats?.objectiveWatts).toBeCloseTo(187, 6);
    expect(r.migrations).toHaveLength(2);
    // each move empties its source, which it names as the host it frees
    for (const m of r.migrations) {
      expect(m.reason).toBe('drain');
      expect(m.enablesHostId).toBe(m.sourceHostId);
    }
    expect(r.hostsOn).toBe(2);
    expect(r.standbyHostIds).toHaveLength(3);
    expect(r.standbyHostIds).toContain('big');
    const load = replay(r);
    for (const h of r.standbyHostIds) expect(load.get(h)).toBe(0);
  });

  it('respects the migration budget', async () => {
    // One migration: two workloads on one small host (45 + 75·4/8 = 82.5 W), two others stay
    // (2·63.75 W), one small and the big host in standby (3 + 12 W) → 225 W.
    const r = await t.rpc.planConsolidation({ running, hostIds, maxMigrations: 1, timeBudgetMs: 1000 });
    expect(r.migrations).toHaveLength(1);
    expect(r.wattsAfter).toBeCloseTo(225, 6);
    replay(r);
  });

  it('with running but no host_ids uses only the hosts named in running', async () => {
    // Without "big": 183 − 12 (big not counted) = 171 W after, 435 − 180 = 255 W before.
    const r = await t.rpc.planConsolidation({ running, timeBudgetMs: 1000 });
    expect(r.wattsBefore).toBeCloseTo(255, 6);
    expect(r.wattsAfter).toBeCloseTo(171, 6);
    expect(r.standbyHostIds).not.toContain('big');
  });

  it.each([
    ['unknown host', { running: [{ workload: wl('a', 1, 1), hostId: 'nope' }] }, 'running[0].host_id'],
    ['host outside host_ids', { running: [{ workload: wl('a', 1, 1), hostId: 's-0' }], hostIds: ['s-1'] }, 'running[0].host_id'],
    ['unknown host_ids entry', { hostIds: ['nope'] }, 'host_ids[0]'],
  ])('%s → INVALID_ARGUMENT naming the field', async (_n, req, field) => {
    const e = await t.rpc.planConsolidation(req as Partial<pb.PlanConsolidationRequest>).catch((x) => x);
    expect(code(e)).toBe(status.INVALID_ARGUMENT);
    expect((e as ServiceError).details.startsWith(`${field}:`)).toBe(true);
  });
});

describe('PlanConsolidation with a saving required per migration', () => {
  let t: TestServer;
  beforeAll(async () => {
    // consolidationMigrationWatts = 130: a migration must save 130 W to be planned
    t = await startTestServer({ consolidationMigrationWatts: 130 });
    await t.rpc.registerHosts({ hosts: [0, 1, 2, 3].map((i) => host(`s-${i}`, 8, 32, SMALL, ON)).concat([host('big', 64, 256, BIG, ON)]) });
  });
  afterAll(() => t.close());

  it('plans no migration that saves less than that', async () => {
    // Same fleet as above. No move: 4·63.75 + big in standby 12 = 267 W. One move: 225 W + 130 = 355;
    // two: 183 W + 260 = 443 → no migration; the empty big host still goes to STANDBY.
    const running = [0, 1, 2, 3].map((i) => ({ workload: wl(`w${i}`, 2, 4), hostId: `s-${i}` }));
    const r = await t.rpc.planConsolidation({ running, hostIds: ['s-0', 's-1', 's-2', 's-3', 'big'], timeBudgetMs: 1000 });
    expect(r.migrations).toEqual([]);
    expect(r.standbyHostIds).toEqual(['big']);
    expect(r.wattsAfter).toBeCloseTo(267, 6);
  });
});

describe('PlanConsolidation from the snapshot', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
    await standbyMixed(t);
  });
  afterAll(() => t.close());

  it('moves open reservations together and returns the emptied host to STANDBY', async () => {
    // Place pins one 2-core workload on s-0 and one on s-1 (selectors). From the snapshot, those
    // reservations are the movable workloads: one migration joins them (4 cores ≤ 6.4), the
    // emptied host goes back to STANDBY. Before: 2·(45 + 75·2/8) = 127.5 W + standby of big-0,
    // big-1 (2·12) and s-2 (3) + m-0 at idle (MAINTENANCE: the plan never powers it down, 180) = 334.5 W;
    // after: 45 + 75·4/8 = 82.5 W + 3 (emptied host) + 24 + 3 + 180 = 292.5 W.
    const a = await t.rpc.place({ workload: wl('a', 2, 4, { slot: '0' }) });
    const b = await t.rpc.place({ workload: wl('b', 2, 4, { slot: '1' }) });
    expect([a.hostId, b.hostId]).toEqual(['s-0', 's-1']);
    const r = await t.rpc.planConsolidation({ timeBudgetMs: 1000 });
    expect(r.migrations).toHaveLength(1);
    expect(r.standbyHostIds).toHaveLength(1);
    expect(['s-0', 's-1']).toContain(r.standbyHostIds[0]);
    expect(r.wattsAfter).toBeCloseTo(292.5, 6);
    expect(r.wattsBefore).toBeCloseTo(334.5, 6);
    const saved = await t.server.metrics.registry.getSingleMetricAsString('wattplace_consolidation_watts_saved');
    expect(saved).toMatch(/wattplace_consolidation_watts_saved 42(\.0+)?$/m);
  });
});
