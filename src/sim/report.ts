import type { SimMetrics } from './engine';
import type { JobResult } from './run';

const pct = (x: number, d = 3): string => (Number.isFinite(x) ? `${(x * 100).toFixed(d)} %` : '–');
const num = (x: number, d = 1): string => (!Number.isFinite(x) ? '–' : Math.abs(x) > 0 && Math.abs(x) < 1 && d <= 1 ? x.toPrecision(3) : x.toFixed(d));

interface Col {
  head: string;
  get: (m: SimMetrics) => string;
}

/**
 * What the energy cost in service first: real overload (share of active host
 * time with demand above capacity) and unmet demand, then energy, its ratio to
 * the fluid bound, and migrations. CloudSim's SLATAH / PDM / SLAV follow for
 * comparison only (SLAV shrinks with few migrations whatever the overload).
 */
export const COLUMNS: Col[] = [
  { head: 'policy', get: (m) => m.policy },
  { head: 'overload', get: (m) => pct(m.overloadFraction) },
  { head: 'unmet', get: (m) => pct(m.unmetFraction, 4) },
  { head: 'energy kWh', get: (m) => num(m.energyKwh) },
  { head: '× bound', get: (m) => num(m.ratio, 3) },
  { head: 'migrations', get: (m) => String(m.migrations) },
  { head: 'bound kWh', get: (m) => num(m.lowerBoundKwh) },
  { head: 'SLATAH', get: (m) => pct(m.slatah) },
  { head: 'PDM', get: (m) => pct(m.pdm, 4) },
  { head: 'SLAV', get: (m) => pct(m.slav, 5) },
  { head: 'ESV', get: (m) => (m.esv ? m.esv.toExponential(2) : '0') },
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
/**
 * `skipSeconds`: the axis is scaled to the values after this much time, and
 * earlier values above it are clipped at the top with a note (every host starts
 * on, and those first steps would flatten the rest of the day).
 */
export function svgChart(id: string, title: string, unit: string, series: { name: string; values: readonly number[] }[], stepSeconds: number, skipSeconds = 0, log = false): string {
  const W = 860;
  const H = 260;
  const L = 64;
  const R = 16;
  const T = 28;
  const B = 36;
  const n = Math.max(1, ...series.map((s) => s.values.length));
  const skip = Math.min(Math.floor(skipSeconds / stepSeconds), n - 1);
  let max = 0;
  let peak = 0;
  for (const s of series)
    s.values.forEach((v, k) => {
      if (k >= skip && v > max) max = v;
      if (v > peak) peak = v;
    });
  if (max <= 0) max = peak > 0 ? peak : 1;
  const mag = Math.pow(10, Math.floor(Math.log10(max)));
  const top = Math.ceil(max / mag) * mag;
  // log axis: from the 1-2-5 step at or below the smallest positive value
  let minPos = Infinity;
  for (const s of series) for (const v of s.values) if (v > 0 && v < minPos) minPos = v;
  const bottom = log && minPos < Infinity ? Math.min(niceBelow(minPos), top / 10) : 0;
  const x = (k: number): number => L + ((W - L - R) * k) / Math.max(1, n - 1);
  const frac = (v: number): number => {
    const c = v > top ? top : v;
    if (!log) return c / top;
    return c <= bottom ? 0 : Math.log(c / bottom) / Math.log(top / bottom);
  };
  const y = (v: number): number => T + (H - T - B) * (1 - frac(v));
  const clipped = peak > top;
  const parts: string[] = [];
  parts.push(`<svg id="${esc(id)}" class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">`);
  parts.push(`<text x="${L}" y="18" font-size="14" font-weight="bold">${esc(title)}</text>`);
  if (clipped) {
    const note = `clipped: the first ${Math.round((skip * stepSeconds) / 60)} min reach ${+peak.toPrecision(3)} ${unit} (every host starts on)`;
    parts.push(`<text class="clip-note" x="${W - R}" y="18" font-size="11" text-anchor="end" fill="#666">${esc(note)}</text>`);
  }
  const ticks = log ? logTicks(bottom, top) : [0, 1, 2, 3, 4].map((i) => (top * i) / 4);
  for (const v of ticks) {
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

/** The largest 1-2-5 step at or below v (v > 0). */
function niceBelow(v: number): number {
  const e = Math.pow(10, Math.floor(Math.log10(v)));
  const m = v / e;
  return (m >= 5 ? 5 : m >= 2 ? 2 : 1) * e;
}

/** 1-2-5 ticks from lo to hi (lo > 0), both ends included. */
function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); Math.pow(10, e) <= hi; e++) for (const m of [1, 2, 5]) {
    const v = m * Math.pow(10, e);
    if (v >= lo * 0.999 && v <= hi * 1.001) out.push(v);
  }
  if (out[out.length - 1] < hi * 0.999) out.push(hi);
  return out;
}

