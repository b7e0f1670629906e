/**
 * InfluxDB persistence against a real influxd (Debian package `influxdb`,
 * started by test/setup/influxd.ts on free loopback ports, one per file).
 */
import * as http from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as pb from '../../gen/wattplace/v1/wattplace';
import { startTestServer, type TestServer } from '../../../test/helpers/grpc';
import { GiB, pbHost, pbLinear, pbTable, sample, workload } from '../../../test/fixtures/clusters';
import { startInfluxd, type Influxd } from '../../../test/setup/influxd';
import { loadConfig } from '../../config';
import { startServer } from '../../server';
import { MEASUREMENT } from './persistence';

let db: Influxd;
beforeAll(async () => {
  db = await startInfluxd();
});
afterAll(async () => {
  await db?.stop();
});

const servers: TestServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.close().catch(() => undefined);
});

async function serve(database: string, extra: Record<string, unknown> = {}): Promise<TestServer> {
  const t = await startTestServer({ store: 'influx', influxUrl: `${db.url}/${database}`, influxFlushMs: 10, influxRetryMaxMs: 200, shutdownGraceMs: 2_000, ...extra });
  servers.push(t);
  return t;
}

function getJson(addr: string, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    http
      .get(`http://${addr}${path}`, (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text || '{}') }));
      })
      .on('error', reject);
  });
}

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function count(database: string, where = ''): Promise<number> {
  const s = await db.query(database, `SELECT count("watts") FROM ${MEASUREMENT.samples} ${where}`);
  return s.length ? Number(s[0].values[0][1]) : 0;
}

/**
 * SMALL: three hosts at two sites.
 *   h1 linear 100→200 W, 16 cores, 64 GiB, site a, labels {rack: r1}
 *   h2 hp-ml110-g4-like table, 8 cores, 32 GiB, site a
 *   h3 linear 80→160 W, standby 10 W, 8 cores, 16 GiB, site b, STANDBY
 */
const T0 = Date.now() - 60_000;
const SMALL = [
  pbHost('h1', { cpu: 16_000, memGiB: 64, power: pbLinear(100, 200), site: 'a', labels: { rack: 'r1' } }),
  pbHost('h2', { cpu: 8_000, memGiB: 32, power: pbTable([86, 89.4, 92.6, 96, 99.5, 102, 106, 108, 112, 114, 117]), site: 'a' }),
  pbHost('h3', { cpu: 8_000, memGiB: 16, power: pbLinear(80, 160, 10), site: 'b', state: pb.PowerState.POWER_STATE_STANDBY }),
];

describe('InfluxDB store: write and read back', () => {
  it('persists inventory, every sample and carbon, in a database it creates', async () => {
    const t = await serve('rw');
    await t.server.influx!.whenRestored();
    expect((await db.query('', 'SHOW DATABASES')).flatMap((s) => s.values.flat())).toContain('rw');
    await t.rpc.registerHosts({ hosts: SMALL });
    // 3 hosts × 20 samples, 1 s apart; h1's even samples carry an allocation.
    const samples: pb.HostSample[] = [];
    for (let i = 0; i < 20; i++) {
      samples.push(
        sample('h1', new Date(T0 + i * 1000), i / 20, { watts: 100 + 5 * i, allocated: i % 2 === 0 ? { cpuMillis: BigInt(1000 * i), memBytes: BigInt(i) * GiB } : undefined }),
        sample('h2', new Date(T0 + i * 1000), 0.5, { watts: 102 }),
        sample('h3', new Date(T0 + i * 1000), 0, { watts: 10 }),
      );
    }
    const r = await t.rpc.report({ samples, sites: [{ site: 'a', time: new Date(T0), gramsCo2PerKwh: 350 }, { site: 'b', time: new Date(T0), gramsCo2PerKwh: 40 }] });
    expect(r.accepted).toBe(60);
    expect(await t.server.influx!.persistence!.flush(10_000)).toBe(true);

    expect(await count('rw')).toBe(60);
    const h1 = await db.query('rw', `SELECT * FROM ${MEASUREMENT.samples} WHERE "host" = 'h1' ORDER BY time ASC`);
    const cols = h1[0].columns;
    const rows = h1[0].values.map((v) => Object.fromEntries(cols.map((c, i) => [c, v[i]])));
    expect(rows).toHaveLength(20);
    rows.forEach((row, i) => {
      expect(row.time).toBe(T0 + i * 1000);
      expect(row.watts).toBe(100 + 5 * i);
      expect(row.cpu_util).toBeCloseTo(i / 20, 12);
      expect(row.mem_util).toBe(0.2);
      expect(row.alloc_cpu_millis).toBe(i % 2 === 0 ? 1000 * i : null);
    });
    const hosts = await db.query('rw', `SELECT last("spec") FROM ${MEASUREMENT.hosts} GROUP BY "host"`);
    expect(hosts.map((s) => s.tags!.host).sort()).toEqual(['h1', 'h2', 'h3']);
    const h3 = JSON.parse(String(hosts.find((s) => s.tags!.host === 'h3')!.values[0][1]));
    expect(h3).toMatchObject({ id: 'h3', site: 'b', state: 2, capacity: { cpuMillis: 8000 }, power: { kind: 'linear', idleWatts: 80, maxWatts: 160, standbyWatts: 10 } });
    const carbon = await db.query('rw', `SELECT last("g_co2_per_kwh") FROM ${MEASUREMENT.carbon} GROUP BY "site"`);
    expect(Object.fromEntries(carbon.map((s) => [s.tags!.site, s.values[0][1]]))).toEqual({ a: 350, b: 40 });
  });
});

