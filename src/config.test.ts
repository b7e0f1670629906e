import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, envName, flagName, loadConfig, splitHostPort } from './config';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wattplace-config-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
function file(name: string, text: string): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, text);
  return p;
}

/** The ConfigError message loadConfig throws for these inputs. */
function configError(opts: Parameters<typeof loadConfig>[0]): string {
  try {
    loadConfig(opts);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('loadConfig accepted the configuration');
}

describe('loadConfig', () => {
  it('defaults match the issue: gRPC 127.0.0.1:50051, HTTP 127.0.0.1:8080, ceiling 0.8, skew 5 s', () => {
    const c = loadConfig({});
    expect([c.grpc, c.http, c.cpuCeiling, c.maxClockSkewMs]).toEqual(['127.0.0.1:50051', '127.0.0.1:8080', 0.8, 5000]);
  });

  it('precedence: defaults < file < environment < flags', () => {
    const f = file('prec.yaml', 'cpuCeiling: 0.7\nstaleAfterMs: 30000\nreservationTtlMs: 9000\n');
    const c = loadConfig({
      file: f,
      env: { WATTPLACE_STALE_AFTER_MS: '20000', WATTPLACE_RESERVATION_TTL_MS: '8000' },
      flags: { reservationTtlMs: '7000' },
    });
    expect(c.cpuCeiling).toBe(0.7); //        file
    expect(c.staleAfterMs).toBe(20_000); //   env over file
    expect(c.reservationTtlMs).toBe(7_000); // flag over env and file
    expect(c.maxBatch).toBe(50_000); //       default
  });

  it('reads JSON files and booleans from the environment', () => {
    const c = loadConfig({ file: file('c.json', '{"carbonWeighting": false}'), env: { WATTPLACE_CARBON_WEIGHTING: 'yes' } });
    expect(c.carbonWeighting).toBe(true);
  });

  it.each([
    // source, input, the key the message must name
    ['flag above 1', { flags: { cpuCeiling: '2' } }, 'cpuCeiling'],
    ['flag not a number', { flags: { cpuCeiling: 'high' } }, 'cpuCeiling'],
    ['env not a number', { env: { WATTPLACE_STALE_AFTER_MS: 'soon' } }, 'staleAfterMs'],
    ['env empty', { env: { WATTPLACE_MAX_BATCH: '' } }, 'maxBatch'],
    ['env negative', { env: { WATTPLACE_RESERVATION_TTL_MS: '-1' } }, 'reservationTtlMs'],
    ['address without a port', { flags: { grpc: 'localhost' } }, 'grpc'],
    ['unknown log level', { flags: { logLevel: 'loud' } }, 'logLevel'],
    ['boolean that is not one', { env: { WATTPLACE_CARBON_WEIGHTING: 'maybe' } }, 'carbonWeighting'],
  ] as [string, Parameters<typeof loadConfig>[0], string][])('%s → names %s', (_n, opts, key) => {
    const msg = configError(opts);
    expect(msg).toMatch(/^invalid configuration: /);
    expect(msg).toContain(`${key}: `);
  });

  it('a config file with an unknown key names the key', () => {
    expect(configError({ file: file('typo.yaml', 'cpuCeilng: 0.5\n') })).toContain('cpuCeilng');
  });

  it('a wrong type in the file names the key', () => {
    expect(configError({ file: file('type.yaml', 'cpuCeiling: "0.5"\n') })).toContain('cpuCeiling: ');
  });

  it('an unreadable or malformed file names the file', () => {
    expect(configError({ file: path.join(dir, 'missing.yaml') })).toContain('missing.yaml');
    expect(configError({ file: file('bad.yaml', 'cpuCeiling: [0.5\n') })).toMatch(/^config file .*bad\.yaml: /);
    expect(configError({ file: file('list.yaml', '- 1\n- 2\n') })).toContain('must be a mapping');
  });

  it('names every bad key at once', () => {
    const msg = configError({ flags: { cpuCeiling: '2', maxBatch: '0' } });
    expect(msg).toContain('cpuCeiling: ');
    expect(msg).toContain('maxBatch: ');
  });

  it.each([
    ['staleAfterMs', 'WATTPLACE_STALE_AFTER_MS', 'stale-after-ms'],
    ['cpuCeiling', 'WATTPLACE_CPU_CEILING', 'cpu-ceiling'],
  ])('%s ↔ env %s ↔ flag --%s', (key, env, flag) => {
    expect(envName(key)).toBe(env);
    expect(flagName(key)).toBe(flag);
  });

  it.each([
    ['127.0.0.1:50051', '127.0.0.1', 50051],
    ['[::1]:8080', '::1', 8080],
    ['0.0.0.0:0', '0.0.0.0', 0],
  ])('splitHostPort(%s)', (addr, host, port) => {
    expect(splitHostPort(addr)).toEqual({ host, port });
  });
});
