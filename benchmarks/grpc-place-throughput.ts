/**
 * gRPC Place throughput over loopback with 64 calls in flight. The server is
 * the real `wattplace serve` in a child process (one core), started with a
 * 100 ms reservation TTL so that the cluster does not fill up while
 * thousands of Places per second land. The client sends pre-encoded requests
 * and does not decode responses (except every 256th, checked), so the
 * client's core is not the bottleneck; the figure is the server's capacity.
 * A second client, h2load (nghttp2's C load generator, Debian package
 * nghttp2-client, installed when missing), sends the same gRPC frames over one
 * HTTP/2 connection with 64 streams: it needs a fraction of the CPU grpc-js
 * needs per call, so on two cores its figure is closer to what the server can
 * do; every call is checked through the server's own Place counter.
 *   npm run bench:grpc-throughput
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as pb from '../src/gen/wattplace/v1/wattplace';
import { buildFleet, buildWorkloads } from './lib/fleet';
import { loadFleet, processCpuMs, rawUnary, startChildServer } from './lib/server';
import { printJson, printTable, sizes } from './lib/stats';

const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 64);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 1000);
const CALLS = Number(process.env.BENCH_CALLS ?? 5000);
const TTL_MS = 100;

async function run(n: number) {
  const server = await startChildServer(['--reservation-ttl-ms', String(TTL_MS)]);
  try {
    await loadFleet(server.address, buildFleet(n, Date.now()));
    const client = new grpc.Client(server.address, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': 16 * 1024 * 1024,
      // A receive window that fits many 100 KB answers (the HTTP/2 default of 64 KB stalls 64 streams).
      'grpc-node.flow_control_window': 16 * 1024 * 1024,
      'grpc.enable_retries': 0,
    });
    const place = rawUnary(client, '/wattplace.v1.PlacementService/Place');
    const reqs = buildWorkloads(1024).map((w) =>
      Buffer.from(
        pb.PlaceRequest.encode(
          pb.PlaceRequest.fromPartial({
            workload: { id: w.id, demand: { cpuMillis: BigInt(w.demand.cpuMillis), memBytes: BigInt(w.demand.memBytes) }, selector: w.selector },
          }),
        ).finish(),
      ),
    );
    let next = 0;
    let errors = 0;
    let bytes = 0;
    const phase = async (total: number) => {
      let issued = 0;
      const worker = async () => {
        while (issued < total) {
          const i = next++;
          issued++;
          try {
            const res = await place(reqs[i % reqs.length]);
            bytes += res.length;
            if ((i & 255) === 0) {
              if (!pb.PlaceResponse.decode(res).hostId) throw new Error('Place answered without a host');
            }
          } catch (e) {
            if ((e as grpc.ServiceError).code === undefined) throw e;
            errors++;
          }
        }
      };
      const t0 = process.hrtime.bigint();
      await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
      return Number(process.hrtime.bigint() - t0) / 1e9;
    };
    await phase(WARMUP);
    errors = 0;
    bytes = 0;
    const cpu0 = processCpuMs(server.proc.pid!);
    const secs = await phase(CALLS);
    const cpu = processCpuMs(server.proc.pid!) - cpu0;
    client.close();
    const h2 = await h2loadPlaces(server.address, server.httpAddress, reqs[0]);
    return {
      hosts: n,
      inFlight: IN_FLIGHT,
      calls: CALLS,
      seconds: Math.round(secs * 100) / 100,
      placesPerSec: Math.round(CALLS / secs),
      errors,
      avgResponseBytes: Math.round(bytes / CALLS),
      // Server CPU per Place: 1e6 / this is what one fully available core could serve.
      serverCpuUsPerCall: Math.round((cpu * 1000) / CALLS),
      h2loadPlacesPerSec: h2.perSec,
      h2loadPlacedOk: h2.ok,
    };
  } finally {
    await server.stop();
  }
}

function ensureH2load(): string {
  try {
    return execFileSync('sh', ['-c', 'command -v h2load'], { encoding: 'utf8' }).trim();
  } catch {
    const sudo = process.getuid?.() === 0 ? [] : ['sudo'];
    execFileSync(sudo[0] ?? 'apt-get', [...sudo.slice(1), ...(sudo.length ? ['apt-get'] : []), 'install', '-y', '-qq', 'nghttp2-client'], { stdio: 'inherit' });
    return 'h2load';
  }
}

async function placedOk(httpAddress: string): Promise<number> {
  const text = await (await fetch(`http://${httpAddress}/metrics`)).text();
  const m = /^wattplace_decisions_total\{rpc="Place",outcome="ok"\} (\d+)/m.exec(text);
  return m ? Number(m[1]) : 0;
}

/** CALLS Places from h2load: one connection, IN_FLIGHT streams, gRPC framing by hand. */
async function h2loadPlaces(address: string, httpAddress: string, body: Buffer): Promise<{ perSec: number; ok: string }> {
  const bin = ensureH2load();
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'wp-h2-')), 'place.bin');
  const frame = Buffer.alloc(5 + body.length);
  frame.writeUInt8(0, 0); // not compressed
  frame.writeUInt32BE(body.length, 1);
  body.copy(frame, 5);
  fs.writeFileSync(file, frame);
  const before = await placedOk(httpAddress);
  const out = execFileSync(
    bin,
    ['-n', String(CALLS), '-c', '1', '-m', String(IN_FLIGHT), '-d', file, '-H', 'content-type: application/grpc', '-H', 'te: trailers', `http://${address}/wattplace.v1.PlacementService/Place`],
    { encoding: 'utf8' },
  );
  const ok = (await placedOk(httpAddress)) - before;
  const m = /finished in ([\d.]+)(m?s), ([\d.]+) req\/s/.exec(out);
  if (!m) throw new Error(`h2load output not understood:\n${out}`);
  return { perSec: Math.round(Number(m[3])), ok: `${ok}/${CALLS}` };
}

async function main() {
  const results = [];
  for (const n of sizes()) results.push(await run(n));
  printTable(`gRPC Place throughput, ${IN_FLIGHT} calls in flight (target ≥ 5,000/s at 5,000 hosts)`, results);
  printJson('grpc-place-throughput', results);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
