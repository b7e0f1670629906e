import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PowerState } from '../../src/domain';
import { startApplierCloud, until, type ApplierCloud } from '../fixtures/applier-cloud';

/**
 * The applier end to end, against Nova's real services (nova-box) with
 * wattplace's filter and weigher in Nova's scheduler, and real BMCs (ipmi_sim).
 *
 * 6 hosts of 8 vCPUs: under wattplace's CPU ceiling 0.8 a host takes 6 400
 * millicores, the fleet 38 400; the default headroom 0.1 keeps 3 840 free.
 * 12 m1.tiny servers (1 vCPU = 1 000 millicores each), 2 per host.
 *   hosts left on   free millicores         headroom kept?
 *   3               3 × 6 400 − 12 000 = 7 200   yes
 *   2               2 × 6 400 − 12 000 =   800   no
 * so the cycle puts 3 hosts in standby. Saving (allocation view, linear model
 * 100 → 200 W, standby 5 W): 3 × (100 − 5) − 6 migrations × 2 W = 273 W > 50.
 *
 * Then an m1.large (4 000 millicores) fits no ON host (each holds 4 000: 8 000
 * > 6 400): Nova's boot fails, wattplace counts the capacity miss, the next
 * check wakes one standby host (4 000 short; a host gives 6 400), Nova reports
 * it up, the applier enables it, and the same boot succeeds there.
 */
let c: ApplierCloud;

beforeAll(async () => {
  c = await startApplierCloud();
  await c.bootSpread(12, c.hosts);
}, 120_000);

afterAll(async () => {
  await c?.stop();
});