export interface TradeoffPoint {
  readonly name: string;
  readonly overload: number;
  readonly ratio: number;
  /** Part of the wattplace target sweep (joined by a line). */
  readonly sweep: boolean;
  /** Colour index (PALETTE), as in the time-series charts. */
  readonly color: number;
}

/**
 * Energy against real overload: every policy as a point, the wattplace policy
 * swept over overload targets as a curve (an operator picks a point on it).
 * x: overloaded share of active host time, log scale; y: energy ÷ fluid bound.
 */
export function svgTradeoff(points: readonly TradeoffPoint[]): string {
  const W = 860;
  const H = 340;
  const L = 64;
  const R = 160;
  const T = 28;
  const B = 40;
  const pos = points.filter((p) => p.overload > 0 && Number.isFinite(p.ratio));
  const lo = Math.min(1e-3, ...pos.map((p) => p.overload));
  const hi = Math.max(0.1, ...pos.map((p) => p.overload));
  const x0 = Math.floor(Math.log10(lo));
  const x1 = Math.ceil(Math.log10(hi));
  // y: the fluid bound (1 ×) up to CLIP × the best ratio, so the curve an operator picks from is
  // not flattened by a policy far above it (none runs every host: 20–30 ×); such a policy is
  // drawn on the top edge, with its ratio in its label
  const CLIP = 3;
  const finite = points.filter((p) => Number.isFinite(p.ratio)).map((p) => p.ratio);
  const rMax = Math.max(1.5, ...finite);
  const rMin = Math.max(1, Math.min(rMax, ...finite));
  const yTop = Math.min(rMax, Math.max(1.5, CLIP * rMin)) * 1.05;
  const yBot = 1;
  const yTicks = (yTop <= 4 ? [1, 1.1, 1.2, 1.3, 1.4, 1.5, 1.75, 2, 2.5, 3, 4] : [1, 1.1, 1.25, 1.5, 2, 3, 5, 10, 20, 50, 100]).filter((r) => r <= yTop);
  const x = (o: number): number => L + ((W - L - R) * (Math.log10(o > 0 ? o : lo) - x0)) / (x1 - x0);
  const y = (r: number): number => T + (H - T - B) * (1 - Math.log(Math.max(yBot, Math.min(r, yTop)) / yBot) / Math.log(yTop / yBot));
  const parts: string[] = [];
  parts.push(`<svg id="chart-tradeoff" class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="Energy against overload">`);
  parts.push(`<text x="${L}" y="18" font-size="14" font-weight="bold">Energy against overload (lower left is better)</text>`);
  for (let e = x0; e <= x1; e++) {
    const v = Math.pow(10, e);
    parts.push(`<line x1="${x(v).toFixed(1)}" x2="${x(v).toFixed(1)}" y1="${T}" y2="${H - B}" stroke="#ddd"/>`);
    parts.push(`<text x="${x(v).toFixed(1)}" y="${H - B + 16}" font-size="11" text-anchor="middle">${+(v * 100).toPrecision(3)} %</text>`);
  }
  for (const r of yTicks) {
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${y(r).toFixed(1)}" y2="${y(r).toFixed(1)}" stroke="#ddd"/>`);
    parts.push(`<text x="${L - 6}" y="${(y(r) + 4).toFixed(1)}" font-size="11" text-anchor="end">${r.toFixed(2)}×</text>`);
  }
  parts.push(`<text x="${(L + W - R) / 2}" y="${H - 6}" font-size="11" text-anchor="middle">overloaded share of active host time (log)</text>`);
  parts.push(`<text x="12" y="${T + (H - T - B) / 2}" font-size="11" transform="rotate(-90 12 ${T + (H - T - B) / 2})" text-anchor="middle">energy ÷ fluid bound (log)</text>`);
  const sweep = points.filter((p) => p.sweep).slice().sort((a, b) => a.overload - b.overload);
  const sweepColor = PALETTE[(sweep[0]?.color ?? 0) % PALETTE.length];
  if (sweep.length > 1) parts.push(`<polyline class="sweep" fill="none" stroke="${sweepColor}" stroke-width="1.5" points="${sweep.map((p) => `${x(p.overload).toFixed(1)},${y(p.ratio).toFixed(1)}`).join(' ')}"/>`);
  const labels: [number, number][] = [];
  points.forEach((p) => {
    const c = PALETTE[p.color % PALETTE.length];
    const off = p.ratio > yTop;
    const px = x(p.overload).toFixed(1);
    const py = y(p.ratio).toFixed(1);
    parts.push(`<circle class="point" data-policy="${esc(p.name)}" cx="${px}" cy="${py}" r="4" fill="${off ? 'none' : c}" stroke="${c}"><title>${esc(`${p.name}: ${(p.overload * 100).toFixed(3)} % overload, ${p.ratio.toFixed(3)} × bound`)}</title></circle>`);
    // a label that would sit on an earlier one (a sweep point at the default target) moves down
    const lx = +px + 6;
    let ly = off ? +py + 14 : +py - 6;
    for (let i = 0; i < 4 && labels.some(([ax, ay]) => Math.abs(ax - lx) < 60 && Math.abs(ay - ly) < 11); i++) ly += 12;
    labels.push([lx, ly]);
    parts.push(`<text x="${lx.toFixed(1)}" y="${ly.toFixed(1)}" font-size="10" fill="${c}">${esc(off ? `${p.name} ${p.ratio.toFixed(1)}× (above the scale)` : p.name)}</text>`);
  });
  const none = points.filter((p) => !(p.overload > 0));
  if (none.length) parts.push(`<text x="${W - R + 8}" y="${T + 12}" font-size="10" fill="#666">0 % overload, at the left edge: ${esc(none.map((p) => p.name).join(', '))}</text>`);
  parts.push('</svg>');
  return parts.join('');
}

