/**
 * Batch optimizer (issue 3): objective, gap to the best known lower bound and
 * time for the heuristic, javascript-lp-solver alone (whole MILP in its worker,
 * hard deadline) and the combined optimizer, on the named mixed-fleet fixtures
 * (src/solver/fixtures.ts): batches of 5×10, 20×40, 50×100, 100×200
 * (hosts × workloads, all hosts in STANDBY) and a consolidation of 200 hosts
 * (400 running workloads spread round-robin, no migration limit).
 *   npm run bench:solver
 * BENCH_SOLVER_MILP_MS: budget of the MILP-alone runs (default 5000).
 */
import { execSync } from 'node:child_process';
import * as os from 'node:os';
import { batchScenario, consolidationScenario } from '../src/solver/fixtures';
import { heuristic, objectiveOf } from '../src/solver/heuristic';
import { optimize } from '../src/solver/optimize';
import { prepare, type Problem } from '../src/solver/problem';
import { verify } from '../src/solver/verify';

const MILP_MS = Number(process.env.BENCH_SOLVER_MILP_MS ?? 5000);

interface Row {
  instance: string;
  method: string;
  objective: number;
  bound: number;
  ms: number;
  note: string;
}

async function bench(name: string, p: Problem, budgetMs: number): Promise<Row[]> {
  const rows: Row[] = [];
  const pp = prepare(p);
  // heuristic alone (construction + local search, no solver)
  let t = performance.now();
  const a = heuristic(pp, Date.now() + budgetMs);
  const hMs = performance.now() - t;
  const hv = verify(p, a);
  rows.push({ instance: name, method: 'heuristic', objective: objectiveOf(pp, a), bound: NaN, ms: hMs, note: hv.length ? `INFEASIBLE: ${hv[0].message}` : 'verified' });
  // javascript-lp-solver alone: the whole MILP, no incumbent, hard deadline
  t = performance.now();
  const why: string[] = [];
  const m = await optimize(p, {
    budgetMs: MILP_MS,
    milpOnly: true,
    observer: { fallback: (r) => why.push(r === 'verify' ? 'answer rejected by the verifier' : r === 'timeout' ? 'killed at the deadline' : r) },
  });
  const mMs = performance.now() - t;
  const placed = p.workloads.length - m.unplaced.length;
  rows.push({
    instance: name,
    method: 'javascript-lp-solver alone',
    objective: placed === p.workloads.length ? m.stats.objective : NaN,
    bound: m.stats.proven ? m.stats.bound : NaN,
    ms: mMs,
    note:
      placed === p.workloads.length
        ? `verified${m.stats.proven ? ', proven optimal' : ''}`
        : `no verified answer in ${MILP_MS} ms (${why.join(', ') || 'reported infeasible'})`,
  });
  // combined optimizer
  t = performance.now();
  const c = await optimize(p, { budgetMs });
  const cMs = performance.now() - t;
  const cv = verify(p, c.assignment, { mayBeUnplaced: new Set(c.unplaced) });
  rows.push({
    instance: name,
    method: `combined (budget ${budgetMs} ms)`,
    objective: c.stats.objective,
    bound: c.stats.bound,
    ms: cMs,
    note: `${cv.length ? 'INFEASIBLE' : 'verified'}; answer from ${c.stats.method}; ${c.stats.accepted}/${c.stats.solves} exact solves used${c.unplaced.length ? `; ${c.unplaced.length} unplaced` : ''}`,
  });
  return rows;
}

async function main() {
  const cases: [string, Problem, number][] = [
    ['batch 5×10', batchScenario(5, 10), 1000],
    ['batch 20×40', batchScenario(20, 40), 1000],
    ['batch 50×100', batchScenario(50, 100), 1000],
    ['batch 100×200', batchScenario(100, 200), 5000],
    ['consolidation 200 hosts × 400', consolidationScenario(200, 400), 5000],
  ];
  const all: Row[] = [];
  for (const [name, p, budget] of cases) {
    const rows = await bench(name, p, budget);
    // best known bound: the highest proven bound any run produced
    const best = Math.max(...rows.map((r) => (Number.isFinite(r.bound) ? r.bound : -Infinity)));
    for (const r of rows) r.bound = best;
    all.push(...rows);
    process.stderr.write(`${name} done\n`);
  }
  let cpu = '';
  try {
    cpu = execSync("lscpu | grep 'Model name'", { encoding: 'utf8' }).trim().replace(/\s+/g, ' ');
  } catch {
    cpu = os.cpus()[0]?.model ?? '?';
  }
  console.log(`node ${process.version}, ${os.cpus().length} cores, ${cpu}`);
  console.log('');
  console.log('| instance | method | objective (W) | best known bound (W) | gap to bound | time (ms) | note |');
  console.log('|---|---|---:|---:|---:|---:|---|');
  for (const r of all) {
    const gap = Number.isFinite(r.objective) && r.bound > 0 ? `${(((r.objective - r.bound) / r.bound) * 100).toFixed(2)} %` : '—';
    const obj = Number.isFinite(r.objective) ? r.objective.toFixed(1) : '—';
    console.log(`| ${r.instance} | ${r.method} | ${obj} | ${r.bound.toFixed(1)} | ${gap} | ${r.ms.toFixed(0)} | ${r.note} |`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
