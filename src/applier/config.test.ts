import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../config';
import { applierSettings, parseApplierConfig } from './config';
import { powerDrivers } from './index';
import { IronicPowerDriver } from './power/ironic/ironic';

const nova = { auth: { type: 'noauth' }, endpoint: 'http://127.0.0.1:8774/v2.1' };
const ironic = { auth: { type: 'noauth' }, endpoint: 'http://127.0.0.1:6385' };
const ipmiHost = { driver: 'ipmi', address: '10.0.0.9', user: 'admin', passwordFile: '/etc/wattplace/bmc' };

/** The message of the ConfigError `f` throws; fails when it throws nothing or something else. */
function configError(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('no ConfigError');
}

/** `key: …` as the message names it (start, or after `; `). */
const names = (key: string) => new RegExp(`(?:^invalid configuration: |; )${key.replace(/[.*]/g, (c) => `\\${c}`)}: `);

describe('applier config: defaults', () => {
  it.each([
    ['no section', undefined],
    ['null', null],
    ['an empty section', {}],
  ])('%s → mode off and the documented defaults', (_n, raw) => {
    const c = parseApplierConfig(raw);
    expect(c).toMatchObject({
      mode: 'off',
      intervalMs: 300_000,
      minSavingWatts: 50,
      headroom: 0.1,
      maxConcurrentMigrations: 2,
      maxMigrationsPerCycle: 20,
      migrationTimeoutMs: 600_000,
      wakeTimeoutMs: 900_000,
      hosts: { selector: {}, sites: [] },
      power: {},
    });
    expect(c.nova).toBeUndefined();
    expect(c.etcd).toBeUndefined();
    expect(c.ironic).toBeUndefined();
  });

  it.each([
    // intervalMs  tickMs set   tick used
    [300_000, undefined, 10_000],
    [5_000, undefined, 5_000], // a short interval alone shortens the tick: no error about a key never set
    [60_000, 1_000, 1_000],
  ])('intervalMs %i, tickMs %s → ticks every %i ms', (intervalMs, tickMs, want) => {
    expect(applierSettings(parseApplierConfig({ intervalMs, ...(tickMs ? { tickMs } : {}) })).tickMs).toBe(want);
  });

  it('an empty applier section in the file (null) is the defaults', () => {
    const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'wattplace-cfg-')), 'c.yaml');
    fs.writeFileSync(f, 'applier:\n');
    expect(loadConfig({ file: f, env: {} }).applier).toEqual({});
    expect(parseApplierConfig(loadConfig({ file: f, env: {} }).applier).mode).toBe('off');
  });

  it('etcd given: leaseTtlMs 15000 and the default key', () => {
    expect(parseApplierConfig({ etcd: { endpoints: ['http://127.0.0.1:2379'] } }).etcd).toEqual({ endpoints: ['http://127.0.0.1:2379'], leaseTtlMs: 15_000, key: '/wattplace/applier/leader' });
  });

  it('ironic given: its driver defaults', () => {
    expect(parseApplierConfig({ ironic }).ironic).toMatchObject({ interface: 'public', timeoutMs: 30_000, retries: 3, conflictRetries: 8 });
  });
});

describe('applier config: valid sections', () => {
  it.each([
    ['mode dry-run with nova', { mode: 'dry-run', nova }],
    ['mode on with nova and etcd', { mode: 'on', nova, etcd: { endpoints: ['http://10.0.0.5:2379'], leaseTtlMs: 5_000 } }],
    ['an ipmi host', { power: { host1: ipmiHost } }],
    ['driver none under *', { power: { '*': { driver: 'none' } } }],
    ['an ironic host without nodeId', { power: { host1: { driver: 'ironic' } }, ironic }],
    ['an ironic host with nodeId', { power: { host1: { driver: 'ironic', nodeId: 'node-7' } }, ironic }],
    ['driver ironic under *', { power: { '*': { driver: 'ironic' } }, ironic }],
    ['ironic with Keystone password auth', { power: { '*': { driver: 'ironic' } }, ironic: { auth: { type: 'password', authUrl: 'http://keystone:5000', username: 'wattplace', passwordFile: '/etc/wattplace/pw', projectName: 'service' } } }],
  ])('%s', (_n, raw) => {
    expect(() => parseApplierConfig(raw)).not.toThrow();
  });
});

