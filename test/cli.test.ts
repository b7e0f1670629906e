/**
 * The built command line, as a user runs it: `node dist/main.js serve`.
 * Invalid configuration stops start-up with exit code 2 and a message naming
 * the key; SIGTERM shuts a serving process down gracefully (exit 0).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as pb from '../src/gen/wattplace/v1/wattplace';
import { pbHost, workload } from './fixtures/clusters';
import { call } from './helpers/grpc';
import { freePort } from './setup/ports';

const ROOT = path.resolve(__dirname, '..');
const MAIN = path.join(ROOT, 'dist/main.js');

/** Newest modification time of the non-test sources under src/. */
function newestSource(dir: string): number {
  let t = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newestSource(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) t = Math.max(t, fs.statSync(p).mtimeMs);
  }
  return t;
}

beforeAll(() => {
  // test/run.sh builds before the suite; when run alone, build here if dist/ is missing or older than src/.
  if (!fs.existsSync(MAIN) || fs.statSync(MAIN).mtimeMs < newestSource(path.join(ROOT, 'src'))) {
    try {
      execFileSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: 'pipe' });
    } catch (e) {
      const out = e as { stdout?: Buffer; stderr?: Buffer };
      throw new Error(`npm run build failed:\n${out.stdout?.toString() ?? ''}${out.stderr?.toString() ?? ''}`);
    }
  }
}, 180_000);

