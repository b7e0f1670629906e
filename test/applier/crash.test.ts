/**
 * The applier killed mid-cycle and restarted: nothing is left disabled and forgotten.
 *
 * wattplace runs as a real separate process (`node dist/main.js serve --config
 * FILE`) against Nova's real services (nova-box, without wattplace's scheduler
 * plugin) and real BMCs (ipmi_sim). A cycle starts, the process is SIGKILLed
 * while it drains a host; the same command (same journal) starts again,
 * reconciles with Nova and the BMCs, and every nova-compute service must be
 * either enabled, or disabled by wattplace with its BMC off and the host in
 * the applier's standby list; every server ACTIVE.
 *
 * 6 hosts of 8 vCPUs (8 000 millicores, 16 GiB); wattplace's CPU ceiling 0.8
 * leaves 6 400 per host, 38 400 for the fleet; headroom 0.1 keeps 3 840 free.
 * 12 m1.tiny (1 000 millicores each), 2 per host:
 *   3 hosts on: 3 × 6 400 − 12 000 = 7 200 ≥ 3 840   (kept)
 *   2 hosts on: 2 × 6 400 − 12 000 =   800 < 3 840   (not)
 * so a cycle plans 3 hosts to standby with 6 migrations, saving
 * 3 × (100 − 5) − 6 × 2 = 273 W > minSavingWatts 50: the cycle acts.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify as yaml } from 'yaml';
import * as pb from '../../src/gen/wattplace/v1/wattplace';
import { applierSection, hostSpecs, ipmiPower, portOf, samplesFromNova, startCloudNova, until } from '../fixtures/applier-cloud';
import { startBmcSim, type BmcSim } from '../fixtures/bmc-sim';
import type { NovaBox } from '../fixtures/nova-box';
import { call } from '../helpers/grpc';

const ROOT = path.resolve(__dirname, '../..');
const MAIN = path.join(ROOT, 'dist/main.js');
const HOSTS = ['host1', 'host2', 'host3', 'host4', 'host5', 'host6'];
const DRAINING = 'wattplace: draining for standby';
const STANDBY = 'wattplace: standby';

interface Proc {
  readonly child: ChildProcess;
  readonly http: string;
  readonly grpc: string;
  out(): string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

let bmcs: BmcSim;
let nova: NovaBox;
let dir: string;
let journalFile: string;
let novaPort: number;
const procs: Proc[] = [];
/** Servers booted so far. */
let serverCount = 0;
let reporter: NodeJS.Timeout | null = null;
/** One round of telemetry to the process `feed` last fed. */
let reportNow: () => Promise<void> = async () => {};

beforeAll(async () => {
  // test/run.sh builds before the suite; build here too so that dist/ is this tree's
  execFileSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: 'pipe' });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wattplace-crash-'));
  journalFile = path.join(dir, 'journal');
  bmcs = await startBmcSim(HOSTS);
  // without wattplace's scheduler plugin; nova-box binds a free port itself
  nova = await startCloudNova(bmcs, HOSTS.length, 8, 0);
  novaPort = portOf(nova);
  for (let i = 0; i < 12; i++) await nova.boot(`s${i + 1}`, 'm1.tiny', HOSTS[i % HOSTS.length]);
  serverCount = 12;
}, 240_000);

afterAll(async () => {
  if (reporter) clearInterval(reporter);
  for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await nova?.stop();
  await bmcs?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
}, 60_000);