describe('applier config: a bad value is a ConfigError naming its key', () => {
  it.each([
    ['mode', { mode: 'sometimes' }, 'applier.mode'],
    ['headroom above 1', { headroom: 1.5 }, 'applier.headroom'],
    ['headroom negative', { headroom: -0.1 }, 'applier.headroom'],
    ['intervalMs not an integer', { intervalMs: 1_000.5 }, 'applier.intervalMs'],
    ['intervalMs a string', { intervalMs: '300000' }, 'applier.intervalMs'],
    ['minSavingWatts negative', { minSavingWatts: -1 }, 'applier.minSavingWatts'],
    ['maxConcurrentMigrations 0', { maxConcurrentMigrations: 0 }, 'applier.maxConcurrentMigrations'],
    ['maxMigrationsPerCycle 0', { maxMigrationsPerCycle: 0 }, 'applier.maxMigrationsPerCycle'],
    ['migrationTimeoutMs too short', { migrationTimeoutMs: 10 }, 'applier.migrationTimeoutMs'],
    ['wakeTimeoutMs too long', { wakeTimeoutMs: 86_400_001 }, 'applier.wakeTimeoutMs'],
    ['hosts.sites not a list', { hosts: { sites: 'a' } }, 'applier.hosts.sites'],
    ['an unknown key', { foo: 1 }, 'applier.foo'],
    ['an unknown key in hosts', { hosts: { label: 'x' } }, 'applier.hosts.label'],
    ['nova missing with mode on', { mode: 'on' }, 'applier.nova'],
    ['nova missing with mode dry-run', { mode: 'dry-run' }, 'applier.nova'],
    ['nova endpoint not a URL', { mode: 'on', nova: { ...nova, endpoint: 'not a url' } }, 'applier.nova.endpoint'],
    ['nova noauth without endpoint', { mode: 'on', nova: { auth: { type: 'noauth' } } }, 'applier.nova.endpoint'],
    ['nova with an unknown auth type', { mode: 'on', nova: { auth: { type: 'token' }, endpoint: nova.endpoint } }, 'applier.nova.auth'],
    ['an ipmi port of 0', { power: { host1: { ...ipmiHost, port: 0 } } }, 'applier.power.host1.port'],
    ['an ipmi port above 65535', { power: { host1: { ...ipmiHost, port: 70_000 } } }, 'applier.power.host1.port'],
    ['an ipmi host without address', { power: { host1: { driver: 'ipmi', user: 'u', passwordFile: 'f' } } }, 'applier.power.host1.address'],
    ['an ipmi password given inline', { power: { host1: { ...ipmiHost, password: 'secret' } } }, 'applier.power.host1.password'],
    ['an unknown driver', { power: { host1: { driver: 'redfish' } } }, 'applier.power.host1.driver'],
    ['ipmi under *', { power: { '*': ipmiHost } }, 'applier.power.*'],
    ['nodeId under *', { power: { '*': { driver: 'ironic', nodeId: 'node-1' } }, ironic }, 'applier.power.*.nodeId'],
    ['an empty nodeId', { power: { host1: { driver: 'ironic', nodeId: '' } }, ironic }, 'applier.power.host1.nodeId'],
    ['an unknown key in an ironic entry', { power: { host1: { driver: 'ironic', node: 'n' } }, ironic }, 'applier.power.host1.node'],
    ['ironic missing with an ironic host', { power: { host1: { driver: 'ironic' } } }, 'applier.ironic'],
    ['ironic missing with ironic under *', { power: { '*': { driver: 'ironic' } } }, 'applier.ironic'],
    ['ironic noauth without endpoint', { power: { host1: { driver: 'ironic' } }, ironic: { auth: { type: 'noauth' } } }, 'applier.ironic.endpoint'],
    ['ironic timeoutMs too short', { ironic: { ...ironic, timeoutMs: 5 } }, 'applier.ironic.timeoutMs'],
    ['ironic unknown key', { ironic: { ...ironic, conflictRetry: 1 } }, 'applier.ironic.conflictRetry'],
    ['etcd endpoint not a URL', { etcd: { endpoints: ['127.0.0.1:2379'] } }, 'applier.etcd.endpoints.0'],
    ['etcd second endpoint not a URL', { etcd: { endpoints: ['http://a:2379', 'b c'] } }, 'applier.etcd.endpoints.1'],
    ['etcd without endpoints', { etcd: { endpoints: [] } }, 'applier.etcd.endpoints'],
    ['etcd leaseTtlMs too short', { etcd: { endpoints: ['http://a:2379'], leaseTtlMs: 500 } }, 'applier.etcd.leaseTtlMs'],
    ['not a mapping', 'on', 'applier'],
  ] as [string, unknown, string][])('%s → %s', (_n, raw, key) => {
    expect(configError(() => parseApplierConfig(raw))).toMatch(names(key));
  });

  it('never quotes a value it rejects beyond the key (an inline password stays out of the message)', () => {
    expect(configError(() => parseApplierConfig({ power: { host1: { ...ipmiHost, password: 'hunter2' } } }))).not.toContain('hunter2');
  });
});

