/**
 * deploy/ validated without Docker: the compose file, Prometheus and Grafana
 * provisioning parsed with `yaml` and cross-checked (services, images, ports,
 * volumes, the wattplace command against the real config schema, every
 * dashboard metric against a live server's /metrics), the Dockerfile checked
 * structurally, and the container health check run against a real server.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ConfigSchema, flagName, loadConfig } from '../../src/config';
import { startTestServer, type TestServer } from '../helpers/grpc';

const ROOT = path.resolve(__dirname, '../..');
const DEPLOY = path.join(ROOT, 'deploy');
const read = (p: string) => fs.readFileSync(path.join(DEPLOY, p), 'utf8');
const yamlOf = (p: string) => parseYaml(read(p)) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const compose = yamlOf('compose.yaml');
const services = compose.services as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** `--kebab-key=value` / `--flag` arguments → config flags keyed like the schema. */
function flagsOf(args: string[]): Record<string, string | boolean> {
  const byFlag = new Map(Object.keys(ConfigSchema.shape).map((k) => [flagName(k), k]));
  const out: Record<string, string | boolean> = {};
  for (const a of args) {
    const m = /^--([a-z0-9-]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new Error(`not a --flag: ${a}`);
    const key = byFlag.get(m[1]);
    if (!key) throw new Error(`unknown flag --${m[1]}`);
    out[key] = m[2] ?? true;
  }
  return out;
}

describe('compose.yaml', () => {
  it('has wattplace, InfluxDB 1.x, Prometheus and Grafana', () => {
    expect(Object.keys(services).sort()).toEqual(['grafana', 'influxdb', 'prometheus', 'wattplace']);
    expect(services.influxdb.image).toMatch(/^influxdb:1\.\d+/);
    expect(services.prometheus.image).toMatch(/^prom\/prometheus:v\d/);
    expect(services.grafana.image).toMatch(/^grafana\/grafana:\d/);
    expect(services.wattplace.build).toEqual({ context: '..', dockerfile: 'deploy/Dockerfile' });
    expect(fs.existsSync(path.join(DEPLOY, services.wattplace.build.context, services.wattplace.build.dockerfile))).toBe(true);
  });

  it('publishes every port on the host loopback only, and the container ports are the ones served', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const p of s.ports as string[]) expect(p, `${name} port ${p}`).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
    }
    const cfg = loadConfig({ flags: flagsOf(services.wattplace.command.slice(1)) });
    const containerPorts = (services.wattplace.ports as string[]).map((p) => p.split(':')[2]).sort();
    expect(containerPorts).toEqual([cfg.grpc.split(':').pop(), cfg.http.split(':').pop()].sort());
  });

  it('runs `wattplace serve` with flags the config schema accepts, storing telemetry in the compose InfluxDB', () => {
    const cmd = services.wattplace.command as string[];
    expect(cmd[0]).toBe('serve');
    const flags = flagsOf(cmd.slice(1));
    const cfg = loadConfig({ flags }); // throws naming the key if any value is invalid
    expect(cfg.insecure).toBe(true); // plain inside the compose network: must be explicit
    expect(flags.store).toBe('influx');
    expect(new URL(String(flags.influxUrl)).host).toBe('influxdb:8086');
    expect(new URL(String(flags.influxUrl)).pathname).toBe(`/${services.influxdb.environment.INFLUXDB_DB}`);
    expect(services.wattplace.depends_on.influxdb.condition).toBe('service_healthy');
  });

  it('bind mounts exist, named volumes are declared, dependencies are services', () => {
    const declared = Object.keys(compose.volumes ?? {});
    for (const [name, s] of Object.entries(services)) {
      for (const v of (s.volumes ?? []) as string[]) {
        const [src, target] = v.split(':');
        expect(target, `${name}: ${v}`).toMatch(/^\//);
        if (src.startsWith('.')) expect(fs.existsSync(path.join(DEPLOY, src)), `${name}: ${src}`).toBe(true);
        else expect(declared, `${name}: volume ${src}`).toContain(src);
      }
      const deps = Array.isArray(s.depends_on) ? s.depends_on : Object.keys(s.depends_on ?? {});
      for (const d of deps) expect(Object.keys(services)).toContain(d);
    }
  });
});

