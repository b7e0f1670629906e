/**
 * Open-loop load generator over loopback gRPC: decisions (Place, a share of
 * them released again) and telemetry (Report batches) at fixed rates against a
 * real `wattplace serve` child process, with latency percentiles and the
 * server's memory sampled from its own /metrics. Used by the load test
 * (test/robustness/load.test.ts, a few seconds), `npm run bench:load` (60 s)
 * and `npm run soak` (10 minutes).
 *
 * Open loop: requests are sent on schedule whether or not earlier ones have
 * been answered (up to `maxInFlight`; beyond it a request is counted as
 * `shed`, never silently skipped), so a slow server shows up as latency and
 * shed requests instead of as a lower rate.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import * as grpc from '@grpc/grpc-js';
import { hostToPb } from '../../src/api/convert';
import * as pb from '../../src/gen/wattplace/v1/wattplace';
import { buildFleet, buildWorkloads, type Fleet } from './fleet';
import { MAIN_JS, sampleToPb } from './server';

/** dist/main.js, from the compiled benchmarks (dist/bench/…) or from the sources (tests). */
const MAIN = process.env.WATTPLACE_MAIN_JS ?? [MAIN_JS, path.resolve(__dirname, '../../dist/main.js')].find((f) => fs.existsSync(f)) ?? MAIN_JS;
import { summarize } from './stats';

export interface LoadOptions {
  /** Hosts in the fleet (about 92 % of them report telemetry). */
  readonly hosts: number;
  readonly decisionsPerSec: number;
  readonly samplesPerSec: number;
  readonly durationMs: number;
  /** Report batches per second (samples are spread over them). */
  readonly reportsPerSec?: number;
  /** Every n-th placement is released explicitly after `releaseAfterMs`; the rest expire (reservation TTL). */
  readonly releaseEvery?: number;
  readonly releaseAfterMs?: number;
  /** Memory is sampled this often (ms). */
  readonly memoryEveryMs?: number;
  readonly maxInFlight?: number;
  /** Per-call gRPC deadline (default 30 s); unanswered requests are awaited this long after the run. */
  readonly deadlineMs?: number;
  /** Called once a second with progress (for long runs). */
  readonly onSecond?: (s: LoadSecond) => void;
}

export interface LoadSecond {
  readonly t: number;
  readonly decisions: number;
  readonly samples: number;
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
}

export interface MemoryPoint {
  /** ms since the load started */
  readonly t: number;
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
}

export interface LoadResult {
  /** How long requests were being sent (the load's duration), and until the last answer came back. */
  readonly durationMs: number;
  readonly totalMs: number;
  readonly decisions: { sent: number; ok: number; shed: number; errors: Record<string, number>; p50Ms: number; p99Ms: number; maxMs: number; perSec: number };
  /** `expired`: NOT_FOUND because the reservation's TTL ran out before the release arrived (not a failure). */
  readonly releases: { sent: number; ok: number; expired: number; errors: Record<string, number> };
  readonly reports: { sent: number; ok: number; errors: Record<string, number>; p50Ms: number; p99Ms: number; maxMs: number };
  readonly samples: { sent: number; accepted: number; rejected: number; perSec: number; firstRejections: string[] };
  /** Requests without an answer when the run ended (after waiting for stragglers): must be 0. */
  readonly unanswered: number;
  readonly memory: MemoryPoint[];
}

export interface ServerHandle {
  readonly grpc: string;
  readonly http: string;
  readonly proc: ChildProcess;
  stop(): Promise<number | null>;
}

/** Starts `wattplace serve` (dist/main.js) on free loopback ports; resolves with both addresses. */
export function startServerProcess(flags: string[] = []): Promise<ServerHandle> {
  const proc = spawn(process.execPath, [MAIN, 'serve', '--grpc', '127.0.0.1:0', '--http', '127.0.0.1:0', '--log-level', 'info', ...flags], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: proc.stdout! });
    const onExit = (code: number | null) => reject(new Error(`wattplace exited with ${code} before serving`));
    proc.once('exit', onExit);
    let found = false;
    rl.on('line', (line) => {
      if (found) return;
      try {
        const m = JSON.parse(line) as { msg?: string; grpc?: string; http?: string };
        if (m.msg !== 'wattplace serving' || !m.grpc || !m.http) return;
        found = true;
        proc.off('exit', onExit);
        const exited = new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
        resolve({
          grpc: m.grpc,
          http: m.http,
          proc,
          stop: async () => {
            if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
            return exited;
          },
        });
      } catch {
        // not JSON: ignore
      }
    });
  });
}

/** The server's resident set and V8 heap, from its /metrics (prom-client default metrics). */
export async function serverMemory(http: string): Promise<{ rssBytes: number; heapUsedBytes: number }> {
  const text = await (await fetch(`http://${http}/metrics`)).text();
  const v = (name: string) => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? NaN);
  return { rssBytes: v('wattplace_process_resident_memory_bytes'), heapUsedBytes: v('wattplace_nodejs_heap_size_used_bytes') };
}