describe('applier config: power drivers', () => {
  const parse = (power: Record<string, unknown>) => parseApplierConfig({ power, ironic });

  it('host → driver: listed entries, then *, else none managed', () => {
    const c = parseApplierConfig({ power: { a: ipmiHost, b: { driver: 'ironic' }, c: { driver: 'none' } }, ironic });
    const p = powerDrivers(c.power, { ipmi: c.ipmi, ironic: c.ironic });
    expect([p('a')?.kind, p('b')?.kind, p('c')?.kind, p('d')]).toEqual(['ipmi', 'ironic', 'none', null]);
  });

  it('one IronicPowerDriver for every ironic host, listed or under *', () => {
    const c = parse({ a: { driver: 'ironic' }, b: { driver: 'ironic', nodeId: 'node-b' }, '*': { driver: 'ironic' } });
    const p = powerDrivers(c.power, { ipmi: c.ipmi, ironic: c.ironic });
    expect(p('a')).toBeInstanceOf(IronicPowerDriver);
    expect(p('b')).toBe(p('a'));
    expect(p('anything')).toBe(p('a'));
  });

  it('without applier.ironic, building an ironic driver is a ConfigError naming applier.ironic', () => {
    const c = parse({ a: { driver: 'ironic' } });
    expect(configError(() => powerDrivers(c.power, { ipmi: c.ipmi }))).toMatch(names('applier.ironic'));
  });

  it('nodeId defaults to the host id; a listed nodeId is used; hosts under * are their own node', async () => {
    // the node each host's request names: a noauth Ironic that answers every GET …/states with "power on"
    const http = await import('node:http');
    const seen: string[] = [];
    const srv = http.createServer((req, res) => {
      seen.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ power_state: 'power on', target_power_state: null, last_error: null }));
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    try {
      const endpoint = `http://127.0.0.1:${(srv.address() as { port: number }).port}`;
      const c = parseApplierConfig({ power: { a: { driver: 'ironic' }, b: { driver: 'ironic', nodeId: 'node-b' }, '*': { driver: 'ironic' } }, ironic: { auth: { type: 'noauth' }, endpoint } });
      const p = powerDrivers(c.power, { ipmi: c.ipmi, ironic: c.ironic });
      for (const h of ['a', 'b', 'h/9']) expect(await p(h)!.status(h)).toEqual({ ok: true, value: 'on' });
      expect(seen).toEqual(['/v1/nodes/a/states', '/v1/nodes/node-b/states', '/v1/nodes/h%2F9/states']);
    } finally {
      await new Promise((r) => srv.close(r));
    }
  });
});

describe('applier mode: env and flags over the file', () => {
  const file = (text: string) => {
    const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'wattplace-applier-cfg-')), 'c.yaml');
    fs.writeFileSync(f, text);
    return f;
  };
  const yaml = `applier:\n  mode: "off"\n  headroom: 0.2\n  nova:\n    auth: {type: noauth}\n    endpoint: http://127.0.0.1:8774/v2.1\n`;

  it.each([
    ['the file alone', {}, {}, 'off'],
    ['env WATTPLACE_APPLIER_MODE=dry-run', { WATTPLACE_APPLIER_MODE: 'dry-run' }, {}, 'dry-run'],
    ['flag applierMode on', {}, { applierMode: 'on' }, 'on'],
    ['the flag over env', { WATTPLACE_APPLIER_MODE: 'dry-run' }, { applierMode: 'on' }, 'on'],
  ] as [string, NodeJS.ProcessEnv, Record<string, string>, string][])('%s → mode %s, the rest of the section from the file', (_n, env, flags, mode) => {
    const cfg = loadConfig({ file: file(yaml), env, flags });
    const c = parseApplierConfig(cfg.applier);
    expect(c.mode).toBe(mode);
    expect(c.headroom).toBe(0.2);
    expect(c.nova?.endpoint).toBe('http://127.0.0.1:8774/v2.1');
  });

  it('env sets the mode without a file (nova then missing is named)', () => {
    const cfg = loadConfig({ env: { WATTPLACE_APPLIER_MODE: 'on' } });
    expect(cfg.applier).toEqual({ mode: 'on' });
    expect(configError(() => parseApplierConfig(cfg.applier))).toMatch(names('applier.nova'));
  });

  it('a bad mode via env is an error naming applier.mode (from parseApplierConfig: loadConfig keeps the section raw)', () => {
    const cfg = loadConfig({ file: file(yaml), env: { WATTPLACE_APPLIER_MODE: 'bogus' } });
    expect(configError(() => parseApplierConfig(cfg.applier))).toMatch(names('applier.mode'));
  });

  it('a mode with an applier section that is not a mapping is an error naming applier', () => {
    expect(configError(() => loadConfig({ file: file('applier: on\n'), env: { WATTPLACE_APPLIER_MODE: 'dry-run' } }))).toMatch(/applier: must be a mapping/);
  });
});
