import type { Registry } from 'prom-client';
import type { Wattplace } from '../decision/wattplace';
import { Applier } from './applier';
import { applierSettings, parseApplierConfig, type PowerEntry } from './config';
import { FileJournal } from './journal';
import { createLeadership } from './leader/single';
import { ApplierMetrics } from './metrics';
import { NovaClient } from './nova/nova';
import type { ComputeCloud, PowerDriver } from './ports';
import { IpmiPowerDriver } from './power/ipmi/ipmi';
import { NoPowerDriver } from './power/none/none';

export { Applier } from './applier';
export type { ApplierStatus } from './applier';

export interface ApplierWiring {
  readonly core: Wattplace;
  readonly registry: Registry;
  readonly log: (event: string, fields: Record<string, unknown>) => void;
  /** Instead of a NovaClient from `applier.nova` (a wrapper that counts calls, in tests). */
  readonly cloud?: (c: ComputeCloud) => ComputeCloud;
}

/** host → driver, from `applier.power` (the entry `*` for hosts not listed). */
export function powerDrivers(power: Readonly<Record<string, PowerEntry>>, ipmiOptions: ConstructorParameters<typeof IpmiPowerDriver>[1]): (hostId: string) => PowerDriver | null {
  const ipmiHosts: Record<string, Omit<Extract<PowerEntry, { driver: 'ipmi' }>, 'driver'>> = {};
  for (const [host, e] of Object.entries(power)) {
    if (e.driver === 'ipmi') {
      const { driver: _d, ...rest } = e;
      ipmiHosts[host] = rest;
    }
  }
  const ipmi = Object.keys(ipmiHosts).length ? new IpmiPowerDriver(ipmiHosts, ipmiOptions) : null;
  const none = new NoPowerDriver();
  const pick = (e: PowerEntry | undefined): PowerDriver | null => (e === undefined ? null : e.driver === 'ipmi' ? ipmi : none);
  return (host) => pick(Object.prototype.hasOwnProperty.call(power, host) ? power[host] : power['*']);
}

/** The applier from the `applier` config section; null when its mode is off. */
export function createApplier(raw: unknown, w: ApplierWiring): Applier | null {
  const c = parseApplierConfig(raw);
  if (c.mode === 'off') return null;
  const nova = new NovaClient(c.nova!);
  return new Applier(applierSettings(c), {
    core: w.core,
    cloud: w.cloud ? w.cloud(nova) : nova,
    power: powerDrivers(c.power, c.ipmi),
    leadership: createLeadership(c.etcd, { identity: c.identity, log: w.log }),
    journal: new FileJournal(c.journalFile),
    log: w.log,
    observer: new ApplierMetrics(w.registry),
  });
}
