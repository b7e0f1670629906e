/**
 * The applier on nova-box (Nova's real API, scheduler, conductor, Placement and
 * fake computes, wattplace's filter and weigher in Nova's scheduler) with real
 * BMCs (OpenIPMI ipmi_sim), through test/fixtures/applier-cloud.ts:
 *
 * 1. Drain time: 3 hosts of 16 vCPUs, 10 m1.tiny on host1, 2 on host2, 2 on
 *    host3 (booted with `host`), telemetry reported; host1 has the least
 *    efficient power model (150 → 300 W against 100 → 200 W), so the plan
 *    empties host1 and nothing else. One `applier.tick({ cycle: true })`,
 *    wall time, and its phases from the journal's `t` fields. Checked after:
 *    Nova shows host1 empty and its service disabled, its BMC is off, every
 *    server ACTIVE. A fresh cloud per run, BENCH_APPLIER_REPEATS runs (3) per
 *    maxConcurrentMigrations in BENCH_APPLIER_CONCURRENCY (1,2,4).
 * 2. Place latency with the applier on: sequential gRPC Place + Release pairs
 *    over loopback against the same wattplace server (BENCH_APPLIER_PLACE_ITER
 *    pairs, 5000, after 500 untimed), once with the applier idle and once while
 *    a drain cycle runs (the loop starts with the cycle and stops when it ends).
 *    BENCH_APPLIER_PLACE_RUNS fresh clouds (3) at the default concurrency 2.
 *
 * BENCH_APPLIER_POLL_MS: the applier's pollMs (default 200, as the e2e tests).
 *   npm run bench:applier
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as pb from '../src/gen/wattplace/v1/wattplace';
import { startApplierCloud, type ApplierCloud } from '../test/fixtures/applier-cloud';
import { call } from '../test/helpers/grpc';
import { summarize } from './lib/stats';

const REPEATS = Number(process.env.BENCH_APPLIER_REPEATS ?? 3);
const CONCURRENCY = (process.env.BENCH_APPLIER_CONCURRENCY ?? '1,2,4').split(',').map((s) => Number(s.trim()));
const PLACE_ITER = Number(process.env.BENCH_APPLIER_PLACE_ITER ?? 5000);
const PLACE_WARMUP = 500;
const PLACE_RUNS = Number(process.env.BENCH_APPLIER_PLACE_RUNS ?? 3);
const POLL_MS = Number(process.env.BENCH_APPLIER_POLL_MS ?? 200);

interface Drain {
  readonly concurrency: number;
  readonly placeLoad: boolean;
  /** tick start → cycle end (ms). */
  readonly totalMs: number;
  /** tick start → disable intent: reading Nova, planning. */
  readonly planMs: number;
  /** disable intent → first migration intent: Nova's service disable. */
  readonly disableMs: number;
  /** first migration intent → last migration outcome (on target, ACTIVE, no task state). */
  readonly migrateMs: number;
  /** last migration outcome → cycle end: empty check, Nova reason standby, IPMI off, BMC seen off. */
  readonly powerOffMs: number;
  /** of which: last migration outcome → standby intent (Nova lists host1 empty). */
  readonly emptyCheckMs: number;
  /** of which: standby intent → outcome (Nova's service disabled reason set to standby, before the power-off). */
  readonly standbyMs: number;
  /** of which: power-off intent → cycle end (IPMI chassis off, polled until the BMC reports off). */
  readonly ipmiMs: number;
  /** standby outcome → power-off intent. */
  readonly tailMs: number;
  readonly migrations: number;
  readonly maxInFlight: number;
}

