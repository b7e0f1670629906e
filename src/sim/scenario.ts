import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ValidationError, type PowerModelSpec } from '../domain';
import { createPowerModel, parsePowerModelConfig } from '../power';
import { DEFAULT_FORECAST } from '../decision/forecast';
import { DEFAULT_REBALANCE } from '../decision/rebalance';
import { buildFleet, CLOUDSIM_VM_TYPES, type Fleet, type HostTypeSpec } from './cluster';
import type { SimPolicy } from './engine';
import { FirstFitPolicy, NonePolicy, SpreadPolicy } from './policies/basic';
import { CloudSimPolicy } from './policies/cloudsim';
import { DEFAULT_WATTPLACE_POLICY, WattplacePolicy } from './policies/wattplace';

export const POLICY_NAMES = ['none', 'spread', 'first-fit', 'thr-mmt', 'lr-mmt', 'wattplace'] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];

const positive = z.number().finite().positive();
const nonNeg = z.number().finite().min(0);

const PowerSchema = z.union([
  z.object({ catalog: z.string().min(1), standbyWatts: nonNeg.optional() }).strict(),
  z.object({ table: z.array(nonNeg).length(11), standbyWatts: nonNeg.optional() }).strict(),
  z.object({ linear: z.object({ idleWatts: nonNeg, maxWatts: nonNeg }).strict(), standbyWatts: nonNeg.optional() }).strict(),
  z.object({ exponential: z.object({ k0: z.number().finite(), k1: z.number().finite(), k2: z.number().finite() }).strict(), standbyWatts: nonNeg.optional() }).strict(),
]);

const HostTypeSchema = z
  .object({
    name: z.string().min(1),
    count: z.number().int().min(0).max(1_000_000),
    coreMips: positive,
    cores: z.number().int().min(1).max(4096),
    ramMb: positive,
    bwMbps: positive.default(1000),
    power: PowerSchema,
    site: z.string().min(1).default('default'),
    cost: nonNeg.default(0),
  })
  .strict();

const PolicyParams = z
  .object({
    // thr-mmt / lr-mmt
    threshold: z.number().finite().gt(0).max(1).optional(),
    safety: z.number().finite().gt(0).max(10).optional(),
    // wattplace
    overloadTarget: z.number().finite().gt(0).lt(0.5).optional(),
    z: nonNeg.max(10).optional(),
    drainZ: nonNeg.max(10).optional(),
    openZ: nonNeg.max(10).optional(),
    alpha: z.number().finite().min(0).max(1).optional(),
    window: z.number().int().min(1).max(1000).optional(),
    sizeSigma: z.number().finite().min(0).max(1).optional(),
    roomSigmas: z.number().finite().min(0).max(10).optional(),
    maxMigrationsPerStep: z.number().int().min(0).optional(),
    minWattsPerMigration: nonNeg.optional(),
    ceiling: z.number().finite().gt(0).max(1).optional(),
    useCurrent: z.boolean().optional(),
  })
  .strict();

const PolicySchema = z.union([
  z.enum(POLICY_NAMES),
  z.object({ name: z.enum(POLICY_NAMES), label: z.string().min(1).optional(), params: PolicyParams.default({}) }).strict(),
]);

const TraceSchema = z.union([
  z.object({ planetlab: z.string().min(1), limit: z.number().int().positive().optional(), samples: z.number().int().positive().max(1_000_000).default(288) }).strict(),
  z.object({ csv: z.string().min(1) }).strict(),
]);

