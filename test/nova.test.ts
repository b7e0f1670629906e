/**
 * The OpenStack Nova plugin (deploy/openstack/wattplace_nova) inside Debian's
 * real python3-nova, against a running wattplace: runs the Python unittest
 * suite with /usr/bin/python3 and reports each Python test as a test here.
 * The Python tests spawn `node dist/main.js serve` on free loopback ports, so
 * this needs `npm run build` first (test/run.sh does it).
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const PYTHON = '/usr/bin/python3';
const DIR = path.resolve(__dirname, '../deploy/openstack');
const RUNNER = 'tests/run_json.py';
const SUITE_TIMEOUT_MS = 300_000;

interface PyResult {
  status: 'passed' | 'failed' | 'skipped';
  seconds: number;
  detail: string;
}

/** Test ids, listed synchronously at collection time (imports nova: ~2 s). */
function listTests(): { ids: string[]; error?: string } {
  const r = spawnSync(PYTHON, [RUNNER, '--list'], { cwd: DIR, encoding: 'utf8', timeout: 120_000 });
  if (r.error) return { ids: [], error: `${PYTHON}: ${r.error.message}` };
  try {
    const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as { tests?: string[]; error?: string };
    if (r.status !== 0 || !out.tests) return { ids: out.tests ?? [], error: out.error ?? `exit ${r.status}\n${r.stdout}\n${r.stderr}` };
    return { ids: out.tests };
  } catch {
    return { ids: [], error: `cannot list the Python tests (exit ${r.status}):\n${r.stdout}\n${r.stderr}` };
  }
}

const listed = listTests();

describe('OpenStack Nova plugin (Python, Debian python3-nova)', () => {
  let results: Record<string, PyResult> = {};
  let log = '';
  let exitCode: number | null = null;

  beforeAll(async () => {
    if (listed.error) return;
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wattplace-nova-'));
    const out = path.join(tmp, 'results.json');
    try {
      exitCode = await new Promise<number | null>((resolve, reject) => {
        const p = spawn(PYTHON, [RUNNER, out], { cwd: DIR, stdio: ['ignore', 'pipe', 'pipe'] });
        let text = '';
        p.stdout.on('data', (b: Buffer) => (text += b.toString()));
        p.stderr.on('data', (b: Buffer) => (text += b.toString()));
        const timer = setTimeout(() => p.kill('SIGKILL'), SUITE_TIMEOUT_MS - 5_000);
        p.on('error', reject);
        p.on('close', (code) => {
          clearTimeout(timer);
          log = text;
          resolve(code);
        });
      });
      if (fs.existsSync(out)) results = (JSON.parse(fs.readFileSync(out, 'utf8')) as { tests: Record<string, PyResult> }).tests;
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }, SUITE_TIMEOUT_MS);

  it('the Python suite loads (python3-nova, grpcio, protobuf importable)', () => {
    expect(listed.error ?? '', listed.error).toBe('');
    expect(listed.ids.length).toBeGreaterThan(0);
  });

  for (const id of listed.ids) {
    // tests.test_nova_plugin.FilterTest.test_x -> FilterTest.test_x
    const name = id.split('.').slice(-2).join('.');
    it(name, () => {
      const r = results[id];
      if (!r) throw new Error(`no result for ${id} (exit ${exitCode}):\n${log}`);
      if (r.status === 'failed') throw new Error(`${id} failed:\n${r.detail}`);
      expect(r.status).toBe('passed');
    });
  }

  it('the Python suite exits 0 and has no errors outside tests', () => {
    // setUpModule/tearDownModule errors are reported under ids that were not listed
    const extra = Object.entries(results).filter(([id, r]) => !listed.ids.includes(id) && r.status === 'failed');
    expect(extra.map(([id, r]) => `${id}: ${r.detail}`)).toEqual([]);
    expect(exitCode, log).toBe(0);
  });
});
