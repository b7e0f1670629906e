import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/helpers/grpc';
import { acceptsGzip, GZIP_MAX_BYTES, GZIP_MIN_BYTES } from './http';

describe('acceptsGzip (Accept-Encoding)', () => {
  it.each([
    [undefined, false],
    ['', false],
    ['gzip', true], // what Go's http.Transport sends, and so kube-scheduler
    ['gzip, deflate, br', true], // fetch, browsers
    ['deflate, br', false],
    ['GZIP', true],
    ['br;q=1.0, gzip;q=0.8', true],
    ['gzip;q=0', false], // explicitly refused
    ['gzip; q=0.0', false],
    ['*', true],
    ['*;q=0', false],
    ['x-gzip', false],
  ])('%j → %s', (header, expected) => {
    expect(acceptsGzip(header)).toBe(expected);
  });
});

/** POST over plain node:http (no automatic decompression): status, headers and the raw bytes. */
function post(addr: string, pathName: string, body: string, headers: Record<string, string>): Promise<{ status: number; headers: http.IncomingHttpHeaders; bytes: Buffer }> {
  const [host, port] = [addr.slice(0, addr.lastIndexOf(':')), Number(addr.slice(addr.lastIndexOf(':') + 1))];
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, path: pathName, method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('HTTP answers gzipped for clients that ask', () => {
  let t: TestServer;
  const pod = JSON.parse(fs.readFileSync(path.join(__dirname, 'k8s/fixtures/pod-web.json'), 'utf8'));
  // 2,000 unknown names: every one is failed with the same ~50-byte reason, so the filter
  // answer is ~2,000 × (~14 + ~50) B ≈ 130 KB, inside GZIP_MIN_BYTES..GZIP_MAX_BYTES.
  const names = Array.from({ length: 2000 }, (_, i) => `node-${String(i).padStart(5, '0')}`);
  const big = JSON.stringify({ Pod: pod, NodeNames: names });
  const small = JSON.stringify({ Pod: pod, NodeNames: ['node-00000'] });
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(() => t.close());

  it('a large answer is gzipped when asked for, and decompresses to the plain answer', async () => {
    const plain = await post(t.server.httpAddress, '/k8s/filter', big, {});
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.bytes.length).toBeGreaterThan(GZIP_MIN_BYTES);
    expect(plain.bytes.length).toBeLessThan(GZIP_MAX_BYTES);
    const gz = await post(t.server.httpAddress, '/k8s/filter', big, { 'accept-encoding': 'gzip' });
    expect(gz.status).toBe(200);
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.headers.vary).toBe('Accept-Encoding');
    expect(Number(gz.headers['content-length'])).toBe(gz.bytes.length);
    expect(gz.bytes.length).toBeLessThan(plain.bytes.length / 5); // the same reason 2,000 times compresses well
    expect(zlib.gunzipSync(gz.bytes).equals(plain.bytes)).toBe(true);
    expect(Object.keys(JSON.parse(plain.bytes.toString()).FailedNodes)).toHaveLength(2000);
  });

  it('not when refused (q=0), not for small answers, not for clients that do not ask', async () => {
    for (const [body, headers] of [
      [big, { 'accept-encoding': 'gzip;q=0' }],
      [small, { 'accept-encoding': 'gzip' }],
      [big, { 'accept-encoding': 'deflate' }],
    ] as const) {
      const r = await post(t.server.httpAddress, '/k8s/filter', body, headers);
      expect(r.headers['content-encoding']).toBeUndefined();
      expect(JSON.parse(r.bytes.toString()).Error).toBe('');
    }
  });

  it('errors too: a 400 for a body that is not JSON stays readable', async () => {
    const r = await post(t.server.httpAddress, '/k8s/prioritize', '{"Pod": ', { 'accept-encoding': 'gzip' });
    expect(r.status).toBe(400);
    expect(JSON.parse(r.bytes.toString()).field).toBe('body');
  });
});
