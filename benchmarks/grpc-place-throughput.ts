/**
 * gRPC Place throughput over loopback with 64 calls in flight. The server is
 * the real `wattplace serve` in a child process (one core), started with a
 * 100 ms reservation TTL so that the cluster does not fill up while
 * thousands of Places per second land. The client sends pre-encoded requests
 * and does not decode responses (except every 256th, checked), so the
 * client's core is not the bottleneck; the figure is the server's capacity.
 *   npm run bench:grpc-throughput
 */
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
    };
  } finally {
    await server.stop();
  }
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
