import { writeFileSync } from 'node:fs';
import { SingleBar, Presets } from 'cli-progress';
import type { Command } from 'commander';
import { ValidationError } from '../domain';
import { formatCapacity, formatWhatIf, planCapacity, runWhatIf, type CapacityPlan, type WhatIfRow } from './capacity';
import { formatTable, toCsv, toHtml, toJson, type ReportMeta } from './report';
import { availableParallelism } from 'node:os';
import { estimateMemory, loadTraces, runJobs, type SimJob } from './run';
import { loadScenario, planetlabScenario, policyName, ScenarioError, type Scenario } from './scenario';
import { TraceError } from './traces';

export interface SimulateFlags {
  scenario?: string;
  planetlab?: string;
  cloudsimCompat?: boolean;
  policy?: string;
  json?: string;
  html?: string;
  series?: string;
  parallel?: string;
  progress?: boolean;
  timings?: boolean;
}

/** Overload targets the HTML report's energy–overload chart sweeps the wattplace policy over. */
export const SWEEP_TARGETS = [0.002, 0.005, 0.01, 0.02, 0.05] as const;

/** Input problems exit with 2; anything else with 1. */
export class UsageError extends Error {}

function scenarioFrom(f: SimulateFlags): Scenario {
  if (f.scenario && f.planetlab) throw new UsageError('give either --scenario or --planetlab, not both');
  if (f.scenario) {
    const s = loadScenario(f.scenario);
    const output = { ...s.output };
    if (f.json) output.json = f.json;
    if (f.html) output.html = f.html;
    if (f.series) output.series = f.series;
    return { ...s, output, cloudsimCompat: f.cloudsimCompat ? true : s.cloudsimCompat };
  }
  if (f.planetlab) {
    const pols = (f.policy ?? '').split(',').map((p) => p.trim()).filter(Boolean);
    const s = planetlabScenario(f.planetlab, pols, !!f.cloudsimCompat);
    return { ...s, output: { json: f.json, html: f.html, series: f.series } };
  }
  throw new UsageError('give --scenario FILE or --planetlab DIR (see wattplace simulate --help)');
}

