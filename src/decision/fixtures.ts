import { PowerState, cpuMillis, epochMs, memBytes, watts } from '../domain';
import type { Cloud } from '../solver/fixtures';
import { DEFAULT_CORE_CONFIG, Wattplace } from './wattplace';

const GiB = 2 ** 30;

/**
 * A core holding a generated cloud (src/solver/fixtures.ts cloudScenario) as the
 * service would see it: every host registered ON, and one sample per host a second
 * before `now` with the VMs' allocations and their measured CPU (Σ util × vCPUs).
 * For the consolidation tests and bench:consolidation.
 */
export function cloudCore(cloud: Cloud, now: number): Wattplace {
  const wp = new Wattplace({ ...DEFAULT_CORE_CONFIG, snapshotRefreshMs: 0 }, () => now);
  wp.registerHosts(
    cloud.hosts.map((h) => ({ id: h.id, site: 'default', capacity: { cpuMillis: cpuMillis(h.vcpus * 1000), memBytes: memBytes(h.memGiB * GiB) }, power: h.power, state: PowerState.ON, labels: {} })),
  );
  const cpu = new Float64Array(cloud.hosts.length);
  const mem = new Float64Array(cloud.hosts.length);
  const used = new Float64Array(cloud.hosts.length);
  for (const v of cloud.vms) {
    cpu[v.host] += v.vcpus * 1000;
    mem[v.host] += v.memGiB * GiB;
    used[v.host] += v.util * v.vcpus;
  }
  wp.report(
    cloud.hosts.map((h, i) => ({
      hostId: h.id,
      time: epochMs(now - 1000),
      watts: watts(100),
      cpuUtil: used[i] / h.vcpus,
      memUtil: mem[i] / (h.memGiB * GiB),
      allocated: { cpuMillis: cpuMillis(cpu[i]), memBytes: memBytes(mem[i]) },
    })),
  );
  return wp;
}

/** The cloud's VMs as PlanConsolidation's `running` list: each VM's allocation on its host. */
export function cloudRunning(cloud: Cloud) {
  return cloud.vms.map((v) => ({
    workload: { id: v.id, demand: { cpuMillis: cpuMillis(v.vcpus * 1000), memBytes: memBytes(v.memGiB * GiB) }, selector: {} },
    hostId: cloud.hosts[v.host].id,
  }));
}
