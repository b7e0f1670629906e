import { ValidationError, echo, type PowerModelSpec } from '../domain';
import { catalogSpec, SPECPOWER_TABLES } from './catalog';
import { createPowerModel } from './model';

/**
 * Reads a power model from configuration JSON/YAML. Accepted forms:
 *   { "linear": { "idleWatts": 90, "maxWatts": 250 }, "standbyWatts": 5 }
 *   { "table": [86, 89.4, …, 117] }          (11 points)
 *   { "exponential": { "k0": 80, "k1": 10, "k2": 2.2 } }
 *   { "catalog": "hp-ml110-g5" }             (see SPECPOWER_TABLES)
 * The result is validated by createPowerModel, so a bad spec fails here, at start-up.
 */
export function parsePowerModelConfig(raw: unknown, field: string): PowerModelSpec {
  if (typeof raw !== 'object' || raw === null) throw new ValidationError(field, 'must be an object');
  const o = raw as Record<string, unknown>;
  const standbyWatts = o.standbyWatts === undefined ? 0 : (o.standbyWatts as number);
  const kinds = ['linear', 'table', 'exponential', 'catalog'].filter((k) => o[k] !== undefined);
  if (kinds.length !== 1) {
    throw new ValidationError(field, `needs exactly one of linear, table, exponential, catalog; got ${kinds.length ? kinds.join(', ') : 'none'}`);
  }
  let spec: PowerModelSpec;
  switch (kinds[0]) {
    case 'linear': {
      const l = (o.linear ?? {}) as Record<string, unknown>;
      spec = { kind: 'linear', idleWatts: l.idleWatts as number, maxWatts: l.maxWatts as number, standbyWatts };
      break;
    }
    case 'table':
      spec = { kind: 'table', watts: o.table as number[], standbyWatts };
      break;
    case 'exponential': {
      const e = (o.exponential ?? {}) as Record<string, unknown>;
      spec = { kind: 'exponential', k0: e.k0 as number, k1: e.k1 as number, k2: e.k2 as number, standbyWatts };
      break;
    }
    default: {
      const s = catalogSpec(String(o.catalog), standbyWatts);
      if (!s) throw new ValidationError(`${field}.catalog`, `unknown host type ${echo(o.catalog)}; known: ${Object.keys(SPECPOWER_TABLES).join(', ')}`);
      spec = s;
    }
  }
  createPowerModel(spec, field);
  return spec;
}