/** Runs `wattplace simulate`; returns the process exit code. */
export async function simulateCommand(f: SimulateFlags, out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  let s: Scenario;
  let par: number | undefined;
  try {
    s = scenarioFrom(f);
    if (f.parallel !== undefined) {
      par = Number(f.parallel);
      if (!Number.isInteger(par) || par < 1 || par > 256) throw new UsageError(`--parallel must be a whole number 1–256, got ${JSON.stringify(f.parallel)}`);
    }
    const hosts = s.hostTypes.reduce((a, t) => a + t.count, 0);
    const threads = Math.max(1, Math.min(par ?? availableParallelism(), s.policies.length));
    // Limited by memory only: refuse before allocating what would not fit.
    const fleetOnly = estimateMemory(hosts, 0, 0, threads);
    if (!fleetOnly.fits) throw new UsageError(fleetOnly.message);
    // Read the traces once here: a malformed file fails before any work starts.
    const tStart = performance.now();
    const tr = await loadTraces(s);
    const tRead = performance.now();
    const need = estimateMemory(hosts, tr.ids.length, s.steps ?? tr.steps, threads);
    if (!need.fits) throw new UsageError(need.message);
    const meta: ReportMeta = {
      scenario: s.name,
      compat: s.cloudsimCompat,
      trace: 'planetlab' in s.trace ? s.trace.planetlab : s.trace.csv,
      hosts,
      workloads: tr.ids.length,
      stepSeconds: s.stepSeconds,
    };
    const jobs: SimJob[] = s.policies.map((p) => ({ scenario: s, policy: p }));
    const steps = s.steps ?? tr.steps;
    const showBar = f.progress !== false && (err as NodeJS.WriteStream).isTTY === true;
    const bar = showBar ? new SingleBar({ format: 'simulating [{bar}] {percentage}% | {value}/{total} steps | {policy}', stream: err as NodeJS.WriteStream, hideCursor: true }, Presets.shades_classic) : null;
    const done = new Array<number>(jobs.length).fill(0);
    bar?.start(jobs.length * steps, 0, { policy: '' });
    const results = await runJobs(jobs, {
      parallel: par,
      onProgress: (j, d) => {
        done[j] = d;
        bar?.update(
          done.reduce((a, b) => a + b, 0),
          { policy: policyName(s.policies[j]) },
        );
      },
    });
    bar?.stop();
    const tSim = performance.now();
    out.write(`${meta.scenario}: ${meta.workloads} workloads, ${meta.hosts} hosts, ${s.cloudsimCompat ? 'CloudSim-compatible mode' : 'real mode'}\n`);
    out.write(formatTable(results.map((r) => r.metrics)) + '\n');
    const sections: { title: string; html: string }[] = [];
    let plan: CapacityPlan | undefined;
    let whatIf: WhatIfRow[] | undefined;
    if (s.capacityPlan) {
      plan = await planCapacity(s, { parallel: par });
      const txt = formatCapacity(plan);
      out.write('\n' + txt + '\n');
      sections.push({ title: 'Capacity plan', html: `<pre id="capacity">${txt.replace(/[&<>]/g, (c) => `&#${c.charCodeAt(0)};`)}</pre>` });
    }
    if (s.whatIf.length > 0) {
      whatIf = await runWhatIf(s, { parallel: par });
      const txt = formatWhatIf(whatIf);
      out.write('\nWhat-if:\n' + txt + '\n');
      sections.push({ title: 'What-if', html: `<pre id="whatif">${txt.replace(/[&<>]/g, (c) => `&#${c.charCodeAt(0)};`)}</pre>` });
    }
    const extra: Record<string, unknown> = {};
    if (plan) extra.capacityPlan = plan;
    if (whatIf) extra.whatIf = whatIf.map((w) => ({ variant: w.variant, ...w.result.metrics }));
    if (s.output.json) writeFileSync(s.output.json, toJson(meta, results, extra));
    if (s.output.series) writeFileSync(s.output.series, toCsv(meta, results));
    if (s.output.html) {
      // the energy–overload chart: wattplace swept over a few overload targets
      const sweepJobs: SimJob[] = s.policies.some((p) => (typeof p === 'string' ? p : p.name) === 'wattplace')
        ? SWEEP_TARGETS.map((t) => ({ scenario: s, policy: { name: 'wattplace' as const, label: `wattplace@${+(t * 100).toPrecision(3)}%`, params: { overloadTarget: t } } }))
        : [];
      const sweep = sweepJobs.length ? await runJobs(sweepJobs, { parallel: par }) : [];
      writeFileSync(s.output.html, toHtml(meta, results, sections, sweep));
    }
    if (f.timings) {
      // start-up: from process start to the command (Node, module loading, scenario parsing)
      const sec = (ms: number): string => (ms / 1000).toFixed(2);
      err.write(`timings: start-up ${sec(tStart)} s, reading ${sec(tRead - tStart)} s, simulation ${sec(tSim - tRead)} s, report ${sec(performance.now() - tSim)} s\n`);
    }
    return 0;
  } catch (e) {
    if (e instanceof ScenarioError || e instanceof TraceError || e instanceof UsageError) {
      err.write(`wattplace simulate: ${e.message}\n`);
      return 2;
    }
    if (e instanceof ValidationError) {
      err.write(`wattplace simulate: ${e.field}: ${e.problem}\n`);
      return 2;
    }
    err.write(`wattplace simulate: ${(e as Error).stack ?? e}\n`);
    return 1;
  }
}

/** Adds the `simulate` subcommand. */
export function registerSimulate(program: Command): void {
  program
    .command('simulate')
    .description('replay workload traces through the decision code and compare policies offline')
    .option('--scenario <file>', 'YAML or JSON scenario (fleet, trace, policies, capacity plan, what-if)')
    .option('--planetlab <dir>', "PlanetLab trace folder: CloudSim's 800-host experiment")
    .option('--cloudsim-compat', "reproduce CloudSim 3.0.3's accounting (removals at zero demand, update times, migration SLA quirks)")
    .option('--policy <names>', 'comma-separated: none, spread, first-fit, thr-mmt, lr-mmt, wattplace')
    .option('--json <file>', 'write every metric per policy as JSON')
    .option('--html <file>', 'write a self-contained HTML report with charts')
    .option('--series <file>', 'write the per-step time series as CSV')
    .option('--parallel <n>', 'worker threads for independent runs (default: the cores)')
    .option('--no-progress', 'no progress bar')
    .option('--timings', 'print where the time went (start-up, trace reading, simulation, report) to stderr')
    .action(async (opts: SimulateFlags) => {
      const code = await simulateCommand(opts);
      process.exitCode = code;
    });
}
