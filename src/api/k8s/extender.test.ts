import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PowerState } from '../../gen/wattplace/v1/wattplace';
import { startTestServer, type TestServer } from '../../../test/helpers/grpc';
import { filterFormProblem, priorityFormProblem } from '../../../test/helpers/k8s-form';

// The kube-scheduler extender over real HTTP, with Pods and Nodes as a cluster
// sends them (src/api/k8s/fixtures: managedFields, status, images, GPUs, …).

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const fixture = (name: string): Json => JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', name), 'utf8'));
const POD = fixture('pod-web.json'); // demand 1750m, 1199570944 B (worked out in pod.test.ts)
const Gi = 2n ** 30n;

/** The recorded Node with another name, allocatable and extra labels. */
function node(name: string, cpu: string, memory: string, labels: Record<string, string> = {}): Json {
  const n = fixture('node-worker.json');
  n.metadata.name = name;
  n.metadata.labels['kubernetes.io/hostname'] = name;
  Object.assign(n.metadata.labels, labels);
  n.status.allocatable.cpu = cpu;
  n.status.allocatable.memory = memory;
  return n;
}
const nodeList = (items: Json[]) => ({ kind: 'NodeList', apiVersion: 'v1', metadata: { resourceVersion: '884300' }, items });

async function post(t: TestServer, verb: string, body: unknown, raw?: string): Promise<{ status: number; json: any; type: string | null }> {
  const res = await fetch(`http://${t.server.httpAddress}/k8s/${verb}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: raw ?? JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: JSON.parse(text), type: res.headers.get('content-type') };
}

/** A filter answer in exactly the v1 form (test/helpers/k8s-form.ts); the Node lists this file sends always have items. */
function expectFilterForm(r: Json): void {
  expect(filterFormProblem(r)).toBeUndefined();
  if (r.Nodes !== null) expect(Array.isArray(r.Nodes.items)).toBe(true);
}

/** A prioritize answer in exactly the v1 form: a bare array of {Host, Score} with integer scores 0–10, each host once. */
function expectPriorityForm(r: unknown): asserts r is { Host: string; Score: number }[] {
  expect(priorityFormProblem(r)).toBeUndefined();
}

const linear = (idleWatts: number, maxWatts: number) => ({ model: { $case: 'linear' as const, linear: { idleWatts, maxWatts } } });

/**
 * Hosts (never reported, so utilization = allocation / capacity = 0), pod demand 1750m / 1199570944 B.
 * Marginal watts of a linear model: (max − idle) × 1750 / capacity.
 *   n1: 16 cores, 100→300 W: 200 × 1750/16000 = 21.875 W
 *   n2: 32 cores, 150→400 W: 250 × 1750/32000 = 13.671875 W   (best)
 *   n3:  8 cores,  50→170 W: 120 × 1750/8000  = 26.25 W       (worst)
 *   n4: 16 cores, 1 GiB memory: 1073741824 B < 1199570944 B → Capacity
 *   n5: MAINTENANCE
 * Linear mapping: best n2 → 10, worst n3 → 0, n1 → round(10 × (26.25 − 21.875) / (26.25 − 13.671875)) = round(3.478) = 3.
 */
async function registerHosts(t: TestServer): Promise<void> {
  await t.rpc.registerHosts({
    hosts: [
      { id: 'n1', capacity: { cpuMillis: 16000n, memBytes: 64n * Gi }, power: linear(100, 300) },
      { id: 'n2', capacity: { cpuMillis: 32000n, memBytes: 128n * Gi }, power: linear(150, 400) },
      { id: 'n3', capacity: { cpuMillis: 8000n, memBytes: 32n * Gi }, power: linear(50, 170) },
      { id: 'n4', capacity: { cpuMillis: 16000n, memBytes: Gi }, power: linear(100, 300) },
      { id: 'n5', capacity: { cpuMillis: 16000n, memBytes: 64n * Gi }, power: linear(100, 300), state: PowerState.POWER_STATE_MAINTENANCE },
    ],
  });
}

const NAMES = ['n1', 'n2', 'n3', 'n4', 'n5', 'ghost'];
const FAILED_NAMES_MODE = {
  n4: 'insufficient memory: requested 1199570944 B, free 1073741824 B of 1073741824 B (allocated 0 B, reserved 0 B)',
  n5: 'host is in MAINTENANCE',
  ghost: 'unknown host: not registered with wattplace',
};

describe('k8s extender, names mode (nodeCacheCapable: true)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
    await registerHosts(t);
  });
  afterAll(() => t.close());

  it('filter keeps the feasible names (in the order offered) and reports every other one with a reason', async () => {
    const r = await post(t, 'filter', { Pod: POD, Nodes: null, NodeNames: NAMES });
    expect(r.status).toBe(200);
    expect(r.type).toBe('application/json');
    expectFilterForm(r.json);
    expect(r.json).toEqual({ Nodes: null, NodeNames: ['n1', 'n2', 'n3'], FailedNodes: FAILED_NAMES_MODE, FailedAndUnresolvableNodes: {}, Error: '' });
  });

  it('prioritize scores every node 0–10, lowest marginal watts 10; feasible in the order offered, then the failed', async () => {
    const r = await post(t, 'prioritize', { Pod: POD, Nodes: null, NodeNames: NAMES });
    expect(r.status).toBe(200);
    expectPriorityForm(r.json);
    expect(r.json).toEqual([
      { Host: 'n1', Score: 3 },
      { Host: 'n2', Score: 10 },
      { Host: 'n3', Score: 0 },
      { Host: 'ghost', Score: 0 },
      { Host: 'n4', Score: 0 },
      { Host: 'n5', Score: 0 },
    ]);
  });

  it('is the same decision as gRPC Evaluate', async () => {
    const e = await t.rpc.evaluate({
      workload: { id: 'shop/web-7c9d8f6b5-x2k4q', demand: { cpuMillis: 1750n, memBytes: 1199570944n } },
      candidates: NAMES.map((hostId) => ({ hostId })),
    });
    expect(e.feasible.map((f) => [f.hostId, f.marginalWatts])).toEqual([
      ['n2', 13.671875],
      ['n1', 21.875],
      ['n3', 26.25],
    ]);
    expect(Object.fromEntries(e.rejected.map((x) => [x.hostId, x.reason]))).toEqual(FAILED_NAMES_MODE);
    // The same sets; Evaluate ranks them, the extender keeps the order offered.
    const f = await post(t, 'filter', { Pod: POD, NodeNames: NAMES });
    expect([...f.json.NodeNames].sort()).toEqual(e.feasible.map((x) => x.hostId).sort());
    expect(f.json.FailedNodes).toEqual(Object.fromEntries(e.rejected.map((x) => [x.hostId, x.reason])));
    const p = await post(t, 'prioritize', { Pod: POD, NodeNames: NAMES });
    expect(p.json.slice(0, e.feasible.length).map((x: Json) => x.Host).sort()).toEqual(e.feasible.map((x) => x.hostId).sort());
    expect(p.json.slice(e.feasible.length).map((x: Json) => x.Host)).toEqual(e.rejected.map((x) => x.hostId));
    // ranked by score, the extender's order is Evaluate's
    const byScore = [...p.json.slice(0, e.feasible.length)].sort((a: Json, b: Json) => b.Score - a.Score);
    expect(byScore.map((x: Json) => x.Host)).toEqual(e.feasible.map((x) => x.hostId));
  });

  it('an opted-out pod passes everywhere with equal scores', async () => {
    const pod = structuredClone(POD);
    pod.metadata.annotations['wattplace.scs.community/opt-out'] = 'true';
    const f = await post(t, 'filter', { Pod: pod, Nodes: null, NodeNames: NAMES });
    expectFilterForm(f.json);
    expect(f.json).toEqual({ Nodes: null, NodeNames: NAMES, FailedNodes: {}, FailedAndUnresolvableNodes: {}, Error: '' });
    const p = await post(t, 'prioritize', { Pod: pod, Nodes: null, NodeNames: NAMES });
    expectPriorityForm(p.json);
    expect(p.json).toEqual(NAMES.map((Host) => ({ Host, Score: 0 })));
    // by label too
    const byLabel = structuredClone(POD);
    byLabel.metadata.labels['wattplace.scs.community/opt-out'] = 'True';
    expect((await post(t, 'filter', { Pod: byLabel, NodeNames: ['ghost'] })).json.NodeNames).toEqual(['ghost']);
  });

  it('no nodes offered: nothing passes (never "every host")', async () => {
    const f = await post(t, 'filter', { Pod: POD, Nodes: null, NodeNames: [] });
    expect(f.json).toEqual({ Nodes: null, NodeNames: [], FailedNodes: {}, FailedAndUnresolvableNodes: {}, Error: '' });
    const p = await post(t, 'prioritize', { Pod: POD, Nodes: null, NodeNames: [] });
    expect(p.json).toEqual([]);
  });

  const quantityHelp = 'is not a Kubernetes quantity (e.g. "100m", "1.5", "2Gi", "500M", "1e3")';
  const badCpu = structuredClone(POD);
  badCpu.spec.containers[1].resources.requests.cpu = '1.5.3';
  const badInit = structuredClone(POD);
  badInit.spec.initContainers[0].resources.requests.memory = '1 Gi';
  const noContainers = structuredClone(POD);
  delete noContainers.spec.containers;
  it.each([
    ['bad cpu quantity', { Pod: badCpu, NodeNames: NAMES }, 'Pod.spec.containers[1].resources.requests.cpu', `"1.5.3" ${quantityHelp}`],
    ['bad init container memory', { Pod: badInit, NodeNames: NAMES }, 'Pod.spec.initContainers[0].resources.requests.memory', `"1 Gi" ${quantityHelp}`],
    ['no containers', { Pod: noContainers, NodeNames: NAMES }, 'Pod.spec.containers', 'a pod needs at least one container'],
    ['no pod', { Pod: null, NodeNames: NAMES }, 'Pod', 'required'],
    ['neither names nor nodes', { Pod: POD, Nodes: null, NodeNames: null }, 'NodeNames', 'one of NodeNames (nodeCacheCapable: true) or Nodes (nodeCacheCapable: false) is required'],
    ['names not strings', { Pod: POD, NodeNames: ['n1', 7] }, 'NodeNames[1]', 'must be a non-empty string'],
    ['node without a name', { Pod: POD, Nodes: nodeList([{ metadata: {}, status: {} }]) }, 'Nodes.items[0].metadata.name', 'required'],
    ['body not an object', [POD], 'ExtenderArgs', 'the body must be an ExtenderArgs object {"Pod", "Nodes" | "NodeNames"}'],
  ])('malformed (%s): filter answers 200 with Error naming the field; prioritize 400', async (_n, body, field, problem) => {
    const f = await post(t, 'filter', body);
    expect(f.status).toBe(200);
    expectFilterForm(f.json);
    expect(f.json).toEqual({ Nodes: null, NodeNames: null, FailedNodes: {}, FailedAndUnresolvableNodes: {}, Error: `${field}: ${problem}` });
    const p = await post(t, 'prioritize', body);
    expect(p.status).toBe(400);
    expect(p.json).toEqual({ error: `${field}: ${problem}`, field });
  });

  it('names are read as JSON text: escapes resolve to the host, an opted-out answer echoes the names as sent', async () => {
    // "n\u0031" is "n1", "\u006e3" is "n3": the same hosts as written plainly.
    const raw = `{"Pod":${JSON.stringify(POD)},"NodeNames":["n\\u0031","\\u006e3","n4","gh\\u006fst"]}`;
    const f = await post(t, 'filter', undefined, raw);
    expect(f.json).toEqual({
      Nodes: null,
      NodeNames: ['n1', 'n3'],
      FailedNodes: { n4: FAILED_NAMES_MODE.n4, ghost: FAILED_NAMES_MODE.ghost },
      FailedAndUnresolvableNodes: {},
      Error: '',
    });
    // n1 21.875 W → 10, n3 26.25 W → 0 (best and worst of the two)
    expect((await post(t, 'prioritize', undefined, raw)).json).toEqual([
      { Host: 'n1', Score: 10 },
      { Host: 'n3', Score: 0 },
      { Host: 'ghost', Score: 0 },
      { Host: 'n4', Score: 0 },
    ]);
    const pod = structuredClone(POD);
    pod.metadata.annotations['wattplace.scs.community/opt-out'] = 'true';
    const names = '[ "n2",\n  "n\\u0031" ]';
    const res = await fetch(`http://${t.server.httpAddress}/k8s/filter`, { method: 'POST', body: `{"Pod":${JSON.stringify(pod)},"NodeNames":${names}}` });
    expect(await res.text()).toBe(`{"Nodes":null,"NodeNames":${names},"FailedNodes":{},"FailedAndUnresolvableNodes":{},"Error":""}`);
  });

  it('a name is its decoded text, even when its raw bytes spell another host id', async () => {
    // Hosts "x\y" (one backslash) and "x\\y" (two). The JSON text "x\\y" means x\y: its
    // raw bytes are those of the second id, but the node is the first.
    await t.rpc.registerHosts({
      hosts: ['x\\y', 'x\\\\y'].map((id) => ({ id, capacity: { cpuMillis: 16000n, memBytes: 64n * Gi }, power: linear(100, 300) })),
    });
    const raw = `{"Pod":${JSON.stringify(POD)},"NodeNames":${JSON.stringify(['x\\y'])}}`;
    expect(raw).toContain('"x\\\\y"');
    const f = await post(t, 'filter', undefined, raw);
    expect(f.json.NodeNames).toEqual(['x\\y']);
    expect((await post(t, 'prioritize', undefined, raw)).json).toEqual([{ Host: 'x\\y', Score: 10 }]);
  });

  it('a name offered twice is answered once', async () => {
    const raw = JSON.stringify({ Pod: POD, NodeNames: ['ghost', 'n4', 'ghost', 'n2', 'n4', 'n2'] });
    const res = await fetch(`http://${t.server.httpAddress}/k8s/filter`, { method: 'POST', body: raw });
    const text = await res.text();
    for (const key of ['"ghost":', '"n4":']) expect(text.split(key)).toHaveLength(2); // one key each, no duplicate keys
    expect(JSON.parse(text)).toEqual({ Nodes: null, NodeNames: ['n2'], FailedNodes: { ghost: FAILED_NAMES_MODE.ghost, n4: FAILED_NAMES_MODE.n4 }, FailedAndUnresolvableNodes: {}, Error: '' });
    expect((await post(t, 'prioritize', undefined, raw)).json).toEqual([
      { Host: 'n2', Score: 10 },
      { Host: 'ghost', Score: 0 },
      { Host: 'n4', Score: 0 },
    ]);
  });

  it('the last of duplicate keys counts, as in JSON.parse', async () => {
    const raw = `{"Pod":${JSON.stringify(POD)},"NodeNames":["n5"],"NodeNames":["n2","n5"]}`;
    expect((await post(t, 'filter', undefined, raw)).json.NodeNames).toEqual(['n2']);
  });

  it('more names than the engine takes: Error naming NodeNames; odd names are reported like any other', async () => {
    const many = Array.from({ length: 20_001 }, (_, i) => `node-${i}`); // maxCandidates defaults to 20,000
    const f = await post(t, 'filter', { Pod: POD, NodeNames: many });
    expect(f.json.Error).toBe('NodeNames: at most 20000 candidates per request, got 20001');
    const odd = await post(t, 'filter', { Pod: POD, NodeNames: ['__proto__', 'constructor', 'n2'] });
    expect(odd.json.NodeNames).toEqual(['n2']);
    expect(Object.keys(odd.json.FailedNodes).sort()).toEqual(['__proto__', 'constructor']);
    expect(odd.json.FailedNodes.constructor).toBe('unknown host: not registered with wattplace');
  });

  it('a body that is not JSON is a 400 naming the body, never a 500', async () => {
    for (const verb of ['filter', 'prioritize']) {
      const r = await post(t, verb, undefined, '{"Pod": ');
      expect(r.status).toBe(400);
      expect(r.json.field).toBe('body');
      expect(r.json.error).toMatch(/^body: not valid JSON/);
    }
  });

  it('counts answers in /metrics', async () => {
    const text = await (await fetch(`http://${t.server.httpAddress}/metrics`)).text();
    expect(text).toMatch(/wattplace_decisions_total\{rpc="k8s_filter",outcome="ok"\} [1-9]/);
    expect(text).toMatch(/wattplace_decisions_total\{rpc="k8s_filter",outcome="invalid"\} [1-9]/);
    expect(text).toMatch(/wattplace_decisions_total\{rpc="k8s_prioritize",outcome="opted_out"\} 1/);
    expect(text).toMatch(/wattplace_decision_duration_seconds_count\{rpc="k8s_prioritize"\} [1-9]/);
  });
});

