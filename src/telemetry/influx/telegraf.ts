import type { InfluxDB } from 'influx';
import type { Logger } from 'pino';
import { z } from 'zod';
import { epochMs, ValidationError, watts, type HostSample } from '../../domain';
import type { IngestResult } from '../store';
import { ident, influxClient, literal, parseInfluxUrl, type InfluxTarget } from './connection';

/**
 * Reads what Telegraf already writes to InfluxDB 1.x and turns it into host
 * samples, so a site with Telegraf needs no new agent. Configuration (the
 * `telegraf` section of the config file; every key optional):
 *
 *   telegraf:
 *     url: http://127.0.0.1:8086/telegraf   # default: influxUrl's server, database "telegraf"
 *     intervalMs: 10000                      # poll interval
 *     lookbackMs: 120000                     # only points newer than this count
 *     hostTag: host                          # the tag whose value is the wattplace host id
 *     hostIdPrefix: ""                       # prepended to the tag value
 *     power: { measurement: ipmi_sensor, field: value, where: { name: pwr_consumption }, transform: identity, scale: 1 }
 *     cpu:   { measurement: cpu, field: usage_idle, where: { cpu: cpu-total }, transform: idle_percent }
 *     mem:   { measurement: mem, field: used_percent, transform: percent }
 *
 * A mapping may name its own `hostTag` (Telegraf's ipmi_sensor tags remote
 * BMCs with `server`, while cpu and mem use `host`).
 * Transforms: identity (v·scale), percent (v/100), idle_percent (1 − v/100),
 * fraction (v). Each poll takes the newest point of each mapping per host
 * within the look-back; a host needs all three; the sample's time is the
 * newest of the three. Samples not newer than the host's last accepted one
 * are refused by the store (out of order) and counted as `stale`.
 */
const Transform = z.enum(['identity', 'percent', 'idle_percent', 'fraction']);
const FieldMap = z
  .object({
    measurement: z.string().min(1),
    field: z.string().min(1),
    where: z.record(z.string(), z.string()).default({}),
    transform: Transform.default('identity'),
    scale: z.number().finite().default(1),
    /** Overrides the section's hostTag for this measurement (e.g. `server` for remote IPMI). */
    hostTag: z.string().min(1).optional(),
  })
  .strict();
export type FieldMapping = z.infer<typeof FieldMap>;

export const TelegrafSchema = z
  .object({
    url: z.string().url().optional(),
    intervalMs: z.number().int().min(100).default(10_000),
    lookbackMs: z.number().int().min(1_000).default(120_000),
    hostTag: z.string().min(1).default('host'),
    hostIdPrefix: z.string().default(''),
    power: FieldMap.default({ measurement: 'ipmi_sensor', field: 'value', where: { name: 'pwr_consumption' }, transform: 'identity', scale: 1 }),
    cpu: FieldMap.default({ measurement: 'cpu', field: 'usage_idle', where: { cpu: 'cpu-total' }, transform: 'idle_percent', scale: 1 }),
    mem: FieldMap.default({ measurement: 'mem', field: 'used_percent', where: {}, transform: 'percent', scale: 1 }),
  })
  .strict();
export type TelegrafConfig = z.infer<typeof TelegrafSchema>;

/** Validates the `telegraf` config section; errors name the key (`telegraf.cpu.transform`). */
export function parseTelegrafConfig(raw: unknown): TelegrafConfig {
  const r = TelegrafSchema.safeParse(raw ?? {});
  if (!r.success) {
    const i = r.error.issues[0];
    throw new ValidationError(['telegraf', ...i.path.map(String)].join('.'), i.message);
  }
  return r.data;
}

export function applyTransform(m: FieldMapping, v: number): number {
  switch (m.transform) {
    case 'percent':
      return (v * m.scale) / 100;
    case 'idle_percent':
      return 1 - (v * m.scale) / 100;
    case 'fraction':
      return v * m.scale;
    default:
      return v * m.scale;
  }
}

/** The InfluxQL for one mapping: newest value per host within the look-back. */
export function mappingQuery(m: FieldMapping, hostTag: string, lookbackMs: number): string {
  const conds = [`time > now() - ${Math.floor(lookbackMs)}ms`, ...Object.entries(m.where).map(([k, v]) => `${ident(k)} = ${literal(v)}`)];
  return `SELECT last(${ident(m.field)}) AS "v" FROM ${ident(m.measurement)} WHERE ${conds.join(' AND ')} GROUP BY ${ident(hostTag)}`;
}

