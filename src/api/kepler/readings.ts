import parsePrometheusTextFormat, { type ParsedSample } from 'parse-prometheus-text-format';

/**
 * Node power series that a Kepler exporter publishes, in both generations.
 *
 * Current Kepler (0.10 and later; labels zone, path, constant label node_name):
 *   kepler_node_cpu_watts          gauge    W per RAPL zone
 *   kepler_node_cpu_joules_total   counter  J per RAPL zone
 *   kepler_node_cpu_usage_ratio    gauge    0–1
 * Zones: package (cores + uncore), core, uncore, dram, and on some machines
 * psys / platform (the whole board).
 *
 * Older Kepler (up to 0.7; labels instance, mode = dynamic | idle, package, source):
 *   kepler_node_package_joules_total, kepler_node_dram_joules_total,
 *   kepler_node_core_joules_total, kepler_node_uncore_joules_total,
 *   kepler_node_other_joules_total, kepler_node_gpu_joules_total,
 *   kepler_node_platform_joules_total (ACPI / IPMI: the whole node)
 * The dynamic and idle series are summed: together they are the node's energy.
 *
 * Node power = platform when the node has it (it is what a host power model
 * describes), else package + dram (core and uncore are inside package; other
 * and gpu are skipped without platform to anchor them).
 */
export type Component = 'platform' | 'package' | 'dram';

/** One series that counts toward a node's power. */
export interface PowerSeries {
  /** Stable identity across scrapes: metric name and every label. */
  readonly key: string;
  readonly node: string;
  readonly component: Component;
  readonly kind: 'watts' | 'joules';
  readonly value: number;
  /** The exposition's own timestamp, ms, when it carries one. */
  readonly timestampMs?: number;
}

export interface ExpositionReadings {
  readonly series: PowerSeries[];
  /** kepler_node_cpu_usage_ratio per node. */
  readonly usage: Map<string, number>;
  /** Kepler metric families recognised (to tell an empty scrape from a non-Kepler target). */
  readonly generations: { current: boolean; older: boolean };
}

const CURRENT_ZONE: Readonly<Record<string, Component | undefined>> = { package: 'package', dram: 'dram', psys: 'platform', platform: 'platform' };
const OLDER: Readonly<Record<string, Component | undefined>> = {
  kepler_node_platform_joules_total: 'platform',
  kepler_node_package_joules_total: 'package',
  kepler_node_dram_joules_total: 'dram',
};

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
/** A Go ParseFloat value as exposition text writes it: decimal, exponent, NaN, ±Inf. */
const SAMPLE_VALUE = /^(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|NaN|[+-]?Inf)$/;

function seriesKey(name: string, labels: Readonly<Record<string, string>>): string {
  const keys = Object.keys(labels).sort();
  let k = name;
  for (const l of keys) k += `\u0000${l}=${labels[l]}`;
  return k;
}

/**
 * Reads the node power series from a Prometheus text exposition (parsed by
 * parse-prometheus-text-format). `nodeOverride` names the node for every
 * series (a target configured as "node=URL"); otherwise the node is the
 * series' node_name label, else its instance label, else `fallbackNode`.
 * Throws on text that is not valid exposition format.
 */
export function readExposition(text: string, fallbackNode: string, nodeOverride?: string): ExpositionReadings {
  const families = parsePrometheusTextFormat(text);
  const series: PowerSeries[] = [];
  const usage = new Map<string, number>();
  const generations = { current: false, older: false };
  const nodeOf = (labels: Readonly<Record<string, string>>) => nodeOverride || labels.node_name || labels.instance || fallbackNode;
  for (const fam of families) {
    const name = fam.name;
    // The parser is lenient (any first word is a name, any second a value): check what it found.
    if (!METRIC_NAME.test(name)) throw new Error(`invalid metric name ${JSON.stringify(name.slice(0, 80))}`);
    for (const m of fam.metrics) {
      const v = (m as ParsedSample).value;
      if (typeof v === 'string' && !SAMPLE_VALUE.test(v)) throw new Error(`invalid sample value ${JSON.stringify(v.slice(0, 80))} for ${name}`);
    }
    let kind: 'watts' | 'joules' | 'usage' | undefined;
    let olderComponent: Component | undefined;
    if (name === 'kepler_node_cpu_watts') kind = 'watts';
    else if (name === 'kepler_node_cpu_joules_total') kind = 'joules';
    else if (name === 'kepler_node_cpu_usage_ratio') kind = 'usage';
    else if (name.startsWith('kepler_node_') && name.endsWith('_joules_total')) {
      generations.older = true;
      olderComponent = OLDER[name];
      if (olderComponent) kind = 'joules';
    }
    if (kind === undefined) continue;
    if (!olderComponent) generations.current = true;
    for (const m of fam.metrics) {
      const s = m as ParsedSample;
      if (typeof s.value !== 'string') continue;
      const value = Number(s.value);
      if (!Number.isFinite(value)) continue; // NaN / ±Inf: the exporter has no reading
      const labels = s.labels ?? {};
      const node = nodeOf(labels);
      if (kind === 'usage') {
        usage.set(node, value);
        continue;
      }
      const component = olderComponent ?? CURRENT_ZONE[labels.zone ?? ''];
      if (!component) continue; // core / uncore (inside package), or an unknown zone
      const ts = s.timestamp_ms !== undefined ? Number(s.timestamp_ms) : NaN;
      series.push({ key: seriesKey(name, labels), node, component, kind, value, ...(Number.isFinite(ts) ? { timestampMs: ts } : {}) });
    }
  }
  return { series, usage, generations };
}