const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; done: Promise<Run>; out: () => string } {
  const child = spawn(process.execPath, [MAIN, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: os.tmpdir(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<Run>((resolve) => child.on('exit', (code, signal) => setImmediate(() => resolve({ code, signal, stdout, stderr }))));
  return { child, done, out: () => stdout + stderr };
}

async function waitReady(httpAddr: string, run: { done: Promise<Run>; out: () => string }): Promise<void> {
  let exited = false;
  void run.done.then(() => (exited = true));
  for (let i = 0; i < 300 && !exited; i++) {
    try {
      const r = await fetch(`http://${httpAddr}/readyz`);
      if (r.status === 200) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`server did not become ready${exited ? ' (it exited)' : ''}:\n${run.out()}`);
}

describe('wattplace serve: invalid configuration stops start-up', () => {
  it.each([
    ['a flag out of range', ['serve', '--cpu-ceiling', '2'], {}, /^wattplace: invalid configuration: cpuCeiling: /],
    ['an environment value that is not a number', ['serve'], { WATTPLACE_STALE_AFTER_MS: 'soon' }, /^wattplace: invalid configuration: staleAfterMs: /],
    ['an address without a port', ['serve', '--grpc', 'localhost'], {}, /^wattplace: invalid configuration: grpc: host:port/],
  ] as [string, string[], NodeJS.ProcessEnv, RegExp][])('%s → exit code 2 and a message naming the key', async (_n, args, env, message) => {
    const r = await cli(args, env).done;
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
  });

  it('an unknown key in the config file → exit code 2 naming the key', async () => {
    const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'wattplace-cli-')), 'c.yaml');
    fs.writeFileSync(f, 'cpuCeilng: 0.5\n');
    const r = await cli(['serve', '--config', f]).done;
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('cpuCeilng');
  });
});

describe('wattplace serve: invalid applier configuration stops start-up', () => {
  const configFile = (text: string) => {
    const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'wattplace-cli-')), 'c.yaml');
    fs.writeFileSync(f, text);
    return f;
  };

  it.each([
    ['--applier-mode bogus', () => ['serve', '--applier-mode', 'bogus'], {}, /^wattplace: invalid configuration: applier\.mode: /],
    ['WATTPLACE_APPLIER_MODE=bogus', () => ['serve'], { WATTPLACE_APPLIER_MODE: 'bogus' }, /^wattplace: invalid configuration: applier\.mode: /],
    ['--applier-mode on without applier.nova', () => ['serve', '--applier-mode', 'on'], {}, /^wattplace: invalid configuration: applier\.nova: required/],
    ['an ipmi host without its settings', () => ['serve', '--config', configFile('applier:\n  power:\n    host1: {driver: ipmi}\n')], {}, /^wattplace: invalid configuration: applier\.power\.host1\.address: /],
    ['an ironic host without applier.ironic', () => ['serve', '--config', configFile('applier:\n  power:\n    host1: {driver: ironic}\n')], {}, /^wattplace: invalid configuration: applier\.ironic: required/],
    ['an unknown key in the applier section', () => ['serve', '--config', configFile('applier:\n  headrom: 0.2\n')], {}, /^wattplace: invalid configuration: applier\.headrom: unknown key/],
  ] as [string, () => string[], NodeJS.ProcessEnv, RegExp][])('%s → exit code 2 and a message naming the key', async (_n, args, env, message) => {
    const r = await cli(args(), env).done;
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('wattplace serve: SIGTERM', () => {
  it('serves gRPC and HTTP on the given ports, then shuts down gracefully with exit code 0', async () => {
    const [gp, hp] = [await freePort(), await freePort()];
    const grpcAddr = `127.0.0.1:${gp}`;
    const httpAddr = `127.0.0.1:${hp}`;
    // a long grace period: an idle client that stays connected must not hold the exit for it
    const run = cli(['serve', '--grpc', grpcAddr, '--http', httpAddr, '--log-level', 'info', '--shutdown-grace-ms', '45000']);
    await waitReady(httpAddr, run);

    const creds = grpc.credentials.createInsecure();
    const tel = new pb.TelemetryServiceClient(grpcAddr, creds);
    const pla = new pb.PlacementServiceClient(grpcAddr, creds);
    let r: Run;
    try {
      const reg = await call(tel, tel.registerHosts, pb.RegisterHostsRequest.fromPartial({ hosts: [pbHost('cli-a', { cpu: 8000, memGiB: 32 })] }));
      expect(reg.registered).toBe(1);
      const placed = await call(pla, pla.place, pb.PlaceRequest.fromPartial({ workload: workload('cli-w', 1000) }));
      expect(placed.hostId).toBe('cli-a');

      const t0 = Date.now();
      expect(run.child.kill('SIGTERM')).toBe(true);
      r = await run.done; // clients still connected (idle)
      expect(Date.now() - t0).toBeLessThan(30_000);
    } finally {
      tel.close();
      pla.close();
    }
    expect({ code: r.code, signal: r.signal }).toEqual({ code: 0, signal: null });
    expect(r.stdout).toContain('"msg":"shutting down"');
    expect(r.stdout).toContain('"signal":"SIGTERM"');
    expect(r.stdout).toContain('"msg":"wattplace stopped"');
    // the ports are closed
    await expect(fetch(`http://${httpAddr}/healthz`)).rejects.toThrow();
  });

  it('a StreamReport open at SIGTERM still completes with its summary before the process exits', async () => {
    const [gp, hp] = [await freePort(), await freePort()];
    const grpcAddr = `127.0.0.1:${gp}`;
    const httpAddr = `127.0.0.1:${hp}`;
    const run = cli(['serve', '--grpc', grpcAddr, '--http', httpAddr, '--log-level', 'info', '--shutdown-grace-ms', '20000']);
    await waitReady(httpAddr, run);
    const tel = new pb.TelemetryServiceClient(grpcAddr, grpc.credentials.createInsecure());
    try {
      await call(tel, tel.registerHosts, pb.RegisterHostsRequest.fromPartial({ hosts: [pbHost('cli-s', { cpu: 8000, memGiB: 32 })] }));
      const t0 = Date.now() - 5_000;
      const s = (i: number): pb.HostSample => ({ hostId: 'cli-s', time: new Date(t0 + i), watts: 100, cpuUtil: 0.2, memUtil: 0.2, allocated: undefined });
      let settled = false;
      const summary = new Promise<pb.ReportResponse>((resolve, reject) => {
        const stream = tel.streamReport((e, r) => {
          settled = true;
          if (e) reject(e);
          else resolve(r);
        });
        stream.write(s(1));
        // SIGTERM while the stream is open, then keep streaming and close it
        setTimeout(() => {
          run.child.kill('SIGTERM');
          setTimeout(() => {
            stream.write(s(2));
            stream.write(s(3));
            stream.end();
          }, 300);
        }, 200);
      });
      const r = await summary;
      expect(settled).toBe(true);
      expect([r.accepted, r.rejected]).toEqual([3, 0]);
    } finally {
      tel.close();
    }
    const done = await run.done;
    expect(done.code).toBe(0);
    expect(done.stdout).toContain('"msg":"wattplace stopped"');
  });
});