/** Self-contained HTML report: table and charts (inline SVG, no scripts, no network). */
export function toHtml(meta: ReportMeta, results: readonly JobResult[], sections: { title: string; html: string }[] = [], sweep: readonly JobResult[] = []): string {
  const rows = results.map((r) => r.metrics);
  const head = COLUMNS.map((c) => `<th>${esc(c.head)}</th>`).join('');
  const body = rows.map((m) => `<tr>${COLUMNS.map((c) => `<td>${esc(c.get(m))}</td>`).join('')}</tr>`).join('\n');
  const mk = (key: 'watts' | 'activeHosts' | 'overloadedHosts') => results.map((r) => ({ name: r.tag, values: r.series[key] }));
  const wp = results.findIndex((r) => r.policy === 'wattplace' || r.tag.startsWith('wattplace'));
  const points: TradeoffPoint[] = [
    ...results.map((r, i) => ({ name: r.tag, overload: r.metrics.overloadFraction, ratio: r.metrics.ratio, sweep: false, color: i })),
    ...sweep.map((r) => ({ name: r.tag, overload: r.metrics.overloadFraction, ratio: r.metrics.ratio, sweep: true, color: wp >= 0 ? wp : results.length })),
  ];
  const charts = [
    svgTradeoff(points),
    svgChart('chart-power', 'Power (log axis)', 'W', mk('watts'), meta.stepSeconds, 3600, true),
    svgChart('chart-active', 'Active hosts (log axis)', 'hosts', mk('activeHosts'), meta.stepSeconds, 3600, true),
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
${sweep.length ? `<p id="sweep">wattplace over overload targets: ${sweep.map((r) => esc(`${r.tag} → ${(r.metrics.overloadFraction * 100).toFixed(3)} % overload, ${(r.metrics.unmetFraction * 100).toFixed(4)} % unmet, ${r.metrics.ratio.toFixed(3)} × bound, ${r.metrics.migrations} migrations`)).join('; ')}</p>` : ''}
${charts.join('\n')}
${sections.map((s) => `<h2>${esc(s.title)}</h2>\n${s.html}`).join('\n')}
</body></html>
`;
}
