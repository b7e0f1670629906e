/**
 * Faults under load, against the real `wattplace serve` (dist/main.js) in a
 * child process with `--store influx` and a real influxd (test/setup/influxd.ts):
 *
 * 1. InfluxDB is killed (SIGKILL) and restarted in the middle of a load of
 *    decisions and telemetry: decisions keep being answered, and once the
 *    outage buffer has drained InfluxDB holds every accepted sample — none lost
 *    (the load stays far inside the 2,000,000-point default buffer bound).
 * 2. wattplace is killed (SIGKILL) and restarted on the same database: it is
 *    not ready until restored, then has the whole inventory (hosts by power
 *    state) and each host's latest sample, and decides at once.
 * 3. Under decision load, PlaceBatch calls with a 200 ms budget, more of them
 *    at once than the solver has threads: every one is answered, within the
 *    budget plus the documented 1.5 s cap on the synchronous heuristic phase
 *    (plus slack for a starved event loop), with every workload either
 *    assigned or listed as unplaced, and the fallback did answer.
 *
 * Rates are modest (200 decisions/s, 2,000 samples/s): the point is the fault,
 * not the throughput (bench:load measures that).
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFleet, buildWorkloads } from '../../benchmarks/lib/fleet';
import { registerFleet, runLoad, startServerProcess, type ServerHandle } from '../../benchmarks/lib/load';
import { PowerState } from '../../src/domain';
import * as pb from '../../src/gen/wattplace/v1/wattplace';
import { startInfluxd, type Influxd } from '../setup/influxd';

const DB = 'faults';
const HOSTS = 300;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let influx: Influxd;
let server: ServerHandle | undefined;
const fleet = buildFleet(HOSTS, Date.now());

const flags = () => ['--store', 'influx', '--influx-url', `${influx.url}/${DB}`, '--influx-retry-max-ms', '200', '--reservation-ttl-ms', '60000'];

async function metrics(http: string): Promise<Map<string, number>> {
  const text = await (await fetch(`http://${http}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

/** Polls until `f` is true (or fails after `ms`). */
async function until(what: string, f: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f().catch(() => false))) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const queueEmpty = (http: string) => async () => {
  const m = await metrics(http);
  return m.get('wattplace_influx_queue_points') === 0 && m.get('wattplace_influx_up') === 1;
};

async function countSamples(): Promise<number> {
  const s = await influx.query(DB, 'SELECT count("watts") FROM "wattplace_samples"');
  return s.length ? Number(s[0].values[0][1]) : 0;
}

beforeAll(async () => {
  influx = await startInfluxd();
  server = await startServerProcess(flags());
  await until('ready', async () => (await fetch(`http://${server!.http}/readyz`)).status === 200);
  await registerFleet(server.grpc, fleet);
});
afterAll(async () => {
  await server?.stop();
  await influx?.stop();
});

