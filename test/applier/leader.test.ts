/**
 * Two appliers, one etcd: never both act.
 *
 * Two wattplace servers (in this process, each with its applier, distinct
 * identities and journals) share a real etcd (lease TTL 3 s), one nova-box
 * (Nova's real services, no wattplace scheduler plugin) and one set of real
 * BMCs (ipmi_sim). Every mutating Nova call (setServiceStatus, liveMigrate) is
 * recorded with the replica that made it and when.
 *
 * 6 hosts of 8 vCPUs; wattplace's CPU ceiling 0.8 → 6 400 millicores a host,
 * 38 400 the fleet, headroom 0.1 → 3 840 kept free. 12 m1.tiny (1 000 each), 2
 * per host: 3 hosts left on keep 3 × 6 400 − 12 000 = 7 200 ≥ 3 840, 2 would
 * keep 800: the leader's first cycle puts 3 hosts in standby with 6
 * migrations: 3 disables + 6 live migrations + 3 standby marks = 12 mutating
 * calls. Later cycles: 3 hosts → 2 would keep 800 < 3 840: skipped, no call.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ComputeCloud } from '../../src/applier/ports';
import { applierSection, hook, hostSpecs, ipmiPower, portOf, samplesFromNova, startCloudNova, until } from '../fixtures/applier-cloud';
import { startBmcSim, type BmcSim } from '../fixtures/bmc-sim';
import { startEtcd, type EtcdServer } from '../fixtures/etcd';
import type { NovaBox } from '../fixtures/nova-box';
import { startTestServer, type TestServer } from '../helpers/grpc';

const HOSTS = ['host1', 'host2', 'host3', 'host4', 'host5', 'host6'];
const TTL_MS = 3_000;

interface Call {
  readonly by: string;
  readonly call: 'setServiceStatus' | 'liveMigrate';
  readonly arg: string;
  readonly detail: string;
  /** When the call was made, and when it answered (ms since the epoch). */
  readonly at: number;
  end?: number;
}

const calls: Call[] = [];
let etcd: EtcdServer;
let bmcs: BmcSim;
let nova: NovaBox;
let dir: string;
const replicas: { id: string; wp: TestServer; stopped: boolean }[] = [];
let reporter: NodeJS.Timeout | null = null;

const recording = (by: string) => (c: ComputeCloud): ComputeCloud =>
  hook(c, {
  setServiceStatus: async (id, enabled, reason) => {
    const e: Call = { by, call: 'setServiceStatus', arg: id, detail: enabled ? 'enabled' : `disabled: ${reason ?? ''}`, at: Date.now() };
    calls.push(e);
    try {
      return await c.setServiceStatus(id, enabled, reason);
    } finally {
      e.end = Date.now();
    }
  },
  liveMigrate: async (id, target) => {
    const e: Call = { by, call: 'liveMigrate', arg: id, detail: target, at: Date.now() };
    calls.push(e);
    try {
      return await c.liveMigrate(id, target);
    } finally {
      e.end = Date.now();
    }
  },
});

async function report(): Promise<void> {
  const samples = await samplesFromNova(nova, bmcs, HOSTS);
  for (const r of replicas) if (!r.stopped && samples.length) await r.wp.rpc.report({ samples });
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wattplace-leader-'));
  etcd = await startEtcd();
  bmcs = await startBmcSim(HOSTS);
  nova = await startCloudNova(bmcs, HOSTS.length, 8, 0); // nova-box binds a free port itself
  const novaPort = portOf(nova);
  for (let i = 0; i < 12; i++) await nova.boot(`s${i + 1}`, 'm1.tiny', HOSTS[i % HOSTS.length]);
  const start = (id: string) =>
    startTestServer(
      {
        applier: {
          // cycles and wake checks run when the test asks (applier.tick)
          ...applierSection({ journalFile: path.join(dir, `${id}.journal`), novaPort, power: ipmiPower(bmcs, HOSTS), intervalMs: 3_600_000, tickMs: 3_600_000 }),
          identity: id,
          etcd: { endpoints: [etcd.endpoint], leaseTtlMs: TTL_MS },
        },
      },
      { applierCloud: recording(id) },
    );
  // both at once: they campaign against each other from the start
  const [a, b] = await Promise.all([start('replica-a'), start('replica-b')]);
  replicas.push({ id: 'replica-a', wp: a, stopped: false }, { id: 'replica-b', wp: b, stopped: false });
  for (const r of replicas) {
    await r.wp.rpc.registerHosts({ hosts: hostSpecs(HOSTS, 8) });
  }
  await report();
  reporter = setInterval(() => void report().catch(() => {}), 2_000);
}, 240_000);

afterAll(async () => {
  if (reporter) clearInterval(reporter);
  for (const r of replicas) if (!r.stopped) await r.wp.close().catch(() => {});
  await nova?.stop();
  await bmcs?.stop();
  await etcd?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
}, 60_000);

async function httpStatus(wp: TestServer): Promise<Record<string, any>> {
  return (await (await fetch(`http://${wp.server.httpAddress}/v1/applier`)).json()) as Record<string, any>;
}

async function services(): Promise<Record<string, { status: string; state: string; reason: string | null }>> {
  const r = await nova.call('GET', '/os-services?binary=nova-compute', undefined, '2.53');
  return Object.fromEntries(r.body.services.map((s: any) => [s.host, { status: s.status, state: s.state, reason: s.disabled_reason ?? null }]));
}

