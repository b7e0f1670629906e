/**
 * Simulator (issue 7): wall time and peak memory of a PlanetLab day with the
 * wattplace policy, and every policy's figures against CloudSim's published
 * ones. Each run is a fresh process (`wattplace simulate` end to end: reading
 * the 1052 trace files, the simulation, the report), so timings include start-up
 * and peak RSS is the run's own.
 *   npm run bench:sim
 * BENCH_SIM_REPS: timed repetitions of the wattplace day (default 5).
 */
import { execSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..', '..');
const MAIN = join(ROOT, 'dist', 'main.js');
const TRACES = process.env.BENCH_SIM_TRACES ?? '/work/shared/traces/planetlab';
const REPS = Number(process.env.BENCH_SIM_REPS ?? 5);
const tmp = mkdtempSync(join(os.tmpdir(), 'wp-bench-sim-'));

interface Run {
  wall: number;
  rssMb: number;
  results: { policy: string; energyKwh: number; lowerBoundKwh: number; ratio: number; slatah: number; overloadFraction: number; pdm: number; slav: number; migrations: number; wallSeconds: number }[];
}

/** One `wattplace simulate` in a fresh process; peak RSS from GNU time when present, else the child's own report. */
function simulate(day: string, policies: string, compat: boolean): Run {
  const json = join(tmp, `${day}-${policies}-${compat}.json`);
  const args = [MAIN, 'simulate', '--planetlab', join(TRACES, day), '--policy', policies, '--json', json, '--parallel', '1', '--no-progress'];
  if (compat) args.push('--cloudsim-compat');
  const t0 = process.hrtime.bigint();
  const hasTime = spawnSync('/usr/bin/time', ['--version']).status === 0;
  const r = hasTime
    ? spawnSync('/usr/bin/time', ['-f', 'MAXRSS %M', process.execPath, ...args], { encoding: 'utf8' })
    : spawnSync(process.execPath, ['--max-old-space-size=300', ...args], { encoding: 'utf8' });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`simulate failed (${r.status}): ${r.stderr}`);
  const m = /MAXRSS (\d+)/.exec(r.stderr ?? '');
  const rssMb = m ? Number(m[1]) / 1024 : NaN;
  const doc = JSON.parse(readFileSync(json, 'utf8'));
  return { wall, rssMb, results: doc.results };
}

const median = (a: number[]): number => {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)];
};

function main(): void {
  const cpu = execSync("lscpu | grep 'Model name' || true").toString().trim().replace(/\s+/g, ' ');
  console.log(`machine: ${os.cpus().length} cores, ${cpu}, node ${process.version}, load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);

  console.log('\n### A PlanetLab day with the wattplace policy (fresh process, end to end)\n');
  console.log('| day | mode | wall s median (min–max) | peak RSS MB max | simulation alone s (median) |');
  console.log('|---|---|---|---|---|');
  for (const day of ['20110303', '20110306']) {
    for (const compat of [true, false]) {
      const runs: Run[] = [];
      for (let i = 0; i < REPS; i++) runs.push(simulate(day, 'wattplace', compat));
      const walls = runs.map((r) => r.wall);
      console.log(
        `| ${day} | ${compat ? 'CloudSim-compatible' : 'all VMs kept'} | ${median(walls).toFixed(2)} (${Math.min(...walls).toFixed(2)}–${Math.max(...walls).toFixed(2)}) | ${Math.max(...runs.map((r) => r.rssMb)).toFixed(0)} | ${median(runs.map((r) => r.results[0].wallSeconds)).toFixed(2)} |`,
      );
    }
  }

  const published: Record<string, Record<string, [number, number, number]>> = {
    // energy kWh, migrations, SLAV (fraction) — CloudSim 3.0.3 on the sorted file list (issue 7)
    '20110303': { none: [2410.8, 0, 0], 'thr-mmt': [192.6, 26711, 0.0000318], 'lr-mmt': [163.5, 27859, 0.0000464] },
  };
  for (const compat of [true, false]) {
    console.log(`\n### Every policy, ${compat ? 'CloudSim-compatible mode' : 'all VMs kept (real overload)'}\n`);
    console.log('| day | policy | energy kWh | published kWh | Δ | × bound | migrations | published | SLATAH | real overload | PDM | SLAV | published SLAV | sim s |');
    console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (const day of ['20110303', '20110306']) {
      const r = simulate(day, 'none,spread,first-fit,thr-mmt,lr-mmt,wattplace', compat);
      for (const m of r.results) {
        const p = compat ? published[day]?.[m.policy] : undefined;
        const pct = (x: number, d = 3): string => `${(x * 100).toFixed(d)} %`;
        console.log(
          `| ${day} | ${m.policy} | ${m.energyKwh.toFixed(1)} | ${p ? p[0] : '–'} | ${p ? pct(m.energyKwh / p[0] - 1, 1) : '–'} | ${m.ratio.toFixed(3)} | ${m.migrations} | ${p ? p[1] : '–'} | ${pct(m.slatah)} | ${pct(m.overloadFraction)} | ${pct(m.pdm, 4)} | ${pct(m.slav, 5)} | ${p ? pct(p[2], 5) : '–'} | ${m.wallSeconds.toFixed(2)} |`,
        );
      }
    }
  }
  rmSync(tmp, { recursive: true, force: true });
}

main();
