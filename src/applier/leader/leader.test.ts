import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEtcd, type EtcdServer } from '../../../test/fixtures/etcd';
import { EtcdLeadership, EtcdLeadershipSchema } from './etcd';
import { createLeadership, SingleReplicaLeadership } from './single';

/**
 * Leadership against a real etcd (Debian etcd-server) on loopback ports.
 * TTL 3000 ms here: renewals every 1000 ms, a new leader waits 1250 ms of grace.
 */
const TTL = 3_000;
let etcd: EtcdServer;
let admin: Etcd3;
let keyNo = 0;
const open: EtcdLeadership[] = [];
/** Each candidate's recorded changes, for the check in `until`. */
const seen = new Map<EtcdLeadership, boolean[]>();

beforeAll(async () => {
  etcd = await startEtcd();
  admin = new Etcd3({ hosts: etcd.endpoint });
});

afterAll(async () => {
  await Promise.all(open.map((l) => l.close()));
  admin?.close();
  await etcd?.stop();
});

/** Two candidates on a fresh election key, each with its changes recorded. */
function candidates(names: string[]): { c: EtcdLeadership[]; changes: Record<string, boolean[]>; key: string } {
  const key = `/test/leader/${++keyNo}`;
  const changes: Record<string, boolean[]> = {};
  const c = names.map((n) => {
    const l = new EtcdLeadership({ endpoints: [etcd.endpoint], leaseTtlMs: TTL, key }, { identity: n, log: process.env.LEADER_DEBUG ? (e, f) => console.log(Math.round(performance.now()), e, JSON.stringify(f)) : undefined });
    changes[n] = [];
    l.onChange((v) => changes[n].push(v));
    open.push(l);
    seen.set(l, changes[n]);
    return l;
  });
  return { c, changes, key };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls every 10 ms until `cond` holds; fails if both candidates ever lead at
 * once, or if a candidate's listeners have not yet been told what `isLeader()`
 * says. Returns the ms it took.
 */
async function until(cs: EtcdLeadership[], cond: () => boolean, withinMs: number): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const leading = cs.map((l) => l.isLeader());
    expect(leading.filter(Boolean).length, 'two leaders at once').toBeLessThanOrEqual(1);
    cs.forEach((l, i) => expect(seen.get(l)?.at(-1) ?? false, `onChange lags isLeader() of ${l.identity}`).toBe(leading[i]));
    if (cond()) return performance.now() - t0;
    if (performance.now() - t0 > withinMs) throw new Error(`not within ${withinMs} ms`);
    await sleep(10);
  }
}