describe('two appliers with one etcd: never both act', () => {
  let leader: (typeof replicas)[number];
  let other: (typeof replicas)[number];

  it('concurrent cycles on both replicas: only the leader makes mutating calls', async () => {
    // one of them leads after winning the key and waiting its grace (1.25 × TTL/3 = 1 250 ms)
    await until('a leader', () => replicas.map((r) => r.wp.server.applier!.status().leader), (l) => l.some(Boolean), 15_000);
    for (let round = 0; round < 4; round++) {
      await Promise.all(replicas.map((r) => r.wp.server.applier!.tick({ cycle: true })));
    }
    const st = replicas.map((r) => r.wp.server.applier!.status());
    const leaders = replicas.filter((_, i) => st[i].leader);
    expect(leaders.map((r) => r.id)).toHaveLength(1);
    leader = leaders[0];
    other = replicas.find((r) => r !== leader)!;
    const ls = leader.wp.server.applier!.status();
    expect(ls.lastCycle?.outcome, JSON.stringify(ls)).toBe('skipped'); // the later rounds: nothing more to free
    expect(ls.hosts.standby).toHaveLength(3);

    // 3 disables + 6 live migrations + 3 standby marks, all by the leader
    expect(calls.filter((c) => c.by === other.id)).toEqual([]);
    expect(calls.filter((c) => c.call === 'liveMigrate')).toHaveLength(6);
    expect(calls.filter((c) => c.detail === 'disabled: wattplace: draining for standby')).toHaveLength(3);
    expect(calls.filter((c) => c.detail === 'disabled: wattplace: standby')).toHaveLength(3);
    expect(calls).toHaveLength(12);
    expect(new Set(calls.map((c) => c.by))).toEqual(new Set([leader.id]));

    // the other replica never reconciled (it never led) and took no step
    const otherSt = other.wp.server.applier!.status();
    expect(otherSt).toMatchObject({ leader: false, reconciled: false, cycle: null, lastCycle: null });

    const svc = await services();
    for (const h of ls.hosts.standby) {
      expect(svc[h], h).toMatchObject({ status: 'disabled', reason: 'wattplace: standby' });
      expect(bmcs.power(h), h).toBe('off');
    }
  }, 240_000);

  it('GET /v1/applier: leader true on exactly one, the same leaderIdentity on both', async () => {
    const [a, b] = await Promise.all(replicas.map((r) => httpStatus(r.wp)));
    expect([a.leader, b.leader].filter(Boolean)).toHaveLength(1);
    expect(a.leaderIdentity).toBe(leader.id);
    expect(b.leaderIdentity).toBe(leader.id);
    expect(a.identity).toBe('replica-a');
    expect(b.identity).toBe('replica-b');
  });

  it('the leader stops: the other leads within 2 lease TTLs, acts (a wake), and no call of the old leader follows its stop', async () => {
    const before = calls.length;
    const stopAt = Date.now();
    leader.stopped = true;
    await leader.wp.close(); // revokes its lease: the key goes at once
    const stoppedAt = Date.now();
    await until('the other replica leads', () => other.wp.server.applier!.status().leader, (l) => l === true, 2 * TTL_MS);
    const ledAfter = Date.now() - stoppedAt;
    // the key is polled every TTL/3 = 1 000 ms and the new leader waits 1 250 ms: ≤ 2 × 3 000 ms
    expect(ledAfter).toBeLessThanOrEqual(2 * TTL_MS);
    expect(calls.length).toBe(before);

    // leading, it reconciles: the 3 hosts are standby (BMC off, already marked so: no call)
    await other.wp.server.applier!.tick();
    const st = other.wp.server.applier!.status();
    expect(st).toMatchObject({ leader: true, reconciled: true, leaderIdentity: other.id });
    expect(st.hosts.standby).toHaveLength(3);
    const standby = st.hosts.standby;

    // a wake need: 6 000 millicores fit only an empty host (≤ 6 400), i.e. a standby one;
    // Place reserves on it and the next tick wakes it
    await report();
    const r = await other.wp.rpc.place({ workload: { id: 'pod-big', demand: { cpuMillis: 6000, memBytes: 1024 * 1024 * 1024 } } });
    expect(standby).toContain(r.hostId);
    expect(r.wake).toBe(true);
    await other.wp.server.applier!.tick();
    expect(bmcs.power(r.hostId)).toBe('on');
    expect((await services())[r.hostId]).toMatchObject({ status: 'enabled', state: 'up' });

    const mine = calls.filter((c) => c.by === other.id);
    expect(mine.map((c) => c.detail)).toEqual(['enabled']); // the woken host's enable
    // nothing by the old leader after its stop began
    expect(calls.filter((c) => c.by === leader.id && c.at >= stopAt)).toEqual([]);
    // never interleaved: every call of the old leader answered before the new one's first call
    const lastOld = Math.max(...calls.filter((c) => c.by === leader.id).map((c) => c.end ?? Infinity));
    const firstNew = Math.min(...mine.map((c) => c.at));
    expect(lastOld).toBeLessThan(firstNew);
    expect(calls.findIndex((c) => c.by === other.id)).toBe(before);
    expect(calls.slice(0, before).every((c) => c.by === leader.id)).toBe(true);
  }, 180_000);
});
