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
 *                            BENCH_CASES=5000,node to run only the cases whose names contain these;
 *                            BENCH_GZIP=0 not to ask for gzip, which Go's client does by default)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildFleet, rng } from './lib/fleet';
import { RawHttpClient } from './lib/raw-http';
import { loadFleet, processCpuMs, startChildServer } from './lib/server';
import { ms, printJson, printTable, summarize } from './lib/stats';

const WARMUP = Number(process.env.BENCH_WARMUP ?? 300);
const ITER = Number(process.env.BENCH_ITER ?? 2000);
const FLEET = 5000;
/** Ask for gzip as kube-scheduler's Go HTTP client does by default (BENCH_GZIP=0: plain answers). */
const GZIP = process.env.BENCH_GZIP !== '0';
const FIXTURES = path.resolve(__dirname, '../../../src/api/k8s/fixtures');

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** One call answered in full (outside the timing): its form is checked. */
async function postText(addr: string, pathName: string, body: Buffer): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://${addr}${pathName}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  return { status: res.status, text: await res.text() };
}

async function main() {
  const server = await startChildServer();
  const [host, port] = [server.httpAddress.slice(0, server.httpAddress.lastIndexOf(':')), Number(server.httpAddress.slice(server.httpAddress.lastIndexOf(':') + 1))];
  const client = new RawHttpClient(host, port);
  const rows: Record<string, string | number>[] = [];
  const results: Json[] = [];
  try {
    const fleet = buildFleet(FLEET, Date.now());
    await loadFleet(server.address, fleet);
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
        const first = await postText(server.httpAddress, `/k8s/${verb}`, c.bodies[0]);
        const ans = JSON.parse(first.text) as Json;
        if (first.status !== 200) throw new Error(`${verb} ${c.name}: HTTP ${first.status} ${first.text.slice(0, 200)}`);
        const passed = verb === 'filter' ? (ans.NodeNames ?? ans.Nodes.items).length : (ans as Json[]).filter((p) => p.Score > 0).length;
        if (verb === 'filter' && ans.Error) throw new Error(`filter ${c.name}: ${ans.Error}`);
        const lat: number[] = [];
        const requests = c.bodies.map((b) => client.request(`/k8s/${verb}`, b, GZIP ? { 'Accept-Encoding': 'gzip' } : {}));
        let cpu0 = NaN;
        let wire = 0; // body bytes on the wire (gzipped when asked)
        for (let i = 0; i < WARMUP + ITER; i++) {
          if (i === WARMUP) cpu0 = processCpuMs(server.proc.pid!);
          const res = await client.send(requests[i % requests.length]);
          if (res.status !== 200) throw new Error(`${verb}: HTTP ${res.status}`);
          if (i >= WARMUP) lat.push(res.ns);
          wire = res.bytes;
        }
        // Server CPU per call (user + system, whole process): what the answer costs, less sensitive to a busy machine than latency.
        const cpuPerCall = Math.round(((processCpuMs(server.proc.pid!) - cpu0) / ITER) * 1000) / 1000;
        const s = summarize(lat);
        const row = {
          case: c.name,
          verb,
          requestKiB: Math.round(c.bodies[0].length / 1024),
          responseKiB: Math.round(Buffer.byteLength(first.text) / 1024),
          wireKiB: Math.round(wire / 1024),
          [verb === 'filter' ? 'passed' : 'scored>0']: passed,
          n: s.n,
          p50ms: ms(s.p50),
          p90ms: ms(s.p90),
          p99ms: ms(s.p99),
          maxms: ms(s.max),
          serverCpuMsPerCall: cpuPerCall,
        };
        rows.push({ case: row.case, verb, reqKiB: row.requestKiB, resKiB: row.responseKiB, wireKiB: row.wireKiB, n: s.n, p50ms: row.p50ms, p90ms: row.p90ms, p99ms: row.p99ms, maxms: row.maxms, srvCpuMs: cpuPerCall });
        results.push({ ...row, passedOrScored: passed });
      }
    }
  } finally {
    client.close();
    await server.stop();
  }
  printTable(`k8s extender over loopback HTTP, fleet ${FLEET} hosts (${ITER} calls each after ${WARMUP} warm-up)`, rows);
  printJson('k8s', results);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
