/**
 * kube-scheduler extender latency: POST /k8s/filter and /k8s/prioritize over
 * loopback HTTP with keep-alive (as kube-scheduler's Go client does), one call
 * at a time, timed from the first request byte to the last response byte.
 * The server is the real `wattplace serve` in a child process with a 5,000-host
 * fleet (benchmarks/lib/fleet.ts) loaded over gRPC.
 *   names mode (nodeCacheCapable: true):  500 and 5,000 node names
 *   full mode  (nodeCacheCapable: false): 500 Node objects (the recorded Node of
 *              src/api/k8s/fixtures/node-worker.json, ~5 KB each, renamed)
 * The pod is the recorded pod-web.json (init containers, a sidecar, overhead, a GPU).
 *   npm run bench:k8s        (BENCH_ITER, BENCH_WARMUP to change the counts;
 *                            BENCH_CASES=5000,node to run only the cases whose names contain these)
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { buildFleet, rng } from './lib/fleet';
import { loadFleet, MAIN_JS, processCpuMs } from './lib/server';
import { ms, printJson, printTable, summarize } from './lib/stats';

const WARMUP = Number(process.env.BENCH_WARMUP ?? 300);
const ITER = Number(process.env.BENCH_ITER ?? 2000);
const FLEET = 5000;
const FIXTURES = path.resolve(__dirname, '../../../src/api/k8s/fixtures');

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function startServer(): Promise<{ grpc: string; http: string; pid: number; stop(): Promise<void> }> {
  // Telemetry is loaded once; a day's staleness bound keeps the fleet's rejection mix fixed for the whole run.
  const flags = ['--grpc', '127.0.0.1:0', '--http', '127.0.0.1:0', '--log-level', 'info', '--stale-after-ms', '86400000'];
  const proc = spawn(process.execPath, [MAIN_JS, 'serve', ...flags], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    proc.once('exit', (c) => reject(new Error(`server exited with ${c}`)));
    readline.createInterface({ input: proc.stdout! }).on('line', (line) => {
      let m: Json;
      try {
        m = JSON.parse(line) as Json;
      } catch {
        return;
      }
      if (m.msg === 'wattplace serving') {
        const exited = new Promise<void>((r) => proc.once('exit', () => r()));
        resolve({ grpc: m.grpc, http: m.http, pid: proc.pid!, stop: async () => void (proc.kill('SIGTERM'), await exited) });
      }
    });
  });
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

/** POSTs `body` (pre-serialized); resolves with status, elapsed ns and the raw response. */
function post(addr: string, pathName: string, body: Buffer): Promise<{ status: number; ns: number; text: string }> {
  const [host, port] = [addr.slice(0, addr.lastIndexOf(':')), Number(addr.slice(addr.lastIndexOf(':') + 1))];
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = http.request(
      { host, port, path: pathName, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const ns = Number(process.hrtime.bigint() - t0);
          resolve({ status: res.statusCode ?? 0, ns, text: Buffer.concat(chunks).toString('utf8') });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function main() {
  const server = await startServer();
  const rows: Record<string, string | number>[] = [];
  const results: Json[] = [];
  try {
    const fleet = buildFleet(FLEET, Date.now());
    await loadFleet(server.grpc, fleet);
    const ids = fleet.hosts.map((h) => h.id);
    const pod = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'pod-web.json'), 'utf8')) as Json;
    const nodeTemplate = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'node-worker.json'), 'utf8')) as Json;
    const r = rng(99);
    /** `count` distinct hosts of the fleet, a different draw per body: what passed the in-tree filters. */
    const draw = (count: number): string[] => {
      if (count >= ids.length) return ids.slice();
      const a = ids.slice();
      for (let i = 0; i < count; i++) {
        const j = i + Math.floor(r() * (a.length - i));
        [a[i], a[j]] = [a[j], a[i]];
      }
      return a.slice(0, count);
    };
    const nodeObject = (name: string): Json => {
      const h = fleet.hosts[ids.indexOf(name)];
      const n = structuredClone(nodeTemplate);
      n.metadata.name = name;
      n.metadata.labels['kubernetes.io/hostname'] = name;
      n.status.allocatable.cpu = `${h.capacity.cpuMillis - 110}m`;
      n.status.allocatable.memory = `${Math.floor((h.capacity.memBytes * 0.97) / 1024)}Ki`;
      return n;
    };
    const cases: { name: string; bodies: Buffer[] }[] = [
      { name: '500 names', bodies: Array.from({ length: 16 }, () => Buffer.from(JSON.stringify({ Pod: pod, Nodes: null, NodeNames: draw(500) }))) },
      { name: '5,000 names', bodies: Array.from({ length: 4 }, () => Buffer.from(JSON.stringify({ Pod: pod, Nodes: null, NodeNames: draw(5000) }))) },
      {
        name: '500 Node objects',
        bodies: Array.from({ length: 4 }, () =>
          Buffer.from(JSON.stringify({ Pod: pod, Nodes: { kind: 'NodeList', apiVersion: 'v1', metadata: {}, items: draw(500).map(nodeObject) }, NodeNames: null })),
        ),
      },
    ];
    const only = process.env.BENCH_CASES?.split(',').map((x) => x.trim().toLowerCase());
    for (const c of cases) {
      if (only && !only.some((o) => c.name.replace(',', '').toLowerCase().includes(o))) continue;
      for (const verb of ['filter', 'prioritize']) {
        // one answer checked outside the timing: the form must be right
        const first = await post(server.http, `/k8s/${verb}`, c.bodies[0]);
        const ans = JSON.parse(first.text) as Json;
        if (first.status !== 200) throw new Error(`${verb} ${c.name}: HTTP ${first.status} ${first.text.slice(0, 200)}`);
        const passed = verb === 'filter' ? (ans.NodeNames ?? ans.Nodes.items).length : (ans as Json[]).filter((p) => p.Score > 0).length;
        if (verb === 'filter' && ans.Error) throw new Error(`filter ${c.name}: ${ans.Error}`);
        const lat: number[] = [];
        let cpu0 = NaN;
        for (let i = 0; i < WARMUP + ITER; i++) {
          if (i === WARMUP) cpu0 = processCpuMs(server.pid);
          const res = await post(server.http, `/k8s/${verb}`, c.bodies[i % c.bodies.length]);
          if (res.status !== 200) throw new Error(`${verb}: HTTP ${res.status}`);
          if (i >= WARMUP) lat.push(res.ns);
        }
        // Server CPU per call (user + system, whole process): what the answer costs, less sensitive to a busy machine than latency.
        const cpuPerCall = Math.round(((processCpuMs(server.pid) - cpu0) / ITER) * 1000) / 1000;
        const s = summarize(lat);
        const row = {
          case: c.name,
          verb,
          requestKiB: Math.round(c.bodies[0].length / 1024),
          responseKiB: Math.round(Buffer.byteLength(first.text) / 1024),
          [verb === 'filter' ? 'passed' : 'scored>0']: passed,
          n: s.n,
          p50ms: ms(s.p50),
          p90ms: ms(s.p90),
          p99ms: ms(s.p99),
          maxms: ms(s.max),
          serverCpuMsPerCall: cpuPerCall,
        };
        rows.push({ case: row.case, verb, reqKiB: row.requestKiB, resKiB: row.responseKiB, n: s.n, p50ms: row.p50ms, p90ms: row.p90ms, p99ms: row.p99ms, maxms: row.maxms, srvCpuMs: cpuPerCall });
        results.push({ ...row, passedOrScored: passed });
      }
    }
  } finally {
    agent.destroy();
    await server.stop();
  }
  printTable(`k8s extender over loopback HTTP, fleet ${FLEET} hosts (${ITER} calls each after ${WARMUP} warm-up)`, rows);
  printJson('k8s', results);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
