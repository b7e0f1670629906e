/**
 * The Telegraf reader against a real influxd holding Telegraf-shaped data
 * (ipmi_sensor, cpu, mem as Telegraf's inputs write them).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../../test/helpers/grpc';
import { pbHost } from '../../../test/fixtures/clusters';
import { startInfluxd, type Influxd } from '../../../test/setup/influxd';
import { loadConfig } from '../../config';
import { ValidationError } from '../../domain';
import { applyTransform, mappingQuery, parseTelegrafConfig } from './telegraf';

let db: Influxd;
const servers: TestServer[] = [];
beforeAll(async () => {
  db = await startInfluxd();
});
afterAll(async () => {
  for (const s of servers) await s.close();
  await db?.stop();
});

async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * TELEGRAF_SITE at time T (ms), default Telegraf inputs:
 *   t1: ipmi pwr_consumption 180 W (and a fan at 5000 rpm, ignored), cpu-total idle 75 % (cpu0 idle 10 %, ignored), mem used 40 %
 *       → watts 180, cpu_util 1 − 75/100 = 0.25, mem_util 40/100 = 0.4, time = newest of the three = T + 2
 *   t2: cpu and mem but no power reading → incomplete
 *   t3: complete but not registered in wattplace → unknown
 */
function telegrafLines(T: number): string {
  return [
    `ipmi_sensor,host=t1,name=pwr_consumption,unit=watts,status_code=ok value=180,status=1i ${T}`,
    `ipmi_sensor,host=t1,name=fan1,unit=rpm,status_code=ok value=5000,status=1i ${T}`,
    `cpu,cpu=cpu-total,host=t1 usage_idle=75,usage_user=20,usage_system=5 ${T + 1}`,
    `cpu,cpu=cpu0,host=t1 usage_idle=10,usage_user=90 ${T + 1}`,
    `mem,host=t1 used_percent=40,total=68719476736i ${T + 2}`,
    `cpu,cpu=cpu-total,host=t2 usage_idle=50 ${T}`,
    `mem,host=t2 used_percent=10 ${T}`,
    `ipmi_sensor,host=t3,name=pwr_consumption,unit=watts value=90 ${T}`,
    `cpu,cpu=cpu-total,host=t3 usage_idle=90 ${T}`,
    `mem,host=t3 used_percent=10 ${T}`,
  ].join('\n');
}