export const ScenarioSchema = z
  .object({
    name: z.string().min(1).default('scenario'),
    trace: TraceSchema,
    stepSeconds: positive.default(300),
    /** Steps to simulate (default: all the trace has). */
    steps: z.number().int().positive().optional(),
    cloudsimCompat: z.boolean().default(false),
    hostTypes: z.array(HostTypeSchema).min(1),
    /** Host order: round robin over types (CloudSim's fleet) or grouped by type. */
    interleaveHosts: z.boolean().default(true),
    sites: z.array(z.object({ name: z.string().min(1), carbonIntensity: nonNeg }).strict()).default([]),
    workloadTypes: z.array(z.object({ mips: positive, ramMb: nonNeg }).strict()).default([...CLOUDSIM_VM_TYPES]),
    policies: z.array(PolicySchema).min(1),
    capacityPlan: z
      .object({
        policy: PolicySchema.default('wattplace'),
        /** Largest acceptable real overload, as a fraction of active host time. */
        overloadTarget: z.number().finite().min(0).max(1),
        /** Largest fleet size to try (default: the scenario's fleet). */
        maxHosts: z.number().int().positive().optional(),
        /** Price of energy per kWh; with host costs, fleets are compared by purchase + energy over the period. */
        energyPrice: nonNeg.optional(),
        periodDays: positive.default(365 * 3),
      })
      .strict()
      .optional(),
    whatIf: z
      .array(
        z
          .object({
            name: z.string().min(1),
            hostTypes: z.array(HostTypeSchema).min(1),
          })
          .strict(),
      )
      .default([]),
    output: z
      .object({ json: z.string().optional(), html: z.string().optional(), series: z.string().optional() })
      .strict()
      .default({}),
  })
  .strict();

export type Scenario = z.infer<typeof ScenarioSchema>;
export type PolicyEntry = z.infer<typeof PolicySchema>;
export type HostTypeEntry = z.infer<typeof HostTypeSchema>;

