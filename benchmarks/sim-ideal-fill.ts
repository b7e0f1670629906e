/**
 * Issue 14: what a perfect packer would reach with the policy's own margin.
 *
 * Every interval of a PlanetLab day, the VMs (shuffled, CloudSim flavors by
 * position) are packed afresh onto G5 hosts (the only type the policy runs),
 * each host filled exactly up to the margin the policy uses: Σ f + z·√Σ s'² ≤
 * capacity and Σ demand now ≤ capacity, with f and s'² from the decision
 * layer's forecaster (default settings: burst scale, room cap). Nothing is
 * left in a hysteresis band, no host is part-filled but the last, and
 * migrations are free and unlimited. The interval's overload and energy are
 * accounted as the simulator does (demand linear between the two samples, the
 * G5's SPECpower table, trapezoid), against the same fluid bound.
 *
 * Prints, per day, overload and × bound for z 1.4–2.4 (mean over 5 shuffles)
 * and × bound at 0.5 % overload, interpolated in log overload.
 *   npm run bench:sim-ideal-fill
 * BENCH_SIM_TRACES: the PlanetLab folder (default ../shared/traces/planetlab).
 */
import * as os from 'node:os';
import { join } from 'node:path';
import { intervalOverload } from '../src/decision/overload-target';
import { DEFAULT_FORECAST, WorkloadForecaster } from '../src/decision/forecast';
import { assignTypes, CLOUDSIM_VM_TYPES } from '../src/sim/cluster';
import { HP_G5 } from '../src/sim/planetlab';
import { readPlanetLab } from '../src/sim/traces';

const ROOT = join(__dirname, '..', '..', '..');
const TRACES = process.env.BENCH_SIM_TRACES ?? join(ROOT, '..', 'shared', 'traces', 'planetlab');
const DAYS = ['20110303', '20110306', '20110309', '20110325'];
const ZS = [1.4, 1.5, 1.6, 1.7, 1.8, 1.9, 2.0, 2.1, 2.2, 2.3, 2.4];
const SHUFFLES = 5;
const G5 = HP_G5();
const CAP = G5.coreMips * G5.cores;
const TARGET = 0.005;

interface Step {
  f: Float64Array;
  s2: Float64Array;
  now: Float64Array;
  next: Float64Array;
}

async function steps(day: string): Promise<{ n: number; list: Step[] }> {
  const tr = await readPlanetLab(join(TRACES, day));
  const { n, steps: S, mips } = assignTypes(tr, CLOUDSIM_VM_TYPES);
  const fc = new WorkloadForecaster(DEFAULT_FORECAST);
  fc.ensure(n);
  const list: Step[] = [];
  for (let k = 0; k < S - 1; k++) {
    for (let v = 0; v < n; v++) fc.observe(v, tr.util[v * S + k] * mips[v]);
    if (k === 0) continue; // the policy's first interval has no error history either
    const st: Step = { f: new Float64Array(n), s2: new Float64Array(n), now: new Float64Array(n), next: new Float64Array(n) };
    for (let v = 0; v < n; v++) {
      st.f[v] = fc.forecast(v);
      st.s2[v] = fc.variance(v, mips[v], mips[v]);
      st.now[v] = tr.util[v * S + k] * mips[v];
      st.next[v] = tr.util[v * S + k + 1] * mips[v];
    }
    list.push(st);
  }
  return { n, list };
}

/** Overload share and × bound of packing every interval afresh to the margin z. */
function fill(n: number, list: readonly Step[], z: number, seed: number): { overload: number; ratio: number } {
  const g5 = G5.model;
  let rnd = seed;
  const next = (): number => (rnd = (rnd * 1103515245 + 12345) & 0x7fffffff) / 0x80000000;
  const idx = Array.from({ length: n }, (_, i) => i);
  let over = 0;
  let active = 0;
  let joules = 0;
  let work = 0;
  for (const st of list) {
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      [idx[i], idx[j]] = [idx[j], idx[i]];
    }
    let f = 0;
    let s2 = 0;
    let a = 0;
    let b = 0;
    let count = 0;
    const close = (): void => {
      if (count === 0) return;
      active++;
      over += intervalOverload(a, b, CAP);
      joules += (g5.watts(Math.min(1, a / CAP)) + g5.watts(Math.min(1, b / CAP))) / 2;
      work += (a + b) / 2;
      f = s2 = a = b = count = 0;
    };
    for (const v of idx) {
      if (count > 0 && (f + st.f[v] + z * Math.sqrt(s2 + st.s2[v]) > CAP || a + st.now[v] > CAP)) close();
      f += st.f[v];
      s2 += st.s2[v];
      a += st.now[v];
      b += st.next[v];
      count++;
    }
    close();
  }
  return { overload: over / active, ratio: joules / ((work * g5.maxWatts) / CAP) };
}

async function main(): Promise<void> {
  console.log(`machine: ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? '?'}, node ${process.version}`);
  console.log('\n| day | z: overload / × bound (mean of 5 shuffles) | × bound at 0.5 % |');
  console.log('|---|---|---|');
  for (const day of DAYS) {
    const { n, list } = await steps(day);
    const rows = ZS.map((z) => {
      let o = 0;
      let r = 0;
      for (let s = 1; s <= SHUFFLES; s++) {
        const x = fill(n, list, z, 7919 * s);
        o += x.overload / SHUFFLES;
        r += x.ratio / SHUFFLES;
      }
      return { z, o, r };
    });
    let at = NaN;
    for (let i = 1; i < rows.length; i++) {
      const [p, q] = [rows[i - 1], rows[i]];
      if (p.o >= TARGET && q.o <= TARGET) {
        const w = (Math.log(p.o) - Math.log(TARGET)) / (Math.log(p.o) - Math.log(q.o));
        at = p.r + w * (q.r - p.r);
        break;
      }
    }
    const cells = rows.map((x) => `${x.z.toFixed(1)}: ${(100 * x.o).toFixed(2)} % / ${x.r.toFixed(3)}`).join('; ');
    console.log(`| ${day} | ${cells} | ${at.toFixed(3)} |`);
  }
}

void main();
