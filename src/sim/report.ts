import type { SimMetrics } from './engine';
import type { JobResult } from './run';

const pct = (x: number, d = 3): string => (Number.isFinite(x) ? `${(x * 100).toFixed(d)} %` : '–');
const num = (x: number, d = 1): string => (!Number.isFinite(x) ? '–' : Math.abs(x) > 0 && Math.abs(x) < 1 && d <= 1 ? x.toPrecision(3) : x.toFixed(d));

interface Col {
  head: string;
  get: (m: SimMetrics) => string;
}

const COLUMNS: Col[] = [
  { head: 'policy', get: (m) => m.policy },
  { head: 'energy kWh', get: (m) => num(m.energyKwh) },
  { head: 'bound kWh', get: (m) => num(m.lowerBoundKwh) },
  { head: '× bound', get: (m) => num(m.ratio, 3) },
  { head: 'SLATAH', get: (m) => pct(m.slatah) },
  { head: 'overload', get: (m) => pct(m.overloadFraction) },
  { head: 'PDM', get: (m) => pct(m.pdm, 4) },
  { head: 'SLAV', get: (m) => pct(m.slav, 5) },
  { head: 'ESV', get: (m) => (m.esv ? m.esv.toExponential(2) : '0') },
  { head: 'migrations', get: (m) => String(m.migrations) },
  { head: 'shutdowns', get: (m) => String(m.hostShutdowns) },
  { head: 'active mean/max', get: (m) => `${num(m.activeHostsMean)}/${m.activeHostsMax}` },
  { head: 'CO2 kg', get: (m) => (m.carbonGrams === null ? '–' : num(m.carbonGrams / 1000)) },
  { head: 'wall s', get: (m) => num(m.wallSeconds, 2) },
];

/** The comparison table for the terminal. */
export function formatTable(rows: readonly SimMetrics[]): string {
  const cells = [COLUMNS.map((c) => c.head), ...rows.map((m) => COLUMNS.map((c) => c.get(m)))];
  const w = COLUMNS.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  const line = (r: string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  return [line(cells[0]), w.map((n) => '─'.repeat(n)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

export interface ReportMeta {
  readonly scenario: string;
  readonly compat: boolean;
  readonly trace: string;
  readonly hosts: number;
  readonly workloads: number;
  readonly stepSeconds: number;
}

export function toJson(meta: ReportMeta, results: readonly JobResult[], extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ ...meta, results: results.map((r) => r.metrics), ...extra }, null, 2);
}

/** Long-format CSV time series: one row per policy and step. */
export function toCsv(meta: ReportMeta, results: readonly JobResult[]): string {
  const out = ['policy,step,time_s,watts,active_hosts,overloaded_hosts,migrations,demand_mips'];
  for (const r of results) {
    const s = r.series;
    for (let k = 0; k < s.watts.length; k++) {
      out.push(`${r.tag},${k},${((k + 1) * meta.stepSeconds).toFixed(0)},${s.watts[k].toFixed(2)},${s.activeHosts[k]},${s.overloadedHosts[k]},${s.migrations[k]},${s.demandMips[k].toFixed(1)}`);
    }
  }
  return out.join('\n') + '\n';
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A line chart as inline SVG: one polyline per series, axes with ticks. */
export function svgChart(id: string, title: string, unit: string, series: { name: string; values: readonly number[] }[], stepSeconds: number): string {
  const W = 860;
  const H = 260;
  const L = 64;
  const R = 16;
  const T = 28;
  const B = 36;
  const n = Math.max(1, ...series.map((s) => s.values.length));
  let max = 0;
  for (const s of series) for (const v of s.values) if (v > max) max = v;
  if (max <= 0) max = 1;
  const mag = Math.pow(10, Math.floor(Math.log10(max)));
  const top = Math.ceil(max / mag) * mag;
  const x = (k: number): number => L + ((W - L - R) * k) / Math.max(1, n - 1);
  const y = (v: number): number => T + (H - T - B) * (1 - v / top);
  const parts: string[] = [];
  parts.push(`<svg id="${esc(id)}" class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">`);
  parts.push(`<text x="${L}" y="18" font-size="14" font-weight="bold">${esc(title)}</text>`);
  for (let i = 0; i <= 4; i++) {
    const v = (top * i) / 4;
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#ddd"/>`);
    parts.push(`<text x="${L - 6}" y="${(y(v) + 4).toFixed(1)}" font-size="11" text-anchor="end">${+v.toPrecision(3)}</text>`);
  }
  const hours = (n * stepSeconds) / 3600;
  const tickH = hours > 48 ? 24 : hours > 12 ? 4 : 1;
  for (let hh = 0; hh <= hours; hh += tickH) {
    const k = (hh * 3600) / stepSeconds;
    parts.push(`<text x="${x(k).toFixed(1)}" y="${H - B + 16}" font-size="11" text-anchor="middle">${hh} h</text>`);
  }
  parts.push(`<text x="12" y="${T + (H - T - B) / 2}" font-size="11" transform="rotate(-90 12 ${T + (H - T - B) / 2})" text-anchor="middle">${esc(unit)}</text>`);
  series.forEach((s, i) => {
    const pts = s.values.map((v, k) => `${x(k).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    parts.push(`<polyline class="series" data-policy="${esc(s.name)}" fill="none" stroke="${PALETTE[i % PALETTE.length]}" stroke-width="1.5" points="${pts}"/>`);
    parts.push(`<text x="${W - R - 4}" y="${T + 14 * (i + 1)}" font-size="11" text-anchor="end" fill="${PALETTE[i % PALETTE.length]}">${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

/** Self-contained HTML report: table and charts (inline SVG, no scripts, no network). */
export function toHtml(meta: ReportMeta, results: readonly JobResult[], sections: { title: string; html: string }[] = []): string {
  const rows = results.map((r) => r.metrics);
  const head = COLUMNS.map((c) => `<th>${esc(c.head)}</th>`).join('');
  const body = rows.map((m) => `<tr>${COLUMNS.map((c) => `<td>${esc(c.get(m))}</td>`).join('')}</tr>`).join('\n');
  const mk = (key: 'watts' | 'activeHosts' | 'overloadedHosts') => results.map((r) => ({ name: r.tag, values: r.series[key] }));
  const charts = [
    svgChart('chart-power', 'Power', 'W', mk('watts'), meta.stepSeconds),
    svgChart('chart-active', 'Active hosts', 'hosts', mk('activeHosts'), meta.stepSeconds),
    svgChart('chart-overload', 'Overloaded hosts', 'hosts', mk('overloadedHosts'), meta.stepSeconds),
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>wattplace simulation — ${esc(meta.scenario)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:24px;color:#222}
table{border-collapse:collapse;font-size:13px}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}
.chart{display:block;margin:16px 0;border:1px solid #eee}
</style></head><body>
<h1>wattplace simulation — ${esc(meta.scenario)}</h1>
<p>${esc(meta.trace)} · ${meta.workloads} workloads · ${meta.hosts} hosts · step ${meta.stepSeconds} s · ${meta.compat ? 'CloudSim-compatible mode' : 'real mode (every workload kept, real overload)'}</p>
<table id="metrics"><thead><tr>${head}</tr></thead><tbody>
${body}
</tbody></table>
${charts.join('\n')}
${sections.map((s) => `<h2>${esc(s.title)}</h2>\n${s.html}`).join('\n')}
</body></html>
`;
}