/** Invalid scenario: every problem with its path. */
export class ScenarioError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file}: invalid scenario:\n  ${problems.join('\n  ')}`);
    this.name = 'ScenarioError';
  }
}

function pathOf(p: readonly PropertyKey[]): string {
  let s = '';
  for (const k of p) s += typeof k === 'number' ? `[${k}]` : s ? `.${String(k)}` : String(k);
  return s || '(root)';
}

/** Validates a parsed scenario; relative paths resolve against `baseDir`. */
export function checkScenario(raw: unknown, file = 'scenario', baseDir = process.cwd()): Scenario {
  const r = ScenarioSchema.safeParse(raw);
  if (!r.success) throw new ScenarioError(file, r.error.issues.map((i) => `${pathOf(i.path)}: ${i.message}`));
  const s = r.data;
  const problems: string[] = [];
  const checkTypes = (types: HostTypeEntry[], at: string): void => {
    const names = new Set<string>();
    types.forEach((t, i) => {
      if (names.has(t.name)) problems.push(`${at}[${i}].name: duplicate host type ${JSON.stringify(t.name)}`);
      names.add(t.name);
      try {
        powerSpec(t, `${at}[${i}].power`);
      } catch (e) {
        problems.push(e instanceof ValidationError ? `${e.field}: ${e.problem}` : (e as Error).message);
      }
    });
    if (types.every((t) => t.count === 0)) problems.push(`${at}: the fleet has no hosts (every count is 0)`);
  };
  checkTypes(s.hostTypes, 'hostTypes');
  s.whatIf.forEach((w, i) => checkTypes(w.hostTypes, `whatIf[${i}].hostTypes`));
  const sites = new Set(s.sites.map((x) => x.name));
  s.hostTypes.forEach((t, i) => {
    if (t.site !== 'default' && s.sites.length > 0 && !sites.has(t.site)) problems.push(`hostTypes[${i}].site: unknown site ${JSON.stringify(t.site)}; sites: ${[...sites].join(', ')}`);
  });
  if (problems.length) throw new ScenarioError(file, problems);
  const t = s.trace;
  const trace = 'planetlab' in t ? { ...t, planetlab: resolve(baseDir, t.planetlab) } : { csv: resolve(baseDir, t.csv) };
  const output = Object.fromEntries(Object.entries(s.output).map(([k, v]) => [k, v ? resolve(baseDir, v) : v]));
  return { ...s, trace, output };
}

/** Reads a YAML or JSON scenario file. */
export function loadScenario(file: string): Scenario {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ScenarioError(file, [`cannot read: ${(e as Error).message}`]);
  }
  let raw: unknown;
  try {
    raw = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new ScenarioError(file, [`not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(e as Error).message}`]);
  }
  return checkScenario(raw, file, dirname(resolve(file)));
}

function powerSpec(t: HostTypeEntry, field: string): PowerModelSpec {
  return parsePowerModelConfig(t.power, field);
}

export function hostTypeSpec(t: HostTypeEntry, sites: Scenario['sites']): HostTypeSpec {
  const spec = powerSpec(t, `hostTypes.${t.name}.power`);
  const site = sites.find((s) => s.name === t.site);
  return {
    name: t.name,
    coreMips: t.coreMips,
    cores: t.cores,
    ramMb: t.ramMb,
    bwMbps: t.bwMbps,
    model: createPowerModel(spec, `hostTypes.${t.name}.power`),
    standbyWatts: spec.standbyWatts,
    site: t.site,
    carbon: site ? site.carbonIntensity : NaN,
    cost: t.cost,
  };
}

export function fleetOf(types: readonly HostTypeEntry[], sites: Scenario['sites'], interleave: boolean): Fleet {
  return buildFleet(
    types.map((t) => ({ type: hostTypeSpec(t, sites), count: t.count })),
    interleave,
  );
}

export function policyName(p: PolicyEntry): string {
  return typeof p === 'string' ? p : (p.label ?? p.name);
}

/** Builds a policy from its scenario entry. */
export function makePolicy(p: PolicyEntry): SimPolicy {
  const name = typeof p === 'string' ? p : p.name;
  const params = typeof p === 'string' ? {} : p.params;
  const label = policyName(p);
  switch (name) {
    case 'none':
      return new NonePolicy();
    case 'spread':
      return new SpreadPolicy(label);
    case 'first-fit':
      return new FirstFitPolicy();
    case 'thr-mmt': {
      const pol = new CloudSimPolicy('thr', params.threshold ?? 0.8);
      return label === 'thr-mmt' ? pol : Object.assign(pol, { name: label });
    }
    case 'lr-mmt': {
      const pol = new CloudSimPolicy('lr', params.safety ?? 1.2, params.threshold ?? 0.7);
      return label === 'lr-mmt' ? pol : Object.assign(pol, { name: label });
    }
    case 'wattplace': {
      const d = DEFAULT_WATTPLACE_POLICY;
      return new WattplacePolicy(
        {
          ...d,
          useCurrent: params.useCurrent ?? d.useCurrent,
          // fixed margins (z / drainZ / openZ) only when given without a target
          overloadTarget: params.overloadTarget ?? (params.z !== undefined || params.drainZ !== undefined || params.openZ !== undefined ? undefined : d.overloadTarget),
          forecast: { ...DEFAULT_FORECAST, ...given({ alpha: params.alpha, window: params.window, sizeSigma: params.sizeSigma, roomSigmas: params.roomSigmas }) },
          rebalance: {
            ...DEFAULT_REBALANCE,
            ...given({ z: params.z, drainZ: params.drainZ, openZ: params.openZ, ceiling: params.ceiling, maxMigrations: params.maxMigrationsPerStep, minWattsPerMigration: params.minWattsPerMigration }),
          },
        },
        label,
      );
    }
  }
  throw new ValidationError('policies', `unknown policy ${JSON.stringify(name)}`);
}

/** The settings a scenario gives (absent keys keep the defaults they are spread over). */
function given<T extends Record<string, number | undefined>>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> };
}

/** The CloudSim PlanetLab experiment as a scenario (the `--planetlab DIR` shortcut). */
export function planetlabScenario(dir: string, policies: string[], compat: boolean): Scenario {
  const bad = policies.filter((p) => !(POLICY_NAMES as readonly string[]).includes(p));
  if (bad.length) throw new ScenarioError('--policy', [`unknown policy ${bad.map((b) => JSON.stringify(b)).join(', ')}; known: ${POLICY_NAMES.join(', ')}`]);
  if (policies.length === 0) throw new ScenarioError('--policy', ['at least one policy is required']);
  return checkScenario(
    {
      name: `planetlab ${dir.split('/').filter(Boolean).pop()}${compat ? ' (CloudSim-compatible)' : ''}`,
      trace: { planetlab: dir },
      cloudsimCompat: compat,
      hostTypes: [
        { name: 'hp-ml110-g4', count: 400, coreMips: 1860, cores: 2, ramMb: 4096, bwMbps: 1000, power: { catalog: 'hp-ml110-g4' } },
        { name: 'hp-ml110-g5', count: 400, coreMips: 2660, cores: 2, ramMb: 4096, bwMbps: 1000, power: { catalog: 'hp-ml110-g5' } },
      ],
      policies,
    },
    '--planetlab',
  );
}
