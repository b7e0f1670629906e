/**
 * What InfluxDB refuses is counted, logged and not retried forever; large
 * batches are split when InfluxDB's max-body-size is small. Real influxd with
 * `max-body-size = 4096`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../../test/helpers/grpc';
import { pbHost, sample } from '../../../test/fixtures/clusters';
import { startInfluxd, type Influxd } from '../../../test/setup/influxd';
import { MEASUREMENT } from './persistence';

let db: Influxd;
const servers: TestServer[] = [];
beforeAll(async () => {
  db = await startInfluxd({ maxBodySize: 4096 });
});
afterAll(async () => {
  for (const s of servers) await s.close();
  await db?.stop();
});

async function serve(database: string): Promise<TestServer> {
  const t = await startTestServer({ store: 'influx', influxUrl: `${db.url}/${database}`, influxFlushMs: 10, influxBatchSize: 1000, shutdownGraceMs: 2_000 });
  servers.push(t);
  await t.server.influx!.whenRestored();
  return t;
}

describe('InfluxDB refusals', () => {
  it('splits a batch larger than max-body-size; a single point too large is refused and counted', async () => {
    const t = await serve('split');
    // One host whose inventory JSON alone exceeds 4096 bytes (80 labels of 60-character values ≈ 80 × 70 B
    // = 5.6 KB, each within the label bounds), one normal host.
    const labels = Object.fromEntries(Array.from({ length: 80 }, (_, i) => [`note-${i}`, 'x'.repeat(60)]));
    await t.rpc.registerHosts({ hosts: [pbHost('big', { cpu: 8000, memGiB: 8, labels }), pbHost('s1', { cpu: 8000, memGiB: 8 })] });
    // 500 samples ≈ 500 × 80 B = 40 KB in one batch: written in halves down to < 4 KB.
    const t0 = Date.now() - 10_000;
    await t.rpc.report({ samples: Array.from({ length: 500 }, (_, i) => sample('s1', new Date(t0 + i), 0.5, { watts: 100 + (i % 7) })) });
    const p = t.server.influx!.persistence!;
    expect(await p.flush(10_000)).toBe(true);
    const st = p.status();
    expect(st.rejected).toBe(1); // the big host's inventory point
    expect(st.written).toBe(500 + 1); // the samples and s1's inventory
    expect(st.state).toBe('ok');
    const c = await db.query('split', `SELECT count("watts") FROM ${MEASUREMENT.samples}`);
    expect(c[0].values[0][1]).toBe(500);
    const metrics = await t.server.metrics.registry.getSingleMetricAsString('wattplace_influx_points_rejected_total');
    expect(metrics).toContain('wattplace_influx_points_rejected_total 1');
  });

  it('a field type conflict (HTTP 400) is counted as refused, not retried, and the queue moves on', async () => {
    const t = await serve('conflict');
    // Someone else wrote `watts` as a string into the same measurement first.
    await db.write('conflict', `${MEASUREMENT.samples},host=other watts="n/a" ${Date.now() - 60_000}`);
    await t.rpc.registerHosts({ hosts: [pbHost('c1', { cpu: 8000, memGiB: 8 })] });
    const p = t.server.influx!.persistence!;
    expect(await p.flush(10_000)).toBe(true);
    const t0 = Date.now() - 10_000;
    await t.rpc.report({ samples: Array.from({ length: 10 }, (_, i) => sample('c1', new Date(t0 + i), 0.5)) });
    expect(await p.flush(10_000)).toBe(true);
    const st = p.status();
    expect(st.rejected).toBe(10);
    expect(st.queuedPoints).toBe(0);
    expect(st.state).toBe('ok');
    // Carbon still goes through afterwards.
    await t.rpc.report({ sites: [{ site: 'default', time: new Date(t0), gramsCo2PerKwh: 100 }] });
    expect(await p.flush(10_000)).toBe(true);
    expect((await db.query('conflict', `SELECT * FROM ${MEASUREMENT.carbon}`))[0].values).toHaveLength(1);
  });
});
