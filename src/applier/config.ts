import { z } from 'zod';
import { ConfigError } from '../config';
import { DEFAULT_APPLIER_SETTINGS as D, type ApplierSettings } from './applier';
import { EtcdLeadershipSchema } from './leader/etcd';
import { NovaOptionsSchema } from './nova/nova';
import { IpmiHostSchema, IpmiOptionsSchema } from './power/ipmi/ipmi';
import { IronicHostSchema, IronicOptionsSchema } from './power/ironic/ironic';

/**
 * The `applier` section of the config file (README "Closing the loop"). Off by
 * default; `applier.mode` can also be set with `--applier-mode` or
 * WATTPLACE_APPLIER_MODE. Everything else lives in the file: credentials are
 * named by file path, never given inline.
 */
const ms = (min: number, max: number, def: number) => z.number().int().min(min).max(max).default(def);

const PowerEntrySchema = z.discriminatedUnion('driver', [
  IpmiHostSchema.extend({ driver: z.literal('ipmi') }).strict(),
  /** nodeId defaults to the host id. */
  IronicHostSchema.partial().extend({ driver: z.literal('ironic') }).strict(),
  z.object({ driver: z.literal('none') }).strict(),
]);
export type PowerEntry = z.infer<typeof PowerEntrySchema>;

export const ApplierConfigSchema = z
  .object({
    mode: z.enum(['off', 'dry-run', 'on']).default('off'),
    /** Managed hosts: a label selector and/or sites; default every registered host. */
    hosts: z
      .object({
        selector: z.record(z.string().min(1).max(317), z.string().max(63)).default({}),
        sites: z.array(z.string().min(1).max(253)).max(1000).default([]),
      })
      .strict()
      .default({ selector: {}, sites: [] }),
    intervalMs: ms(1_000, 86_400_000, D.intervalMs),
    tickMs: ms(100, 3_600_000, D.tickMs),
    minSavingWatts: z.number().min(0).default(D.minSavingWatts),
    headroom: z.number().min(0).max(1).default(D.headroom),
    maxConcurrentMigrations: z.number().int().min(1).max(64).default(D.maxConcurrentMigrations),
    maxMigrationsPerCycle: z.number().int().min(1).max(10_000).default(D.maxMigrationsPerCycle),
    migrationTimeoutMs: ms(1_000, 86_400_000, D.migrationTimeoutMs),
    wakeTimeoutMs: ms(1_000, 86_400_000, D.wakeTimeoutMs),
    powerTimeoutMs: ms(1_000, 3_600_000, D.powerTimeoutMs),
    pollMs: ms(50, 60_000, D.pollMs),
    planBudgetMs: ms(10, 600_000, D.planBudgetMs),
    missWindowMs: ms(1_000, 3_600_000, D.missWindowMs),
    migrationWatts: z.number().min(0).default(D.migrationWatts),
    /** The journal file (created with its folder). */
    journalFile: z.string().min(1).max(4096).default('wattplace-applier.journal'),
    /** Nova's compute API (required unless mode is off). */
    nova: NovaOptionsSchema.optional(),
    /**
     * Host → power driver; the key `*` applies to hosts not listed (driver `none`, or `ironic` without nodeId:
     * each host's node is then named by its host id). A host with no entry is never drained.
     */
    power: z.record(z.string().min(1).max(253), PowerEntrySchema).default({}),
    ipmi: IpmiOptionsSchema.default(IpmiOptionsSchema.parse({})),
    /** Ironic's endpoint, auth and timeouts (required when an entry of `power` uses driver ironic). */
    ironic: IronicOptionsSchema.optional(),
    /** Leadership; without it the applier assumes it is the only replica. */
    etcd: EtcdLeadershipSchema.optional(),
    /** This replica's name in the election (default host name and pid). */
    identity: z.string().min(1).max(253).optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    const star = c.power['*'];
    if (star && star.driver === 'ipmi') ctx.addIssue({ code: 'custom', path: ['power', '*'], message: 'the default entry "*" can only be driver none or ironic (ipmi needs a BMC per host)' });
    if (star && star.driver === 'ironic' && star.nodeId !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['power', '*', 'nodeId'], message: 'not allowed in the default entry "*" (each host is its own node: nodeId is the host id)' });
    }
    if (c.ironic === undefined && Object.values(c.power).some((e) => e.driver === 'ironic')) {
      ctx.addIssue({ code: 'custom', path: ['ironic'], message: 'required when an entry of applier.power uses driver ironic' });
    }
    if (c.mode !== 'off' && c.nova === undefined) ctx.addIssue({ code: 'custom', path: ['nova'], message: 'required when mode is dry-run or on' });
  });

export type ApplierConfig = z.infer<typeof ApplierConfigSchema>;

/** One `key: message` per issue; an unknown key is named in full (`applier.foo: unknown key`). */
const issues = (prefix: string, e: z.ZodError): string =>
  e.issues
    .flatMap((i) => {
      const at = [prefix, ...i.path.map(String)];
      if (i.code === 'unrecognized_keys') return i.keys.map((k) => `${[...at, k].join('.')}: unknown key`);
      return [`${at.join('.')}: ${i.message}`];
    })
    .join('; ');

/** Validates `applier` (the raw section); ConfigError naming the key otherwise. */
export function parseApplierConfig(raw: unknown): ApplierConfig {
  const r = ApplierConfigSchema.safeParse(raw ?? {});
  if (!r.success) throw new ConfigError(`invalid configuration: ${issues('applier', r.error)}`);
  return r.data;
}

export function applierSettings(c: ApplierConfig): ApplierSettings {
  return {
    mode: c.mode,
    selector: c.hosts.selector,
    sites: c.hosts.sites,
    intervalMs: c.intervalMs,
    // a tick is never longer than the cycle interval (a short intervalMs alone also shortens the tick)
    tickMs: Math.min(c.tickMs, c.intervalMs),
    minSavingWatts: c.minSavingWatts,
    headroom: c.headroom,
    maxConcurrentMigrations: c.maxConcurrentMigrations,
    maxMigrationsPerCycle: c.maxMigrationsPerCycle,
    migrationTimeoutMs: c.migrationTimeoutMs,
    wakeTimeoutMs: c.wakeTimeoutMs,
    powerTimeoutMs: c.powerTimeoutMs,
    pollMs: c.pollMs,
    planBudgetMs: c.planBudgetMs,
    missWindowMs: c.missWindowMs,
    migrationWatts: c.migrationWatts,
  };
}
