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
    throw new ValidationError(field, `not a URL: ${JSON.stringify(raw)}`);
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