export interface PollResult {
  hosts: number;
  accepted: number;
  rejected: number;
  /** Hosts missing one of power, cpu, mem in the look-back. */
  incomplete: number;
  /** Refused because not newer than what the host already has. */
  stale: number;
  /** Refused because the host is not registered. */
  unknown: number;
}

const clamp01 = (u: number): number => (u > 1 ? 1 : u > 0 ? u : 0);

export class TelegrafReader {
  readonly target: InfluxTarget;
  private readonly client: InfluxDB;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<PollResult> | undefined;
  private readonly unknownLogged = new Set<string>();
  lastError?: string;

  constructor(
    readonly config: TelegrafConfig,
    defaultUrl: string | undefined,
    private readonly report: (samples: HostSample[]) => IngestResult,
    private readonly log: Logger,
    timeoutMs = 10_000,
  ) {
    let url = config.url;
    if (!url && defaultUrl) {
      const u = new URL(defaultUrl);
      u.pathname = '/telegraf';
      url = u.toString();
    }
    this.target = parseInfluxUrl(url, config.url ? 'telegraf.url' : 'influxUrl', 'telegraf');
    this.client = influxClient(this.target, timeoutMs);
  }

  /** One poll: query the three mappings, build samples, report them. */
  poll(): Promise<PollResult> {
    return (this.polling ??= this.pollOnce().finally(() => (this.polling = undefined)));
  }

  private async pollOnce(): Promise<PollResult> {
    const c = this.config;
    const maps = [c.power, c.cpu, c.mem];
    const results = (await this.client.query(
      maps.map((m) => mappingQuery(m, m.hostTag ?? c.hostTag, c.lookbackMs)),
      { precision: 'ms' },
    )) as unknown as Record<string, unknown>[][];
    const by = new Map<string, { t: number; v: [number, number, number]; have: number }>();
    results.forEach((rows, k) => {
      const hostTag = maps[k].hostTag ?? c.hostTag;
      for (const r of rows) {
        const tag = r[hostTag];
        const v = Number(r.v);
        if (typeof tag !== 'string' || !Number.isFinite(v)) continue;
        const id = c.hostIdPrefix + tag;
        let e = by.get(id);
        if (!e) by.set(id, (e = { t: 0, v: [NaN, NaN, NaN], have: 0 }));
        e.v[k] = applyTransform(maps[k], v);
        e.have |= 1 << k;
        const t = r.time instanceof Date ? r.time.getTime() : Number(r.time);
        if (t > e.t) e.t = t;
      }
    });
    const samples: HostSample[] = [];
    const res: PollResult = { hosts: by.size, accepted: 0, rejected: 0, incomplete: 0, stale: 0, unknown: 0 };
    for (const [id, e] of by) {
      if (e.have !== 7) {
        res.incomplete++;
        continue;
      }
      // Telegraf's idle can read a hair above 100 % (or used below 0): clamp to the valid range.
      samples.push({ hostId: id, time: epochMs(e.t), watts: watts(e.v[0]), cpuUtil: clamp01(e.v[1]), memUtil: clamp01(e.v[2]) });
    }
    if (samples.length) {
      const r = this.report(samples);
      res.accepted = r.accepted;
      res.rejected = r.rejected;
      for (const err of r.errors) {
        if (/out of order/.test(err.reason)) res.stale++;
        else if (/unknown host/.test(err.reason)) {
          res.unknown++;
          if (this.unknownLogged.size < 1000 && !this.unknownLogged.has(err.hostId)) {
            this.unknownLogged.add(err.hostId);
            this.log.warn({ host: err.hostId }, 'Telegraf reports a host that is not registered; register it to use its telemetry');
          }
        } else this.log.warn({ host: err.hostId, field: err.field, reason: err.reason }, 'Telegraf sample refused');
      }
    }
    return res;
  }

  start(): void {
    const tick = () => {
      this.poll().then(
        () => (this.lastError = undefined),
        (e) => {
          const msg = (e as Error).message;
          if (this.lastError !== msg) this.log.warn({ err: msg }, 'Telegraf poll failed; will retry');
          this.lastError = msg;
        },
      );
      this.timer = setTimeout(tick, this.config.intervalMs);
      this.timer.unref();
    };
    tick();
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.polling?.catch(() => undefined);
  }
}
