/**
 * Security of the running service: bearer token on gRPC and HTTP, TLS and
 * mutual TLS on gRPC, HTTPS with client certificates, the loopback rule, and
 * secrets kept out of the logs. Real servers on loopback, real clients, a
 * real PKI made by openssl at test time (certs.ts).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOG_REDACT } from '../../src/api/auth';
import { ConfigError, loadConfig, type ServiceConfig } from '../../src/config';
import * as pb from '../../src/gen/wattplace/v1/wattplace';
import { startServer, type RunningServer } from '../../src/server';
import { pbHost } from '../fixtures/clusters';
import { call } from '../helpers/grpc';
import { makePki, type TestPki } from './certs';

const TOKEN = 'tok-5f1c2e9a7b3d4c8e9f0a1b2c3d4e5f6a';

let pki: TestPki;
let tokenFile: string;
let tmp: string;

beforeAll(() => {
  pki = makePki();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wattplace-sec-'));
  tokenFile = path.join(tmp, 'token');
  fs.writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
});
afterAll(() => {
  pki.cleanup();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Collects every log line the server writes. */
function captureLog(): { log: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString('utf8'));
      cb();
    },
  });
  return { log: pino({ level: 'trace', redact: LOG_REDACT }, stream), lines };
}

async function serve(overrides: Partial<ServiceConfig>, log = pino({ level: 'silent' })): Promise<RunningServer> {
  const cfg = { ...loadConfig({ flags: { grpc: '127.0.0.1:0', http: '127.0.0.1:0' } }), snapshotRefreshMs: 0, ...overrides };
  return startServer(cfg, { log });
}

function tokenMd(value?: string): grpc.Metadata {
  const md = new grpc.Metadata();
  if (value !== undefined) md.set('authorization', value);
  return md;
}

const registerOne = (c: pb.TelemetryServiceClient, md: grpc.Metadata) =>
  call(c, c.registerHosts, pb.RegisterHostsRequest.fromPartial({ hosts: [pbHost('h1', { cpu: 8000, memGiB: 32 })] }), md);

function healthCheck(address: string, creds: grpc.ChannelCredentials): Promise<string> {
  const Ctor = grpc.makeClientConstructor(healthService, 'Health');
  const c = new Ctor(address, creds) as unknown as grpc.Client & { check: (r: object, cb: (e: grpc.ServiceError | null, r: { status: string }) => void) => void };
  return new Promise((resolve, reject) =>
    c.check({ service: '' }, (e, r) => {
      c.close();
      return e ? reject(e) : resolve(String(r.status));
    }),
  );
}