/** Registers the fleet and its first telemetry over gRPC. */
export async function registerFleet(address: string, fleet: Fleet): Promise<void> {
  const t = new pb.TelemetryServiceClient(address, grpc.credentials.createInsecure());
  const call = <R>(fn: (cb: (e: grpc.ServiceError | null, r: R) => void) => void) => new Promise<R>((res, rej) => fn((e, r) => (e ? rej(e) : res(r))));
  try {
    for (let i = 0; i < fleet.hosts.length; i += 5000) {
      await call<pb.RegisterHostsResponse>((cb) => t.registerHosts({ hosts: fleet.hosts.slice(i, i + 5000).map(hostToPb) }, cb));
    }
    await call<pb.ReportResponse>((cb) => t.report({ samples: fleet.samples.map(sampleToPb), sites: [] }, cb));
  } finally {
    t.close();
  }
}

const codeName = (e: unknown) => {
  const c = (e as grpc.ServiceError).code;
  return c === undefined ? `client: ${(e as Error).message}` : (grpc.status[c] ?? String(c));
};

/** Runs the load against a serving instance. */
export async function runLoad(server: { grpc: string; http: string }, fleet: Fleet, o: LoadOptions): Promise<LoadResult> {
  const reportsPerSec = o.reportsPerSec ?? 10;
  const releaseEvery = o.releaseEvery ?? 10;
  const releaseAfterMs = o.releaseAfterMs ?? 500;
  const memoryEveryMs = o.memoryEveryMs ?? 1000;
  const maxInFlight = o.maxInFlight ?? 2000;
  const deadlineMs = o.deadlineMs ?? 30_000;
  const client = new grpc.Client(server.grpc, grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': 16 * 1024 * 1024,
    'grpc-node.flow_control_window': 16 * 1024 * 1024,
  });
  const raw = (method: string) => {
    const id = (b: Buffer) => b;
    return (req: Buffer) =>
      new Promise<Buffer>((resolve, reject) =>
        client.makeUnaryRequest(method, id, id, req, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (e, r) => (e ? reject(e) : resolve(r!))),
      );
  };
  const place = raw('/wattplace.v1.PlacementService/Place');
  const release = raw('/wattplace.v1.PlacementService/Release');
  const report = raw('/wattplace.v1.TelemetryService/Report');

  // Pre-encoded Place requests (the client must not be the bottleneck).
  const placeReqs = buildWorkloads(1024).map((w) =>
    Buffer.from(
      pb.PlaceRequest.encode(
        pb.PlaceRequest.fromPartial({ workload: { id: w.id, demand: { cpuMillis: BigInt(w.demand.cpuMillis), memBytes: BigInt(w.demand.memBytes) }, selector: w.selector } }),
      ).finish(),
    ),
  );
  // Telemetry: `reportsPerSec` agents, each owning a disjoint share of the reporting hosts and sending
  // its batches one after the other (as a real agent does: a host's samples arrive in time order).
  // Each batch cycles through the agent's hosts; every pass over them advances the timestamp by 1 ms.
  const perBatch = Math.max(1, Math.round(o.samplesPerSec / reportsPerSec));
  const agents = Array.from({ length: reportsPerSec }, (_, a) => ({
    hosts: fleet.samples.filter((_, i) => i % reportsPerSec === a),
    cursor: 0,
    stamp: 0,
    busy: false,
    queued: 0,
  }));
  if (agents.some((a) => a.hosts.length === 0)) throw new Error(`the fleet has too few reporting hosts for ${reportsPerSec} agents`);
  let jitter = 1;

  const decLat: number[] = [];
  const repLat: number[] = [];
  const dec = { sent: 0, ok: 0, shed: 0, errors: {} as Record<string, number> };
  const rel = { sent: 0, ok: 0, expired: 0, errors: {} as Record<string, number> };
  const rep = { sent: 0, ok: 0, errors: {} as Record<string, number> };
  const smp = { sent: 0, accepted: 0, rejected: 0, firstRejections: [] as string[] };
  const memory: MemoryPoint[] = [];
  const pending = new Set<Promise<unknown>>();
  /** Releases waiting for their timer. */
  const scheduled = new Set<Promise<void>>();
  const track = <T>(p: Promise<T>) => {
    pending.add(p);
    void p.finally(() => pending.delete(p)).catch(() => undefined);
    return p;
  };
  const bump = (m: Record<string, number>, k: string) => (m[k] = (m[k] ?? 0) + 1);

  const sendPlace = (i: number) => {
    if (pending.size >= maxInFlight) {
      dec.shed++;
      return;
    }
    dec.sent++;
    const t0 = performance.now();
    track(place(placeReqs[i % placeReqs.length])).then(
      (res) => {
        decLat.push(performance.now() - t0);
        dec.ok++;
        if (i % releaseEvery === 0) {
          const id = pb.PlaceResponse.decode(res).reservationId;
          // The release is part of the run: the drain below waits for timers not fired yet.
          const due = new Promise<void>((fire) =>
            setTimeout(() => {
              scheduled.delete(due);
              rel.sent++;
              track(release(Buffer.from(pb.ReleaseRequest.encode({ reservationId: id }).finish()))).then(
                () => rel.ok++,
                (e) => ((e as grpc.ServiceError).code === grpc.status.NOT_FOUND ? rel.expired++ : bump(rel.errors, codeName(e))),
              );
              fire();
            }, releaseAfterMs).unref(),
          );
          scheduled.add(due);
        }
      },
      (e) => {
        decLat.push(performance.now() - t0);
        bump(dec.errors, codeName(e));
      },
    );
  };

  const sendReport = (agentIndex: number): void => {
    const ag = agents[agentIndex];
    if (ag.busy) {
      // the agent's previous batch is still in flight: this one waits (counted if it never goes out)
      ag.queued++;
      return;
    }
    ag.busy = true;
    jitter = -jitter;
    ag.stamp = Math.max(Date.now(), ag.stamp + 1);
    const samples: pb.HostSample[] = new Array(perBatch);
    for (let k = 0; k < perBatch; k++) {
      const s = ag.hosts[ag.cursor];
      if (++ag.cursor === ag.hosts.length) {
        ag.cursor = 0;
        ag.stamp++;
      }
      const u = Math.min(1, Math.max(0, s.cpuUtil + 0.01 * jitter));
      samples[k] = { hostId: s.hostId, time: new Date(ag.stamp), watts: s.watts, cpuUtil: u, memUtil: s.memUtil, allocated: undefined };
    }
    ag.stamp++;
    const buf = Buffer.from(pb.ReportRequest.encode({ samples, sites: [] }).finish());
    rep.sent++;
    smp.sent += perBatch;
    const t0 = performance.now();
    const done = () => {
      ag.busy = false;
      if (ag.queued > 0) {
        ag.queued--;
        sendReport(agentIndex);
      }
    };
    track(report(buf)).then(
      (res) => {
        repLat.push(performance.now() - t0);
        rep.ok++;
        const r = pb.ReportResponse.decode(res);
        smp.accepted += r.accepted;
        smp.rejected += r.rejected;
        for (const e of r.errors) if (smp.firstRejections.length < 5) smp.firstRejections.push(`${e.field}: ${e.reason}`);
        done();
      },
      (e) => {
        repLat.push(performance.now() - t0);
        bump(rep.errors, codeName(e));
        done();
      },
    );
  };

  const start = performance.now();
  let placesIssued = 0;
  let reportsIssued = 0;
  let lastMem = -Infinity;
  let lastSecond = 0;
  let secDecisions = 0;
  let secSamples = 0;
  const memTick = async (t: number) => {
    try {
      const m = await serverMemory(server.http);
      memory.push({ t: Math.round(t), ...m });
      return m;
    } catch {
      return undefined;
    }
  };
  await memTick(0);
  await new Promise<void>((done) => {
    const tick = () => {
      const t = performance.now() - start;
      const end = Math.min(t, o.durationMs);
      const duePlaces = Math.floor((end * o.decisionsPerSec) / 1000);
      while (placesIssued < duePlaces) sendPlace(placesIssued++);
      const dueReports = Math.floor((end * reportsPerSec) / 1000);
      while (reportsIssued < dueReports) {
        sendReport(reportsIssued % agents.length);
        reportsIssued++;
      }
      if (t - lastMem >= memoryEveryMs) {
        lastMem = t;
        void memTick(t).then((m) => {
          if (o.onSecond && m) {
            const s = Math.round(t / 1000);
            o.onSecond({ t: s, decisions: dec.ok - secDecisions, samples: smp.accepted - secSamples, ...m });
            secDecisions = dec.ok;
            secSamples = smp.accepted;
          }
        });
      }
      if (t >= o.durationMs) {
        done();
        return;
      }
      lastSecond = t;
      setTimeout(tick, 5);
    };
    tick();
  });
  void lastSecond;
  const elapsed = performance.now() - start;
  // stragglers: everything sent must be answered within its deadline
  const drainUntil = Date.now() + deadlineMs + 5_000;
  while ((pending.size > 0 || scheduled.size > 0 || agents.some((a) => a.busy)) && Date.now() < drainUntil) {
    await Promise.race([...pending, ...scheduled, new Promise((r) => setTimeout(r, 100))]).catch(() => undefined);
  }
  const unanswered = pending.size;
  const total = performance.now() - start;
  await memTick(total);
  client.close();
  const d = summarize(decLat.length ? decLat : [NaN]);
  const r = summarize(repLat.length ? repLat : [NaN]);
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    durationMs: Math.round(elapsed),
    totalMs: Math.round(total),
    // answered per second of wall time, from the first request to the last answer
    decisions: { ...dec, p50Ms: round(d.p50), p99Ms: round(d.p99), maxMs: round(d.max), perSec: Math.round((dec.ok / total) * 1000) },
    releases: rel,
    reports: { ...rep, p50Ms: round(r.p50), p99Ms: round(r.p99), maxMs: round(r.max) },
    samples: { ...smp, perSec: Math.round((smp.accepted / total) * 1000) },
    unanswered,
    memory,
  };
}

/** Least-squares slope of y over x (per unit of x). */
export function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

export { buildFleet };