describe('faults under load', () => {
  it('InfluxDB killed and restarted mid-load: decisions continue, no accepted sample is lost', async () => {
    const s = server!;
    await until('the fleet written', queueEmpty(s.http));
    const before = await countSamples();
    expect(before).toBe(fleet.samples.length);

    // outage from 1.5 s to 3.5 s of a 6 s load
    let killedAt = 0;
    const outage = (async () => {
      await sleep(1500);
      await influx.kill();
      killedAt = Date.now();
      await sleep(2000);
      await influx.start();
    })();
    let sawDown = false;
    const watch = setInterval(() => {
      void metrics(s.http).then((m) => (sawDown ||= m.get('wattplace_influx_up') === 0), () => undefined);
    }, 200);
    const r = await runLoad(s, fleet, { hosts: HOSTS, decisionsPerSec: 200, samplesPerSec: 2000, reportsPerSec: 4, durationMs: 6000, maxInFlight: 100_000, deadlineMs: 60_000, releaseEvery: 1, releaseAfterMs: 100 });
    await outage;
    clearInterval(watch);
    expect(killedAt).toBeGreaterThan(0);
    expect(sawDown).toBe(true); // the outage was noticed

    expect(r.unanswered).toBe(0);
    expect(r.decisions.errors).toEqual({});
    expect(r.decisions.ok).toBe(r.decisions.sent);
    expect(r.decisions.sent).toBe(1200); // 200/s × 6 s
    expect(r.samples.rejected).toBe(0);
    expect(r.samples.accepted).toBe(12_000); // 2,000/s × 6 s

    await until('the outage buffer drained', queueEmpty(s.http), 90_000);
    const m = await metrics(s.http);
    expect(m.get('wattplace_influx_points_dropped_total{measurement="samples"}') ?? 0).toBe(0);
    expect(await countSamples()).toBe(before + r.samples.accepted);
  });

  it('wattplace killed (SIGKILL) and restarted: inventory and latest samples restored, decides at once', async () => {
    // distinctive last samples, one per reporting host: watts = 1000 + its index
    const t = new pb.TelemetryServiceClient(server!.grpc, grpc.credentials.createInsecure());
    const now = new Date(Date.now() + 100);
    const last = fleet.samples.map((s, i) => ({ hostId: s.hostId, time: now, watts: 1000 + i, cpuUtil: 0.25, memUtil: 0.3, allocated: undefined }));
    const rep = await new Promise<pb.ReportResponse>((res, rej) => t.report({ samples: last, sites: [] }, (e, r) => (e ? rej(e) : res(r))));
    t.close();
    expect(rep.accepted).toBe(last.length);
    await until('the last samples written', queueEmpty(server!.http));

    server!.proc.kill('SIGKILL');
    expect(await server!.stop()).toBe(null); // killed, no exit code
    server = await startServerProcess(flags());
    const s = server;
    await until('restored and ready', async () => (await fetch(`http://${s.http}/readyz`)).status === 200, 60_000);

    const m = await metrics(s.http);
    const byState = (st: PowerState) => fleet.hosts.filter((h) => h.state === st).length;
    expect(m.get('wattplace_hosts{state="ON"}')).toBe(byState(PowerState.ON));
    expect(m.get('wattplace_hosts{state="STANDBY"}')).toBe(byState(PowerState.STANDBY));
    expect(m.get('wattplace_hosts{state="MAINTENANCE"}')).toBe(byState(PowerState.MAINTENANCE));
    const wrong: string[] = [];
    fleet.samples.forEach((smp, i) => {
      const h = fleet.hosts.find((x) => x.id === smp.hostId)!;
      const v = m.get(`wattplace_host_watts{host="${smp.hostId}",site="${h.site}"}`);
      if (v !== 1000 + i) wrong.push(`${smp.hostId}: ${v} ≠ ${1000 + i}`);
    });
    expect(wrong).toEqual([]);

    const p = new pb.PlacementServiceClient(s.grpc, grpc.credentials.createInsecure());
    const w = buildWorkloads(1)[0];
    const placed = await new Promise<pb.PlaceResponse>((res, rej) =>
      p.place(pb.PlaceRequest.fromPartial({ workload: { id: 'after-restart', demand: { cpuMillis: BigInt(w.demand.cpuMillis), memBytes: BigInt(w.demand.memBytes) } } }), (e, r) => (e ? rej(e) : res(r))),
    );
    p.close();
    expect(fleet.hosts.map((h) => h.id)).toContain(placed.hostId);
  });

  it('PlaceBatch under load with a 200 ms budget: answered within budget + the heuristic cap, every workload accounted for', async () => {
    const s = server!;
    const BUDGET = 200;
    const CALLS = 5; // more than the solver's four threads
    const p = new pb.PlacementServiceClient(s.grpc, grpc.credentials.createInsecure());
    const workloads = buildWorkloads(120, 11).map((w) => ({ id: w.id, demand: { cpuMillis: BigInt(w.demand.cpuMillis), memBytes: BigInt(w.demand.memBytes) }, selector: w.selector }));
    const load = runLoad(s, fleet, { hosts: HOSTS, decisionsPerSec: 200, samplesPerSec: 2000, reportsPerSec: 4, durationMs: 4000, maxInFlight: 100_000, deadlineMs: 60_000, releaseEvery: 1, releaseAfterMs: 100 });
    await sleep(500);
    const batches = await Promise.all(
      Array.from({ length: CALLS }, (_, k) => {
        const t0 = performance.now();
        return new Promise<{ res: pb.PlaceBatchResponse; ms: number }>((res, rej) =>
          p.placeBatch(
            { workloads: workloads.map((w) => ({ ...w, id: `${w.id}-b${k}` })), timeBudgetMs: BUDGET },
            new grpc.Metadata(),
            { deadline: Date.now() + 60_000 },
            (e, r) => (e ? rej(e) : res({ res: r, ms: performance.now() - t0 })),
          ),
        );
      }),
    );
    for (const { res } of batches) {
      for (const id of res.reservationIds) await new Promise((r) => p.release({ reservationId: id }, r));
    }
    const r = await load;
    p.close();

    console.log(JSON.stringify(batches.map(({ res, ms }) => ({ clientMs: Math.round(ms), elapsedMs: res.stats!.elapsedMs, method: res.stats!.method, gap: res.stats!.gap, assigned: res.assignments.length }))));
    for (const { res, ms } of batches) {
      expect(res.assignments.length + res.unplaced.length).toBe(workloads.length);
      expect(res.reservationIds.length).toBe(res.assignments.length);
      // the server's own clock: budget + the 1.5 s heuristic cap, + 2 s for an event loop starved by a shared
      // CI machine (the heuristic phases of concurrent calls share it); a solver without a working fallback
      // would run on to its exact answer, far beyond this
      expect(res.stats!.elapsedMs).toBeLessThanOrEqual(BUDGET + 1500 + 2000);
      expect(ms).toBeLessThan(BUDGET + 1500 + 10_000); // loose: the client waits on a shared machine too
    }
    // at least one call could not be solved exactly in time or found no free thread: answered by the fallback
    const m = await metrics(s.http);
    const fallbacks = [...m.entries()].filter(([k]) => k.startsWith('wattplace_solver_fallbacks_total')).reduce((a, [, v]) => a + v, 0);
    const notExact = batches.filter(({ res }) => res.stats!.method !== 'milp').length;
    expect(fallbacks + notExact).toBeGreaterThan(0);
    expect(r.unanswered).toBe(0);
    expect(r.decisions.errors).toEqual({});
  });
});