describe('k8s extender, full Nodes mode (nodeCacheCapable: false)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ k8sDefaultPowerModel: '{"linear":{"idleWatts":80,"maxWatts":280}}' });
    await registerHosts(t);
  });
  afterAll(() => t.close());

  /*
   * n1: allocatable 15890m / 65215652Ki: fits; marginal uses the physical 16 cores: 21.875 W.
   * n2: allocatable 1500m < 1750m → Capacity (free = 32000 × 1500/32000 = 1500m).
   * n3: allocatable 8 cores: 26.25 W.
   * new-1: unknown; registered from its Node with the default model 80→280 W, capacity = allocatable 8 cores:
   *        200 × 1750/8000 = 43.75 W (worst).
   * bad: allocatable cpu "lots" → failed with that reason. n5: MAINTENANCE.
   * Linear mapping: n1 10, new-1 0, n3 round(10 × (43.75 − 26.25) / (43.75 − 21.875)) = round(8) = 8.
   */
  const items = () => [
    node('n1', '15890m', '65215652Ki'),
    node('n2', '1500m', '131072Mi'),
    node('n3', '8', '32Gi'),
    node('new-1', '8', '32Gi', { 'wattplace.scs.community/site': 'az2' }),
    node('bad', 'lots', '32Gi'),
    node('n5', '16', '64Gi'),
  ];

  it('filter answers with the Node objects that pass, unchanged, and fails the rest with reasons', async () => {
    const sent = nodeList(items());
    const r = await post(t, 'filter', { Pod: POD, Nodes: sent, NodeNames: null });
    expect(r.status).toBe(200);
    expectFilterForm(r.json);
    expect(r.json.NodeNames).toBeNull();
    expect(r.json.Error).toBe('');
    expect(r.json.Nodes).toEqual({ ...sent, items: [sent.items[0], sent.items[2], sent.items[3]] });
    expect(r.json.FailedNodes).toEqual({
      n2: 'insufficient cpu: requested 1750m, free 1500m of 1500m (allocated 0m, reserved 0m)',
      bad: 'node status.allocatable.cpu: "lots" is not a Kubernetes quantity (e.g. "100m", "1.5", "2Gi", "500M", "1e3")',
      n5: 'host is in MAINTENANCE',
    });
    expect(r.json.FailedAndUnresolvableNodes).toEqual({});
  });

  it('the passing Node objects are the bytes sent, and so is the rest of the NodeList', async () => {
    // Pretty-printed with odd spacing and an escaped character: a re-serialization would differ.
    const sent = nodeList(items());
    sent.items[0].metadata.annotations = { note: 'caf\u00e9 </tag>' };
    const text = JSON.stringify({ Pod: POD, Nodes: sent }, null, '\t').replace('"items": [', '"items"  :\n [');
    const res = await fetch(`http://${t.server.httpAddress}/k8s/filter`, { method: 'POST', body: text });
    const answer = await res.text();
    const itemText = (i: number) => JSON.stringify(sent.items[i], null, '\t').replace(/\n/g, '\n\t\t\t');
    for (const i of [0, 2, 3]) expect(answer).toContain(itemText(i)); // n1, n3, new-1 pass
    for (const i of [1, 4, 5]) expect(answer).not.toContain(`"name": "${sent.items[i].metadata.name}"`);
    expect(answer).toContain('"resourceVersion": "884300"');
    expect(JSON.parse(answer).Nodes).toEqual({ ...sent, items: [sent.items[0], sent.items[2], sent.items[3]] });
  });

  it('prioritize scores the Node objects', async () => {
    const r = await post(t, 'prioritize', { Pod: POD, Nodes: nodeList(items()), NodeNames: null });
    expect(r.status).toBe(200);
    expectPriorityForm(r.json);
    expect(r.json).toEqual([
      { Host: 'n1', Score: 10 },
      { Host: 'n3', Score: 8 },
      { Host: 'new-1', Score: 0 },
      { Host: 'bad', Score: 0 },
      { Host: 'n2', Score: 0 },
      { Host: 'n5', Score: 0 },
    ]);
  });

  it('a node whose name is not valid Unicode text fails alone; the others are answered', async () => {
    // "\ud800" is an unpaired surrogate: it has no UTF-8 form, so it cannot become a host id.
    const text = JSON.stringify({ Pod: POD, Nodes: nodeList([node('n1', '16', '64Gi'), node('lone-\ud800', '8', '32Gi')]) });
    expect(text).toContain('lone-\\ud800');
    const r = await post(t, 'filter', undefined, text);
    expect(r.json.Error).toBe('');
    expect(r.json.Nodes.items.map((n: Json) => n.metadata.name)).toEqual(['n1']);
    expect(r.json.FailedNodes).toEqual({ 'lone-\ud800': 'unknown node: its name is not valid Unicode text (an unpaired surrogate), so it cannot be registered' });
  });

  it('an unknown node was registered from its Node object with the default model', async () => {
    const e = await t.rpc.evaluate({ workload: { id: 'w', demand: { cpuMillis: 1750n, memBytes: 1n } }, candidates: [{ hostId: 'new-1' }] });
    expect(e.feasible.map((f) => [f.hostId, f.marginalWatts])).toEqual([['new-1', 43.75]]);
    const snap = t.server.core.collector.current();
    const spec = snap.specs[snap.indexOf('new-1')];
    expect(spec.site).toBe('az2');
    expect(spec.capacity).toEqual({ cpuMillis: 8000, memBytes: 32 * 2 ** 30 });
    expect(spec.labels['topology.kubernetes.io/zone']).toBe('nova-az1');
  });
});