/** Starts `wattplace serve` with the applier on (journal shared by every start); resolves once /readyz answers. */
async function serve(intervalMs: number): Promise<Proc> {
  // port 0: the process binds free ports itself and logs them ("wattplace serving"); a port
  // picked here and bound by the child later can be taken meanwhile (EADDRINUSE, seen under load)
  const config = {
    grpc: '127.0.0.1:0',
    http: '127.0.0.1:0',
    logLevel: 'info',
    applier: applierSection({ journalFile, novaPort, power: ipmiPower(bmcs, HOSTS), intervalMs, tickMs: 500 }),
  };
  const file = path.join(dir, `config-${procs.length + 1}.yaml`);
  fs.writeFileSync(file, yaml(config));
  const child = spawn(process.execPath, [MAIN, 'serve', '--config', file], { cwd: ROOT, env: { PATH: process.env.PATH, HOME: os.tmpdir() }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out = (out + d).slice(-200_000)));
  child.stderr!.on('data', (d) => (out = (out + d).slice(-200_000)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
  procs.push({ child, http: '', grpc: '', out: () => out, exited });
  let gone = false;
  void exited.then(() => (gone = true));
  const end = Date.now() + 30_000;
  for (;;) {
    if (gone) throw new Error(`wattplace exited:\n${out.slice(-3000)}`);
    const bound = serving(out);
    const ok = bound !== null && (await fetch(`http://${bound.http}/readyz`).then((r) => r.status === 200, () => false));
    if (ok) {
      const p: Proc = { child, ...bound, out: () => out, exited };
      procs[procs.length - 1] = p;
      return p;
    }
    if (Date.now() > end) throw new Error(`wattplace did not become ready:\n${out.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The addresses of the process's "wattplace serving" log line, once it is out. */
function serving(out: string): { grpc: string; http: string } | null {
  const lines = out.split('\n');
  lines.pop(); // a line still being written
  for (const line of lines) {
    if (!line.includes('"msg":"wattplace serving"')) continue;
    const e = JSON.parse(line) as { grpc: string; http: string };
    return { grpc: e.grpc, http: e.http };
  }
  return null;
}

async function applierStatus(p: Proc): Promise<Record<string, any>> {
  return (await (await fetch(`http://${p.http}/v1/applier`)).json()) as Record<string, any>;
}

/** Registers the 6 hosts on `p` and reports telemetry for every host whose BMC is on, now and every 2 s. */
async function feed(p: Proc): Promise<void> {
  if (reporter) clearInterval(reporter);
  const t = new pb.TelemetryServiceClient(p.grpc, grpc.credentials.createInsecure());
  await call(t, t.registerHosts, pb.RegisterHostsRequest.fromPartial({ hosts: hostSpecs(HOSTS, 8) }));
  const report = async () => {
    const samples = await samplesFromNova(nova, bmcs, HOSTS);
    if (samples.length) await call(t, t.report, pb.ReportRequest.fromPartial({ samples }));
  };
  reportNow = report;
  await report();
  reporter = setInterval(() => void report().catch(() => {}), 2_000);
}

function journal(): Record<string, any>[] {
  if (!fs.existsSync(journalFile)) return [];
  const out: Record<string, any>[] = [];
  for (const l of fs.readFileSync(journalFile, 'utf8').split('\n')) {
    try {
      if (l) out.push(JSON.parse(l));
    } catch {
      /* a torn last line */
    }
  }
  return out;
}

/** Polls (every 20 ms) until the journal holds an intent of `action`, then SIGKILLs `p` at once; returns that intent. */
async function killAtIntent(p: Proc, action: string, ms = 120_000): Promise<Record<string, any>> {
  const end = Date.now() + ms;
  let exited = false;
  void p.exited.then(() => (exited = true));
  for (;;) {
    const hit = journal().find((e) => e.kind === 'intent' && e.action === action);
    if (hit) {
      p.child.kill('SIGKILL');
      const r = await p.exited;
      expect(r.signal).toBe('SIGKILL');
      return hit;
    }
    if (exited) throw new Error(`wattplace exited before a ${action} intent:\n${p.out().slice(-3000)}`);
    if (Date.now() > end) throw new Error(`no ${action} intent within ${ms} ms: ${JSON.stringify(await applierStatus(p))}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function services(): Promise<Record<string, { status: string; state: string; reason: string | null }>> {
  const r = await nova.call('GET', '/os-services?binary=nova-compute', undefined, '2.53');
  return Object.fromEntries(r.body.services.map((s: any) => [s.host, { status: s.status, state: s.state, reason: s.disabled_reason ?? null }]));
}

async function servers(): Promise<{ name: string; status: string; task: string | null; host: string }[]> {
  const r = await nova.call('GET', '/servers/detail?all_tenants=1');
  return r.body.servers.map((s: any) => ({ name: s.name, status: s.status, task: s['OS-EXT-STS:task_state'] ?? null, host: s['OS-EXT-SRV-ATTR:host'] }));
}

/**
 * Restarts the same command with a cycle interval of an hour (the first cycle,
 * at start-up, sees no registered host and is skipped: no new cycle acts before
 * the assertions), re-registers, and waits until the applier has reconciled.
 */
async function restartAndReconcile(): Promise<Proc> {
  const p = await serve(3_600_000);
  // the start-up tick: reconcile, then the first (skipped) cycle; register only after it
  await until('the first tick', () => applierStatus(p), (s) => s.reconciled === true && s.lastCycle !== null && s.cycle === null, 60_000);
  const first = await applierStatus(p);
  expect(first.lastCycle.outcome, JSON.stringify(first)).toBe('skipped');
  await feed(p);
  return p;
}

/** The invariant after a restart, and every server ACTIVE once Nova's own moves have settled. */
async function assertNothingForgotten(p: Proc): Promise<void> {
  const st = await applierStatus(p);
  expect(st).toMatchObject({ mode: 'on', leader: true, reconciled: true });
  const svc = await services();
  expect(Object.keys(svc).sort()).toEqual(HOSTS);
  for (const h of HOSTS) {
    if (svc[h].status === 'enabled') continue;
    expect(svc[h].reason ?? '', `${h}: ${JSON.stringify(svc[h])}`).toMatch(/^wattplace:/);
    expect(bmcs.power(h), `${h} disabled by wattplace but its BMC is on`).toBe('off');
    expect(st.hosts.standby, `${h} disabled by wattplace but not in standby`).toContain(h);
  }
  // a host the applier calls standby is one Nova shows disabled by it, BMC off
  for (const h of st.hosts.standby) expect(svc[h], h).toMatchObject({ status: 'disabled', reason: STANDBY });
  expect(st.hosts.draining).toEqual([]);
  // a live migration the killed process started goes on in Nova: wait for it to end, then every server ACTIVE
  const all = await until('servers settled', servers, (l) => l.every((s) => s.task === null && s.status !== 'MIGRATING'), 90_000);
  expect(all.filter((s) => s.status === 'ERROR')).toEqual([]);
  expect(all.map((s) => s.status)).toEqual(all.map(() => 'ACTIVE'));
  expect(all).toHaveLength(serverCount);
  // and none on a host that is off
  for (const s of all) expect(bmcs.power(s.host), `${s.name} on ${s.host}`).toBe('on');
}

describe('applier killed mid-cycle and restarted: nothing left disabled and forgotten', () => {
  it('SIGKILL while draining a host (after its migrate intent); the restarted applier re-enables it', async () => {
    const before = await services();
    for (const h of HOSTS) expect(before[h], h).toMatchObject({ status: 'enabled', state: 'up' });

    const p1 = await serve(2_000);
    await feed(p1);
    // the cycle disables a host, journals it, then journals the first migrate intent before calling Nova
    const intent = await killAtIntent(p1, 'migrate');
    const svc = await services();
    const draining = HOSTS.filter((h) => svc[h].status === 'disabled');
    // killed mid-drain: the host being drained is disabled by wattplace, and nothing is powered off yet
    expect(draining, JSON.stringify(svc)).toContain(intent.host);
    for (const h of draining) expect(svc[h].reason, h).toBe(DRAINING);
    for (const h of HOSTS) expect(bmcs.power(h), h).toBe('on');
    expect(journal().some((e) => e.action === 'power-off')).toBe(false);

    const p2 = await restartAndReconcile();
    // every host was powered: each drained one is enabled again, none is standby
    const after = await services();
    for (const h of HOSTS) expect(after[h], h).toMatchObject({ status: 'enabled', reason: null });
    expect((await applierStatus(p2)).hosts.standby).toEqual([]);
    await assertNothingForgotten(p2);
    // a complete reconcile compacts the journal to the hosts in standby: none
    expect(journal()).toEqual([]);
    p2.child.kill('SIGTERM');
    expect((await p2.exited).code).toBe(0);
  }, 300_000);

  it('SIGKILL right after a power-off intent; the restarted applier finds the host either standby (BMC off) or re-enabled (BMC on)', async () => {
    const p3 = await serve(2_000);
    await feed(p3);
    const intent = await killAtIntent(p3, 'power-off', 180_000);
    const h = intent.host as string;
    const svc = await services();
    // killed between the intent and its outcome: the host is disabled, with the standby reason set
    // right before the power-off (while its nova-compute still answers), and empty
    expect(svc[h], h).toMatchObject({ status: 'disabled', reason: STANDBY });
    expect((await servers()).filter((s) => s.host === h)).toEqual([]);

    const p4 = await restartAndReconcile();
    await assertNothingForgotten(p4);
    const st = await applierStatus(p4);
    const now = (await services())[h];
    // either the off command reached the BMC (standby) or it did not (the empty host is enabled again)
    if (bmcs.power(h) === 'off') {
      expect(now).toMatchObject({ status: 'disabled', reason: STANDBY });
      expect(st.hosts.standby).toContain(h);
    } else {
      expect(now).toMatchObject({ status: 'enabled', reason: null });
      expect(st.hosts.standby).not.toContain(h);
    }
    p4.child.kill('SIGTERM');
    expect((await p4.exited).code).toBe(0);
  }, 300_000);

  it('SIGKILL after a finished cycle; the restarted process learns its hosts after reconciling, and a Place still sees the standby hosts as STANDBY (wake = true)', async () => {
    const p5 = await serve(2_000);
    await feed(p5);
    // cycles until 3 hosts are in standby (the arithmetic above), counting one the test before may
    // have left in standby, and no cycle running
    await until('3 hosts in standby', () => applierStatus(p5), (s) => s.lastCycle !== null && s.hosts.standby.length === 3 && s.cycle === null, 180_000);
    const standby = (await applierStatus(p5)).hosts.standby as string[];
    p5.child.kill('SIGKILL');
    await p5.exited;

    // the restart reconciles before any host is registered (its gRPC is up only then); the hosts come after
    const p6 = await restartAndReconcile();
    await assertNothingForgotten(p6);
    expect((await applierStatus(p6)).hosts.standby).toEqual(standby);
    for (const h of standby) expect(bmcs.power(h), h).toBe('off');

    // 6 000 millicores fit only an empty host (≤ 6 400 under the ceiling): a standby one. A few
    // ticks (500 ms each) after registration, wattplace's own view must hold them as STANDBY
    // (not ON without telemetry, i.e. stale and never chosen), so Place chooses one and asks to wake it.
    await new Promise((r) => setTimeout(r, 2_000));
    const pl = new pb.PlacementServiceClient(p6.grpc, grpc.credentials.createInsecure());
    const r = await call(pl, pl.place, pb.PlaceRequest.fromPartial({ workload: { id: 'pod-big', demand: { cpuMillis: 6000, memBytes: 1024 * 1024 * 1024 } } }));
    expect(standby).toContain(r.hostId);
    expect(r.wake).toBe(true);
    // and the applier's next ticks wake it
    await until('the chosen host woken', async () => ({ bmc: bmcs.power(r.hostId), svc: (await services())[r.hostId] }), (x) => x.bmc === 'on' && x.svc.status === 'enabled' && x.svc.state === 'up', 90_000);
    await call(pl, pl.release, pb.ReleaseRequest.fromPartial({ reservationId: r.reservationId }));
    pl.close();
    await assertNothingForgotten(p6);
    p6.child.kill('SIGTERM');
    expect((await p6.exited).code).toBe(0);
  }, 400_000);

  it('SIGKILL right after a power-on intent (a wake); the restarted applier finishes the wake or keeps the host in standby', async () => {
    const p7 = await serve(3_600_000);
    await until('reconciled', () => applierStatus(p7), (s) => s.reconciled === true && s.lastCycle !== null, 60_000);
    await feed(p7);
    await until('standby known after registration', () => applierStatus(p7), (s) => s.hosts.standby.length >= 1, 10_000);
    const standby = (await applierStatus(p7)).hosts.standby as string[];
    // one m1.tiny on every empty ON host, so that 6 000 millicores fit no ON host (1 000 + 6 000 > 6 400)
    const svc0 = await services();
    const per = await servers();
    for (const h of HOSTS) {
      if (svc0[h].status !== 'enabled' || per.some((s) => s.host === h)) continue;
      await nova.boot(`one-${h}`, 'm1.tiny', h);
      serverCount++;
    }
    await reportNow();
    // as above: 6 000 millicores fit only an empty (standby) host; the Place reserves on it, the next tick wakes it
    const pl = new pb.PlacementServiceClient(p7.grpc, grpc.credentials.createInsecure());
    const r = await call(pl, pl.place, pb.PlaceRequest.fromPartial({ workload: { id: 'pod-big-2', demand: { cpuMillis: 6000, memBytes: 1024 * 1024 * 1024 } } }));
    pl.close();
    expect(standby).toContain(r.hostId);
    expect(r.wake).toBe(true);
    const intent = await killAtIntent(p7, 'power-on', 30_000);
    expect(intent.host).toBe(r.hostId);
    // killed before the wake's enable: still disabled as standby
    expect((await services())[r.hostId]).toMatchObject({ status: 'disabled', reason: STANDBY });

    const p8 = await restartAndReconcile();
    await assertNothingForgotten(p8);
    const now = (await services())[r.hostId];
    if (bmcs.power(r.hostId) === 'on') expect(now).toMatchObject({ status: 'enabled', state: 'up', reason: null });
    else expect((await applierStatus(p8)).hosts.standby).toContain(r.hostId);
    p8.child.kill('SIGTERM');
    expect((await p8.exited).code).toBe(0);
  }, 300_000);
});