describe('Telegraf reader', () => {
  it('polls on its interval and turns Telegraf measurements into host samples', async () => {
    await db.query('', 'CREATE DATABASE telegraf');
    const T = Date.now() - 5_000;
    await db.write('telegraf', telegrafLines(T));
    const t = await startTestServer({ telegraf: { url: `${db.url}/telegraf`, intervalMs: 100 } });
    servers.push(t);
    await t.rpc.registerHosts({ hosts: ['t1', 't2'].map((id) => pbHost(id, { cpu: 8_000, memGiB: 64 })) });
    const core = t.server.core;
    await until('t1 to get its Telegraf sample', () => core.collector.refresh().lastSampleMs[core.store.hostIndex('t1')] === T + 2);
    const s = core.collector.refresh();
    const i = s.indexOf('t1');
    expect([s.watts[i], s.cpuUtil[i], s.memUtil[i]]).toEqual([180, 0.25, 0.4]);
    expect(s.lastSampleMs[s.indexOf('t2')]).toBeNaN();

    const reader = t.server.influx!.telegraf!;
    // Nothing new since: the same points are refused as not newer (stale), nothing is lost or doubled.
    expect(await reader.poll()).toEqual({ hosts: 3, accepted: 0, rejected: 2, incomplete: 1, stale: 1, unknown: 1 });
    // A newer Telegraf interval arrives.
    await db.write('telegraf', [`ipmi_sensor,host=t1,name=pwr_consumption,unit=watts value=200 ${T + 1000}`, `cpu,cpu=cpu-total,host=t1 usage_idle=40 ${T + 1000}`, `mem,host=t1 used_percent=41 ${T + 1000}`].join('\n'));
    await until('the newer interval', () => core.collector.refresh().lastSampleMs[i] === T + 1000);
    const s2 = core.collector.refresh();
    expect([s2.watts[i], s2.cpuUtil[i], s2.memUtil[i]]).toEqual([200, 0.6, 0.41]);
  });

  it('follows a custom mapping: other measurements, fields, host tag and transforms', async () => {
    await db.query('', 'CREATE DATABASE custom');
    const T = Date.now() - 5_000;
    // A site that exports PDU power in kW (tagged by "server") and CPU busy as a fraction, tagged by "node".
    await db.write('custom', [`pdu,server=n1,outlet=a kw=0.25 ${T}`, `pdu,server=n1,outlet=b kw=9 ${T}`, `load,node=n1 busy=0.7 ${T}`, `memory,node=n1 used=0.3 ${T}`].join('\n'));
    const t = await startTestServer({
      telegraf: {
        url: `${db.url}/custom`,
        intervalMs: 60_000,
        hostTag: 'node',
        hostIdPrefix: 'rack1-',
        power: { measurement: 'pdu', field: 'kw', where: { outlet: 'a' }, scale: 1000, hostTag: 'server' },
        cpu: { measurement: 'load', field: 'busy', transform: 'fraction' },
        mem: { measurement: 'memory', field: 'used', transform: 'fraction' },
      },
    });
    servers.push(t);
    // The reader polls once at start; a poll() while that one runs joins it. Let it finish
    // before registering, or the answer below may be the one from before the registration.
    expect(await t.server.influx!.telegraf!.poll()).toMatchObject({ hosts: 1, accepted: 0, unknown: 1 });
    await t.rpc.registerHosts({ hosts: [pbHost('rack1-n1', { cpu: 8_000, memGiB: 64 })] });
    const r = await t.server.influx!.telegraf!.poll();
    expect(r).toMatchObject({ hosts: 1, accepted: 1 });
    const s = t.server.core.collector.refresh();
    const i = s.indexOf('rack1-n1');
    expect([s.watts[i], s.cpuUtil[i], s.memUtil[i], s.lastSampleMs[i]]).toEqual([250, 0.7, 0.3, T]); // 0.25 kW × 1000
  });
});

describe('Telegraf mapping', () => {
  it.each([
    // transform       scale  value  result
    ['identity', 1, 180, 180],
    ['identity', 1000, 0.25, 250], //   kW → W
    ['percent', 1, 40, 0.4], //         40/100
    ['idle_percent', 1, 75, 0.25], //   1 − 75/100
    ['idle_percent', 1, 100, 0], //     fully idle
    ['fraction', 1, 0.7, 0.7],
  ] as const)('%s ×%d of %d → %d', (transform, scale, v, out) => {
    expect(applyTransform({ measurement: 'm', field: 'f', where: {}, transform, scale }, v)).toBeCloseTo(out, 12);
  });

  it('builds a quoted InfluxQL query with the tag filters', () => {
    const m = parseTelegrafConfig({}).cpu;
    expect(mappingQuery(m, 'host', 120_000)).toBe(`SELECT last("usage_idle") AS "v" FROM "cpu" WHERE time > now() - 120000ms AND "cpu" = 'cpu-total' GROUP BY "host"`);
    expect(mappingQuery({ ...m, where: { name: "it's" } }, 'host', 1000)).toContain(`"name" = 'it\\'s'`);
  });

  it.each([
    [{ cpu: { measurement: 'cpu', field: 'usage_idle', transform: 'bogus' } }, 'telegraf.cpu.transform'],
    [{ intervalMs: 5 }, 'telegraf.intervalMs'],
    [{ power: { measurement: 'ipmi_sensor' } }, 'telegraf.power.field'],
    [{ unknownKey: 1 }, 'telegraf'],
  ])('%j → ValidationError naming %s', (raw, field) => {
    let err: unknown;
    try {
      parseTelegrafConfig(raw);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).field).toBe(field);
  });

  it('the telegraf section comes from the config file, env or a JSON flag', () => {
    const c = loadConfig({ flags: { telegraf: '{"intervalMs": 5000, "hostTag": "hostname"}' } });
    expect(parseTelegrafConfig(c.telegraf)).toMatchObject({ intervalMs: 5000, hostTag: 'hostname', cpu: { measurement: 'cpu', transform: 'idle_percent' } });
  });
});