describe('k8s extender, full Nodes mode without a default power model', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ k8sScoreMapping: 'absolute', k8sWattsPerPoint: 2 });
    await registerHosts(t);
  });
  afterAll(() => t.close());

  it('an unknown node fails with the reason; a node naming a catalog model is registered with it', async () => {
    const sent = nodeList([node('n1', '16', '64Gi'), node('new-2', '8', '32Gi'), node('new-3', '8', '32Gi', { 'wattplace.scs.community/power-model': 'hp-ml110-g5' })]);
    const r = await post(t, 'filter', { Pod: POD, Nodes: sent });
    expectFilterForm(r.json);
    expect(r.json.Nodes.items.map((n: Json) => n.metadata.name).sort()).toEqual(['n1', 'new-3']);
    expect(r.json.FailedNodes).toEqual({
      'new-2': 'unknown node: not registered with wattplace and no default power model configured (k8sDefaultPowerModel)',
    });
  });

  it('absolute mapping: one point per k8sWattsPerPoint watts above the best', async () => {
    // n2 13.671875 W → 10; n1 21.875: 10 − round(8.203125 / 2) = 6; n3 26.25: 10 − round(12.578125 / 2) = 4
    const r = await post(t, 'prioritize', { Pod: POD, NodeNames: ['n1', 'n2', 'n3'] });
    expect(r.json).toEqual([
      { Host: 'n1', Score: 6 },
      { Host: 'n2', Score: 10 },
      { Host: 'n3', Score: 4 },
    ]);
  });
});

