import { execFileSync } from 'node:child_process';
import * as os from 'node:os';

/** Sorted copy; percentiles by nearest rank. */
export function summarize(ns: number[]): { n: number; p50: number; p90: number; p99: number; max: number; mean: number } {
  const s = Float64Array.from(ns).sort();
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
  let sum = 0;
  for (const v of s) sum += v;
  return { n: s.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: s[s.length - 1], mean: sum / s.length };
}

export const ms = (ns: number): number => Math.round((ns / 1e6) * 1000) / 1000;

export function machine(): Record<string, unknown> {
  let model = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /Model name:\s*(.+)/.exec(execFileSync('lscpu', { encoding: 'utf8' }));
    if (m) model = m[1].trim();
  } catch {
    // lscpu missing: keep os.cpus()
  }
  return {
    date: new Date().toISOString(),
    cpus: os.cpus().length,
    cpuModel: model,
    node: process.version,
    loadavg1m: Math.round(os.loadavg()[0] * 100) / 100,
  };
}

/** Prints a fixed-width table to stdout. */
export function printTable(title: string, rows: Record<string, string | number>[]): void {
  if (rows.length === 0) return;
  const cols = Object.keys(rows[0]);
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padStart(width[i])).join('  ');
  process.stdout.write(`\n${title}\n${line(cols)}\n${line(width.map((w) => '-'.repeat(w)))}\n`);
  for (const r of rows) process.stdout.write(`${line(cols.map((c) => String(r[c])))}\n`);
}

/** The machine-readable result: one JSON line starting with BENCH_JSON. */
export function printJson(bench: string, results: unknown): void {
  process.stdout.write(`\nBENCH_JSON ${JSON.stringify({ bench, machine: machine(), results })}\n`);
}

/** Host counts to measure: all four by default, or BENCH_SIZES=100,1000. */
export function sizes(): number[] {
  const env = process.env.BENCH_SIZES;
  return env ? env.split(',').map((s) => Number(s.trim())) : [100, 1000, 5000, 10000];
}