interface HttpResult {
  status: number;
  body: string;
}
function get(url: string, opts: https.RequestOptions = {}): Promise<HttpResult> {
  const mod = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(url, { method: 'GET', servername: 'localhost', ...opts }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('bearer token (plain transport on loopback)', () => {
  let s: RunningServer;
  let client: pb.TelemetryServiceClient;
  let logs: ReturnType<typeof captureLog>;
  beforeAll(async () => {
    logs = captureLog();
    s = await serve({ authTokenFile: tokenFile }, logs.log);
    client = new pb.TelemetryServiceClient(s.grpcAddress, grpc.credentials.createInsecure());
  });
  afterAll(async () => {
    client.close();
    await s.stop();
  });

  // Each case: the authorization metadata sent → the reason the server gives.
  it.each([
    ['no metadata', undefined, /missing authorization/],
    ['empty value', '', /missing authorization/],
    ['wrong scheme', `Basic ${TOKEN}`, /malformed authorization/],
    ['token without scheme', TOKEN, /malformed authorization/],
    ['wrong token', 'Bearer not-the-token', /invalid bearer token/],
    ['token prefix', `Bearer ${TOKEN.slice(0, -1)}`, /invalid bearer token/],
    ['token plus a character', `Bearer ${TOKEN}x`, /invalid bearer token/],
  ])('gRPC refuses %s with UNAUTHENTICATED', async (_name, value, reason) => {
    const e = (await registerOne(client, tokenMd(value)).catch((x: unknown) => x)) as grpc.ServiceError;
    expect(e.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(e.details).toMatch(reason);
    expect(e.details).toContain('authorization');
  });

  it('gRPC accepts the token (scheme case-insensitive) and the refused calls changed nothing', async () => {
    expect(s.core.collector.current().size).toBe(0);
    await expect(registerOne(client, tokenMd(`Bearer ${TOKEN}`))).resolves.toEqual({ registered: 1, updated: 0 });
    await expect(registerOne(client, tokenMd(`bearer ${TOKEN}`))).resolves.toEqual({ registered: 0, updated: 1 });
  });

  it('gRPC StreamReport is refused without the token', async () => {
    const e = await new Promise<grpc.ServiceError | null>((resolve) => {
      const st = client.streamReport(tokenMd(), (err) => resolve(err));
      st.write(pb.HostSample.fromPartial({ hostId: 'h1', time: new Date(), watts: 100, cpuUtil: 0.1, memUtil: 0.1 }));
      st.end();
    });
    expect(e?.code).toBe(grpc.status.UNAUTHENTICATED);
  });

  it('gRPC health stays open without a token', async () => {
    await expect(healthCheck(s.grpcAddress, grpc.credentials.createInsecure())).resolves.toBe('SERVING');
  });

  it.each([
    ['/metrics', undefined, 401],
    ['/metrics', 'Bearer wrong', 401],
    ['/metrics', `Token ${TOKEN}`, 401],
    ['/metrics', `Bearer ${TOKEN}`, 200],
    ['/healthz', undefined, 200],
    ['/readyz', undefined, 200],
  ])('HTTP %s with authorization %s → %i', async (p, auth, status) => {
    const r = await get(`http://${s.httpAddress}${p}`, { headers: auth ? { authorization: auth } : {} });
    expect(r.status).toBe(status);
    if (status === 401) expect(JSON.parse(r.body)).toMatchObject({ field: 'authorization', error: expect.stringMatching(/^unauthenticated: /) });
  });

  it('counts refusals and never writes the token to the log', async () => {
    const r = await get(`http://${s.httpAddress}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(r.body).toMatch(/wattplace_auth_refused_total\{api="grpc"\} [1-9]/);
    expect(r.body).toMatch(/wattplace_auth_refused_total\{api="http"\} [1-9]/);
    const all = logs.lines.join('');
    expect(all).toContain('request refused: unauthenticated');
    expect(all).not.toContain(TOKEN);
    // redaction of anything that looks like a credential in structured logs
    logs.log.info({ req: { headers: { authorization: `Bearer ${TOKEN}` } }, token: TOKEN, tls: { key: 'PRIVATE' } }, 'probe');
    const last = JSON.parse(logs.lines[logs.lines.length - 1]) as Record<string, unknown>;
    expect(last).toMatchObject({ req: { headers: { authorization: '[Redacted]' } }, token: '[Redacted]', tls: { key: '[Redacted]' } });
  });

  it('request logs (debug level) are structured JSON lines with levels, without credentials', () => {
    const lines = logs.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.every((l) => typeof l.level === 'number' && typeof l.time === 'number' && typeof l.msg === 'string')).toBe(true);
    expect(lines).toContainEqual(expect.objectContaining({ level: 20, msg: 'request', rpc: 'RegisterHosts', outcome: 'ok', seconds: expect.any(Number) }));
    expect(lines).toContainEqual(expect.objectContaining({ level: 20, msg: 'http request', method: 'GET', path: '/metrics', status: 200 }));
    expect(lines).toContainEqual(expect.objectContaining({ level: 20, msg: 'http request', method: 'GET', path: '/metrics', status: 401 }));
    expect(lines).toContainEqual(expect.objectContaining({ level: 40, msg: 'request refused: unauthenticated', api: 'grpc', method: '/wattplace.v1.TelemetryService/RegisterHosts', reason: 'invalid bearer token' }));
    expect(logs.lines.join('')).not.toContain(TOKEN);
  });
});

describe('TLS and mutual TLS on gRPC, HTTPS with client certificates', () => {
  let s: RunningServer;
  beforeAll(async () => {
    s = await serve({
      tlsCert: pki.serverCert,
      tlsKey: pki.serverKey,
      tlsClientCa: pki.caCert,
      httpTlsCert: pki.serverCert,
      httpTlsKey: pki.serverKey,
    });
  });
  afterAll(() => s.stop());

  const client = (creds: grpc.ChannelCredentials) => new pb.TelemetryServiceClient(s.grpcAddress, creds);
  const attempt = async (creds: grpc.ChannelCredentials) => {
    const c = client(creds);
    try {
      return await registerOne(c, new grpc.Metadata()).then(
        () => 'ok',
        (e: grpc.ServiceError) => grpc.status[e.code],
      );
    } finally {
      c.close();
    }
  };

  it('accepts a client certificate from the configured CA', async () => {
    expect(await attempt(grpc.credentials.createSsl(pki.read(pki.caCert), pki.read(pki.clientKey), pki.read(pki.clientCert)))).toBe('ok');
  });

  it.each([
    ['a plaintext client', () => grpc.credentials.createInsecure()],
    ['TLS without a client certificate', () => grpc.credentials.createSsl(pki.read(pki.caCert))],
    ['a client certificate from another CA', () => grpc.credentials.createSsl(pki.read(pki.caCert), pki.read(pki.rogueKey), pki.read(pki.rogueCert))],
  ])('refuses %s', async (_n, creds) => {
    expect(await attempt(creds())).toBe('UNAVAILABLE');
  });

  it.each([
    ['/metrics with a client certificate', '/metrics', true, 200],
    ['/metrics without a client certificate', '/metrics', false, 401],
    ['/healthz without a client certificate', '/healthz', false, 200],
  ])('HTTPS %s → %i', async (_n, p, withCert, status) => {
    const r = await get(`https://${s.httpAddress}${p}`, {
      ca: pki.read(pki.caCert),
      ...(withCert ? { cert: pki.read(pki.clientCert), key: pki.read(pki.clientKey) } : {}),
      agent: false,
    });
    expect(r.status).toBe(status);
  });

  it('HTTPS refuses a certificate from another CA', async () => {
    const r = await get(`https://${s.httpAddress}/metrics`, { ca: pki.read(pki.caCert), cert: pki.read(pki.rogueCert), key: pki.read(pki.rogueKey), agent: false });
    expect(r.status).toBe(401);
  });

  // kube-scheduler's extender config carries certificates, not tokens: the client certificate authenticates /k8s
  it.each([
    ['with the scheduler\'s client certificate', true, 200],
    ['without a certificate', false, 401],
  ])('POST /k8s/filter over HTTPS %s → %i', async (_n, withCert, status) => {
    const body = JSON.stringify({ Pod: { metadata: { name: 'p', namespace: 'default' }, spec: { containers: [] } }, NodeNames: ['n1'] });
    const r = await new Promise<HttpResult>((resolve, reject) => {
      const req = https.request(
        `https://${s.httpAddress}/k8s/filter`,
        {
          method: 'POST',
          servername: 'localhost',
          ca: pki.read(pki.caCert),
          ...(withCert ? { cert: pki.read(pki.clientCert), key: pki.read(pki.clientKey) } : {}),
          agent: false,
          headers: { 'content-type': 'application/json' },
        },
        (res) => {
          let t = '';
          res.on('data', (c: Buffer) => (t += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: t }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    expect(r.status, r.body).toBe(status);
    if (status === 200) expect(JSON.parse(r.body)).toHaveProperty('Error');
  });
});

describe('TLS with a token and a non-loopback address', () => {
  it('serves 0.0.0.0 with TLS and a token; a TLS client needs the token too', async () => {
    const s = await serve({
      grpc: '0.0.0.0:0',
      http: '0.0.0.0:0',
      tlsCert: pki.serverCert,
      tlsKey: pki.serverKey,
      httpTlsCert: pki.serverCert,
      httpTlsKey: pki.serverKey,
      authTokenFile: tokenFile,
    });
    try {
      const port = Number(s.grpcAddress.split(':').pop());
      const c = new pb.TelemetryServiceClient(`127.0.0.1:${port}`, grpc.credentials.createSsl(pki.read(pki.caCert)));
      const denied = (await registerOne(c, new grpc.Metadata()).catch((e: grpc.ServiceError) => e)) as grpc.ServiceError;
      expect(denied.code).toBe(grpc.status.UNAUTHENTICATED);
      await expect(registerOne(c, tokenMd(`Bearer ${TOKEN}`))).resolves.toEqual({ registered: 1, updated: 0 });
      c.close();
      const httpPort = Number(s.httpAddress.split(':').pop());
      const r = await get(`https://127.0.0.1:${httpPort}/metrics`, { ca: pki.read(pki.caCert), agent: false });
      expect(r.status).toBe(401);
    } finally {
      await s.stop();
    }
  });
});

describe('start-up checks', () => {
  // Each case: config overrides → a start-up error that names the flag to fix.
  it.each<[string, () => Partial<ServiceConfig>, RegExp]>([
    ['gRPC on 0.0.0.0 without security', () => ({ grpc: '0.0.0.0:0' }), /gRPC on 0\.0\.0\.0:0 needs --tls-cert.*--insecure/],
    ['HTTP on 0.0.0.0 without security', () => ({ http: '0.0.0.0:0' }), /HTTP on 0\.0\.0\.0:0 needs --http-tls-cert.*--insecure/],
    ['gRPC on [::] with a token but no TLS', () => ({ grpc: '[::]:0', authTokenFile: tokenFile }), /gRPC on \[::\]:0 needs --tls-cert/],
    ['gRPC on 0.0.0.0 with TLS but no authentication', () => ({ grpc: '0.0.0.0:0', tlsCert: pki.serverCert, tlsKey: pki.serverKey }), /gRPC on 0\.0\.0\.0:0/],
    ['a certificate without its key', () => ({ tlsCert: pki.serverCert }), /tlsKey \(--tls-key\) is required with tlsCert/],
    ['an HTTP key without its certificate', () => ({ httpTlsKey: pki.serverKey }), /httpTlsCert \(--http-tls-cert\) is required with httpTlsKey/],
    ['a client CA without TLS', () => ({ tlsClientCa: pki.caCert }), /tlsClientCa \(--tls-client-ca\) needs TLS/],
    ['a missing token file', () => ({ authTokenFile: path.join(tmp, 'nope') }), /authTokenFile \(--auth-token-file\): cannot read .*ENOENT/],
    ['an empty token file', () => (fs.writeFileSync(path.join(tmp, 'empty'), '\n'), { authTokenFile: path.join(tmp, 'empty') }), /--auth-token-file.*is empty/],
    ['a token with spaces', () => (fs.writeFileSync(path.join(tmp, 'sp'), 'two words'), { authTokenFile: path.join(tmp, 'sp') }), /printable ASCII/],
    ['a certificate file that is not PEM', () => ({ tlsCert: tokenFile, tlsKey: pki.serverKey }), /tlsCert \(--tls-cert\): .*token is not a PEM certificate/],
    ['a key file that is a certificate', () => ({ httpTlsCert: pki.serverCert, httpTlsKey: pki.serverCert }), /httpTlsKey \(--http-tls-key\): .* is not a PEM private key/],
    ['a client CA that is a key', () => ({ tlsCert: pki.serverCert, tlsKey: pki.serverKey, tlsClientCa: pki.serverKey }), /tlsClientCa \(--tls-client-ca\): .* is not a PEM certificate/],
    ['a key that does not match the certificate', () => ({ tlsCert: pki.serverCert, tlsKey: pki.clientKey }), /gRPC|key values mismatch/i],
  ])('refuses %s', async (_n, overrides, msg) => {
    const e = await serve(overrides()).then(
      async (s) => {
        await s.stop();
        return undefined;
      },
      (x: unknown) => x as Error,
    );
    expect(e).toBeInstanceOf(Error);
    expect(e!.message).toMatch(msg);
  });

  it('the loopback rule errors are ConfigErrors', async () => {
    await expect(serve({ grpc: '0.0.0.0:0' })).rejects.toBeInstanceOf(ConfigError);
  });

  it('--insecure allows a non-loopback plaintext bind, and warns', async () => {
    const { log, lines } = captureLog();
    const s = await serve({ grpc: '0.0.0.0:0', http: '0.0.0.0:0', insecure: true }, log);
    await s.stop();
    expect(lines.join('')).toContain('serving without TLS and authentication on a non-loopback address');
  });

  it('loopback needs no flags: 127.0.0.2 and ::1 bind plain', async () => {
    const s = await serve({ grpc: '127.0.0.2:0', http: '[::1]:0' });
    await s.stop();
  });
});

describe('command line', () => {
  // The built CLI (test/run.sh builds before the tests run).
  const main = path.resolve(__dirname, '../../dist/main.js');
  const run = (args: string[], untilLine?: RegExp) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [main, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, WATTPLACE_INSECURE: undefined } });
      let stdout = '';
      let stderr = '';
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.stdout.on('data', (c: Buffer) => {
        stdout += c.toString();
        if (untilLine && untilLine.test(stdout)) {
          untilLine = undefined;
          child.kill('SIGTERM');
        }
      });
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });

  it('refuses a non-loopback bind without security flags, naming --insecure', async () => {
    const r = await run(['--grpc', '0.0.0.0:0', '--http', '127.0.0.1:0']);
    expect(r.code).toBe(2); // configuration error
    expect(r.stderr).toMatch(/wattplace: refusing to serve a non-loopback address .*gRPC on 0\.0\.0\.0:0.*--insecure/);
  });

  it('--insecure works as a flag without a value; the token value never reaches the log', async () => {
    const r = await run(['--grpc', '0.0.0.0:0', '--http', '127.0.0.1:0', '--insecure', '--auth-token-file', tokenFile], /wattplace serving/);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const serving = lines.find((l) => l.msg === 'wattplace serving');
    expect(serving).toMatchObject({ level: 30, security: { authToken: true, insecure: true, grpcTls: false } });
    expect(r.stdout).not.toContain(TOKEN);
    expect(r.code).toBe(0); // SIGTERM → orderly shutdown
  });
});
