import { ValidationError, checkLabels, checkName, echo, keyField } from '../../domain';
import { bytesOf, cpuMillisOf, QuantityError } from './quantity';

/** The part of a v1.Pod the extender reads; everything else in the object is ignored. */
export interface PodView {
  /** namespace/name (or the UID when the name is missing). */
  readonly id: string;
  readonly cpuMillis: number;
  readonly memBytes: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function optObj(v: unknown, field: string): Obj | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) throw new ValidationError(field, `must be an object, got ${Array.isArray(v) ? 'an array' : typeof v}`);
  return v;
}

function optArr(v: unknown, field: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new ValidationError(field, `must be an array, got ${typeof v}`);
  return v;
}

function stringMap(v: unknown, field: string): Record<string, string> {
  const o = optObj(v, field);
  if (!o) return {};
  for (const [k, val] of Object.entries(o)) if (typeof val !== 'string') throw new ValidationError(keyField(field, k), `must be a string, got ${typeof val}`);
  return o as Record<string, string>;
}

/** cpu (millicores) and memory (bytes) of one ResourceList; only these two are read. */
interface Req {
  cpu: number;
  mem: number;
}

function quantity(list: Obj | undefined, name: 'cpu' | 'memory', field: string): number | undefined {
  if (!list || list[name] === undefined || list[name] === null) return undefined;
  let v: number;
  try {
    v = name === 'cpu' ? cpuMillisOf(list[name]) : bytesOf(list[name]);
  } catch (e) {
    if (e instanceof QuantityError) throw new ValidationError(`${field}.${name}`, e.message);
    throw e;
  }
  if (v < 0) throw new ValidationError(`${field}.${name}`, `must not be negative, got ${echo(list[name])}`);
  return v;
}

/**
 * A container's requests for cpu and memory. A resource with a limit and no
 * request counts at its limit: the API server's defaulting does the same, so
 * a pod read back from the cluster already looks like this.
 */
function containerRequests(c: unknown, field: string): { req: Req; sidecar: boolean } {
  if (!isObj(c)) throw new ValidationError(field, 'must be an object');
  const res = optObj(c.resources, `${field}.resources`);
  const requests = optObj(res?.requests, `${field}.resources.requests`);
  const limits = optObj(res?.limits, `${field}.resources.limits`);
  const one = (name: 'cpu' | 'memory') =>
    quantity(requests, name, `${field}.resources.requests`) ?? quantity(limits, name, `${field}.resources.limits`) ?? 0;
  if (c.restartPolicy !== undefined && c.restartPolicy !== null && typeof c.restartPolicy !== 'string') {
    throw new ValidationError(`${field}.restartPolicy`, 'must be a string');
  }
  return { req: { cpu: one('cpu'), mem: one('memory') }, sidecar: c.restartPolicy === 'Always' };
}

/**
 * Reads a v1.Pod as kube-scheduler sends it (`field` names it in errors, e.g. "Pod").
 *
 * Demand, per resource, follows k8s.io/component-helpers resource.PodRequests:
 *   regular = Σ containers + Σ sidecars (init containers with restartPolicy Always)
 *   init    = max over init containers i, in order, of
 *               sidecar i:      Σ sidecars up to and including i
 *               ordinary i:     request_i + Σ sidecars started before i
 *   demand  = max(regular, init) + spec.overhead
 * and pod-level spec.resources.requests, where set for cpu or memory, replace
 * the container aggregate for that resource (overhead is still added).
 * Extended resources (nvidia.com/gpu, hugepages-*, ephemeral-storage, …) are
 * ignored: the power model knows CPU only, and kube-scheduler's own filters
 * handle them.
 */
export function readPod(raw: unknown, field = 'Pod'): PodView {
  if (!isObj(raw)) throw new ValidationError(field, raw === undefined || raw === null ? 'required' : 'must be a v1.Pod object');
  const meta = optObj(raw.metadata, `${field}.metadata`) ?? {};
  const labels = stringMap(meta.labels, `${field}.metadata.labels`);
  checkLabels(labels, `${field}.metadata.labels`);
  const annotations = stringMap(meta.annotations, `${field}.metadata.annotations`);
  const spec = optObj(raw.spec, `${field}.spec`);
  if (!spec) throw new ValidationError(`${field}.spec`, 'required');
  const containers = optArr(spec.containers, `${field}.spec.containers`);
  if (containers.length === 0) throw new ValidationError(`${field}.spec.containers`, 'a pod needs at least one container');

  const regular: Req = { cpu: 0, mem: 0 };
  containers.forEach((c, i) => {
    const { req } = containerRequests(c, `${field}.spec.containers[${i}]`);
    regular.cpu += req.cpu;
    regular.mem += req.mem;
  });
  const sidecars: Req = { cpu: 0, mem: 0 };
  const init: Req = { cpu: 0, mem: 0 };
  optArr(spec.initContainers, `${field}.spec.initContainers`).forEach((c, i) => {
    const { req, sidecar } = containerRequests(c, `${field}.spec.initContainers[${i}]`);
    let cpu: number;
    let mem: number;
    if (sidecar) {
      regular.cpu += req.cpu;
      regular.mem += req.mem;
      sidecars.cpu += req.cpu;
      sidecars.mem += req.mem;
      cpu = sidecars.cpu;
      mem = sidecars.mem;
    } else {
      cpu = req.cpu + sidecars.cpu;
      mem = req.mem + sidecars.mem;
    }
    if (cpu > init.cpu) init.cpu = cpu;
    if (mem > init.mem) init.mem = mem;
  });
  let cpu = Math.max(regular.cpu, init.cpu);
  let mem = Math.max(regular.mem, init.mem);

  const podRes = optObj(spec.resources, `${field}.spec.resources`);
  const podReq = optObj(podRes?.requests, `${field}.spec.resources.requests`);
  cpu = quantity(podReq, 'cpu', `${field}.spec.resources.requests`) ?? cpu;
  mem = quantity(podReq, 'memory', `${field}.spec.resources.requests`) ?? mem;

  const overhead = optObj(spec.overhead, `${field}.spec.overhead`);
  cpu += quantity(overhead, 'cpu', `${field}.spec.overhead`) ?? 0;
  mem += quantity(overhead, 'memory', `${field}.spec.overhead`) ?? 0;

  if (!Number.isSafeInteger(cpu)) throw new ValidationError(`${field}.spec`, `total cpu request too large (${cpu} millicores)`);
  if (!Number.isSafeInteger(mem)) throw new ValidationError(`${field}.spec`, `total memory request too large (${mem} bytes)`);

  const name = checkName(typeof meta.name === 'string' && meta.name ? meta.name : '', `${field}.metadata.name`);
  const ns = checkName(typeof meta.namespace === 'string' && meta.namespace ? meta.namespace : 'default', `${field}.metadata.namespace`);
  const uid = checkName(typeof meta.uid === 'string' ? meta.uid : '', `${field}.metadata.uid`);
  const id = name ? `${ns}/${name}` : uid || `${ns}/(unnamed pod)`;
  return { id, cpuMillis: cpu, memBytes: mem, labels, annotations };
}

/** True when the pod opts out by label or annotation `key` with the value "true" (any case). */
export function optedOut(pod: PodView, key: string): boolean {
  if (!key) return false;
  const v = pod.annotations[key] ?? pod.labels[key];
  return typeof v === 'string' && v.trim().toLowerCase() === 'true';
}
