/**
 * The documented default limits, over real gRPC and HTTP on loopback: a Report
 * carries at most 50,000 samples, a message (gRPC) or body (HTTP) at most
 * 16 MiB = 16,777,216 bytes. Each refusal names the limit; nothing is kept
 * from a refused message and the server keeps serving.
 */
import * as http from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pbHost, sample } from '../fixtures/clusters';
import { startTestServer, type TestServer } from '../helpers/grpc';

const MiB = 1024 * 1024;
let t: TestServer;
beforeAll(async () => {
  // Defaults only (no limit overrides); one extra POST route to exercise the HTTP body limit.
  t = await startTestServer({}, { plugins: [({ http: api }) => api.route('POST', '/test/echo', (c) => ({ status: 200, body: { keys: Object.keys(c.body as object).length } }))] });
  await t.rpc.registerHosts({ hosts: [pbHost('lim-a', { cpu: 8000, memGiB: 32 })] });
});
afterAll(() => t.close());

function post(path: string, body: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`http://${t.server.httpAddress}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
      let s = '';
      res.on('data', (c: Buffer) => (s += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: s }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('default limits', () => {
  it('a Report of 50,001 samples is refused naming the limit; nothing is kept', async () => {
    const base = Date.now() - 120_000;
    const samples = Array.from({ length: 50_001 }, (_, i) => sample('lim-a', new Date(base + i), 0.1));
    const e = (await t.rpc.report({ samples }).catch((x: unknown) => x)) as grpc.ServiceError;
    expect(e.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(e.details).toBe('samples: at most 50000 samples per Report, got 50001; split the batch');
    const snap = t.server.core.collector.refresh();
    expect(Number.isNaN(snap.lastSampleMs[snap.indexOf('lim-a')])).toBe(true);
  });

  it('a Report of exactly 50,000 samples is served', async () => {
    const base = Date.now() - 120_000;
    const r = await t.rpc.report({ samples: Array.from({ length: 50_000 }, (_, i) => sample('lim-a', new Date(base + i), 0.1)) });
    expect(r.accepted).toBe(50_000);
    expect(r.rejected).toBe(0);
  });

  it('a gRPC message over 16 MiB is refused with RESOURCE_EXHAUSTED naming the 16,777,216-byte limit', async () => {
    // one host whose label value alone is 16 MiB + 1 byte: the encoded message exceeds the limit
    const big = pbHost('lim-big', { cpu: 1000, memGiB: 1, labels: { blob: 'x'.repeat(16 * MiB + 1) } });
    const e = (await t.rpc.registerHosts({ hosts: [big] }).catch((x: unknown) => x)) as grpc.ServiceError;
    expect(e.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(e.details).toMatch(/^Received message larger than max \(\d+ vs 16777216\)$/);
    expect(t.server.core.collector.refresh().indexOf('lim-big')).toBe(-1);
    // the server still serves
    await expect(t.rpc.registerHosts({ hosts: [pbHost('lim-after', { cpu: 1000, memGiB: 1 })] })).resolves.toEqual({ registered: 1, updated: 0 });
  });

  it('an HTTP body over 16 MiB is refused with 413 naming the limit and the field', async () => {
    const body = Buffer.from(JSON.stringify({ pad: 'y'.repeat(16 * MiB) }));
    expect(body.length).toBeGreaterThan(16 * MiB);
    const r = await post('/test/echo', body);
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body)).toEqual({ error: 'body: request body exceeds 16777216 bytes', field: 'body' });
  });

  it('an HTTP body just under the limit is served', async () => {
    const body = Buffer.from(JSON.stringify({ pad: 'y'.repeat(16 * MiB - 100) }));
    expect(body.length).toBeLessThanOrEqual(16 * MiB);
    const r = await post('/test/echo', body);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ keys: 1 });
  });
});
