import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CORE_CONFIG, Wattplace } from '../../decision';
import { PowerState, cpuMillis, memBytes } from '../../domain';
import { startTestServer } from '../../../test/helpers/grpc';
import { KeplerCollector, parseKeplerTargets, type KeplerTarget } from './collector';
import { readExposition } from './readings';

// Recorded Kepler exposition text (fixtures/), served by a real HTTP exporter
// on loopback, scraped into a real telemetry store.
const fixture = (name: string) => fs.readFileSync(path.join(__dirname, 'fixtures', name), 'utf8');

/** A stand-in Kepler exporter: answers GET /metrics with whatever `body` holds now. */
class Exporter {
  body = '';
  status = 200;
  private server = http.createServer((req, res) => {
    res.writeHead(this.status, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
    res.end(this.body);
  });
  url = '';
  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/metrics`;
  }
  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

const host = (id: string) => ({
  id,
  site: 'default',
  capacity: { cpuMillis: cpuMillis(16000), memBytes: memBytes(2 ** 36) },
  power: { kind: 'linear' as const, idleWatts: 100, maxWatts: 300, standbyWatts: 0 }, // P(u) = 100 + 200u
  state: PowerState.ON,
  labels: {},
});

describe('Kepler collector', () => {
  const exp = new Exporter();
  let now = Date.parse('2026-11-26T15:00:00Z');
  const core = new Wattplace({ ...DEFAULT_CORE_CONFIG, snapshotRefreshMs: 0 }, () => now);
  core.registerHosts([host('worker-1'), host('worker-2'), host('worker-3')]);
  let target: KeplerTarget;
  let kepler: KeplerCollector;
  const latest = (id: string) => {
    const s = core.collector.current();
    const h = s.indexOf(id);
    return { watts: s.watts[h], cpu: s.cpuUtil[h], mem: s.memUtil[h], at: s.lastSampleMs[h] };
  };
  async function scrapeAt(file: string, advanceMs: number) {
    now += advanceMs;
    exp.body = fixture(file);
    return kepler.scrape(target);
  }

  beforeAll(async () => {
    await exp.start();
    target = { url: exp.url };
    kepler = new KeplerCollector(core, { targets: [target], intervalMs: 15_000, timeoutMs: 2_000 });
  });
  afterAll(() => exp.close());

  it('current generation: watts gauges, package + dram over both sockets, usage ratio', async () => {
    const r = await scrapeAt('current-t0-gauges.prom', 0);
    // package 61.5 + 58.25, dram 12 (core is inside package) = 131.75 W; cpu 0.25
    expect(r.error).toBeUndefined();
    expect(r.skipped).toEqual([]);
    expect(r.samples).toEqual([{ hostId: 'worker-1', time: now, watts: 131.75, cpuUtil: 0.25, memUtil: 0 }]);
    expect(latest('worker-1')).toEqual({ watts: 131.75, cpu: 0.25, mem: 0, at: now });
  });

  it('joules counters become watts between scrapes when the gauge series is missing', async () => {
    // 15 s later: package (100900 − 100000)/15 = 60 W, (90870 − 90000)/15 = 58 W, dram (20180 − 20000)/15 = 12 W → 130 W
    const r = await scrapeAt('current-t1-counters.prom', 15_000);
    expect(r.samples).toEqual([{ hostId: 'worker-1', time: now, watts: 130, cpuUtil: 0.3, memUtil: 0 }]);
  });

  it('a counter reset (exporter restart) counts from zero, like rate()', async () => {
    // 450 < 100900: reset → 450/15 = 30 W; 435/15 = 29 W; dram 90/15 = 6 W → 65 W
    const r = await scrapeAt('current-t2-reset.prom', 15_000);
    expect(r.samples.map((s) => [s.watts, s.cpuUtil])).toEqual([[65, 0.1]]);
  });

  it('a missing series is left out; when it returns it needs a second scrape for a rate', async () => {
    // dram gone: packages (1350 − 450)/15 = 60, (1305 − 435)/15 = 58 → 118 W
    let r = await scrapeAt('current-t3-no-dram.prom', 15_000);
    expect(r.samples.map((s) => s.watts)).toEqual([118]);
    // dram back (first sight again): the node is skipped rather than reported without it
    const before = latest('worker-1');
    r = await scrapeAt('current-t4-dram-back.prom', 15_000);
    expect(r.samples).toEqual([]);
    expect(r.skipped).toEqual([{ node: 'worker-1', reason: 'energy counter seen for the first time: no rate yet' }]);
    expect(latest('worker-1')).toEqual(before);
    // and the next round has all three: packages (2250 − 2250) … unchanged counters → 0 W + dram 0 W
    r = await scrapeAt('current-t4-dram-back.prom', 15_000);
    expect(r.samples.map((s) => s.watts)).toEqual([0]);
  });

  it('older generation: kepler_node_{package,dram}_joules_total, modes and sockets summed, utilization from the power model', async () => {
    let r = await scrapeAt('older-t0.prom', 15_000);
    expect(r.samples).toEqual([]);
    expect(r.skipped).toEqual([{ node: 'worker-2', reason: 'energy counter seen for the first time: no rate yet' }]);
    // +10 s: package 450 + 300 + 400 + 300, dram 60 + 40 = 1550 J → 155 W; u = (155 − 100)/200 = 0.275
    r = await scrapeAt('older-t1.prom', 10_000);
    expect(r.samples).toHaveLength(1);
    expect(r.samples[0]).toMatchObject({ hostId: 'worker-2', watts: 155, memUtil: 0 });
    expect(r.samples[0].cpuUtil).toBeCloseTo(0.275, 9);
  });

  it('older generation with platform (ACPI) energy: the whole node, package ignored', async () => {
    await scrapeAt('older-platform-t0.prom', 15_000);
    // +10 s: (11200 − 10000) + (20800 − 20000) = 2000 J → 200 W; u = (200 − 100)/200 = 0.5
    const r = await scrapeAt('older-platform-t1.prom', 10_000);
    expect(r.samples.map((s) => [s.hostId, s.watts])).toEqual([['worker-3', 200]]);
    expect(r.samples[0].cpuUtil).toBeCloseTo(0.5, 9);
  });

  it('names the host from the target when configured, and reports unknown hosts as rejected', async () => {
    const named = { url: exp.url, host: 'worker-3' };
    now += 15_000;
    exp.body = fixture('current-t0-gauges.prom');
    let r = await kepler.scrape(named);
    expect(r.samples.map((s) => [s.hostId, s.watts])).toEqual([['worker-3', 131.75]]);
    now += 15_000;
    r = await kepler.scrape({ url: exp.url, host: 'worker-9' });
    expect(r.rejected).toEqual([{ hostId: 'worker-9', field: 'host_id', reason: 'unknown host "worker-9": register it first' }]);
  });

  it('current generation with a psys zone: the whole board, package and dram ignored', () => {
    const text = [
      '# TYPE kepler_node_cpu_watts gauge',
      'kepler_node_cpu_watts{node_name="worker-3",path="/sys/class/powercap/intel-rapl:1",zone="psys"} 187.5',
      'kepler_node_cpu_watts{node_name="worker-3",path="/sys/class/powercap/intel-rapl:0",zone="package"} 90',
      'kepler_node_cpu_watts{node_name="worker-3",path="/sys/class/powercap/intel-rapl:0:1",zone="dram"} 10',
      '',
    ].join('\n');
    now += 15_000;
    const r = kepler.ingest({ url: 'http://kepler-w3:28282/metrics' }, text, now);
    // no usage ratio: u from the host model, (187.5 − 100)/200 = 0.4375
    expect(r.samples.map((x) => x.watts)).toEqual([187.5]);
    expect(r.samples[0].cpuUtil).toBeCloseTo(0.4375, 9);
  });

  it('a failing or non-Kepler exporter reports nothing and says why', async () => {
    exp.status = 500;
    let r = await scrapeAt('current-t0-gauges.prom', 15_000);
    expect(r.error).toBe('scrape failed: HTTP 500');
    exp.status = 200;
    r = await scrapeAt('current-t0-gauges.prom', 0);
    exp.body = '<html>not metrics</html>\n';
    r = await kepler.scrape(target);
    expect(r.error).toMatch(/^not Prometheus text format: /);
    expect(r.samples).toEqual([]);
    exp.body = '# TYPE up gauge\nup 1\n';
    r = await kepler.scrape(target);
    expect(r.error).toBeUndefined();
    expect(r.samples).toEqual([]);
    const dead = await kepler.scrape({ url: 'http://127.0.0.1:1/metrics' });
    expect(dead.error).toMatch(/^scrape failed: /);
  });

  it('reads both generations from the text, ignoring NaN and other zones', () => {
    const cur = readExposition(fixture('current-t0-gauges.prom'), 'fallback');
    expect(cur.generations).toEqual({ current: true, older: false });
    expect(cur.series.filter((s) => s.kind === 'watts').map((s) => [s.component, s.value])).toEqual([
      ['package', 61.5],
      ['dram', 12],
      ['package', 58.25],
    ]);
    const old = readExposition(fixture('older-t0.prom'), 'fallback');
    expect(old.generations).toEqual({ current: false, older: true });
    expect(old.series.map((s) => s.node)).toEqual(Array(6).fill('worker-2'));
    const nan = readExposition('# TYPE kepler_node_cpu_watts gauge\nkepler_node_cpu_watts{zone="package"} NaN\n', 'fallback');
    expect(nan.series).toEqual([]);
  });

  it('parses the keplerUrls setting', () => {
    expect(parseKeplerTargets(' worker-1=http://10.0.0.5:28282/metrics , http://kepler.kepler.svc:28282/metrics,')).toEqual([
      { url: 'http://10.0.0.5:28282/metrics', host: 'worker-1' },
      { url: 'http://kepler.kepler.svc:28282/metrics' },
    ]);
    expect(parseKeplerTargets('')).toEqual([]);
    expect(() => parseKeplerTargets('ftp://x/metrics')).toThrow('must be http or https');
    expect(() => parseKeplerTargets('not a url')).toThrow('is not a URL');
  });
});

describe('Kepler collector in the service', () => {
  it('scrapes on the configured interval once keplerUrls is set', async () => {
    const exp = new Exporter();
    await exp.start();
    exp.body = fixture('current-t0-gauges.prom');
    const t = await startTestServer({ keplerUrls: exp.url, keplerIntervalMs: 1000 });
    try {
      t.server.core.registerHosts([host('worker-1')]);
      const deadline = Date.now() + 10_000;
      let w = NaN;
      while (Date.now() < deadline) {
        const s = t.server.core.collector.refresh();
        w = s.watts[s.indexOf('worker-1')];
        if (w === w) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(w).toBe(131.75);
      const text = await (await fetch(`http://${t.server.httpAddress}/metrics`)).text();
      expect(text).toMatch(/wattplace_samples_ingested_total\{rpc="kepler"\} [1-9]/);
    } finally {
      await t.close();
      await exp.close();
    }
  });
});
