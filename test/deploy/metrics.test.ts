/**
 * The metrics the Grafana dashboard (deploy/grafana/dashboards/wattplace.json)
 * plots beyond the core ones: watts per host and per site, and the estimated
 * power avoided by a placement decision. Real server, real gRPC, real scrape.
 *
 * ENERGY_METRICS: three 10-core (10 000 m) hosts with linear power models, each
 * reporting 10 % CPU. A 2 000 m workload adds Δu = 0.2; marginal = (max − idle)·0.2:
 *
 *   host   site  model        measured W   marginal W
 *   em-a   fra   100 → 200    110          100·0.2 = 20   ← chosen
 *   em-b   fra   100 → 300    120          200·0.2 = 40   ← runner-up
 *   em-c   ber    50 → 450     90          400·0.2 = 80
 *
 *   wattplace_site_watts{site="fra"} = 110 + 120 = 230, {site="ber"} = 90
 *   wattplace_decision_watts_avoided_total = 40 − 20 = 20
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { pbHost, pbLinear, sample, workload } from '../fixtures/clusters';
import { startTestServer, type TestServer } from '../helpers/grpc';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
  await t.rpc.registerHosts({
    hosts: [
      pbHost('em-a', { cpu: 10_000, memGiB: 64, site: 'fra', power: pbLinear(100, 200) }),
      pbHost('em-b', { cpu: 10_000, memGiB: 64, site: 'fra', power: pbLinear(100, 300) }),
      pbHost('em-c', { cpu: 10_000, memGiB: 64, site: 'ber', power: pbLinear(50, 450) }),
    ],
  });
  const now = new Date(Date.now() - 1000);
  await t.rpc.report({
    samples: [sample('em-a', now, 0.1, { watts: 110 }), sample('em-b', now, 0.1, { watts: 120 }), sample('em-c', now, 0.1, { watts: 90 })],
  });
});
afterAll(() => t.close());

async function scrape(): Promise<Map<string, number>> {
  const text = await (await fetch(`http://${t.server.httpAddress}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

it('exports measured watts per host (with its site) and per site', async () => {
  const m = await scrape();
  expect(m.get('wattplace_host_watts{host="em-a",site="fra"}')).toBe(110);
  expect(m.get('wattplace_host_watts{host="em-b",site="fra"}')).toBe(120);
  expect(m.get('wattplace_host_watts{host="em-c",site="ber"}')).toBe(90);
  expect(m.get('wattplace_site_watts{site="fra"}')).toBe(230);
  expect(m.get('wattplace_site_watts{site="ber"}')).toBe(90);
});

it('counts the watts a Place decision avoided against its runner-up', async () => {
  expect((await scrape()).get('wattplace_decision_watts_avoided_total')).toBe(0);
  const r = await t.rpc.place({ workload: workload('em-w1', 2000, 1) });
  expect(r.hostId).toBe('em-a');
  expect(r.marginalWatts).toBeCloseTo(20, 9);
  expect(r.alternatives[0]).toMatchObject({ hostId: 'em-b' });
  expect((await scrape()).get('wattplace_decision_watts_avoided_total')).toBeCloseTo(20, 9);
});
