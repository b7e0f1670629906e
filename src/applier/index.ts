import type { Registry } from 'prom-client';
import { ConfigError } from '../config';
import type { Wattplace } from '../decision/wattplace';
import { Applier } from './applier';
import { applierSettings, parseApplierConfig, type PowerEntry } from './config';
import { FileJournal } from './journal';
import { createLeadership } from './leader/single';
import { ApplierMetrics } from './metrics';
import { NovaClient } from './nova/nova';
import type { ComputeCloud, PowerDriver } from './ports';
import { IpmiPowerDriver, type IpmiOptions } from './power/ipmi/ipmi';
import { IronicPowerDriver, type IronicHost, type IronicOptions } from './power/ironic/ironic';
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

/** Options of the drivers that have settings beyond a host's entry (`applier.ipmi`, `applier.ironic`). */
export interface PowerOptions {
  readonly ipmi: IpmiOptions;
  /** Required when an entry uses driver ironic (parseApplierConfig checks it). */
  readonly ironic?: IronicOptions;
}

/**
 * host → driver, from `applier.power` (the entry `*` for hosts not listed).
 * One driver per kind: every ironic host (listed, or under `*` with its host
 * id as node) shares one IronicPowerDriver and so one Keystone session.
 */
export function powerDrivers(power: Readonly<Record<string, PowerEntry>>, options: PowerOptions): (hostId: string) => PowerDriver | null {
  const own = (host: string) => Object.prototype.hasOwnProperty.call(power, host);
  const entry = (host: string): PowerEntry | undefined => (own(host) ? power[host] : power['*']);
  const ipmiHosts: Record<string, Omit<Extract<PowerEntry, { driver: 'ipmi' }>, 'driver'>> = {};
  let anyIronic = false;
  for (const [host, e] of Object.entries(power)) {
    if (e.driver === 'ipmi') {
      const { driver: _d, ...rest } = e;
      ipmiHosts[host] = rest;
    } else if (e.driver === 'ironic') anyIronic = true;
  }
  const ipmi = Object.keys(ipmiHosts).length ? new IpmiPowerDriver(ipmiHosts, options.ipmi) : null;
  let ironic: IronicPowerDriver | null = null;
  if (anyIronic) {
    if (!options.ironic) throw new ConfigError('invalid configuration: applier.ironic: required when an entry of applier.power uses driver ironic');
    const node = (host: string): IronicHost | undefined => {
      const e = entry(host);
      return e?.driver === 'ironic' ? { nodeId: own(host) ? (e.nodeId ?? host) : host } : undefined;
    };
    ironic = new IronicPowerDriver(node, options.ironic);
  }
  const none = new NoPowerDriver();
  const pick = (e: PowerEntry | undefined): PowerDriver | null => {
    if (e === undefined) return null;
    if (e.driver === 'ipmi') return ipmi;
    if (e.driver === 'ironic') return ironic;
    return none;
  };
  return (host) => pick(entry(host));
}

/** The applier from the `applier` config section; null when its mode is off. */
export function createApplier(raw: unknown, w: ApplierWiring): Applier | null {
  const c = parseApplierConfig(raw);
  if (c.mode === 'off') return null;
  const nova = new NovaClient(c.nova!);
  return new Applier(applierSettings(c), {
    core: w.core,
    cloud: w.cloud ? w.cloud(nova) : nova,
    power: powerDrivers(c.power, { ipmi: c.ipmi, ironic: c.ironic }),
    leadership: createLeadership(c.etcd, { identity: c.identity, log: w.log }),
    journal: new FileJournal(c.journalFile),
    log: w.log,
    observer: new ApplierMetrics(w.registry),
  });
}
