import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from './ports';

/**
 * A real InfluxDB 1.x (`influxd`, Debian package `influxdb`) for one test file:
 * free loopback ports for HTTP and the RPC (backup) service, meta/data/wal in a
 * temporary directory, reporting and the _internal monitor off. The test can
 * kill and restart it (same ports, same data) to simulate an outage.
 *
 *   const db = await startInfluxd();
 *   ... `${db.url}/wattplace` ...
 *   await db.kill(); await db.start();
 *   await db.stop();   // and removes the directory
 */
export interface Influxd {
  /** http://127.0.0.1:PORT (no database). */
  readonly url: string;
  readonly httpPort: number;
  readonly dir: string;
  readonly running: boolean;
  /** (Re)starts on the same ports and data; resolves when /ping answers. */
  start(): Promise<void>;
  /** SIGKILL: an abrupt outage. */
  kill(): Promise<void>;
  /** Stops and deletes the data directory. */
  stop(): Promise<void>;
  /** Raw InfluxQL over HTTP (for assertions independent of the code under test). */
  query(db: string, q: string): Promise<InfluxSeries[]>;
  /** Raw line-protocol write (e.g. to play Telegraf). */
  write(db: string, lines: string, precision?: 'ms' | 's' | 'ns'): Promise<void>;
}

export interface InfluxSeries {
  name: string;
  tags?: Record<string, string>;
  columns: string[];
  values: unknown[][];
}

export const INFLUXD_BIN = process.env.INFLUXD_BIN ?? '/usr/bin/influxd';

function request(method: string, url: string, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: body ? { 'content-type': 'text/plain' } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`timeout: ${method} ${url}`)));
    req.end(body);
  });
}

export interface InfluxdOptions {
  /** [http] max-body-size in bytes (0 = unlimited, the default here). */
  readonly maxBodySize?: number;
}

function config(dir: string, httpPort: number, rpcPort: number, o: InfluxdOptions): string {
  return `reporting-disabled = true
bind-address = "127.0.0.1:${rpcPort}"
[meta]
  dir = "${dir}/meta"
  logging-enabled = false
[data]
  dir = "${dir}/data"
  wal-dir = "${dir}/wal"
  query-log-enabled = false
  wal-fsync-delay = "0s"
[monitor]
  store-enabled = false
[subscriber]
  enabled = false
[continuous_queries]
  enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:${httpPort}"
  log-enabled = false
  pprof-enabled = false
  unix-socket-enabled = false
  max-body-size = ${o.maxBodySize ?? 0}
[logging]
  level = "error"
  suppress-logo = true
`;
}

export async function startInfluxd(opts: InfluxdOptions = {}): Promise<Influxd> {
  if (!fs.existsSync(INFLUXD_BIN)) {
    throw new Error(`${INFLUXD_BIN} not found: install the Debian package "influxdb" (test/setup/apt-packages.txt; npm test installs it)`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wattplace-influxd-'));
  const httpPort = await freePort();
  const rpcPort = await freePort();
  const conf = path.join(dir, 'influxdb.conf');
  fs.writeFileSync(conf, config(dir, httpPort, rpcPort, opts));
  const url = `http://127.0.0.1:${httpPort}`;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let stderr = '';

  const start = async () => {
    if (child) return;
    stderr = '';
    const c = spawn(INFLUXD_BIN, ['run', '-config', conf], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, INFLUXDB_HTTP_LOG_ENABLED: 'false' } });
    child = c;
    // Never outlive the test process (a crashed worker must not leave influxd behind).
    const reap = () => c.kill('SIGKILL');
    process.once('exit', reap);
    c.once('exit', () => process.removeListener('exit', reap));
    c.stderr!.on('data', (d: Buffer) => {
      if (stderr.length < 20_000) stderr += d.toString();
    });
    exited = new Promise((resolve) =>
      c.once('exit', () => {
        if (child === c) child = undefined;
        resolve();
      }),
    );
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child !== c) throw new Error(`influxd exited during start-up:\n${stderr}`);
      try {
        const r = await request('GET', `${url}/ping`);
        if (r.status === 204) return;
      } catch {
        /* not up yet */
      }
      if (Date.now() > deadline) {
        c.kill('SIGKILL');
        throw new Error(`influxd did not answer /ping within 30 s:\n${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const kill = async () => {
    const c = child;
    if (!c) return;
    c.kill('SIGKILL');
    await exited;
  };
  const h: Influxd = {
    url,
    httpPort,
    dir,
    get running() {
      return child !== undefined;
    },
    start,
    kill,
    async stop() {
      const c = child;
      if (c) {
        c.kill('SIGTERM');
        const t = setTimeout(() => c.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(t);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
    async query(db, q) {
      const r = await request('GET', `${url}/query?db=${encodeURIComponent(db)}&epoch=ms&q=${encodeURIComponent(q)}`);
      if (r.status !== 200) throw new Error(`influx query failed (${r.status}): ${r.text}`);
      const body = JSON.parse(r.text) as { results: { series?: InfluxSeries[]; error?: string }[] };
      const res = body.results[0];
      if (res.error) throw new Error(`influx query: ${res.error}`);
      return res.series ?? [];
    },
    async write(db, lines, precision = 'ms') {
      const r = await request('POST', `${url}/write?db=${encodeURIComponent(db)}&precision=${precision}`, lines);
      if (r.status !== 204) throw new Error(`influx write failed (${r.status}): ${r.text}`);
    },
  };
  try {
    await start();
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return h;
}