describe('Prometheus and Grafana provisioning', () => {
  it('Prometheus scrapes wattplace /metrics at the compose service and HTTP port', () => {
    const prom = yamlOf('prometheus/prometheus.yml');
    const job = (prom.scrape_configs as any[]).find((j) => j.job_name === 'wattplace'); // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(job.metrics_path).toBe('/metrics');
    const cfg = loadConfig({ flags: flagsOf(services.wattplace.command.slice(1)) });
    expect(job.static_configs[0].targets).toEqual([`wattplace:${cfg.http.split(':').pop()}`]);
    expect(services.prometheus.volumes).toContain('./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro');
  });

  it('the Grafana datasource and dashboard provider point where compose mounts them', () => {
    const ds = yamlOf('grafana/provisioning/datasources/prometheus.yaml').datasources[0];
    expect(ds).toMatchObject({ type: 'prometheus', url: 'http://prometheus:9090' });
    const provider = yamlOf('grafana/provisioning/dashboards/wattplace.yaml').providers[0];
    const mount = (services.grafana.volumes as string[]).find((v) => v.startsWith('./grafana/dashboards:'))!;
    expect(mount.split(':')[1]).toBe(provider.options.path);
    const dash = JSON.parse(read('grafana/dashboards/wattplace.json')) as { panels: { datasource?: { uid: string } }[] };
    for (const p of dash.panels) if (p.datasource) expect(p.datasource.uid).toBe(ds.uid);
  });
});

describe('Grafana dashboard', () => {
  interface Panel {
    id: number;
    type: string;
    title: string;
    targets?: { expr: string }[];
  }
  const dash = JSON.parse(read('grafana/dashboards/wattplace.json')) as { uid: string; panels: Panel[] };
  const exprs = dash.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
  let t: TestServer;
  let exposition: string;
  beforeAll(async () => {
    t = await startTestServer();
    const res = await fetch(`http://${t.server.httpAddress}/metrics`);
    exposition = await res.text();
  });
  afterAll(() => t.close());

  it('covers decisions and latency, watts per host and site, energy saved, solver gap, ingest and reservations', () => {
    const all = exprs.map((e) => e.expr).join('\n');
    for (const m of [
      'wattplace_decisions_total',
      'wattplace_decision_duration_seconds_bucket',
      'wattplace_host_watts',
      'wattplace_site_watts',
      'wattplace_decision_watts_avoided_total',
      'wattplace_consolidation_watts_saved',
      'wattplace_solver_gap',
      'wattplace_samples_ingested_total',
      'wattplace_reservations_open',
    ]) {
      expect(all).toContain(m);
    }
    expect(new Set(dash.panels.map((p) => p.id)).size).toBe(dash.panels.length);
  });

  it('every metric a panel queries is one the service exports', () => {
    const defined = new Set<string>();
    // what a running server exposes (its own and the default process metrics)…
    for (const m of exposition.matchAll(/^# TYPE (\S+) (\w+)/gm)) {
      defined.add(m[1]);
      if (m[2] === 'histogram') for (const s of ['_bucket', '_sum', '_count']) defined.add(m[1] + s);
    }
    // …and metrics of optional modules (e.g. the InfluxDB store), defined in the source
    const walk = (dir: string): string[] =>
      fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? walk(path.join(dir, d.name)) : d.name.endsWith('.ts') && !d.name.endsWith('.test.ts') ? [path.join(dir, d.name)] : []));
    for (const f of walk(path.join(ROOT, 'src'))) for (const m of fs.readFileSync(f, 'utf8').matchAll(/name: '(wattplace_[a-z0-9_]+)'/g)) defined.add(m[1]);
    const missing: string[] = [];
    for (const { panel, expr } of exprs) {
      for (const m of expr.matchAll(/\bwattplace_[a-z0-9_]+/g)) if (!defined.has(m[0])) missing.push(`${panel}: ${m[0]}`);
    }
    expect(missing).toEqual([]);
  });
});

