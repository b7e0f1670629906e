/**
 * Hostile HTTP input against the real `wattplace serve` in a child process,
 * default settings: what it costs the server and everyone else.
 *
 *   1. Uploads that never end: N connections each sending 15 × 1 MiB chunks of
 *      `POST /k8s/filter` and no final chunk (N = 20, 40). Server RSS before,
 *      peak while they hang, and 5 s after they are cut; the status each gets.
 *   2. Deep nesting: a 16 MiB body of `[` (one, then two at once); time to the
 *      400, and the worst /healthz latency measured every 5 ms meanwhile.
 *   3. The nesting scanner alone on 16 MiB of ordinary JSON: ms per MiB.
 *
 *   npm run bench:hostile-http
 */
import * as net from 'node:net';
import { JsonDepthScanner } from '../src/api/json-depth';
import { serverMemory, startServerProcess } from './lib/load';
import { printJson } from './lib/stats';

const MiB = 1024 * 1024;

function hold(http: string, chunks: number): Promise<number> {
  const [host, port] = [http.slice(0, http.lastIndexOf(':')), Number(http.slice(http.lastIndexOf(':') + 1))];
  return new Promise((resolve) => {
    const s = net.connect(port, host);
    let got = '';
    s.on('data', (d) => (got += d.toString('latin1')));
    s.on('close', () => resolve(Number(got.split(' ')[1] ?? 0)));
    s.on('error', () => undefined);
    s.write('POST /k8s/filter HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n');
    const c = Buffer.concat([Buffer.from(`${MiB.toString(16)}\r\n`), Buffer.alloc(MiB, 0x20), Buffer.from('\r\n')]);
    let k = 0;
    const next = () => {
      while (k < chunks && !s.destroyed) {
        k++;
        if (!s.write(c)) return void s.once('drain', next);
      }
    };
    next();
  });
}

async function peakWhile<T>(p: Promise<T>, sample: () => Promise<number>, everyMs: number): Promise<{ value: T; peak: number }> {
  let peak = 0;
  let done = false;
  const loop = (async () => {
    while (!done) {
      peak = Math.max(peak, await sample().catch(() => 0));
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  const value = await p;
  done = true;
  await loop;
  return { value, peak };
}

async function healthzMs(http: string): Promise<number> {
  const t0 = performance.now();
  await fetch(`http://${http}/healthz`);
  return performance.now() - t0;
}

async function deep(http: string, n: number): Promise<{ bodies: number; statuses: number[]; slowestMs: number; worstHealthzMs: number }> {
  const body = Buffer.alloc(16 * MiB, 0x5b);
  const t0 = performance.now();
  const posts = Promise.all(
    Array.from({ length: n }, () =>
      fetch(`http://${http}/k8s/filter`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).then(
        (r) => [r.status, performance.now() - t0] as const,
        () => [0, performance.now() - t0] as const, // the server closed while the client still wrote
      ),
    ),
  );
  const { value, peak } = await peakWhile(posts, () => healthzMs(http), 5);
  return { bodies: n, statuses: value.map((v) => v[0]), slowestMs: Math.max(...value.map((v) => v[1])), worstHealthzMs: peak };
}

function scannerMsPerMiB(): number {
  // An ExtenderArgs-like document: objects with strings, numbers and arrays, 16 MiB of them.
  const unit = Buffer.from(JSON.stringify({ metadata: { name: 'node-0001', labels: { 'topology.kubernetes.io/zone': 'eu-1a', 'kubernetes.io/arch': 'amd64' } }, status: { allocatable: { cpu: '64', memory: '256Gi' }, conditions: [{ type: 'Ready', status: 'True' }] } }) + ',');
  const doc = Buffer.concat([Buffer.from('['), ...Array.from({ length: Math.ceil((16 * MiB) / unit.length) }, () => unit), Buffer.from('{}]')]);
  let best = Infinity;
  for (let r = 0; r < 5; r++) {
    const s = new JsonDepthScanner(100);
    const t0 = performance.now();
    for (let i = 0; i < doc.length; i += 64 * 1024) s.feed(doc.subarray(i, i + 64 * 1024));
    best = Math.min(best, performance.now() - t0);
  }
  return best / (doc.length / MiB);
}

async function main() {
  const out: Record<string, unknown> = {};
  for (const n of [20, 40]) {
    const server = await startServerProcess();
    try {
      const before = (await serverMemory(server.http)).rssBytes;
      const { value: statuses, peak } = await peakWhile(Promise.all(Array.from({ length: n }, () => hold(server.http, 15))), async () => (await serverMemory(server.http)).rssBytes, 100);
      await new Promise((r) => setTimeout(r, 5_000));
      const after = (await serverMemory(server.http)).rssBytes;
      const count: Record<string, number> = {};
      for (const s of statuses) count[s] = (count[s] ?? 0) + 1;
      out[`never-ending uploads × ${n}`] = { rssBeforeMiB: +(before / MiB).toFixed(0), rssPeakMiB: +(peak / MiB).toFixed(0), rssAfter5sMiB: +(after / MiB).toFixed(0), statuses: count };
    } finally {
      await server.stop();
    }
  }
  const server = await startServerProcess();
  try {
    out['16 MiB of "[" × 1'] = await deep(server.http, 1);
    out['16 MiB of "[" × 2'] = await deep(server.http, 2);
  } finally {
    await server.stop();
  }
  out['nesting scanner, ordinary JSON'] = { msPerMiB: +scannerMsPerMiB().toFixed(2) };
  printJson('hostile-http', out);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
