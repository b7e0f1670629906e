import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../domain';
import { optedOut, readPod } from './pod';

const fixture = (name: string) => JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', name), 'utf8'));
const Mi = 2 ** 20;
const Gi = 2 ** 30;

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
/** A pod with these containers / init containers / overhead, otherwise as the API server returns it. */
function pod(containers: Json[], initContainers?: Json[], extra: Json = {}): Json {
  const p = fixture('pod-web.json');
  p.spec.containers = containers.map((c, i) => ({ name: `c${i}`, image: 'busybox', ...c }));
  if (initContainers) p.spec.initContainers = initContainers.map((c, i) => ({ name: `i${i}`, image: 'busybox', ...c }));
  else delete p.spec.initContainers;
  delete p.spec.overhead;
  Object.assign(p.spec, extra);
  return p;
}
const req = (cpu?: string, memory?: string) => ({ resources: { requests: { ...(cpu ? { cpu } : {}), ...(memory ? { memory } : {}) } } });

describe('pod demand', () => {
  it('reads the recorded pod: init containers, a sidecar, overhead, a GPU', () => {
    // regular = app 250m/256Mi + exporter 100m/64M + sidecar istio-proxy 100m/128974848 = 450m / 461410304 B
    // init    = max(init-db 1500m/1Gi, sidecars so far 100m/128974848) = 1500m / 1073741824 B
    // demand  = max(regular, init) + overhead 250m/120Mi = 1750m / 1073741824 + 125829120 = 1199570944 B
    // nvidia.com/gpu and ephemeral-storage are ignored.
    const p = readPod(fixture('pod-web.json'));
    expect(p).toEqual({
      id: 'shop/web-7c9d8f6b5-x2k4q',
      cpuMillis: 1750,
      memBytes: 1199570944,
      labels: { app: 'web', 'pod-template-hash': '7c9d8f6b5', 'security.istio.io/tlsMode': 'istio' },
      annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-11-20T09:00:00Z', 'prometheus.io/scrape': 'true' },
    });
  });

  it.each([
    // name, pod, cpu (m), memory (B), worked out
    ['one container', pod([req('500m', '1Gi')]), 500, Gi],
    ['containers add up', pod([req('500m', '1Gi'), req('1.5', '512Mi'), req(undefined, '100M')]), 2000, Gi + 512 * Mi + 100e6],
    ['no requests at all', pod([{}]), 0, 0],
    ['limits stand in for missing requests', pod([{ resources: { limits: { cpu: '2', memory: '1Gi' }, requests: { cpu: '1' } } }]), 1000, Gi],
    // init 3 cores > containers 1 core; memory: containers 2Gi > init 1Gi
    ['largest init container wins when larger', pod([req('1', '2Gi')], [req('3', '1Gi'), req('2', '512Mi')]), 3000, 2 * Gi],
    // sidecar first (200m/100Mi): regular = 1000 + 200 = 1200m; init-after-sidecar = 3000 + 200 = 3200m
    [
      'sidecar started before an init container adds to it',
      pod([req('1', '1Gi')], [{ restartPolicy: 'Always', ...req('200m', '100Mi') }, req('3', '1Gi')]),
      3200,
      Gi + 100 * Mi + 0, // max(regular 1Gi+100Mi, init 1Gi+100Mi)
    ],
    // sidecar after the init container: init = max(3000, 200) = 3000; regular = 1200
    ['sidecar after an init container', pod([req('1', '1Gi')], [req('3', '1Gi'), { restartPolicy: 'Always', ...req('200m', '100Mi') }]), 3000, Gi + 100 * Mi],
    ['overhead is added', pod([req('100m', '1Mi')], undefined, { overhead: { cpu: '250m', memory: '120Mi' } }), 350, 121 * Mi],
    ['odd quantities', pod([req('1e0', '1e3'), req('0.0001', '1Ki'), req('+2', '0.5Gi')]), 1000 + 1 + 2000, 1000 + 1024 + Gi / 2],
    [
      'pod-level requests replace the container sum',
      pod([req('1', '1Gi')], undefined, { resources: { requests: { cpu: '3' } }, overhead: { cpu: '100m' } }),
      3100,
      Gi,
    ],
    ['extended resources only', pod([{ resources: { requests: { 'nvidia.com/gpu': '4', 'hugepages-2Mi': '1Gi' } } }]), 0, 0],
  ])('%s', (_name, p, cpu, mem) => {
    const v = readPod(p);
    expect(v.cpuMillis).toBe(cpu);
    expect(v.memBytes).toBe(mem);
  });

  it.each([
    ['missing', undefined, 'Pod', 'required'],
    ['not an object', [1], 'Pod', 'must be a v1.Pod object'],
    ['no spec', { metadata: { name: 'x' } }, 'Pod.spec', 'required'],
    ['no containers', { spec: { containers: [] } }, 'Pod.spec.containers', 'a pod needs at least one container'],
    ['containers not an array', { spec: { containers: {} } }, 'Pod.spec.containers', 'must be an array, got object'],
    ['bad cpu', pod([req('1'), req('1.5.3')]), 'Pod.spec.containers[1].resources.requests.cpu', '"1.5.3" is not a Kubernetes quantity'],
    ['bad memory in a limit', pod([{ resources: { limits: { memory: '2K' } } }]), 'Pod.spec.containers[0].resources.limits.memory', '"2K" is not'],
    ['bad init container', pod([req('1')], [req('1', 'lots')]), 'Pod.spec.initContainers[0].resources.requests.memory', '"lots" is not'],
    ['negative', pod([req('-1')]), 'Pod.spec.containers[0].resources.requests.cpu', 'must not be negative'],
    ['bad overhead', pod([req('1')], undefined, { overhead: { cpu: true } }), 'Pod.spec.overhead.cpu', 'got boolean'],
    ['requests not an object', pod([{ resources: { requests: 'cpu=1' } }]), 'Pod.spec.containers[0].resources.requests', 'must be an object'],
    ['label not a string', { metadata: { labels: { a: 1 } }, spec: { containers: [{}] } }, 'Pod.metadata.labels[a]', 'must be a string'],
    // A key that is not a label key is JSON-quoted, so a "]" in it cannot end the path, and cut at 64 characters.
    ['annotation key "]"', { metadata: { annotations: { ']': false } }, spec: { containers: [{}] } }, 'Pod.metadata.annotations["]"]', 'got boolean'],
    ['long annotation key', { metadata: { annotations: { ['k'.repeat(300)]: 1 } }, spec: { containers: [{}] } }, `Pod.metadata.annotations["${'k'.repeat(64)}"… (300 characters)]`, 'got number'],
    ['too large', pod([req('9e12'), req('9e12')]), 'Pod.spec', 'total cpu request too large'],
  ])('a malformed pod (%s) names the field', (_n, p, field, problem) => {
    let err: unknown;
    try {
      readPod(p);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).field).toBe(field);
    expect((err as ValidationError).problem).toContain(problem);
  });

  it('opt-out by annotation or label, "true" in any case; the annotation wins', () => {
    const k = 'wattplace.scs.community/opt-out';
    const v = (labels: Json, annotations: Json) => optedOut(readPod({ metadata: { labels, annotations }, spec: { containers: [{}] } }), k);
    expect(v({}, { [k]: 'true' })).toBe(true);
    expect(v({ [k]: 'TRUE' }, {})).toBe(true);
    expect(v({ [k]: 'true' }, { [k]: 'false' })).toBe(false);
    expect(v({ [k]: 'yes' }, {})).toBe(false);
    expect(v({}, {})).toBe(false);
  });
});
