/**
 * Runs the real service (`node dist/main.js serve`, the `wattplace` bin) in a
 * child process on free loopback ports, so that the benchmark client and the
 * server each have a core, and loads a fleet into it over gRPC.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import * as grpc from '@grpc/grpc-js';
import { hostToPb } from '../../src/api/convert';
import type { HostSample } from '../../src/domain';
import * as pb from '../../src/gen/wattplace/v1/wattplace';
import { BENCH_STALE_AFTER_MS, type Fleet } from './fleet';

/** The compiled service entry point (`npm run build`). */
export const MAIN_JS = path.resolve(__dirname, '../../../main.js');

export interface ChildServer {
  /** gRPC host:port. */
  readonly address: string;
  /** HTTP host:port (metrics). */
  readonly httpAddress: string;
  readonly proc: ChildProcess;
  stop(): Promise<void>;
}

/** Servers still running: stopped when the benchmark exits or is interrupted, so none is left behind. */
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of running) c.kill('SIGTERM');
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    for (const c of running) c.kill('SIGTERM');
    process.exit(130);
  });
}

/** Starts `wattplace serve` with extra flags; resolves once it logs its bound addresses. */
export function startChildServer(flags: string[] = []): Promise<ChildServer> {
  // BENCH_SERVER_NODE_OPTIONS: extra node flags for the server, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
  const nodeArgs = (process.env.BENCH_SERVER_NODE_OPTIONS ?? '').split(' ').filter(Boolean);
  const args = [MAIN_JS, 'serve', '--grpc', '127.0.0.1:0', '--http', '127.0.0.1:0', '--log-level', 'info', '--stale-after-ms', String(BENCH_STALE_AFTER_MS)];
  const proc = spawn(process.execPath, [...nodeArgs, ...args, ...flags], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  running.add(proc);
  proc.once('exit', () => running.delete(proc));
  return new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: proc.stdout! });
    const onExit = (code: number | null) => reject(new Error(`server exited with ${code} before serving`));
    proc.once('exit', onExit);
    rl.on('line', (line) => {
      let msg: { msg?: string; grpc?: string; http?: string };
      try {
        msg = JSON.parse(line) as typeof msg;
      } catch {
        return;
      }
      if (msg.msg === 'wattplace serving' && msg.grpc) {
        proc.off('exit', onExit);
        const exited = new Promise<void>((r) => proc.once('exit', () => r()));
        resolve({
          address: msg.grpc,
          httpAddress: msg.http ?? '',
          proc,
          stop: async () => {
            proc.kill('SIGTERM');
            await exited;
          },
        });
      }
    });
  });
}

/** Promisified unary call: `call((cb) => client.place(req, cb))`. */
export function call<Res>(fn: (cb: (e: grpc.ServiceError | null, r: Res) => void) => unknown): Promise<Res> {
  return new Promise((resolve, reject) => fn((e, r) => (e ? reject(e) : resolve(r))));
}

export function sampleToPb(s: HostSample): pb.HostSample {
  return {
    hostId: s.hostId,
    time: new Date(s.time),
    watts: s.watts,
    cpuUtil: s.cpuUtil,
    memUtil: s.memUtil,
    allocated: s.allocated ? { cpuMillis: BigInt(s.allocated.cpuMillis), memBytes: BigInt(s.allocated.memBytes) } : undefined,
  };
}

/** Registers the fleet's hosts and reports its samples (in batches) over gRPC. */
export async function loadFleet(address: string, fleet: Fleet, withSamples = true): Promise<void> {
  const t = new pb.TelemetryServiceClient(address, grpc.credentials.createInsecure());
  try {
    for (let i = 0; i < fleet.hosts.length; i += 5000) {
      await call<pb.RegisterHostsResponse>((cb) => t.registerHosts({ hosts: fleet.hosts.slice(i, i + 5000).map(hostToPb) }, cb));
    }
    if (withSamples) {
      for (let i = 0; i < fleet.samples.length; i += 10_000) {
        const r = await call<pb.ReportResponse>((cb) => t.report({ samples: fleet.samples.slice(i, i + 10_000).map(sampleToPb), sites: [] }, cb));
        if (r.rejected > 0) throw new Error(`fleet telemetry rejected: ${JSON.stringify(r.errors.slice(0, 3))}`);
      }
    }
  } finally {
    t.close();
  }
  // Let the snapshot collector pick up the last batch (it rebuilds at most every 50 ms).
  await new Promise((r) => setTimeout(r, 200));
}

/** A raw unary caller on a generic client: pre-encoded request bytes in, raw response bytes out. */
export function rawUnary(client: grpc.Client, method: string) {
  const id = (b: Buffer) => b;
  return (req: Buffer) =>
    new Promise<Buffer>((resolve, reject) =>
      client.makeUnaryRequest(method, id, id, req, (e, r) => (e ? reject(e) : resolve(r!))),
    );
}

/** CPU time (user + system) a process has used so far, in ms, from /proc (Linux); NaN elsewhere. */
export function processCpuMs(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields 14 and 15 (utime, stime) are at 11 and 12 after the command name
    return ((Number(f[11]) + Number(f[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();