interface PlaceLat {
  readonly lat: number[];
  /** Releases answered NOT_FOUND (the reservation was already gone). */
  readonly gone: number;
}

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1].trim();
  } catch {
    // not Linux
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

async function cloud(concurrency: number): Promise<ApplierCloud> {
  const c = await startApplierCloud({
    hosts: 3,
    vcpus: 16,
    applier: { maxConcurrentMigrations: concurrency, pollMs: POLL_MS },
    // host1 the least efficient: the plan frees it first, then nothing else fits
    model: (h) => (h === 'host1' ? { idleWatts: 150, maxWatts: 300 } : { idleWatts: 100, maxWatts: 200 }),
  });
  try {
    for (let i = 1; i <= 10; i++) await c.nova.boot(`a${i}`, 'm1.tiny', 'host1');
    for (let i = 1; i <= 2; i++) await c.nova.boot(`b${i}`, 'm1.tiny', 'host2');
    for (let i = 1; i <= 2; i++) await c.nova.boot(`c${i}`, 'm1.tiny', 'host3');
    const before = await c.serversByHost();
    const counts = c.hosts.map((h) => before[h].length);
    if (counts.join() !== '10,2,2') throw new Error(`servers per host before: ${counts.join()}`);
    await c.report();
    return c;
  } catch (e) {
    await c.stop();
    throw e;
  }
}

/** Sequential Place + Release pairs: `n` of them, or until `stop()` holds. */
async function placeLoop(c: ApplierCloud, n: number, stop: () => boolean = () => false): Promise<PlaceLat> {
  const p = c.wp.placement;
  const reqs = Array.from({ length: 256 }, (_, i) =>
    pb.PlaceRequest.fromPartial({ workload: { id: `bench-${i}`, demand: { cpuMillis: 500n, memBytes: 256n * 1024n * 1024n } } }),
  );
  const lat: number[] = [];
  let gone = 0;
  for (let i = 0; i < n && !stop(); i++) {
    const req = reqs[i % reqs.length];
    const t0 = process.hrtime.bigint();
    const r = await call<pb.PlaceRequest, pb.PlaceResponse>(p, p.place, req);
    lat.push(Number(process.hrtime.bigint() - t0));
    if (!r.reservationId) continue;
    try {
      await call<pb.ReleaseRequest, pb.ReleaseResponse>(p, p.release, pb.ReleaseRequest.fromPartial({ reservationId: r.reservationId }));
    } catch (e) {
      if ((e as { code?: number }).code !== 5) throw e;
      gone++;
    }
  }
  return { lat, gone };
}

async function drain(c: ApplierCloud, concurrency: number, during?: (done: () => boolean) => Promise<PlaceLat>): Promise<{ d: Drain; place?: PlaceLat }> {
  let over = false;
  const t0 = Date.now();
  const cycle = c.applier.tick({ cycle: true }).finally(() => (over = true));
  const place = during ? await during(() => over) : undefined;
  await cycle;
  const t1 = Date.now();
  const st = c.applier.status();
  if (st.lastCycle?.outcome !== 'done') throw new Error(`cycle ${st.lastCycle?.outcome}: ${st.lastCycle?.step} ${JSON.stringify(st.lastErrors)}`);
  // the cloud itself, read independently of the applier's client
  const after = await c.serversByHost(); // throws unless every server is ACTIVE
  if (after.host1.length !== 0 || after.host2.length + after.host3.length !== 14) throw new Error(`servers after: ${JSON.stringify(after)}`);
  if (c.bmcs.power('host1') !== 'off') throw new Error('host1 BMC still on');
  const svc = await c.services();
  if (svc.host1.status !== 'disabled' || svc.host2.status !== 'enabled' || svc.host3.status !== 'enabled') throw new Error(`services after: ${JSON.stringify(svc)}`);
  if (c.bmcs.power('host2') !== 'on' || c.bmcs.power('host3') !== 'on') throw new Error('host2/host3 BMC off');

  const j = fs.readFileSync(c.journalFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { t: number; kind: string; action: string; host: string; server?: string });
  const one = (kind: string, action: string) => {
    const e = j.filter((x) => x.kind === kind && x.action === action && x.host === 'host1');
    if (e.length !== 1) throw new Error(`journal: ${e.length} ${kind} ${action} host1`);
    return e[0].t;
  };
  const migI = j.filter((x) => x.kind === 'intent' && x.action === 'migrate');
  const migO = j.filter((x) => x.kind === 'outcome' && x.action === 'migrate');
  if (migI.length !== 10 || migO.length !== 10) throw new Error(`journal: ${migI.length} migration intents, ${migO.length} outcomes`);
  // most migrations in flight at once, from the journal (intent … outcome of the same server)
  const ev = [...migI.map((x) => ({ t: x.t, d: 1 })), ...migO.map((x) => ({ t: x.t, d: -1 }))].sort((a, b) => a.t - b.t || a.d - b.d);
  let inflight = 0;
  let maxInFlight = 0;
  for (const e of ev) maxInFlight = Math.max(maxInFlight, (inflight += e.d));
  const disable = one('intent', 'disable');
  const firstMig = Math.min(...migI.map((x) => x.t));
  const lastMig = Math.max(...migO.map((x) => x.t));
  const standby = one('outcome', 'standby');
  const offI = one('intent', 'power-off');
  const standbyI = one('intent', 'standby');
  return {
    d: {
      concurrency,
      placeLoad: during !== undefined,
      totalMs: t1 - t0,
      planMs: disable - t0,
      disableMs: firstMig - disable,
      migrateMs: lastMig - firstMig,
      powerOffMs: t1 - lastMig,
      emptyCheckMs: standbyI - lastMig,
      standbyMs: standby - standbyI,
      ipmiMs: t1 - offI,
      tailMs: offI - standby,
      migrations: migI.length,
      maxInFlight,
    },
    place,
  };
}

/**
 * The control: the same 10 live migrations off host1, made by this benchmark straight through Nova's API
 * (2 at a time, the target named, microversion 2.30, followed until ACTIVE on the target), with the
 * applier idle. What Place loses here is what Nova's own work costs on this machine, not the applier.
 */
async function novaMigrations(c: ApplierCloud): Promise<void> {
  const r = await c.nova.call('GET', '/servers/detail?all_tenants=1&host=host1');
  const ids: string[] = r.body.servers.map((s: { id: string }) => s.id);
  let next = 0;
  const worker = async () => {
    while (next < ids.length) {
      const i = next++;
      const id = ids[i];
      const target = i % 2 ? 'host3' : 'host2';
      const a = await c.nova.call('POST', `/servers/${id}/action`, { 'os-migrateLive': { host: target, block_migration: 'auto' } }, '2.30');
      if (a.status !== 202) throw new Error(`live migration of ${id}: ${a.status} ${JSON.stringify(a.body).slice(0, 200)}`);
      for (;;) {
        const s = (await c.nova.call('GET', `/servers/${id}`)).body.server;
        if (s.status === 'ACTIVE' && !s['OS-EXT-STS:task_state'] && s['OS-EXT-SRV-ATTR:host'] === target) break;
        if (s.status === 'ERROR') throw new Error(`live migration of ${id}: ERROR`);
        await new Promise((res) => setTimeout(res, POLL_MS));
      }
    }
  };
  await Promise.all([worker(), worker()]);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (xs: number[]) => `${Math.round(median(xs)).toLocaleString('en-US')} (${Math.min(...xs).toLocaleString('en-US')}–${Math.max(...xs).toLocaleString('en-US')})`;
const msOf = (ns: number) => (ns / 1e6).toFixed(2);

async function main(): Promise<void> {
  console.log(`applier bench: ${os.cpus().length} cores (${cpuModel()}), node ${process.version}, pollMs ${POLL_MS}, ${REPEATS} runs per concurrency ${CONCURRENCY.join('/')}, Place ${PLACE_ITER} pairs × ${PLACE_RUNS} runs`);
  const drains: Drain[] = [];
  for (const k of CONCURRENCY) {
    for (let r = 0; r < REPEATS; r++) {
      const c = await cloud(k);
      try {
        const { d } = await drain(c, k);
        drains.push(d);
        console.log(`maxConcurrentMigrations ${k} run ${r + 1}: ${JSON.stringify(d)}`);
      } finally {
        await c.stop();
      }
    }
  }
  const idle: number[] = [];
  const busy: number[] = [];
  const loaded: Drain[] = [];
  for (let r = 0; r < PLACE_RUNS; r++) {
    const c = await cloud(2);
    try {
      await placeLoop(c, PLACE_WARMUP);
      const a = await placeLoop(c, PLACE_ITER);
      const { d, place } = await drain(c, 2, (done) => placeLoop(c, Number.MAX_SAFE_INTEGER, done));
      idle.push(...a.lat);
      busy.push(...place!.lat);
      loaded.push(d);
      const si = summarize(a.lat);
      const sb = summarize(place!.lat);
      console.log(`Place run ${r + 1}: releases NOT_FOUND idle ${a.gone}, during drain ${place!.gone}; idle n ${si.n} p50 ${msOf(si.p50)} p99 ${msOf(si.p99)} max ${msOf(si.max)} ms; during drain n ${sb.n} p50 ${msOf(sb.p50)} p99 ${msOf(sb.p99)} max ${msOf(sb.max)} ms; drain ${JSON.stringify(d)}`);
    } finally {
      await c.stop();
    }
  }

  // the control: Nova migrating the same servers with the applier idle
  const novaBusy: number[] = [];
  for (let r = 0; r < PLACE_RUNS; r++) {
    const c = await cloud(2);
    try {
      await placeLoop(c, PLACE_WARMUP);
      let over = false;
      const mig = novaMigrations(c).finally(() => (over = true));
      const b = await placeLoop(c, Number.MAX_SAFE_INTEGER, () => over);
      await mig;
      novaBusy.push(...b.lat);
      const sn = summarize(b.lat);
      console.log(`Place control run ${r + 1}: while Nova migrates (applier idle) n ${sn.n} p50 ${msOf(sn.p50)} p99 ${msOf(sn.p99)} max ${msOf(sn.max)} ms`);
    } finally {
      await c.stop();
    }
  }

  console.log('\n### Drain one host of 10 servers (ms, median (min–max))\n');
  console.log('| maxConcurrentMigrations | runs | cycle total | read Nova + plan | disable | first migration start → last done | → BMC off (reason standby first) | of which: empty check | IPMI off until BMC reports off | Nova service reason standby | most in flight |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  const rows = [...CONCURRENCY.map((k) => ({ label: String(k), ds: drains.filter((d) => d.concurrency === k) })), { label: '2, Place loop running', ds: loaded }];
  for (const { label, ds } of rows) {
    if (!ds.length) continue;
    console.log(
      `| ${label} | ${ds.length} | ${fmt(ds.map((d) => d.totalMs))} | ${fmt(ds.map((d) => d.planMs))} | ${fmt(ds.map((d) => d.disableMs))} | ${fmt(ds.map((d) => d.migrateMs))} | ${fmt(ds.map((d) => d.powerOffMs))} | ${fmt(ds.map((d) => d.emptyCheckMs))} | ${fmt(ds.map((d) => d.ipmiMs))} | ${fmt(ds.map((d) => d.standbyMs))} | ${Math.max(...ds.map((d) => d.maxInFlight))} |`,
    );
  }
  console.log('\n### gRPC Place (+ Release, untimed) over loopback, sequential, 3 hosts (ms)\n');
  console.log('| applier | Place calls | p50 | p90 | p99 | max |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const [label, lat] of [['idle', idle], ['drain cycle running', busy], ['idle, Nova migrating the same 10 servers (control)', novaBusy]] as const) {
    if (!lat.length) continue;
    const s = summarize(lat);
    console.log(`| ${label} | ${s.n.toLocaleString('en-US')} | ${msOf(s.p50)} | ${msOf(s.p90)} | ${msOf(s.p99)} | ${msOf(s.max)} |`);
  }
  const pl = (lat: number[]) => {
    if (!lat.length) return null;
    const s = summarize(lat);
    return { n: s.n, p50Ms: +msOf(s.p50), p90Ms: +msOf(s.p90), p99Ms: +msOf(s.p99), maxMs: +msOf(s.max) };
  };
  process.stdout.write(
    `\nBENCH_JSON ${JSON.stringify({ bench: 'applier', machine: { cpus: os.cpus().length, cpuModel: cpuModel(), node: process.version, loadavg1m: os.loadavg()[0] }, pollMs: POLL_MS, drains, placeLoaded: loaded, place: { idle: pl(idle), drain: pl(busy), novaMigrating: pl(novaBusy) } })}\n`,
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
