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

  it('a boot that fits no ON host makes the applier wake a standby host; the boot then succeeds there', async () => {
    await expect(c.nova.boot('big1', 'm1.large')).rejects.toThrow(/ERROR/);
    expect(c.wp.server.core.engine.capacityMisses.misses(Date.now() - 60_000).count).toBeGreaterThan(0);
    await c.applier.tick();
    const st = c.applier.status();
    const woken = standby.filter((h) => !st.hosts.standby.includes(h));
    expect(woken, JSON.stringify(st.lastErrors)).toHaveLength(1);
    const h = woken[0];
    expect(c.bmcs.power(h)).toBe('on');
    const svc = await until('woken host up and enabled', () => c.services(), (s) => s[h].state === 'up' && s[h].status === 'enabled');
    expect(svc[h].reason).toBeNull();
    const snap = c.wp.server.core.collector.current();
    expect(snap.state[snap.indexOf(h)]).toBe(PowerState.ON);
    await c.report(); // its telemetry resumes, as Kepler's would
    const id = await c.nova.boot('big2', 'm1.large');
    const s = await c.nova.call('GET', `/servers/${id}`);
    expect(s.body.server['OS-EXT-SRV-ATTR:host']).toBe(h);
  }, 180_000);
});