describe('InfluxDB store: restart', () => {
  it('a new server on the same database restores inventory, latest state and carbon before it is ready', async () => {
    const a = await serve('restart');
    await a.server.influx!.whenRestored();
    await a.rpc.registerHosts({ hosts: SMALL });
    await a.rpc.report({
      samples: [
        sample('h1', new Date(T0), 0.1, { watts: 110 }),
        sample('h1', new Date(T0 + 1000), 0.3, { watts: 130, allocated: { cpuMillis: 4000n, memBytes: 8n * GiB } }),
        sample('h1', new Date(T0 + 2000), 0.35, { watts: 135 }), // latest; allocation stays 4000 m / 8 GiB
        sample('h2', new Date(T0 + 500), 0.5, { watts: 102, memUtil: 0.4 }),
      ],
      sites: [{ site: 'a', time: new Date(T0), gramsCo2PerKwh: 300 }],
    });
    // An inventory update after the first registration: the restored spec must be the newer one.
    await a.rpc.registerHosts({ hosts: [pbHost('h2', { cpu: 12_000, memGiB: 48, power: pbLinear(90, 150), site: 'a', labels: { gen: 'new' } })] });
    const before = a.server.core.collector.refresh();
    await a.close();

    const b = await serve('restart');
    const ready0 = await getJson(b.server.httpAddress, '/readyz');
    expect([200, 503]).toContain(ready0.status); // may already be restored on a fast machine
    await b.server.influx!.whenRestored();
    const ready = await getJson(b.server.httpAddress, '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body.status).toBe('ready');

    const after = b.server.core.collector.current();
    expect(after.size).toBe(3);
    for (const id of ['h1', 'h2', 'h3']) {
      const i = before.indexOf(id);
      const j = after.indexOf(id);
      expect(j).toBeGreaterThanOrEqual(0);
      expect(after.specs[j]).toEqual(before.specs[i]);
      const fields = ['lastSampleMs', 'cpuUtil', 'memUtil', 'watts', 'allocCpu', 'allocMem', 'capCpu', 'capMem', 'state'] as const;
      for (const f of fields) expect([id, f, after[f][j]]).toEqual([id, f, before[f][i]]);
    }
    expect(after.specs[after.indexOf('h2')].labels).toEqual({ gen: 'new' });
    expect(after.allocCpu[after.indexOf('h1')]).toBe(4000);
    expect(after.siteCarbon[after.sites.indexOf('a')]).toBe(300);
    // Decisions work from the restored state: only h1 and h2 are ON.
    const placed = await b.rpc.place({ workload: workload('w1', 1000), allowStale: true });
    expect(['h1', 'h2']).toContain(placed.hostId);
    // Restored data was not written again (the listener skips the restore itself).
    expect(await b.server.influx!.persistence!.flush(5_000)).toBe(true);
    expect(b.server.influx!.persistence!.status().written).toBe(0);
  });

  it('reports "restoring" (503) while InfluxDB is down at start, and restores once it is back', async () => {
    const a = await serve('late');
    await a.server.influx!.whenRestored();
    await a.rpc.registerHosts({ hosts: SMALL.slice(0, 1) });
    await a.server.influx!.persistence!.flush(5_000);
    await a.close();
    await db.kill();
    try {
      const b = await serve('late');
      await new Promise((r) => setTimeout(r, 300));
      const r = await getJson(b.server.httpAddress, '/readyz');
      expect(r.status).toBe(503);
      expect(r.body.status).toBe('restoring');
      expect(b.server.core.store.hostCount).toBe(0);
      await db.start();
      await b.server.influx!.whenRestored();
      expect((await getJson(b.server.httpAddress, '/readyz')).body.status).toBe('ready');
      expect(b.server.core.store.hostIndex('h1')).toBe(0);
    } finally {
      if (!db.running) await db.start();
    }
  });
});

describe('InfluxDB outage', () => {
  afterEach(async () => {
    if (!db.running) await db.start(); // a failed test must not leave the next one without InfluxDB
  });
  it('keeps deciding, reports degraded, and writes every sample accepted during the outage afterwards', async () => {
    const t = await serve('outage');
    await t.server.influx!.whenRestored();
    const hosts = Array.from({ length: 5 }, (_, i) => pbHost(`o${i}`, { cpu: 16_000, memGiB: 64 }));
    await t.rpc.registerHosts({ hosts });
    let seq = 0;
    let accepted = 0;
    const base = Date.now() - 30_000; // fresh enough to place on (stale after 60 s)
    // Every host reports once per round; each round is 1 ms of sample time later.
    const round = async () => {
      const r = await t.rpc.report({ samples: hosts.map((h) => sample(h.id, new Date(base + seq), 0.2 + (seq % 50) / 100, { watts: 100 + (seq % 100) })) });
      seq++;
      accepted += r.accepted;
    };
    for (let i = 0; i < 20; i++) await round();
    await t.server.influx!.persistence!.flush(5_000);
    await db.kill();
    const duringFrom = accepted;
    const outageEnd = Date.now() + 1_500;
    let degradedSeen = false;
    while (Date.now() < outageEnd) {
      await round();
      if (!degradedSeen) degradedSeen = (await getJson(t.server.httpAddress, '/readyz')).body.status === 'degraded';
      await new Promise((r) => setTimeout(r, 10));
    }
    const during = accepted - duringFrom;
    expect(during).toBeGreaterThanOrEqual(25); // at least 5 rounds of 5 hosts while InfluxDB was down
    // Readiness: degraded but still 200 (decisions continue from memory).
    const ready = await getJson(t.server.httpAddress, '/readyz');
    expect(degradedSeen || ready.body.status === 'degraded').toBe(true);
    expect(ready.status).toBe(200);
    const placed = await t.rpc.place({ workload: workload('during-outage', 1000) });
    expect(placed.hostId).toMatch(/^o\d$/);
    expect(t.server.influx!.persistence!.status().queuedPoints).toBeGreaterThanOrEqual(during);

    await db.start();
    await until('the buffer to drain', () => t.server.influx!.persistence!.status().queuedPoints === 0);
    expect(t.server.influx!.persistence!.status().dropped).toBe(0);
    expect(await count('outage')).toBe(accepted);
    // In order: per host, the stored sample times are exactly base + 0 … base + seq − 1.
    const times = await db.query('outage', `SELECT "watts" FROM ${MEASUREMENT.samples} WHERE "host" = 'o3'`);
    expect(times[0].values.map((v) => Number(v[0]) - base)).toEqual(Array.from({ length: seq }, (_, i) => i));
    await until('readiness to recover', async () => (await getJson(t.server.httpAddress, '/readyz')).body.status === 'ready');
  });

  it('beyond the buffer bound drops the oldest and counts them: written + dropped = accepted', async () => {
    // Bound: 100 points. 300 samples arrive during the outage → 200 dropped, the newest 100 kept.
    const t = await serve('bounded', { influxBufferMaxPoints: 100, influxBatchSize: 50 });
    await t.server.influx!.whenRestored();
    await t.rpc.registerHosts({ hosts: [pbHost('b1', { cpu: 16_000, memGiB: 64 })] });
    await t.server.influx!.persistence!.flush(5_000);
    await db.kill();
    const base = Date.now() - 30_000;
    for (let k = 0; k < 3; k++) {
      const r = await t.rpc.report({ samples: Array.from({ length: 100 }, (_, i) => sample('b1', new Date(base + k * 100 + i), 0.5)) });
      expect(r.accepted).toBe(100);
    }
    const st = t.server.influx!.persistence!.status();
    expect(st.dropped).toBe(200);
    expect(st.queuedPoints).toBe(100);
    const metrics = await t.server.metrics.registry.getSingleMetricAsString('wattplace_influx_points_dropped_total');
    expect(metrics).toContain('wattplace_influx_points_dropped_total{measurement="wattplace_samples"} 200');
    await db.start();
    await until('the buffer to drain', () => t.server.influx!.persistence!.status().queuedPoints === 0);
    expect(await count('bounded')).toBe(300 - 200);
    // Which 100: the batch that was in flight when InfluxDB went away is never dropped (it may
    // already have reached the server) — k = 0 or 50 of the oldest (base+0 … base+k−1) — and
    // the newest 100 − k (base+200+k … base+299). Everything between was dropped, oldest first.
    const kept = (await db.query('bounded', `SELECT "watts" FROM ${MEASUREMENT.samples}`))[0].values.map((v) => Number(v[0]) - base);
    const k = kept.filter((x) => x < 200).length;
    expect([0, 50]).toContain(k);
    expect(kept).toEqual([...Array.from({ length: k }, (_, i) => i), ...Array.from({ length: 100 - k }, (_, i) => 200 + k + i)]);
  });
});

describe('learned power models from the InfluxDB history', () => {
  it('a restarted server refits from the stored (util, watts) history, not only from new samples', async () => {
    // The host is declared linear 100 → 200 W but draws P(u) = 90 + 60u (σ 1 W noise).
    const a = await serve('history', { learnedModels: 'use', learnedWindow: 512 });
    await a.server.influx!.whenRestored();
    await a.rpc.registerHosts({ hosts: [pbHost('lh', { cpu: 10_000, memGiB: 64, power: pbLinear(100, 200) })] });
    const t0 = Date.now() - 50_000;
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const samples = Array.from({ length: 400 }, (_, i) => {
      const u = rand();
      // Irwin–Hall: the sum of 12 uniforms − 6 is ≈ N(0, 1).
      const noise = Array.from({ length: 12 }, rand).reduce((x, y) => x + y, 0) - 6;
      return sample('lh', new Date(t0 + i * 10), u, { watts: 90 + 60 * u + noise });
    });
    await a.rpc.report({ samples });
    expect(await a.server.influx!.persistence!.flush(10_000)).toBe(true);
    await a.close();

    const b = await serve('history', { learnedModels: 'use', learnedWindow: 512 });
    await b.server.influx!.whenRestored();
    await until('the history to reach the learned window', () => (b.server.core.learned.describe('lh')?.windowSamples ?? 0) === 400);
    const d = b.server.core.learned.describe('lh', true)!;
    expect(d.inUse).toBe(true);
    // P(u) = 90 + 60u at u = 0, 0.1, … 1: 90, 96, … 150 W, each within 3 %.
    d.fit!.table.forEach((w, i) => expect(Math.abs(w - (90 + 6 * i)) / (90 + 6 * i)).toBeLessThan(0.03));
  });
});

describe('InfluxDB store configuration', () => {
  it.each([
    [{ store: 'influx' }, 'influxUrl: required'],
    [{ store: 'influx', influxUrl: 'http://127.0.0.1:8086/' }, 'influxUrl: names no database'],
    [{ store: 'influx', influxUrl: 'ftp://127.0.0.1/x' }, 'influxUrl: must be http:// or https://'],
  ])('%j → %s', async (over, msg) => {
    const cfg = { ...loadConfig({ flags: { grpc: '127.0.0.1:0', http: '127.0.0.1:0', logLevel: 'silent' } }), ...over } as ReturnType<typeof loadConfig>;
    await expect(startServer(cfg)).rejects.toThrow(msg);
  });

  it('--store and --influx-url are config keys (flags derived from them)', () => {
    const c = loadConfig({ flags: { store: 'influx', influxUrl: 'http://127.0.0.1:8086/wattplace', influxBufferMaxPoints: '1000' } });
    expect([c.store, c.influxUrl, c.influxBufferMaxPoints]).toEqual(['influx', 'http://127.0.0.1:8086/wattplace', 1000]);
    expect(() => loadConfig({ flags: { store: 'postgres' } })).toThrow(/store/);
  });
});