describe('k8s extender: a node draining for standby takes no pod', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
    await registerHosts(t);
    // n2 is the best host for the pod (13.671875 W): the applier drains it
    expect(t.server.core.setDraining('n2', true)).toBe(true);
  });
  afterAll(() => t.close());

  const DRAINING = 'host is draining for standby';

  it('names mode: filter fails the draining node with its reason; prioritize ranks the rest', async () => {
    const f = await post(t, 'filter', { Pod: POD, Nodes: null, NodeNames: NAMES });
    expectFilterForm(f.json);
    expect(f.json).toEqual({ Nodes: null, NodeNames: ['n1', 'n3'], FailedNodes: { ...FAILED_NAMES_MODE, n2: DRAINING }, FailedAndUnresolvableNodes: {}, Error: '' });
    // n1 21.875 W → 10, n3 26.25 W → 0; then the unknown name, then the rejected hosts in host order
    const p = await post(t, 'prioritize', { Pod: POD, Nodes: null, NodeNames: NAMES });
    expectPriorityForm(p.json);
    expect(p.json).toEqual([
      { Host: 'n1', Score: 10 },
      { Host: 'n3', Score: 0 },
      { Host: 'ghost', Score: 0 },
      { Host: 'n2', Score: 0 },
      { Host: 'n4', Score: 0 },
      { Host: 'n5', Score: 0 },
    ]);
  });

  it('Nodes mode: the draining node is left out of the Node objects that pass', async () => {
    // allocatable as registered: n1 16 cores, n2 32 cores (fits the pod, but draining), n3 8 cores
    const sent = nodeList([node('n1', '16', '64Gi'), node('n2', '32', '128Gi'), node('n3', '8', '32Gi')]);
    const r = await post(t, 'filter', { Pod: POD, Nodes: sent, NodeNames: null });
    expectFilterForm(r.json);
    expect(r.json.Error).toBe('');
    expect(r.json.Nodes).toEqual({ ...sent, items: [sent.items[0], sent.items[2]] });
    expect(r.json.FailedNodes).toEqual({ n2: DRAINING });
  });

  it('draining ends: n2 passes again and is the best', async () => {
    t.server.core.setDraining('n2', false);
    const p = await post(t, 'prioritize', { Pod: POD, Nodes: null, NodeNames: ['n1', 'n2', 'n3'] });
    expect(p.json).toEqual([
      { Host: 'n1', Score: 3 },
      { Host: 'n2', Score: 10 },
      { Host: 'n3', Score: 0 },
    ]);
  });
});
