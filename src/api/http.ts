import * as http from 'node:http';
import * as https from 'node:https';
import * as zlib from 'node:zlib';
import type { Logger } from 'pino';
import { ValidationError } from '../domain';
import { classify } from './errors';
import type { Metrics } from './metrics';

export interface HttpRequestContext {
  readonly req: http.IncomingMessage;
  /** The parsed JSON body (POST/PUT), or undefined (always for a `raw` route). */
  readonly body: unknown;
  /** The body's bytes as received (POST/PUT). */
  readonly raw?: Buffer;
  readonly url: URL;
}

export interface HttpResponse {
  readonly status: number;
  readonly body: unknown;
  /** Raw text instead of JSON (e.g. Prometheus exposition, or JSON an adapter wrote itself). */
  readonly text?: string | Buffer;
  readonly contentType?: string;
}

export type HttpHandler = (ctx: HttpRequestContext) => HttpResponse | Promise<HttpResponse>;

/** Runs before every route except the open ones (health, readiness); may refuse with a response. */
export type HttpGuard = (req: http.IncomingMessage) => HttpResponse | undefined;

export interface HttpServerOptions {
  readonly maxBodyBytes: number;
  /** HTTPS; with `ca` clients may present a certificate (verified against it, not demanded: see auth.ts). */
  readonly tls?: { cert: Buffer; key: Buffer; ca?: Buffer };
}

/**
 * The HTTP port: /metrics, /healthz, /readyz, and routes other modules add
 * (the Kubernetes extender under /k8s). JSON in and out; a bad body is a 400
 * naming the field, never a stack trace.
 */
export class HttpApi {
  private readonly routes = new Map<string, { handler: HttpHandler; open: boolean; metric?: string; raw: boolean }>();
  private guard?: HttpGuard;
  readonly server: http.Server;

  constructor(
    private readonly opts: HttpServerOptions,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    const listener = (req: http.IncomingMessage, res: http.ServerResponse) => void this.handle(req, res);
    this.server = opts.tls
      ? https.createServer(
          { cert: opts.tls.cert, key: opts.tls.key, ...(opts.tls.ca ? { ca: opts.tls.ca, requestCert: true, rejectUnauthorized: false } : {}) },
          listener,
        )
      : http.createServer(listener);
    this.server.keepAliveTimeout = 65_000;
  }

  /**
   * Adds a route: `method` and exact `path`. `open` routes skip the guard;
   * `metric` names its latency series; a `raw` route gets the body's bytes
   * only (it reads them itself, see parseJsonBody).
   */
  route(method: string, path: string, handler: HttpHandler, opts: { open?: boolean; metric?: string; raw?: boolean } = {}): void {
    this.routes.set(`${method} ${path}`, { handler, open: !!opts.open, metric: opts.metric, raw: !!opts.raw });
  }

  setGuard(g: HttpGuard): void {
    this.guard = g;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let out: HttpResponse;
    let end: (() => number) | undefined;
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const route = this.routes.get(`${req.method} ${url.pathname}`);
      if (!route) {
        const allowed = [...this.routes.keys()].filter((k) => k.endsWith(` ${url.pathname}`)).map((k) => k.split(' ')[0]);
        out = allowed.length
          ? { status: 405, body: { error: `method ${req.method} not allowed; use ${allowed.join(', ')}` } }
          : { status: 404, body: { error: `no such endpoint: ${url.pathname}` } };
        req.resume();
      } else {
        const refused = route.open ? undefined : this.guard?.(req);
        if (refused) {
          req.resume();
          out = refused;
        } else {
          if (route.metric) end = this.metrics.decisionSeconds.startTimer({ rpc: route.metric });
          const raw = req.method === 'POST' || req.method === 'PUT' ? await this.readBody(req) : undefined;
          const body = raw && !route.raw ? parseJsonBody(raw) : undefined;
          out = await route.handler({ req, body, raw, url });
        }
      }
    } catch (e) {
      const c = classify(e);
      if (!c.expected) this.log.error({ err: e, method: req.method, url: req.url }, 'http request failed');
      out = { status: e instanceof BodyTooLarge ? 413 : c.http, body: { error: c.message, ...(e instanceof ValidationError ? { field: e.field } : {}) } };
    }
    const seconds = end?.();
    this.log.debug({ method: req.method, path: req.url, status: out.status, seconds }, 'http request');
    const text = out.text ?? JSON.stringify(out.body);
    const headers: http.OutgoingHttpHeaders = { 'Content-Type': out.contentType ?? 'application/json' };
    let payload: string | Buffer = text;
    // Answers of GZIP_MIN_BYTES..GZIP_MAX_BYTES go gzipped (level 1) to clients that ask: Go's
    // HTTP client, and so kube-scheduler, asks by default, and an extender answer for 5,000
    // nodes shrinks ~8×, to one segment's worth. That costs ≤ ~0.5 ms on the event loop; a
    // larger answer would hold it (and every decision) for milliseconds, so it goes as is.
    const size = Buffer.byteLength(text);
    if (size >= GZIP_MIN_BYTES && size <= GZIP_MAX_BYTES && acceptsGzip(req.headers['accept-encoding'])) {
      payload = zlib.gzipSync(text, { level: 1 });
      headers['Content-Encoding'] = 'gzip';
      headers.Vary = 'Accept-Encoding';
    }
    headers['Content-Length'] = payload === text ? size : Buffer.byteLength(payload);
    res.writeHead(out.status, headers);
    res.end(payload);
  }

  /** The body's bytes, refused past maxBodyBytes. */
  private readBody(req: http.IncomingMessage): Promise<Buffer> {
    const max = this.opts.maxBodyBytes;
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let failed = false;
      req.on('data', (c: Buffer) => {
        if (failed) return;
        size += c.length;
        if (size > max) {
          failed = true;
          reject(new BodyTooLarge('body', `request body exceeds ${max} bytes`));
          return;
        }
        chunks.push(c);
      });
      req.on('end', () => {
        if (!failed) resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
      });
      req.on('error', reject);
    });
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve((this.server.address() as { port: number }).port);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections?.();
    });
  }
}

class BodyTooLarge extends ValidationError {}

/** Answers of this size range are gzipped for clients that accept it (see handle). */
export const GZIP_MIN_BYTES = 8192;
export const GZIP_MAX_BYTES = 256 * 1024;

/** Whether an Accept-Encoding header admits gzip (present, and not with q=0). */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  for (const part of header.split(',')) {
    const [name, ...params] = part.split(';').map((x) => x.trim().toLowerCase());
    if (name !== 'gzip' && name !== '*') continue;
    const q = params.find((p) => p.startsWith('q='));
    return !q || Number(q.slice(2)) > 0;
  }
  return false;
}

/** A request body as JSON; ValidationError naming `body` when it is empty or not JSON. */
export function parseJsonBody(raw: Buffer): unknown {
  const text = raw.toString('utf8');
  if (text.trim() === '') throw new ValidationError('body', 'a JSON body is required');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ValidationError('body', `not valid JSON: ${(e as Error).message}`);
  }
}