describe('Dockerfile', () => {
  const text = read('Dockerfile');
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  // stages: FROM … AS name, with the instructions that follow
  const stages: { name: string; from: string; body: string[] }[] = [];
  for (const l of lines) {
    const m = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?$/i.exec(l);
    if (m) stages.push({ from: m[1], name: m[2] ?? String(stages.length), body: [] });
    else stages[stages.length - 1]?.body.push(l);
  }
  const runtime = stages[stages.length - 1];
  const joined = (s: { body: string[] }) => s.body.join('\n').replace(/\\\n\s*/g, ' ');

  it('is multi-stage: a build stage with dev dependencies, a runtime stage with production ones only', () => {
    expect(stages.map((s) => s.name)).toEqual(['build', 'runtime']);
    expect(text).toMatch(/^ARG NODE_IMAGE=node:20-bookworm-slim$/m);
    expect(joined(stages[0])).toMatch(/RUN npm ci\b(?!.*--omit=dev)/);
    expect(joined(stages[0])).toContain('RUN npm run build');
    expect(joined(runtime)).toMatch(/RUN npm ci --omit=dev\b/);
    expect(joined(runtime)).toContain('COPY --from=build /src/dist ./dist');
    expect(joined(runtime)).toMatch(/ENV NODE_ENV=production/);
  });

  it('runs as a non-root user, exposes the ports, has a health check and an entry point', () => {
    const user = runtime.body.filter((l) => /^USER\s/i.test(l)).pop();
    expect(user).toBeDefined();
    expect(user!.split(/\s+/)[1]).not.toMatch(/^(root|0)(:|$)/);
    expect(runtime.body).toContain('EXPOSE 50051 8080');
    expect(joined(runtime)).toMatch(/HEALTHCHECK .*CMD \["node", "deploy\/docker-healthcheck.js"\]/);
    expect(runtime.body).toContain('ENTRYPOINT ["node", "dist/main.js"]');
    expect(joined(runtime)).toContain('WATTPLACE_GRPC=0.0.0.0:50051');
    expect(joined(runtime)).toContain('WATTPLACE_HTTP=0.0.0.0:8080');
  });

  it('copies only files that exist and that .dockerignore keeps in the context', () => {
    const ignore = fs.readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    const ignored = (p: string) => ignore.some((g) => (g.includes('*') ? new RegExp(`^${g.replace(/\./g, '\\.').replace(/\*\*\//g, '\u0000').replace(/\*/g, '[^/]*').replace(/\u0000/g, '(.*/)?')}$`).test(p) : p === g || p.startsWith(`${g}/`)));
    for (const s of stages) {
      for (const l of s.body.filter((x) => /^COPY\s/i.test(x) && !/--from=/.test(x))) {
        const srcs = l.split(/\s+/).slice(1, -1);
        for (const src of srcs) {
          expect(fs.existsSync(path.join(ROOT, src)), src).toBe(true);
          expect(ignored(src), `${src} is excluded by .dockerignore`).toBe(false);
        }
      }
    }
    expect(ignored('node_modules')).toBe(true);
    expect(ignored('src/api/auth.test.ts')).toBe(true);
  });

  it('the container health check passes against a serving instance and fails without one', async () => {
    const t = await startTestServer();
    // asynchronous: the server runs in this process
    const probe = (addr: string) =>
      new Promise<number | null>((resolve) => {
        const c = spawn(process.execPath, [path.join(DEPLOY, 'docker-healthcheck.js')], { env: { ...process.env, WATTPLACE_HTTP: addr }, stdio: 'ignore' });
        const timer = setTimeout(() => c.kill('SIGKILL'), 10_000);
        c.on('close', (code) => {
          clearTimeout(timer);
          resolve(code);
        });
      });
    try {
      expect(await probe(t.server.httpAddress)).toBe(0);
    } finally {
      await t.close();
    }
    expect(await probe(t.server.httpAddress)).toBe(1); // stopped: nothing listens
  });
});
