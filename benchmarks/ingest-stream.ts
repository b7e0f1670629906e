/**
 * StreamReport ingest rate over gRPC: one client stream of pre-encoded
 * HostSample messages (round robin over the hosts, times increasing, 0.5 %
 * malformed: cpu_util 1.5) into the real `wattplace serve` in a child process.
 * Rate = samples / (first write → the summary answer), i.e. every sample
 * decoded, validated and stored by the server.
 *
 * Two clients, the same server:
 *   - `coalesced`: gRPC framing written on a plain HTTP/2 stream in 64 KB
 *     writes, many messages per DATA frame, as grpc-go's buffered transport
 *     sends a fast stream: the server's ingest capacity;
 *   - `grpc-js`: @grpc/grpc-js's client, which sends each message in its own
 *     write (and DATA frame), so the per-frame cost on both sides dominates.
 *   npm run bench:ingest
 */
import * as http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import * as pb from '../src/gen/wattplace/v1/wattplace';
import { buildFleet } from './lib/fleet';
import { loadFleet, processCpuMs, startChildServer } from './lib/server';
import { printJson, printTable, sizes } from './lib/stats';

const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 400_000);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 50_000);
const BAD_EVERY = 200; // 0.5 % malformed

/** `count` encoded samples for `ids`, sample k at round ⌊k / hosts⌋ stamped t0 + round ms. */
function encodeSamples(ids: string[], count: number, t0: number, round0: number): Buffer[] {
  const out: Buffer[] = new Array(count);
  for (let k = 0; k < count; k++) {
    const round = round0 + Math.floor(k / ids.length);
    const u = ((k * 7919) % 1000) / 1000;
    out[k] = Buffer.from(
      pb.HostSample.encode({
        hostId: ids[k % ids.length],
        time: new Date(t0 + round),
        watts: 100 + 200 * u,
        cpuUtil: k % BAD_EVERY === BAD_EVERY - 1 ? 1.5 : u,
        memUtil: 0.5,
        allocated: undefined,
      }).finish(),
    );
  }
  return out;
}

function stream(client: grpc.Client, msgs: Buffer[]): Promise<pb.ReportResponse> {
  return new Promise((resolve, reject) => {
    const call = client.makeClientStreamRequest(
      '/wattplace.v1.TelemetryService/StreamReport',
      (b: Buffer) => b,
      (b: Buffer) => pb.ReportResponse.decode(b),
      (e, r) => (e ? reject(e) : resolve(r!)),
    );
    let i = 0;
    const pump = () => {
      while (i < msgs.length) {
        if (!call.write(msgs[i++])) {
          call.once('drain', pump);
          return;
        }
      }
      call.end();
    };
    pump();
  });
}

/** gRPC length-prefixed messages concatenated into ~64 KB chunks. */
function coalesce(msgs: Buffer[]): Buffer[] {
  const chunks: Buffer[] = [];
  let parts: Buffer[] = [];
  let size = 0;
  for (const m of msgs) {
    const head = Buffer.allocUnsafe(5);
    head[0] = 0; // not compressed
    head.writeUInt32BE(m.length, 1);
    parts.push(head, m);
    size += 5 + m.length;
    if (size >= 65_536) {
      chunks.push(Buffer.concat(parts, size));
      parts = [];
      size = 0;
    }
  }
  if (size > 0) chunks.push(Buffer.concat(parts, size));
  return chunks;
}

/** StreamReport on a raw HTTP/2 stream: pre-framed chunks out, the one ReportResponse back. */
function streamCoalesced(address: string, chunks: Buffer[]): Promise<pb.ReportResponse> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://${address}`);
    session.on('error', reject);
    const req = session.request({
      ':method': 'POST',
      ':path': '/wattplace.v1.TelemetryService/StreamReport',
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    const body: Buffer[] = [];
    req.on('data', (d: Buffer) => body.push(d));
    req.on('trailers', (t) => {
      session.close();
      if (t['grpc-status'] !== '0') return reject(new Error(`StreamReport: grpc-status ${t['grpc-status']} ${t['grpc-message']}`));
      const b = Buffer.concat(body);
      resolve(pb.ReportResponse.decode(b.subarray(5, 5 + b.readUInt32BE(1))));
    });
    req.on('error', reject);
    let i = 0;
    const pump = () => {
      while (i < chunks.length) {
        if (!req.write(chunks[i++])) {
          req.once('drain', pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });
}

async function run(n: number) {
  const server = await startChildServer();
  try {
    const fleet = buildFleet(n, Date.now());
    await loadFleet(server.address, fleet, false);
    const ids = fleet.hosts.map((h) => h.id);
    // Times from 60 s ago, one round per ms: far below the 5 s future skew limit.
    const t0 = Date.now() - 60_000;
    const warm = encodeSamples(ids, WARMUP, t0, 0);
    const msgs = encodeSamples(ids, SAMPLES, t0, Math.ceil(WARMUP / ids.length) + 1);
    // No retry buffering: grpc-js keeps every streamed message for a possible retry, which costs the client more than the server.
    // grpc-js keeps streamed messages in a retry buffer and slices it on every
    // write; without retries and that buffer the client stays cheap.
    const client = new grpc.Client(server.address, grpc.credentials.createInsecure(), {
      'grpc.enable_retries': 0,
      'grpc.per_rpc_retry_buffer_size': 0,
    });
    const expectedBad = Math.floor(SAMPLES / BAD_EVERY);
    const measure = async (client: string, send: () => Promise<pb.ReportResponse>) => {
      const cpu0 = processCpuMs(server.proc.pid!);
      const start = process.hrtime.bigint();
      const r = await send();
      const secs = Number(process.hrtime.bigint() - start) / 1e9;
      const cpu = processCpuMs(server.proc.pid!) - cpu0;
      if (r.accepted + r.rejected !== SAMPLES || r.rejected !== expectedBad) {
        throw new Error(`summary ${r.accepted} accepted / ${r.rejected} rejected, expected ${SAMPLES - expectedBad} / ${expectedBad}`);
      }
      return {
        hosts: n,
        client,
        samples: SAMPLES,
        accepted: r.accepted,
        rejected: r.rejected,
        seconds: Math.round(secs * 100) / 100,
        samplesPerSec: Math.round(SAMPLES / secs),
        serverCpuUsPerSample: Math.round((cpu * 1000 * 100) / SAMPLES) / 100,
      };
    };
    await streamCoalesced(server.address, coalesce(warm));
    const chunks = coalesce(msgs);
    const fast = await measure('coalesced', () => streamCoalesced(server.address, chunks));
    // The same samples again, one round later in time, through grpc-js.
    const again = encodeSamples(ids, SAMPLES, t0, Math.ceil((WARMUP + SAMPLES) / ids.length) + 2);
    const slow = await measure('grpc-js', () => stream(client, again));
    client.close();
    return [fast, slow];
  } finally {
    await server.stop();
  }
}

async function main() {
  const results = [];
  for (const n of sizes()) results.push(...(await run(n)));
  printTable('StreamReport ingest over gRPC (target ≥ 200,000 samples/s)', results);
  printJson('ingest-stream', results);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
