import { createHash, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import type * as http from 'node:http';
import { isIP } from 'node:net';
import type { TLSSocket } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { ConfigError, flagName, splitHostPort, type ServiceConfig } from '../config';
import type { HttpGuard, HttpResponse } from './http';

/**
 * Transport security and authentication of the service.
 *
 * - gRPC: TLS with `--tls-cert/--tls-key`; mutual TLS with `--tls-client-ca`
 *   (the handshake refuses clients without a certificate chaining to that CA).
 *   With `--auth-token-file` every call of wattplace.v1 needs the metadata
 *   `authorization: Bearer <token>`, else UNAUTHENTICATED. With both a client CA
 *   and a token, gRPC callers need both. grpc.health.v1 and server reflection
 *   stay open (load balancers and probes carry no credentials; reflection only
 *   describes the public schema).
 * - HTTP: plain unless `--http-tls-cert/--http-tls-key`. With a token every
 *   route except /healthz and /readyz needs `Authorization: Bearer <token>`,
 *   else 401. With HTTPS and a client CA a verified client certificate is
 *   accepted instead of the token (the handshake cannot demand one: kubelet
 *   probes of /healthz present none).
 * - Without TLS and authentication the service only binds loopback addresses,
 *   unless `--insecure` is given.
 *
 * Secrets are read from files and never logged (see LOG_REDACT); the token is
 * compared in constant time.
 */

/** pino `redact` paths: anything that could carry a secret in a log line. */
export const LOG_REDACT = {
  paths: [
    'authorization',
    'token',
    'key',
    'headers.authorization',
    'req.headers.authorization',
    '*.authorization',
    '*.token',
    '*.key',
    'metadata.authorization',
    'password',
    '*.password',
  ],
  censor: '[Redacted]',
};

export interface Security {
  /** Credentials to bind the gRPC port with. */
  readonly grpcCredentials: grpc.ServerCredentials;
  /** Interceptors for the gRPC server (token check), possibly empty. */
  readonly grpcInterceptors: grpc.ServerInterceptor[];
  /** HTTPS material for the HTTP port, or undefined for plain HTTP. */
  readonly httpTls?: { cert: Buffer; key: Buffer; ca?: Buffer };
  /** Guard for HTTP routes that are not open, or undefined when no authentication is configured. */
  readonly httpGuard?: HttpGuard;
  /** One line describing the setup, safe to log (no secrets). */
  readonly summary: Record<string, unknown>;
  /** Registers wattplace_auth_refused_total{api} on the service's registry. */
  attachMetrics(registry: Registry): void;
}

/** True for addresses only this machine can reach: 127.0.0.0/8, ::1, localhost. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h);
  return false;
}

function readSecretFile(key: keyof ServiceConfig, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new ConfigError(`${key} (--${flagName(key)}): cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** Reads a certificate, key or CA file and checks it is PEM (the content itself is never put in a message). */
function readPemFile(key: keyof ServiceConfig, file: string, what: 'CERTIFICATE' | 'PRIVATE KEY'): Buffer {
  const b = readSecretFile(key, file);
  const re = what === 'CERTIFICATE' ? /-----BEGIN CERTIFICATE-----/ : /-----BEGIN [A-Z ]*PRIVATE KEY-----/;
  if (!re.test(b.toString('latin1'))) throw new ConfigError(`${key} (--${flagName(key)}): ${file} is not a PEM ${what.toLowerCase()}`);
  return b;
}

/** Reads the token file: one token, surrounding whitespace ignored. */
export function readTokenFile(file: string): string {
  const token = readSecretFile('authTokenFile', file).toString('utf8').trim();
  if (token === '') throw new ConfigError(`authTokenFile (--auth-token-file): ${file} is empty`);
  if (!/^[\x21-\x7e]+$/.test(token)) {
    throw new ConfigError(`authTokenFile (--auth-token-file): the token in ${file} must be one word of printable ASCII (it travels in an HTTP header)`);
  }
  return token;
}

/** Compares a presented token with the configured one in constant time (both hashed to equal length first). */
export function tokenEquals(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** Extracts the token from an `authorization` value `Bearer <token>` (scheme case-insensitive). */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return m ? m[1] : undefined;
}

/** Why a presented authorization value is refused, or undefined when it is accepted. */
export function checkAuthorization(header: string | undefined, token: string): string | undefined {
  if (header === undefined || header === '') return 'missing authorization: expected "Bearer <token>"';
  const presented = bearerToken(header);
  if (presented === undefined) return 'malformed authorization: expected "Bearer <token>"';
  return tokenEquals(presented, token) ? undefined : 'invalid bearer token';
}

/** Methods that stay open with a token configured: health checking and reflection. */
export function isOpenGrpcMethod(path: string): boolean {
  return path.startsWith('/grpc.health.v1.Health/') || path.startsWith('/grpc.reflection.');
}

/** A gRPC server interceptor refusing calls without the bearer token with UNAUTHENTICATED. */
export function grpcTokenInterceptor(token: string, onRefused?: (method: string, reason: string, peer: string) => void): grpc.ServerInterceptor {
  return (method, call) => {
    if (isOpenGrpcMethod(method.path)) return new grpc.ServerInterceptingCall(call);
    const listener = new grpc.ServerListenerBuilder()
      .withOnReceiveMetadata((md, next) => {
        const v = md.get('authorization');
        const reason = checkAuthorization(typeof v[0] === 'string' ? v[0] : undefined, token);
        if (reason === undefined) {
          next(md);
          return;
        }
        onRefused?.(method.path, reason, call.getPeer());
        call.sendStatus({ code: grpc.status.UNAUTHENTICATED, details: `${reason} (metadata "authorization: Bearer <token>")`, metadata: new grpc.Metadata() });
      })
      .build();
    const responder = new grpc.ResponderBuilder().withStart((next) => next(listener)).build();
    return new grpc.ServerInterceptingCall(call, responder);
  };
}

/** The HTTP guard: a valid bearer token, or (with HTTPS and a client CA) a verified client certificate. */
export function httpGuard(opts: { token?: string; clientCerts: boolean }, onRefused?: (path: string, reason: string) => void): HttpGuard {
  return (req: http.IncomingMessage): HttpResponse | undefined => {
    if (opts.clientCerts && (req.socket as TLSSocket).authorized === true) return undefined;
    let reason: string;
    if (opts.token !== undefined) {
      const r = checkAuthorization(req.headers.authorization, opts.token);
      if (r === undefined) return undefined;
      reason = r;
    } else {
      reason = 'a verified client certificate is required';
    }
    onRefused?.(req.url ?? '', reason);
    return {
      status: 401,
      body: { error: `unauthenticated: ${reason}`, field: 'authorization' },
    };
  };
}

/**
 * Reads certificates, keys and the token from their files, checks the
 * combination and the loopback rule, and builds what the ports need. Throws
 * ConfigError naming the flag on any problem.
 */
export function loadSecurity(cfg: ServiceConfig, log?: Logger): Security {
  const pair = (certKey: 'tlsCert' | 'httpTlsCert', keyKey: 'tlsKey' | 'httpTlsKey') => {
    const c = cfg[certKey];
    const k = cfg[keyKey];
    if (!!c !== !!k) {
      const [given, missing] = c ? [certKey, keyKey] : [keyKey, certKey];
      throw new ConfigError(`${missing} (--${flagName(missing)}) is required with ${given} (--${flagName(given)})`);
    }
    return c && k ? { cert: readPemFile(certKey, c, 'CERTIFICATE'), key: readPemFile(keyKey, k, 'PRIVATE KEY') } : undefined;
  };
  const grpcTls = pair('tlsCert', 'tlsKey');
  const httpTlsPair = pair('httpTlsCert', 'httpTlsKey');
  if (cfg.tlsClientCa && !grpcTls && !httpTlsPair) {
    throw new ConfigError('tlsClientCa (--tls-client-ca) needs TLS: give --tls-cert/--tls-key (gRPC) or --http-tls-cert/--http-tls-key (HTTP)');
  }
  const ca = cfg.tlsClientCa ? readPemFile('tlsClientCa', cfg.tlsClientCa, 'CERTIFICATE') : undefined;
  const token = cfg.authTokenFile ? readTokenFile(cfg.authTokenFile) : undefined;

  let grpcCredentials: grpc.ServerCredentials;
  try {
    grpcCredentials = grpcTls
      ? grpc.ServerCredentials.createSsl(ca ?? null, [{ cert_chain: grpcTls.cert, private_key: grpcTls.key }], ca !== undefined)
      : grpc.ServerCredentials.createInsecure();
  } catch (e) {
    throw new ConfigError(`tlsCert/tlsKey: ${(e as Error).message}`);
  }

  // The loopback rule: a port reachable from other machines needs TLS and authentication, or --insecure.
  const grpcSecure = !!grpcTls && (token !== undefined || ca !== undefined);
  const httpSecure = !!httpTlsPair && (token !== undefined || ca !== undefined);
  const problems: string[] = [];
  const g = splitHostPort(cfg.grpc);
  const h = splitHostPort(cfg.http);
  if (!isLoopback(g.host) && !grpcSecure) {
    problems.push(`gRPC on ${cfg.grpc} needs --tls-cert/--tls-key and --auth-token-file (or --tls-client-ca)`);
  }
  if (!isLoopback(h.host) && !httpSecure) {
    problems.push(`HTTP on ${cfg.http} needs --http-tls-cert/--http-tls-key and --auth-token-file (or --tls-client-ca)`);
  }
  if (problems.length && !cfg.insecure) {
    throw new ConfigError(
      `refusing to serve a non-loopback address without TLS and authentication: ${problems.join('; ')}. ` +
        'Pass --insecure to allow it anyway (for example inside a private container network).',
    );
  }
  if (problems.length) log?.warn({ problems }, 'serving without TLS and authentication on a non-loopback address (--insecure)');

  let refused: Counter<'api'> | undefined;
  const grpcInterceptors = token
    ? [
        grpcTokenInterceptor(token, (method, reason, peer) => {
          refused?.inc({ api: 'grpc' });
          log?.warn({ api: 'grpc', method, peer, reason }, 'request refused: unauthenticated');
        }),
      ]
    : [];
  const clientCerts = !!httpTlsPair && ca !== undefined;
  const guard =
    token !== undefined || clientCerts
      ? httpGuard({ token, clientCerts }, (path, reason) => {
          refused?.inc({ api: 'http' });
          log?.warn({ api: 'http', path, reason }, 'request refused: unauthenticated');
        })
      : undefined;
  return {
    grpcCredentials,
    grpcInterceptors,
    httpTls: httpTlsPair ? { ...httpTlsPair, ca: clientCerts ? ca : undefined } : undefined,
    httpGuard: guard,
    summary: {
      grpcTls: !!grpcTls,
      grpcClientCerts: !!grpcTls && ca !== undefined,
      httpTls: !!httpTlsPair,
      httpClientCerts: clientCerts,
      authToken: token !== undefined,
      insecure: problems.length > 0,
    },
    attachMetrics(registry) {
      refused = new Counter({
        name: 'wattplace_auth_refused_total',
        help: 'Requests refused for missing or wrong credentials, by API.',
        labelNames: ['api'] as const,
        registers: [registry],
      });
    },
  };
}
