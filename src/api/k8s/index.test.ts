import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../domain';
import { loadConfig } from '../../config';
import { startServer } from '../../server';
import { defaultPowerModel, k8sOptions } from './index';
import { pino } from 'pino';

describe('k8s extender settings', () => {
  it.each([
    ['catalog name', 'hp-ml110-g5', 'table'],
    ['JSON text', '{"linear":{"idleWatts":90,"maxWatts":250},"standbyWatts":4}', 'linear'],
    ['mapping from a config file', { exponential: { k0: 63.84, k1: 86.16, k2: 1.5 } }, 'exponential'],
  ])('k8sDefaultPowerModel as a %s', (_n, raw, kind) => {
    expect(defaultPowerModel(raw)?.kind).toBe(kind);
  });

  it('no default model: undefined', () => {
    expect(defaultPowerModel(undefined)).toBeUndefined();
    expect(defaultPowerModel('')).toBeUndefined();
  });

  it.each([
    ['no-such-server', 'k8sDefaultPowerModel.catalog', 'unknown host type "no-such-server"'],
    ['{"linear":{"idleWatts":300,"maxWatts":100}}', 'k8sDefaultPowerModel', ''],
    ['{"linear":', 'k8sDefaultPowerModel', 'not a catalog name nor valid JSON'],
  ])('a bad model (%s) is refused naming the key', (raw, field, problem) => {
    let err: unknown;
    try {
      defaultPowerModel(raw);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).field.startsWith(field)).toBe(true);
    expect((err as ValidationError).message).toContain(problem);
  });

  it('reads every k8s key from the service configuration, env included', () => {
    const cfg = loadConfig({
      env: {
        WATTPLACE_K8S_OPT_OUT_KEY: 'example.org/no-energy',
        WATTPLACE_K8S_SCORE_MAPPING: 'absolute',
        WATTPLACE_K8S_WATTS_PER_POINT: '2.5',
        WATTPLACE_K8S_ALLOW_STALE: 'true',
        WATTPLACE_K8S_DEFAULT_POWER_MODEL: 'hp-ml110-g4',
      },
    });
    const o = k8sOptions(cfg);
    expect(o).toMatchObject({ optOutKey: 'example.org/no-energy', scoreMapping: 'absolute', wattsPerPoint: 2.5, allowStale: true });
    expect(o.defaultPowerModel?.kind).toBe('table');
    expect(() => loadConfig({ env: { WATTPLACE_K8S_SCORE_MAPPING: 'log' } })).toThrow(/k8sScoreMapping/);
    expect(() => loadConfig({ env: { WATTPLACE_K8S_WATTS_PER_POINT: '0' } })).toThrow(/k8sWattsPerPoint/);
  });

  it('the service does not start with a bad default model, and serves no extender when switched off', async () => {
    const base = loadConfig({ flags: { grpc: '127.0.0.1:0', http: '127.0.0.1:0' } });
    await expect(startServer({ ...base, k8sDefaultPowerModel: 'no-such-server' }, { log: pino({ level: 'silent' }) })).rejects.toThrow(
      /k8sDefaultPowerModel\.catalog/,
    );
    const s = await startServer({ ...base, k8sExtender: false }, { log: pino({ level: 'silent' }) });
    try {
      const r = await fetch(`http://${s.httpAddress}/k8s/filter`, { method: 'POST', body: '{}' });
      expect(r.status).toBe(404);
    } finally {
      await s.stop();
    }
  });
});