describe('etcd lease leadership', () => {
  it('of two candidates exactly one leads, and the other knows who', async () => {
    const { c: [a, b] } = candidates(['a', 'b']);
    await a.start();
    await b.start();
    await until([a, b], () => a.isLeader() || b.isLeader(), TTL);
    const [leader, follower] = a.isLeader() ? [a, b] : [b, a];
    // 1.5 s = 1.5 renewals: the leader keeps leading, never both.
    const t0 = performance.now();
    while (performance.now() - t0 < 1_500) {
      expect([leader.isLeader(), follower.isLeader()]).toEqual([true, false]);
      await sleep(25);
    }
    expect(follower.leaderIdentity()).toBe(leader.identity);
    expect(leader.leaderIdentity()).toBe(leader.identity);
  });

  it('a revoked lease hands over within the TTL, and the old leader reports the loss', async () => {
    const { c: [a, b], changes, key } = candidates(['a', 'b']);
    await a.start();
    await until([a], () => a.isLeader(), TTL);
    await b.start();
    const kv = (await admin.get(key).exec()).kvs[0];
    expect(kv.value.toString()).toBe('a');
    await admin.leaseClient.leaseRevoke({ ID: kv.lease });
    // a notices at its next renewal (≤ 1000 ms); b takes the key at its next poll (≤ 1000 ms) + 1250 ms grace.
    const ms = await until([a, b], () => b.isLeader(), TTL);
    expect(ms).toBeLessThan(TTL);
    expect(a.isLeader()).toBe(false);
    expect(changes.a).toEqual([true, false]);
    expect(changes.b).toEqual([true]);
    expect(a.leaderIdentity()).toBe('b');
  });

  it('a leader that stops renewing (crashed, frozen) is replaced once its lease expires in etcd', async () => {
    const { c: [b], changes, key } = candidates(['b']);
    // The crashed leader: a lease of TTL 3 s holding the key, never renewed.
    const t0 = performance.now();
    const lease = await admin.leaseClient.leaseGrant({ TTL: TTL / 1000 });
    await admin.put(key).value('crashed').lease(lease.ID).exec();
    await b.start();
    await sleep(TTL / 2);
    expect([b.isLeader(), b.leaderIdentity()]).toEqual([false, 'crashed']);
    // The key goes at t0 + 3000 ms; b sees it at its next poll (≤ 1000 ms) and acts 1250 ms later.
    await until([b], () => b.isLeader(), TTL + 1_000 + 1_250 + 500);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(TTL);
    expect(changes.b).toEqual([true]);
  });

  it('close() resigns: the key is gone at once and the other takes over', async () => {
    const { c: [a, b], key } = candidates(['a', 'b']);
    await a.start();
    await until([a], () => a.isLeader(), TTL);
    await b.start();
    await a.close();
    expect(a.isLeader()).toBe(false);
    expect((await admin.get(key).exec()).kvs.map((k) => k.value.toString())).not.toContain('a');
    const ms = await until([a, b], () => b.isLeader(), TTL);
    expect(ms).toBeLessThan(TTL);
  });

  it('etcd gone: the leader steps down within the TTL by its own clock, and leads again once etcd is back', async () => {
    const { c: [a], changes } = candidates(['a']);
    await a.start();
    await until([a], () => a.isLeader(), TTL);
    await etcd.kill();
    const t0 = performance.now();
    await until([a], () => !a.isLeader(), TTL + 200);
    // The last confirmed renewal was at most 1000 ms before the kill: ≤ 3000 ms after it.
    expect(performance.now() - t0).toBeLessThanOrEqual(TTL + 50);
    expect(changes.a).toEqual([true, false]);
    await etcd.start();
    // Its old key expires with its lease in etcd (TTL after the restart at most), then a new lease wins.
    await until([a], () => a.isLeader(), 20_000);
    expect(changes.a).toEqual([true, false, true]);
  }, 40_000);
});

describe('leadership config', () => {
  it.each([
    { name: 'defaults', input: { endpoints: ['http://127.0.0.1:2379'] }, ok: true, ttl: 15_000 },
    { name: 'TTL under 2 s (below etcd’s minimum)', input: { endpoints: ['http://127.0.0.1:2379'], leaseTtlMs: 1_000 }, ok: false, path: 'leaseTtlMs' },
    { name: 'no endpoint', input: { endpoints: [] }, ok: false, path: 'endpoints' },
    { name: 'an endpoint that is not a URL', input: { endpoints: ['127.0.0.1:2379'] }, ok: false, path: 'endpoints.0' },
    { name: 'an unknown key', input: { endpoints: ['http://e:2379'], ttl: 5 }, ok: false, path: '' },
  ])('$name', ({ input, ok, ttl, path }) => {
    const r = EtcdLeadershipSchema.safeParse(input);
    expect(r.success).toBe(ok);
    if (r.success) expect(r.data.leaseTtlMs).toBe(ttl);
    else expect(r.error.issues[0].path.join('.')).toBe(path);
  });
});

describe('single replica (no etcd configured)', () => {
  it('leads from start to close and reports both changes', async () => {
    const l = new SingleReplicaLeadership({ identity: 'only' });
    const seen: boolean[] = [];
    l.onChange((v) => seen.push(v));
    expect(l.isLeader()).toBe(false);
    await l.start();
    expect([l.isLeader(), l.leaderIdentity()]).toEqual([true, 'only']);
    await l.close();
    expect([l.isLeader(), l.leaderIdentity(), seen]).toEqual([false, null, [true, false]]);
  });

  it.each([
    { name: 'no applier.etcd', etcd: undefined, kind: SingleReplicaLeadership },
    { name: 'applier.etcd with endpoints', etcd: { endpoints: ['http://127.0.0.1:1'] }, kind: EtcdLeadership },
  ])('createLeadership: $name', async ({ etcd: cfg, kind }) => {
    const l = createLeadership(cfg);
    expect(l).toBeInstanceOf(kind);
    await l.close();
  });
});
