/**
 * gRPC Place over loopback, one call at a time: p50/p99 of the full round trip
 * as a client sees it (encode, send, server decision, decode of the whole
 * PlaceResponse). The server is the real `wattplace serve` in a child process.
 * Each reservation is released after its Place (not timed).
 *   npm run bench:grpc-place
 */
import * as grpc from '@grpc/grpc-js';
import * as pb from '../src/gen/wattplace/v1/wattplace';
import { buildFleet, buildWorkloads } from './lib/fleet';
import { loadFleet, startChildServer, call } from './lib/server';
import { ms, printJson, printTable, sizes, summarize } from './lib/stats';

const WARMUP = Number(process.env.BENCH_WARMUP ?? 500);
const ITER = Number(process.env.BENCH_ITER ?? 3000);

async function run(n: number) {
  const server = await startChildServer();
  try {
    await loadFleet(server.address, buildFleet(n, Date.now()));
    const p = new pb.PlacementServiceClient(server.address, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': 16 * 1024 * 1024,
      // A receive window larger than one answer (HTTP/2's default 64 KB would
      // stall a 66 KB answer for a WINDOW_UPDATE round trip; grpc-go grows its
      // window by BDP estimation, grpc-js needs it set).
      'grpc-node.flow_control_window': 4 * 1024 * 1024,
    });
    const reqs = buildWorkloads(1024).map((w) =>
      pb.PlaceRequest.fromPartial({
        workload: { id: w.id, demand: { cpuMillis: BigInt(w.demand.cpuMillis), memBytes: BigInt(w.demand.memBytes) }, selector: w.selector },
      }),
    );
    const lat: number[] = [];
    let rejected = 0;
    let bytes = 0;
    for (let i = 0; i < WARMUP + ITER; i++) {
      const req = reqs[i % reqs.length];
      const t0 = process.hrtime.bigint();
      const r = await call<pb.PlaceResponse>((cb) => p.place(req, cb));
      const t1 = process.hrtime.bigint();
      await call<pb.ReleaseResponse>((cb) => p.release({ reservationId: r.reservationId }, cb));
      if (i >= WARMUP) {
        lat.push(Number(t1 - t0));
        rejected += r.rejected.length;
        if (i === WARMUP) bytes = pb.PlaceResponse.encode(r).finish().length;
      }
    }
    p.close();
    const s = summarize(lat);
    return { hosts: n, calls: ITER, p50Ms: ms(s.p50), p90Ms: ms(s.p90), p99Ms: ms(s.p99), maxMs: ms(s.max), rejectedPerPlace: Math.round(rejected / ITER), responseBytes: bytes };
  } finally {
    await server.stop();
  }
}

async function main() {
  const results = [];
  for (const n of sizes()) results.push(await run(n));
  printTable('gRPC Place over loopback, sequential (target p99 ≤ 2 ms at 5,000 hosts)', results);
  printJson('grpc-place-seq', results);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
