import * as http from 'node:http';
import * as https from 'node:https';
import { InfluxDB } from 'influx';
import { ExponentialBackoff } from 'influx/lib/src/backoff/exponential';
import { ValidationError } from '../../domain';

export interface InfluxTarget {
  readonly protocol: 'http' | 'https';
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly username?: string;
  readonly password?: string;
}

/**
 * Parses `http://[user:pass@]host:port/database`. `field` names the config key
 * in errors. The database is the first path segment and is required.
 */
export function parseInfluxUrl(raw: string | undefined, field: string, defaultDatabase?: string): InfluxTarget {
  if (!raw) throw new ValidationError(field, 'required (e.g. http://127.0.0.1:8086/wattplace)');
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new ValidationError(field, 'not a URL (expected http://host:port/database)'); // the value is not echoed: it may hold a password
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ValidationError(field, `must be http:// or https://, got ${u.protocol}`);
  const segs = u.pathname.split('/').filter(Boolean);
  if (segs.length > 1) throw new ValidationError(field, `the path must be just the database name, got ${u.pathname}`);
  const database = segs.length ? decodeURIComponent(segs[0]) : defaultDatabase;
  if (!database) throw new ValidationError(field, 'names no database: add it as the path, e.g. http://127.0.0.1:8086/wattplace');
  const protocol = u.protocol === 'https:' ? 'https' : 'http';
  return {
    protocol,
    host: u.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: u.port ? Number(u.port) : 8086,
    database,
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
  };
}

/**
 * An `influx` client for one database. Retries are ours (the write-behind
 * loop), so the pool does not retry, and its own host back-off is short.
 */
export function influxClient(t: InfluxTarget, timeoutMs: number): InfluxDB {
  return new InfluxDB({
    host: t.host,
    port: t.port,
    protocol: t.protocol,
    database: t.database,
    username: t.username,
    password: t.password,
    pool: { maxRetries: 0, requestTimeout: timeoutMs, backoff: new ExponentialBackoff({ initial: 20, max: 500, random: 0 }) },
  });
}

/** Creates the database when it does not exist yet. */
export async function ensureDatabase(client: InfluxDB, database: string): Promise<boolean> {
  const names = await client.getDatabaseNames();
  if (names.includes(database)) return false;
  await client.createDatabase(database);
  return true;
}

/** Quotes an identifier for InfluxQL ("…", with \ and " escaped). */
export const ident = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
/** Quotes a string literal for InfluxQL ('…'). */
export const literal = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

export interface WriteFailure extends Error {
  /** HTTP status when InfluxDB answered, undefined for network errors and timeouts. */
  status?: number;
  body?: string;
}

/**
 * POSTs line protocol to /write (precision ms) over a keep-alive agent. The
 * `influx` client serves every query, database and ping call; writes take
 * this path because the client's writePoints spends ~5 µs per point turning
 * point objects into line protocol (measured: 20,000 points in 90–150 ms),
 * which alone caps ingest near the 50,000 samples/s target. Rejects with a
 * WriteFailure carrying the status and InfluxDB's error text.
 */
export class LineWriter {
  private readonly agent: http.Agent;
  private readonly path: string;
  private readonly auth?: string;

  constructor(
    private readonly t: InfluxTarget,
    private readonly timeoutMs: number,
  ) {
    this.agent = t.protocol === 'https' ? new https.Agent({ keepAlive: true, maxSockets: 4 }) : new http.Agent({ keepAlive: true, maxSockets: 4 });
    this.path = `/write?db=${encodeURIComponent(t.database)}&precision=ms`;
    this.auth = t.username !== undefined ? `Basic ${Buffer.from(`${t.username}:${t.password ?? ''}`).toString('base64')}` : undefined;
  }

  write(body: string): Promise<void> {
    const mod = this.t.protocol === 'https' ? https : http;
    const buf = Buffer.from(body, 'utf8');
    return new Promise((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = { 'content-type': 'text/plain; charset=utf-8', 'content-length': buf.length };
      if (this.auth) headers.authorization = this.auth;
      const req = mod.request({ host: this.t.host, port: this.t.port, method: 'POST', path: this.path, agent: this.agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) return resolve();
          const text = Buffer.concat(chunks).toString('utf8');
          const e = new Error(`InfluxDB write answered ${status}: ${text.trim().slice(0, 500)}`) as WriteFailure;
          e.status = status;
          e.body = text;
          reject(e);
        });
        res.on('error', reject);
      });
      req.setTimeout(this.timeoutMs, () => req.destroy(new Error(`InfluxDB write timed out after ${this.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(buf);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

const NEEDS_TAG_ESCAPE = /[,= \\\n]/;
/** Escapes a tag value (or key) for line protocol; the common case (nothing to escape) allocates nothing. */
export const tagValue = (s: string): string => (NEEDS_TAG_ESCAPE.test(s) ? s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/([,= ])/g, '\\$1') : s);
/** A string field value, quoted. */
export const stringField = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
