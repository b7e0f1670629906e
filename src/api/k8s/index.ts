import type { Logger } from 'pino';
import { ValidationError, type PowerModelSpec } from '../../domain';
import type { Wattplace } from '../../decision';
import { parsePowerModelConfig, catalogSpec } from '../../power';
import type { HttpApi } from '../http';
import type { Metrics } from '../metrics';
import { DEFAULT_K8S_OPTIONS, K8sExtender, type K8sExtenderOptions, type ScoreMapping } from './extender';

export * from './extender';
export { readPod, optedOut, type PodView } from './pod';
export { readNode, type NodeView } from './node';
export { parseQuantity, cpuMillisOf, bytesOf, QuantityError } from './quantity';

/** The extender's configuration keys (src/config.ts). */
export interface K8sConfig {
  readonly k8sExtender: boolean;
  readonly k8sOptOutKey: string;
  readonly k8sDefaultPowerModel?: string | Record<string, unknown>;
  readonly k8sScoreMapping: ScoreMapping;
  readonly k8sWattsPerPoint: number;
  readonly k8sAllowStale: boolean;
}

/**
 * k8sDefaultPowerModel: a SPECpower catalog name ("hp-ml110-g5"), a JSON text
 * ('{"linear":{"idleWatts":90,"maxWatts":250}}'), or the same as a mapping in
 * the config file. ValidationError naming the key when it is not a valid model.
 */
export function defaultPowerModel(raw: K8sConfig['k8sDefaultPowerModel']): PowerModelSpec | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (typeof raw === 'string') {
    const t = raw.trim();
    if (!t.startsWith('{')) {
      const s = catalogSpec(t);
      if (!s) return parsePowerModelConfig({ catalog: t }, 'k8sDefaultPowerModel'); // throws, listing the catalog
      return s;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(t);
    } catch (e) {
      throw new ValidationError('k8sDefaultPowerModel', `not a catalog name nor valid JSON: ${(e as Error).message}`);
    }
    return parsePowerModelConfig(parsed, 'k8sDefaultPowerModel');
  }
  return parsePowerModelConfig(raw, 'k8sDefaultPowerModel');
}

export function k8sOptions(cfg: K8sConfig): K8sExtenderOptions {
  return {
    ...DEFAULT_K8S_OPTIONS,
    optOutKey: cfg.k8sOptOutKey,
    defaultPowerModel: defaultPowerModel(cfg.k8sDefaultPowerModel),
    scoreMapping: cfg.k8sScoreMapping,
    wattsPerPoint: cfg.k8sWattsPerPoint,
    allowStale: cfg.k8sAllowStale,
  };
}

/**
 * Adds the kube-scheduler extender routes to the HTTP port:
 *   POST /k8s/filter      ExtenderArgs → ExtenderFilterResult (always 200 for a JSON body)
 *   POST /k8s/prioritize  ExtenderArgs → HostPriorityList (a bare array), 400 naming the field when malformed
 * The scheduler's urlPrefix is http://<http address>/k8s. Invalid options fail here, at start-up.
 */
export function k8sPlugin(cfg: K8sConfig): (s: { core: Wattplace; http: HttpApi; metrics: Metrics; log: Logger }) => void {
  const opts = k8sOptions(cfg);
  return ({ core, http, metrics }) => {
    if (!cfg.k8sExtender) return;
    const ext = new K8sExtender(core, opts, metrics);
    const json = 'application/json';
    // raw: the extender reads the body's bytes itself (one validating scan, no object tree).
    const bytes = (raw: Buffer | undefined) => raw ?? Buffer.alloc(0);
    http.route('POST', '/k8s/filter', ({ raw }) => ({ status: 200, body: undefined, text: ext.filter(bytes(raw)), contentType: json }), { metric: 'k8s_filter', raw: true });
    http.route('POST', '/k8s/prioritize', ({ raw }) => ({ status: 200, body: undefined, text: ext.prioritize(bytes(raw)), contentType: json }), { metric: 'k8s_prioritize', raw: true });
  };
}