describe('applier on nova-box: consolidate, standby, wake', () => {
  let standby: string[] = [];
  let on: string[] = [];

  it('a cycle leaves the servers ACTIVE on fewer hosts and puts the emptied hosts in standby', async () => {
    const before = await c.serversByHost();
    expect(Object.values(before).map((s) => s.length)).toEqual([2, 2, 2, 2, 2, 2]);
    await c.applier.tick({ cycle: true });
    const st = c.applier.status();
    expect(st.lastCycle?.outcome, JSON.stringify(st)).toBe('done');

    const after = await c.serversByHost(); // throws unless every server is ACTIVE
    on = c.hosts.filter((h) => after[h].length > 0);
    standby = c.hosts.filter((h) => after[h].length === 0);
    expect(on).toHaveLength(3);
    expect(Object.values(after).flat()).toHaveLength(12);
    for (const h of on) expect(after[h].length).toBeLessThanOrEqual(6);

    const svc = await c.services();
    for (const h of standby) {
      expect(svc[h], h).toMatchObject({ status: 'disabled', reason: 'wattplace: standby' });
      expect(c.bmcs.power(h), h).toBe('off');
      const snap = c.wp.server.core.collector.current();
      expect(snap.state[snap.indexOf(h)], h).toBe(PowerState.STANDBY);
    }
    for (const h of on) expect(svc[h], h).toMatchObject({ status: 'enabled' });
    expect(st.hosts.standby).toEqual(standby);
    expect(st.hosts.draining).toEqual([]);
  }, 180_000);

  it('GET /v1/applier and the metrics show the standby hosts', async () => {
    const r = await fetch(`http://${c.wp.server.httpAddress}/v1/applier`);
    const body = (await r.json()) as Record<string, any>;
    expect(body).toMatchObject({ mode: 'on', leader: true, reconciled: true, hosts: { standby, draining: [], waking: [] } });
    const text = await (await fetch(`http://${c.wp.server.httpAddress}/metrics`)).text();
    expect(text).toContain('wattplace_applier_hosts{state="standby"} 3');
    expect(text).toContain('wattplace_applier_leader 1');
    // 3 hosts × (100 idle − 5 standby)
    expect(text).toContain('wattplace_applier_saved_watts 285');
    expect(text).toMatch(/wattplace_applier_actions_total\{action="power-off",outcome="ok"\} 3/);
  });

  it('every action is journalled as an intent before its outcome', async () => {
    const fs = await import('node:fs');
    const lines = fs.readFileSync(c.journalFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const open = new Map<string, number>();
    for (const e of lines) {
      const key = `${e.action}:${e.host}:${e.server ?? ''}`;
      if (e.kind === 'intent') open.set(key, (open.get(key) ?? 0) + 1);
      if (e.kind === 'outcome' && e.action !== 'on') {
        expect(open.get(key) ?? 0, key).toBeGreaterThan(0);
        open.set(key, open.get(key)! - 1);
      }
    }
    expect(lines.filter((e) => e.kind === 'intent' && e.action === 'power-off').map((e) => e.host).sort()).toEqual(standby);
  });

  it('boots beyond the ON hosts\' room: the applier wakes a standby host before the room runs out, and every boot succeeds', async () => {
    // room on the 3 ON hosts under the ceiling: 3 × 6 400 − 12 000 = 7 200 millicores = 7 m1.tiny;
    // 9 boots need 9 000. The wake check (the applier's timer; called here before each boot) sees
    // free < headroom 3 840 after the 4th boot (7 200 − 4 000 = 3 200) and wakes one host
    // (6 400 more); the 9 boots then fit: 12 000 + 9 000 = 21 000 ≤ 4 × 6 400 = 25 600.
    const ids: string[] = [];
    for (let i = 1; i <= 9; i++) {
      await c.applier.tick();
      ids.push(await c.nova.boot(`more${i}`, 'm1.tiny'));
    }
    expect(ids).toHaveLength(9); // every boot ACTIVE (boot() throws otherwise)
    const st = c.applier.status();
    const woken = standby.filter((h) => !st.hosts.standby.includes(h));
    expect(woken, JSON.stringify(st.lastErrors)).toHaveLength(1);
    const h = woken[0];
    expect(c.bmcs.power(h)).toBe('on');
    const svc = await c.services();
    expect(svc[h]).toMatchObject({ status: 'enabled', state: 'up', reason: null });
    const snap = c.wp.server.core.collector.current();
    expect(snap.state[snap.indexOf(h)]).toBe(PowerState.ON);
    standby = st.hosts.standby;
    expect(standby).toHaveLength(2);
  }, 240_000);

  it('a Place that chooses a STANDBY host answers wake = true, and the applier wakes that host', async () => {
    await c.report();
    // 6 000 millicores fit only an empty host (≤ 6 400): the standby ones
    const r = await c.wp.rpc.place({ workload: { id: 'pod-big', demand: { cpuMillis: 6000, memBytes: 1024 * 1024 * 1024 } } });
    expect(standby).toContain(r.hostId);
    expect(r.wake).toBe(true);
    await c.applier.tick();
    expect(c.bmcs.power(r.hostId)).toBe('on');
    expect((await c.services())[r.hostId]).toMatchObject({ status: 'enabled', state: 'up' });
    expect(c.applier.status().hosts.standby).toEqual(standby.filter((x) => x !== r.hostId));
    await c.wp.rpc.release({ reservationId: r.reservationId });
    standby = c.applier.status().hosts.standby;
  }, 240_000);

  it("a request no ON host can take (Nova's plugin's Evaluate over its enabled hosts) makes the applier wake the last standby host", async () => {
    // one m1.tiny on every empty ON host, so that 6 000 millicores fit no ON host
    // (each holds ≥ 1 000: 1 000 + 6 000 = 7 000 > 6 400); an empty woken host takes it
    const svc0 = await c.services();
    const per0 = await c.serversByHost();
    let k = 0;
    for (const h of c.hosts) if (svc0[h].status === 'enabled' && per0[h].length === 0) await c.nova.boot(`one${++k}`, 'm1.tiny', h);
    await c.report();
    const ask = async () => {
      const per = await c.serversByHost();
      const svc = await c.services();
      // the candidates Nova's scheduler sends: its enabled hosts, each with Nova's allocation
      const candidates = c.hosts
        .filter((h) => svc[h].status === 'enabled')
        .map((hostId) => ({ hostId, allocated: { cpuMillis: per[hostId].length * 1000, memBytes: per[hostId].length * 512 * 1024 * 1024 } }));
      return c.wp.rpc.evaluate({ workload: { id: 'vm-big', demand: { cpuMillis: 6000, memBytes: 1024 * 1024 * 1024 } }, candidates });
    };
    const misses = () => c.wp.server.core.engine.capacityMisses.misses(Date.now() - 60_000).count;
    const before = misses();
    expect((await ask()).feasible).toEqual([]);
    expect(misses()).toBe(before + 1);
    expect(standby).toHaveLength(1);
    await c.applier.tick();
    const st = c.applier.status();
    expect(st.hosts.standby, JSON.stringify(st.lastErrors)).toEqual([]);
    expect(c.bmcs.power(standby[0])).toBe('on');
    await c.report();
    expect((await ask()).feasible.map((f) => f.hostId)).toEqual([standby[0]]);
  }, 240_000);
});
