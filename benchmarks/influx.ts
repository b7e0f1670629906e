/**
 * InfluxDB store (issue 6), against a real influxd (Debian `influxdb`,
 * started here on free loopback ports with a temporary data directory):
 *
 *  1. Sustained ingest: a wattplace core with the InfluxDB write-behind
 *     listener; samples for 5,000 hosts go through `reportOne` (the ingest
 *     path every adapter uses) as fast as the loop allows, in chunks of 5,000
 *     per event-loop turn. Rate = samples / (first sample → the last one
 *     acknowledged by InfluxDB), so it is what InfluxDB actually persisted per
 *     second, not what was queued. The ingest side's own cost (validation,
 *     store, enqueue) is reported separately.
 *  2. Restore: a fresh core on the same database restores 5,000 hosts'
 *     inventory, latest sample (with allocation) and site carbon — the time
 *     before /readyz turns ready. Then (background, after ready) the learned
 *     models' history read: the last 512 (util, watts) pairs of each host.
 *
 *   npm run bench:influx      (BENCH_INFLUX_SAMPLES=1000000, BENCH_INFLUX_HOSTS=5000)
 */
import { pino } from 'pino';
import { DEFAULT_CORE_CONFIG, Wattplace } from '../src/decision';
import { epochMs, watts, type HostSample } from '../src/domain';
import { InfluxPersistence, type InfluxStoreConfig } from '../src/telemetry/influx';
import { startInfluxd } from '../test/setup/influxd';
import { buildFleet } from './lib/fleet';
import { printJson, printTable } from './lib/stats';

const SAMPLES = Number(process.env.BENCH_INFLUX_SAMPLES ?? 1_000_000);
const HOSTS = Number(process.env.BENCH_INFLUX_HOSTS ?? 5_000);
const CHUNK = 5_000;

async function main(): Promise<void> {
  const db = await startInfluxd();
  const log = pino({ level: 'warn' });
  const url = `${db.url}/bench`;
  const cfg: InfluxStoreConfig = {
    url,
    batchSize: Number(process.env.BENCH_INFLUX_BATCH ?? 5_000),
    flushMs: 50,
    maxPoints: 4_000_000,
    maxBytes: 1024 * 1024 * 1024,
    retryMaxMs: 1_000,
    timeoutMs: 30_000,
  };
  const now = Date.now();
  const fleet = buildFleet(HOSTS, now);
  const results: Record<string, unknown> = { samples: SAMPLES, hosts: HOSTS };
  try {
    // ---------------------------------------------------------------- 1. ingest
    const core = new Wattplace({ ...DEFAULT_CORE_CONFIG, maxClockSkewMs: 3_600_000 });
    const p = new InfluxPersistence(core.store, cfg, log);
    core.store.addListener(p);
    await p.restore(); // creates the database
    core.registerHosts(fleet.hosts);
    core.report(fleet.samples, [
      { site: 'fra1', time: epochMs(now - 1000), gramsCo2PerKwh: 350 as never },
      { site: 'ber1', time: epochMs(now - 1000), gramsCo2PerKwh: 420 as never },
    ]);
    await p.flush(60_000);
    const ids = fleet.hosts.map((h) => h.id);
    // Round r: every host once, stamped t0 + r ms (after the fleet's own latest samples, before `now` + skew).
    const t0 = now + 1;
    let ingestNs = 0n;
    let accepted = 0;
    const cpu0 = process.cpuUsage();
    const start = process.hrtime.bigint();
    for (let k = 0; k < SAMPLES; k += CHUNK) {
      const a = process.hrtime.bigint();
      const end = Math.min(SAMPLES, k + CHUNK);
      for (let j = k; j < end; j++) {
        const round = Math.floor(j / ids.length);
        const u = ((j * 7919) % 1000) / 1000;
        const s: HostSample = { hostId: ids[j % ids.length], time: epochMs(t0 + round), watts: watts(100 + 150 * u), cpuUtil: u, memUtil: 0.5 };
        if (core.store.reportOne(s, t0 + 3_600_000) === null) accepted++;
      }
      ingestNs += process.hrtime.bigint() - a;
      await new Promise((r) => setImmediate(r)); // let the writer run, as a server's event loop would
    }
    const ok = await p.flush(600_000);
    const totalS = Number(process.hrtime.bigint() - start) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    const nodeCpuS = (cpu.user + cpu.system) / 1e6;
    const st = p.status();
    const rate = Math.round(accepted / totalS);
    results.ingest = { accepted, seconds: totalS, wattplaceCpuSeconds: nodeCpuS, samplesPerSecond: rate, ingestSideSamplesPerSecond: Math.round(accepted / (Number(ingestNs) / 1e9)), written: st.written, dropped: st.dropped, drained: ok };
    printTable('Sustained ingest into InfluxDB (write-behind, batches of 5,000, one request in flight)', [
      {
        samples: accepted,
        'seconds (to last ack)': totalS.toFixed(2),
        'persisted samples/s': rate,
        'ingest-side samples/s': Math.round(accepted / (Number(ingestNs) / 1e9)),
        'wattplace CPU s': nodeCpuS.toFixed(2),
        written: st.written,
        dropped: st.dropped,
      },
    ]);
    await p.close(0);
    core.close();

    // ---------------------------------------------------------------- 2. restore
    const rows: Record<string, string | number>[] = [];
    for (let rep = 0; rep < 3; rep++) {
      const fresh = new Wattplace({ ...DEFAULT_CORE_CONFIG, maxClockSkewMs: 3_600_000 });
      const q = new InfluxPersistence(fresh.store, cfg, log);
      fresh.store.addListener(q);
      const a = performance.now();
      const r = await q.restore();
      const restoreMs = performance.now() - a;
      fresh.collector.refresh();
      const b = performance.now();
      const pairs = await q.history(fresh.collector.current().ids, 512, () => undefined);
      const historyMs = performance.now() - b;
      if (fresh.store.hostCount !== HOSTS) throw new Error(`restored ${fresh.store.hostCount} hosts, expected ${HOSTS}`);
      rows.push({ run: rep + 1, hosts: r.hosts, samples: r.samples, sites: r.sites, 'restore ms (until ready)': Math.round(restoreMs), 'of which queries ms': r.queryMs, 'history pairs': pairs, 'history ms (background)': Math.round(historyMs) });
      await q.close(0);
      fresh.close();
    }
    results.restore = rows;
    printTable(`Restore of ${HOSTS} hosts from InfluxDB (inventory, latest sample, carbon)`, rows);
  } finally {
    await db.stop();
  }
  printJson('influx', results);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
