import type { SimPolicy, SimView } from '../engine';

/** Per-host CPU demand (capped at the core) and memory of what is placed, for the simple policies. */
function loads(view: SimView): { cpu: Float64Array; mem: Float64Array } {
  const f = view.fleet;
  const cpu = new Float64Array(f.n);
  const mem = Float64Array.from(view.memUsed);
  for (let h = 0; h < f.n; h++) {
    const pe = f.coreMips[h];
    let s = 0;
    for (const v of view.lists[h]) s += Math.min(view.req[v], pe);
    cpu[h] = s;
  }
  return { cpu, mem };
}

/**
 * Places each VM in turn on the best-scoring host among those where its
 * demand (capped at one core) and memory fit, counting it before the next VM;
 * -1 when none fits. Every fitting host is offered in fleet
 * order and scored by `score(h, cpuAfter)`; the lowest score wins (the first of
 * equal ones), and −Infinity stops the search at that host.
 */
function placeEach(view: SimView, vms: readonly number[], score: (h: number, cpuAfter: number) => number): Int32Array {
  const f = view.fleet;
  const { cpu, mem } = loads(view);
  const out = new Int32Array(vms.length).fill(-1);
  vms.forEach((v, i) => {
    const r = view.req[v];
    const m = view.memOf(v);
    let best = -1;
    let bestScore = Infinity;
    for (let h = 0; h < f.n; h++) {
      const c = Math.min(r, f.coreMips[h]);
      if (cpu[h] + c > f.total[h] || mem[h] + m > f.ramMb[h]) continue;
      const sc = score(h, cpu[h] + c);
      if (sc < bestScore) {
        bestScore = sc;
        best = h;
        if (sc === -Infinity) break;
      }
    }
    if (best >= 0) {
      cpu[best] += Math.min(r, f.coreMips[best]);
      mem[best] += m;
    }
    out[i] = best;
  });
  return out;
}

/**
 * Least-allocated placement (the default Kubernetes and Nova behaviour): each
 * workload goes to the host with the lowest CPU utilization after placement
 * among those where it fits; hosts are never emptied on purpose and nothing migrates.
 */
export class SpreadPolicy implements SimPolicy {
  readonly name: string;
  constructor(
    name = 'spread',
    readonly allHostsOn = false,
  ) {
    this.name = name;
  }
  place(view: SimView, vms: readonly number[]): Int32Array {
    // lowest utilization after placement; ties to the first host
    return placeEach(view, vms, (h, cpuAfter) => cpuAfter / view.fleet.total[h]);
  }
  optimize(): number[] {
    return [];
  }
}

/** No power management: all hosts on at full power; workloads spread (CloudSim's NPA baseline). */
export class NonePolicy extends SpreadPolicy {
  constructor() {
    super('none', true);
  }
}

/**
 * First fit: each workload on the first host (in fleet order) where its
 * current demand and memory fit; nothing migrates afterwards.
 */
export class FirstFitPolicy implements SimPolicy {
  readonly name = 'first-fit';
  place(view: SimView, vms: readonly number[]): Int32Array {
    // the first host that fits: stop there
    return placeEach(view, vms, () => -Infinity);
  }
  optimize(): number[] {
    return [];
  }
}
