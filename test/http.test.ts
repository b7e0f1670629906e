/**
 * The HTTP port of a real server: /healthz, /readyz and the Prometheus
 * exposition at /metrics, after real gRPC traffic.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pbHost, sample, workload } from './fixtures/clusters';
import { startTestServer, type TestServer } from './helpers/grpc';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(() => t.close());

const get = async (p: string) => {
  const r = await fetch(`http://${t.server.httpAddress}${p}`);
  return { status: r.status, type: r.headers.get('content-type') ?? '', text: await r.text() };
};

/** The value of one series in Prometheus text format (exact label set), or undefined. */
function series(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('HTTP endpoints', () => {
  it('/healthz answers 200 ok and /readyz 200 ready once the ports are open', async () => {
    expect(await get('/healthz')).toMatchObject({ status: 200, text: '{"status":"ok"}' });
    expect(await get('/readyz')).toMatchObject({ status: 200, text: '{"status":"ready"}' });
  });

  it('unknown paths are 404 and wrong methods 405, as JSON', async () => {
    const nf = await get('/nope');
    expect(nf.status).toBe(404);
    expect(JSON.parse(nf.text)).toEqual({ error: 'no such endpoint: /nope' });
    const r = await fetch(`http://${t.server.httpAddress}/metrics`, { method: 'POST', body: '{}' });
    expect(r.status).toBe(405);
  });

  it('/metrics exposes the issue’s metrics with counts that follow the traffic', async () => {
    await t.rpc.registerHosts({
      hosts: [pbHost('m-a', { cpu: 8000, memGiB: 32 }), pbHost('m-b', { cpu: 8000, memGiB: 32, state: 2 }), pbHost('m-c', { cpu: 8000, memGiB: 32, state: 3 })],
    });
    const at = new Date(Date.now() - 1000);
    await t.rpc.report({ samples: [sample('m-a', at, 0.2), sample('m-a', at, 0.3), sample('m-a', new Date(), 7)] }); // 1 kept, 1 out of order, 1 util
    const p = await t.rpc.place({ workload: workload('m-w', 1000) }); // ok: linear 100–200 W, Δu 1/8 → 12.5 W on m-a
    await expect(t.rpc.place({ workload: workload('m-huge', 100_000) })).rejects.toThrow(); // no feasible host
    await expect(t.rpc.place({})).rejects.toThrow(); // invalid
    await t.rpc.evaluate({ workload: workload('m-e', 1000) });

    const m = await get('/metrics');
    expect(m.status).toBe(200);
    expect(m.type).toMatch(/^text\/plain/);
    const x = m.text;
    // decision latency histogram per RPC
    expect(x).toContain('# TYPE wattplace_decision_duration_seconds histogram');
    expect(series(x, 'wattplace_decision_duration_seconds_count', 'rpc="Place"')).toBe(3);
    expect(series(x, 'wattplace_decision_duration_seconds_count', 'rpc="Evaluate"')).toBe(1);
    expect(series(x, 'wattplace_decision_duration_seconds_count', 'rpc="Report"')).toBe(1);
    // decisions by outcome
    expect(series(x, 'wattplace_decisions_total', 'rpc="Place",outcome="ok"')).toBe(1);
    expect(series(x, 'wattplace_decisions_total', 'rpc="Place",outcome="no_feasible_host"')).toBe(1);
    expect(series(x, 'wattplace_decisions_total', 'rpc="Place",outcome="invalid"')).toBe(1);
    // samples ingested and rejected (by field)
    expect(series(x, 'wattplace_samples_ingested_total', 'rpc="Report"')).toBe(1);
    expect(series(x, 'wattplace_samples_rejected_total', 'rpc="Report",field="time"')).toBe(1);
    expect(series(x, 'wattplace_samples_rejected_total', 'rpc="Report",field="cpu_util"')).toBe(1);
    // hosts by state
    expect(series(x, 'wattplace_hosts', 'state="ON"')).toBe(1);
    expect(series(x, 'wattplace_hosts', 'state="STANDBY"')).toBe(1);
    expect(series(x, 'wattplace_hosts', 'state="MAINTENANCE"')).toBe(1);
    // reservations open
    expect(series(x, 'wattplace_reservations_open')).toBe(1);
    // estimated watts of each decision: one decision of 12.5 W
    expect(series(x, 'wattplace_decision_marginal_watts_count')).toBe(1);
    expect(series(x, 'wattplace_decision_marginal_watts_sum')).toBeCloseTo(12.5, 9);

    await t.rpc.release({ reservationId: p.reservationId });
    const after = (await get('/metrics')).text;
    expect(series(after, 'wattplace_reservations_open')).toBe(0);
    expect(series(after, 'wattplace_reservations_ended_total', 'how="released"')).toBe(1);
    expect(series(after, 'wattplace_decisions_total', 'rpc="Release",outcome="ok"')).toBe(1);
  });

  it('each server has its own registry: a second server starts from zero', async () => {
    const t2 = await startTestServer();
    try {
      const r = await fetch(`http://${t2.server.httpAddress}/metrics`);
      const x = await r.text();
      expect(series(x, 'wattplace_decisions_total', 'rpc="Place",outcome="ok"')).toBeUndefined();
      expect(series(x, 'wattplace_reservations_open')).toBe(0);
    } finally {
      await t2.close();
    }
  });
});
