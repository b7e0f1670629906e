import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { SWEEP_TARGETS, simulateCommand } from '../src/sim/cli';
import { svgChart, svgTradeoff, type TradeoffPoint } from '../src/sim/report';

const run = promisify(execFile);
const fx = (f: string): string => join(__dirname, 'fixtures', 'sim', f);
const tmp = mkdtempSync(join(tmpdir(), 'wp-sim-report-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function sink(): { stream: Writable; text: () => string } {
  let buf = '';
  const stream = new Writable({
    write(chunk, _enc, cb) {
      buf += String(chunk);
      cb();
    },
  });
  return { stream, text: () => buf };
}

const CHROMIUM = '/usr/bin/chromium';

describe('wattplace simulate: outputs', () => {
  it('mini scenario: table, JSON with every metric, CSV series, capacity plan, what-if, HTML rendered by Chromium', async () => {
    const json = join(tmp, 'mini.json');
    const html = join(tmp, 'mini.html');
    const csv = join(tmp, 'mini.csv');
    const out = sink();
    const err = sink();
    const code = await simulateCommand({ scenario: fx('mini.yaml'), json, html, series: csv, progress: false }, out.stream, err.stream);
    expect(err.text()).toBe('');
    expect(code).toBe(0);
    const policies = ['none', 'spread', 'first-fit', 'thr-mmt', 'lr-mmt', 'wattplace'];
    for (const p of policies) expect(out.text()).toMatch(new RegExp(`^${p}\\s`, 'm'));
    expect(out.text()).toContain('Capacity plan');
    expect(out.text()).toContain('all-g5');

    const doc = JSON.parse(readFileSync(json, 'utf8'));
    expect(doc.results.map((r: { policy: string }) => r.policy)).toEqual(policies);
    for (const r of doc.results) {
      for (const k of ['policy', 'energyKwh', 'lowerBoundKwh', 'slatah', 'pdm', 'slav', 'migrations', 'wallSeconds', 'esv', 'overloadFraction', 'activeHostsMean', 'activeHostsMax', 'hostShutdowns', 'ratio']) {
        expect(r).toHaveProperty(k);
      }
      expect(r.slatah).toBeGreaterThanOrEqual(0);
      expect(r.slatah).toBeLessThanOrEqual(1);
    }
    // 4 VMs of the mini trace, 3 samples; vm-b is all zeros. none: 4 hosts at full power
    // (2 × 117 + 2 × 135 W) for 3 × 300 s = 504 W × 900 s = 0.126 kWh.
    expect(doc.results[0].energyKwh).toBeCloseTo((504 * 900) / 3.6e6, 9);
    expect(doc.capacityPlan.choice).not.toBeNull();
    expect(doc.whatIf.length).toBe(2 * policies.length);

    const lines = readFileSync(csv, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('policy,step,time_s,watts,active_hosts,overloaded_hosts,migrations,demand_mips');
    expect(lines.length).toBe(1 + policies.length * 3);

    // The report renders in a real browser, with its three charts and one line per policy each.
    expect(existsSync(CHROMIUM)).toBe(true);
    const profile = mkdtempSync(join(tmp, 'chromium-'));
    const { stdout: dom } = await run(
      CHROMIUM,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        `--user-data-dir=${profile}`,
        '--dump-dom',
        `file://${html}`,
      ],
      { timeout: 60_000, maxBuffer: 32 * 1024 * 1024 },
    );
    for (const id of ['chart-power', 'chart-active', 'chart-overload']) {
      const m = new RegExp(`<svg[^>]*id="${id}"[\\s\\S]*?</svg>`).exec(dom);
      expect(m, id).not.toBeNull();
      const lines = (m as RegExpExecArray)[0].match(/<polyline[^>]*class="series"/g) ?? [];
      expect(lines.length).toBe(policies.length);
    }
    expect(dom).toContain('<table id="metrics">');
    // the table leads with what the energy cost in service
    expect(/<th>([^<]*)<\/th><th>([^<]*)<\/th><th>([^<]*)<\/th><th>([^<]*)<\/th>/.exec(dom)?.slice(1)).toEqual(['policy', 'overload', 'unmet', 'energy kWh']);
    // energy–overload chart: one point per policy plus the wattplace target sweep, joined by a line
    const tr = /<svg[^>]*id="chart-tradeoff"[\s\S]*?<\/svg>/.exec(dom);
    expect(tr).not.toBeNull();
    const pts = (tr as RegExpExecArray)[0].match(/<circle[^>]*class="point"/g) ?? [];
    expect(pts.length).toBe(policies.length + SWEEP_TARGETS.length);
    expect((tr as RegExpExecArray)[0]).toContain('class="sweep"');
    expect(dom).not.toMatch(/<script/);
  }, 120_000);
});

describe('wattplace simulate: parallel runs', () => {
  it('worker threads (built CLI, --parallel 2) give the same figures as one thread', async () => {
    const main = join(__dirname, '..', 'dist', 'main.js');
    expect(existsSync(main)).toBe(true);
    const a = join(tmp, 'par.json');
    const b = join(tmp, 'seq.json');
    const base = [main, 'simulate', '--scenario', fx('mini.yaml'), '--no-progress'];
    const r1 = spawnSync(process.execPath, [...base, '--parallel', '2', '--json', a], { encoding: 'utf8' });
    expect(r1.stderr).toBe('');
    expect(r1.status).toBe(0);
    const r2 = spawnSync(process.execPath, [...base, '--parallel', '1', '--json', b], { encoding: 'utf8' });
    expect(r2.status).toBe(0);
    const strip = (f: string) =>
      JSON.parse(readFileSync(f, 'utf8')).results.map((m: Record<string, unknown>) => ({ ...m, wallSeconds: 0 }));
    expect(strip(a)).toEqual(strip(b));
  }, 120_000);
});

describe('wattplace simulate: invalid input', () => {
  it('names every bad field of a scenario and exits with 2', async () => {
    const err = sink();
    const code = await simulateCommand({ scenario: fx('bad-scenario.yaml'), progress: false }, sink().stream, err.stream);
    expect(code).toBe(2);
    expect(err.text()).toContain('hostTypes[0].count');
    expect(err.text()).toContain('policies[1]');
  });
  it('unknown catalog entry, unknown policy, missing input, both inputs: exit 2 with the reason', async () => {
    const cases: [Parameters<typeof simulateCommand>[0], RegExp][] = [
      [{ planetlab: fx('planetlab-mini'), policy: 'wattplace,magic' }, /unknown policy "magic"/],
      [{ planetlab: fx('planetlab-mini'), policy: '' }, /at least one policy/],
      [{}, /give --scenario FILE or --planetlab DIR/],
      [{ scenario: fx('mini.yaml'), planetlab: fx('planetlab-mini') }, /either --scenario or --planetlab/],
      [{ scenario: fx('does-not-exist.yaml') }, /cannot read/],
      // the mini folder has 3 samples per file, the shortcut expects a full day
      [{ planetlab: fx('planetlab-mini'), policy: 'none' }, /only 3 samples: expected exactly 288 lines/],
      [{ scenario: fx('mini.yaml'), parallel: 'lots' }, /--parallel must be a whole number/],
      [{ scenario: fx('bad-catalog.yaml') }, /hostTypes\[0\]\.power\.catalog: unknown host type "hp-ml110-g9"/],
    ];
    for (const [flags, re] of cases) {
      const err = sink();
      expect(await simulateCommand({ ...flags, progress: false }, sink().stream, err.stream), String(re)).toBe(2);
      expect(err.text()).toMatch(re);
    }
  });
  it('the built CLI exits non-zero on an invalid scenario', () => {
    const main = join(__dirname, '..', 'dist', 'main.js');
    expect(existsSync(main)).toBe(true);
    const r = spawnSync(process.execPath, [main, 'simulate', '--scenario', fx('bad-scenario.yaml'), '--no-progress'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('hostTypes[0].count');
  });
});

describe('time-series charts are not flattened by the first steps', () => {
  it('scales to the values after skipSeconds and notes the clipped start', () => {
    // 12 steps of 300 s: 800 hosts for the first hour, then 40–50
    const v = [800, 600, 400, 200, 100, 60, 60, 60, 60, 60, 60, 60, 40, 45, 50, 42];
    const svg = svgChart('c', 'Active hosts', 'hosts', [{ name: 'p', values: v }], 300, 3600);
    expect(svg).toContain('clipped: the first 60 min reach 800 hosts');
    // axis top: 50 after the first hour → ceil(50 / 10) × 10 = 50
    expect(svg).toMatch(/>50<\/text>/);
    expect(svgChart('c', 'flat', 'W', [{ name: 'p', values: [5, 5] }], 300, 3600)).not.toContain('clipped');
  });
  it('log axis: 1-2-5 ticks from below the smallest value', () => {
    const svg = svgChart('c', 'Power', 'W', [{ name: 'none', values: [100_000, 100_000] }, { name: 'w', values: [4_500, 5_000] }], 300, 0, true);
    for (const t of ['2000', '5000', '10000', '20000', '50000', '100000']) expect(svg).toContain(`>${t}</text>`);
  });
});

describe('energy–overload chart: the scale follows the curve', () => {
  // cy of a point: the chart's top edge is y = 28, the bottom of the plot 340 − 40 = 300
  const cy = (svg: string, name: string): number => Number(new RegExp(`data-policy="${name}" cx="[^"]+" cy="([^"]+)"`).exec(svg)?.[1]);
  const pt = (name: string, overload: number, ratio: number, sweep = false): TradeoffPoint => ({ name, overload, ratio, sweep, color: 0 });

  it.each([
    // points, the one above the scale (or none), why
    // best 1.138 ×: the scale ends at 3 × 1.138 × 1.05 = 3.58 ×; none (every host on, 26.7 ×) sits on the top edge
    [[pt('none', 0.00137, 26.683), pt('lr-mmt', 0.02, 2.028), pt('wattplace', 0.00505, 1.303), pt('wattplace@5%', 0.0499, 1.138, true)], 'none'],
    // 2.0 × is within 3 × 1.3: the scale ends at 2.0 × 1.05 = 2.1 ×, nothing is clipped
    [[pt('thr-mmt', 0.00375, 2.0), pt('wattplace', 0.00505, 1.3)], null],
  ] as const)('%#: clipped %s', (points, clipped) => {
    const svg = svgTradeoff(points);
    for (const p of points) {
      const y = cy(svg, p.name);
      expect(y, p.name).toBeGreaterThanOrEqual(28);
      expect(y, p.name).toBeLessThanOrEqual(300);
      if (p.name === clipped) {
        expect(y).toBe(28);
        expect(svg).toContain(`${p.name} ${p.ratio.toFixed(1)}× (above the scale)`);
      } else expect(y, p.name).toBeGreaterThan(28);
    }
    if (clipped === null) expect(svg).not.toContain('above the scale');
    // the wattplace point keeps room below it: 1.3 × sits in the lower 80 % of the plot, not on the floor
    expect(cy(svg, 'wattplace')).toBeGreaterThan(28 + 0.2 * 272);
    expect(cy(svg, 'wattplace')).toBeLessThan(300 - 0.1 * 272);
  });
});
