/**
 * The simulator as a user runs it (`node dist/main.js simulate`) at fleet
 * sizes past the RPC batch limit, and on trace folders made of symlinks.
 * Wall time and memory at scale are measured by `npm run bench:sim-scale`,
 * not here.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '..');
const MAIN = path.join(ROOT, 'dist/main.js');
const DAY = path.resolve(ROOT, '../shared/traces/planetlab/20110303');
const tmp = fs.mkdtempSync(path.join(tmpdir(), 'wp-sim-scale-'));

beforeAll(() => {
  // test/run.sh builds before the suite; when run alone, build if dist/ is missing.
  if (!fs.existsSync(MAIN)) execFileSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: 'pipe' });
}, 180_000);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function simulate(scenario: object): { code: number | null; stdout: string; stderr: string } {
  const f = path.join(tmp, `s-${Math.random().toString(36).slice(2)}.json`);
  fs.writeFileSync(f, JSON.stringify(scenario));
  const r = spawnSync(process.execPath, [MAIN, 'simulate', '--scenario', f, '--no-progress', '--parallel', '1'], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const g4 = (count: number) => ({ name: `g4-${count}`, count, cores: 2, coreMips: 1860, ramMb: 4096, power: { catalog: 'hp-ml110-g4' } });

describe('simulate at fleet sizes past the RPC batch limit', () => {
  it('runs 80,000 hosts (the gRPC limit of 50,000 per call does not apply offline)', () => {
    // 80,000 hosts, the first 40 VMs of a PlanetLab day, 6 five-minute steps.
    const r = simulate({ name: 'eighty-thousand', trace: { planetlab: DAY, limit: 40 }, steps: 6, hostTypes: [g4(80_000)], policies: ['wattplace'] });
    expect(r.stderr).not.toMatch(/at most \d+ hosts per call/);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('eighty-thousand: 40 workloads, 80000 hosts');
    expect(r.stdout).toMatch(/^wattplace\s+\d/m);
  });

  it('refuses, before allocating, a fleet that would not fit in memory, saying how much it needs', () => {
    // 30 types × 1,000,000 hosts = 30 M hosts × 4 KiB ≈ 114 GiB: more than this machine has.
    const types = Array.from({ length: 30 }, (_, i) => ({ ...g4(1_000_000), name: `g4-${i}` }));
    const r = simulate({ name: 'too-big', trace: { planetlab: DAY, limit: 1 }, steps: 2, hostTypes: types, policies: ['none'] });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/wattplace simulate: 30000000 hosts and 0 workloads × 0 steps need about \d+ GiB, more than the [\d.]+ GiB this machine can give a simulation/);
    expect(r.stderr).toContain('simulate fewer hosts or workloads');
  });
});

describe('trace folders of symlinks', () => {
  it('follows symlinks to trace files and skips a dangling one with a warning', () => {
    const dir = path.join(tmp, 'links');
    fs.mkdirSync(dir);
    const files = fs.readdirSync(DAY).sort().slice(0, 5);
    for (const f of files) fs.symlinkSync(path.join(DAY, f), path.join(dir, `copy-${f}`));
    fs.symlinkSync(path.join(tmp, 'does-not-exist'), path.join(dir, 'dangling'));
    const r = simulate({ name: 'links', trace: { planetlab: dir }, steps: 4, hostTypes: [g4(10)], policies: ['none'] });
    expect(r.code).toBe(0);
    // five linked files read; the dangling link is named in a warning, not an error
    expect(r.stdout).toContain('links: 5 workloads, 10 hosts');
    expect(r.stderr).toContain(`${path.join(dir, 'dangling')}: skipped, the symlink's target cannot be read (ENOENT)`);
  });

  it('a folder whose only entries are dangling links still says there are no trace files', () => {
    const dir = path.join(tmp, 'only-dangling');
    fs.mkdirSync(dir);
    fs.symlinkSync(path.join(tmp, 'gone'), path.join(dir, 'a'));
    const r = simulate({ name: 'x', trace: { planetlab: dir }, hostTypes: [g4(1)], policies: ['none'] });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no trace files in the folder');
  });
});
