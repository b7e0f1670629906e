import * as http from 'node:http';
import * as https from 'node:https';
import * as zlib from 'node:zlib';
import type { Logger } from 'pino';
import { clip, echo, ValidationError } from '../domain';
import { JsonDepthScanner } from './json-depth';
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
  /** A request's headers must arrive within this (Node answers 408). Default 5,000 ms. */
  readonly headersTimeoutMs?: number;
  /** A request's body must arrive within this after its headers (408). Default 10,000 ms. */
  readonly bodyTimeoutMs?: number;
  /** Most body bytes held across all requests at once; a request that would pass it gets 413 + Retry-After. Default 64 MiB. */
  readonly maxBufferedBytes?: number;
  /** Deepest JSON nesting of a body, checked as it arrives (400). Default 100. */
  readonly maxJsonDepth?: number;
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
  /** Body bytes held by requests in progress (see maxBufferedBytes). */
  private buffered = 0;
  private readonly bodyTimeoutMs: number;
  private readonly maxBufferedBytes: number;
  private readonly maxJsonDepth: number;

  constructor(
    private readonly opts: HttpServerOptions,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    const listener = (req: http.IncomingMessage, res: http.ServerResponse) => void this.handle(req, res);
    const headersTimeout = opts.headersTimeoutMs ?? 5_000;
    this.bodyTimeoutMs = opts.bodyTimeoutMs ?? 10_000;
    this.maxBufferedBytes = opts.maxBufferedBytes ?? 64 * 1024 * 1024;
    this.maxJsonDepth = opts.maxJsonDepth ?? 100;
    // Node checks its request deadlines every connectionsCheckingInterval (30 s by default): 1 s here,
    // so a deadline of seconds holds to about a second.
    const base = { connectionsCheckingInterval: 1_000, headersTimeout, requestTimeout: headersTimeout + this.bodyTimeoutMs + 1_000 };
    this.server = opts.tls
      ? https.createServer(
          { ...base, cert: opts.tls.cert, key: opts.tls.key, ...(opts.tls.ca ? { ca: opts.tls.ca, requestCert: true, rejectUnauthorized: false } : {}) },
          listener,
        )
      : http.createServer(base, listener);
    this.server.keepAliveTimeout = 65_000;
    // What Node's parser refuses before a request exists (bad request line, headers too large or too
    // slow): a JSON answer naming why, then the connection closes. Node's default is a bare status line.
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: import('node:stream').Duplex) => {
      if (!socket.writable || err.code === 'ECONNRESET') return void socket.destroy();
      const [status, text, error] =
        err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'Request Timeout', `request headers not complete within ${headersTimeout} ms (httpHeadersTimeoutMs)`]
          : err.code === 'HPE_HEADER_OVERFLOW'
            ? [431, 'Request Header Fields Too Large', 'request headers too large']
            : [400, 'Bad Request', `malformed HTTP request (${err.code ?? 'parse error'})`];
      const body = JSON.stringify({ error });
      socket.end(`HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    });
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
    const body = { held: 0 };
    // A body refused before its end: the answer closes the connection, so the client stops sending.
    let close = false;
    let retryAfter: number | undefined;
    try {
      const url = requestUrl(req.url);
      const route = this.routes.get(`${req.method} ${url.pathname}`);
      // The token is checked before the route is: without it, every path but the open ones is 401,
      // so routes and methods cannot be discovered without credentials.
      const refused = route?.open ? undefined : this.guard?.(req);
      if (refused) {
        req.resume();
        out = refused;
      } else if (!route) {
        const allowed = [...this.routes.keys()].filter((k) => k.endsWith(` ${url.pathname}`)).map((k) => k.split(' ')[0]);
        out = allowed.length
          ? { status: 405, body: { error: `method ${req.method} not allowed; use ${allowed.join(', ')}` } }
          : { status: 404, body: { error: `no such endpoint: ${url.pathname.length <= 64 ? url.pathname : `${url.pathname.slice(0, 64)}… (${url.pathname.length} characters)`}` } };
        req.resume();
      } else {
        if (route.metric) end = this.metrics.decisionSeconds.startTimer({ rpc: route.metric });
        const raw = req.method === 'POST' || req.method === 'PUT' ? await this.readBody(req, body) : undefined;
        const parsed = raw && !route.raw ? parseJsonBody(raw) : undefined;
        out = await route.handler({ req, body: parsed, raw, url });
      }
    } catch (e) {
      const c = classify(e);
      if (!c.expected && !(e instanceof BodyRefused)) this.log.error({ err: e, method: req.method, url: clip(req.url ?? '', 256) }, 'http request failed');
      if (e instanceof BodyRefused) {
        close = !req.complete;
        retryAfter = e.retryAfterSeconds;
      }
      out = { status: e instanceof BodyRefused ? e.status : c.http, body: { error: c.message, ...(e instanceof ValidationError ? { field: e.field } : {}) } };
    } finally {
      this.buffered -= body.held;
      body.held = 0;
    }
    const seconds = end?.();
    this.log.debug({ method: req.method, path: clip(req.url ?? '', 256), status: out.status, seconds }, 'http request');
    const text = out.text ?? JSON.stringify(out.body);
    const headers: http.OutgoingHttpHeaders = { 'Content-Type': out.contentType ?? 'application/json' };
    if (retryAfter !== undefined) headers['Retry-After'] = String(retryAfter);
    if (close) {
      headers.Connection = 'close';
      res.on('finish', () => req.socket.destroy());
    }
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

  /**
   * The body's bytes, refused as soon as it breaks a bound: past maxBodyBytes
   * (413), past the bytes all requests may hold together (413 with
   * Retry-After), nested deeper than maxJsonDepth (400), or not complete
   * within bodyTimeoutMs (408). `held` counts the bytes this request holds in
   * the shared budget; the caller gives them back when the request is done.
   */
  private readBody(req: http.IncomingMessage, held: { held: number }): Promise<Buffer> {
    const max = this.opts.maxBodyBytes;
    const depth = new JsonDepthScanner(this.maxJsonDepth);
    return new Promise((resolve, reject) => {
      let chunks: Buffer[] = [];
      let size = 0;
      let failed = false;
      const fail = (e: Error) => {
        if (failed) return;
        failed = true;
        clearTimeout(timer);
        chunks = [];
        this.buffered -= held.held;
        held.held = 0;
        reject(e);
      };
      const timer = setTimeout(
        () => fail(new BodyRefused(408, 'body', `request body not complete within ${this.bodyTimeoutMs} ms (httpBodyTimeoutMs)`)),
        this.bodyTimeoutMs,
      );
      req.on('data', (c: Buffer) => {
        if (failed) return;
        size += c.length;
        if (size > max) return fail(new BodyRefused(413, 'body', `request body exceeds ${max} bytes`));
        if (this.buffered + c.length > this.maxBufferedBytes) {
          return fail(new BodyRefused(413, 'body', `the server holds ${this.maxBufferedBytes} bytes of request bodies at most (httpMaxBufferedBytes) and is at that limit; retry later`, 1));
        }
        if (!depth.feed(c)) return fail(new BodyRefused(400, 'body', `JSON nested deeper than ${this.maxJsonDepth} levels (httpMaxJsonDepth)`));
        this.buffered += c.length;
        held.held += c.length;
        chunks.push(c);
      });
      req.on('end', () => {
        if (failed) return;
        failed = true; // settled: a later 'close' changes nothing
        clearTimeout(timer);
        resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
      });
      req.on('error', (e) => fail(e));
      req.on('close', () => fail(new BodyRefused(400, 'body', 'the connection closed before the body was complete')));
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

/** A body refused before it was read to its end: the answer's status, and Retry-After when the cause is temporary. */
class BodyRefused extends ValidationError {
  constructor(
    readonly status: number,
    field: string,
    problem: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(field, problem);
  }
}

/** Characters a path may hold (RFC 3986 §3.3 pchar, and "/"); a query is not checked. */
const PATH_CHARS = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*$/;

/**
 * The URL of a request target: origin-form (`/path?query`), or absolute-form
 * (`http://host/path`, RFC 9112 §3.2.2). Anything else, or a path with
 * characters RFC 3986 does not allow (`//[`), is a ValidationError (400),
 * never an exception from the URL parser.
 */
export function requestUrl(target: string | undefined): URL {
  const t = target ?? '/';
  if (t.startsWith('/')) {
    const q = t.indexOf('?');
    if (!PATH_CHARS.test(q < 0 ? t : t.slice(0, q))) throw new ValidationError('target', `malformed request target ${echo(t)}`);
    return new URL(`http://localhost${t}`);
  }
  if (/^https?:\/\//i.test(t)) {
    try {
      return new URL(t);
    } catch {
      throw new ValidationError('target', `malformed request target ${echo(t)}`);
    }
  }
  throw new ValidationError('target', `malformed request target ${echo(t)}`);
}

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
