/**
 * Simulator at scale: 80,000 hosts and 117,440 PlanetLab VMs for one day
 * (288 five-minute steps) with the wattplace policy, `wattplace simulate` end to
 * end in a fresh process. The VM folder is the four PlanetLab days in
 * ../shared/traces/planetlab linked over and over (symlinks) until it holds
 * 117,440 files, the size of ten days' files each ten times.
 *   npm run bench:sim-scale
 * BENCH_SCALE_HOSTS / BENCH_SCALE_VMS change the sizes.
 * Prints wall time, its split (start-up, reading, simulation, report, from
 * `--timings`), peak RSS (GNU time) and the load average when it ran.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..', '..');
const MAIN = join(ROOT, 'dist', 'main.js');
const TRACES = process.env.BENCH_SIM_TRACES ?? join(ROOT, '..', 'shared', 'traces', 'planetlab');
const HOSTS = Number(process.env.BENCH_SCALE_HOSTS ?? 80_000);
const VMS = Number(process.env.BENCH_SCALE_VMS ?? 117_440);

const tmp = mkdtempSync(join(os.tmpdir(), 'wp-bench-scale-'));
try {
  const dir = join(tmp, 'vms');
  mkdirSync(dir);
  const sources: string[] = [];
  for (const day of readdirSync(TRACES).sort()) for (const f of readdirSync(join(TRACES, day)).sort()) sources.push(join(TRACES, day, f));
  for (let i = 0; i < VMS; i++) symlinkSync(sources[i % sources.length], join(dir, `vm${String(i).padStart(6, '0')}`));
  // CloudSim's two PlanetLab host types, half each.
  const half = Math.floor(HOSTS / 2);
  const scenario = {
    name: `scale ${HOSTS} hosts / ${VMS} VMs`,
    trace: { planetlab: dir },
    hostTypes: [
      { name: 'hp-ml110-g4', count: half, coreMips: 1860, cores: 2, ramMb: 4096, power: { catalog: 'hp-ml110-g4' } },
      { name: 'hp-ml110-g5', count: HOSTS - half, coreMips: 2660, cores: 2, ramMb: 4096, power: { catalog: 'hp-ml110-g5' } },
    ],
    policies: ['wattplace'],
  };
  const file = join(tmp, 'scenario.json');
  writeFileSync(file, JSON.stringify(scenario));
  const load = os.loadavg()[0];
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', 'MAXRSS %M SYS %S USER %U', process.execPath, MAIN, 'simulate', '--scenario', file, '--parallel', '1', '--no-progress', '--timings'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`simulate failed (${r.status}): ${r.stderr}`);
  const rss = /MAXRSS (\d+) SYS ([\d.]+) USER ([\d.]+)/.exec(r.stderr);
  const t = /timings: (.*)/.exec(r.stderr);
  process.stdout.write(r.stdout);
  console.log(`\n${HOSTS} hosts / ${VMS} VMs, 288 steps: wall ${wall.toFixed(1)} s (${t ? t[1] : 'no timings'}); ` +
    `peak RSS ${rss ? (Number(rss[1]) / 1024).toFixed(0) : '?'} MB; CPU user ${rss?.[3]} s, kernel ${rss?.[2]} s; ` +
    `load average before ${load.toFixed(2)}; ${os.cpus().length} cores, Node ${process.version}`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
