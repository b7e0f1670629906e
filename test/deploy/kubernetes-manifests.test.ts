import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { loadConfig } from '../../src/config';
import { startTestServer } from '../helpers/grpc';

// Every manifest in deploy/kubernetes parses, has a known apiVersion/kind, and
// the pieces that refer to each other (names, ports, mounts, the extender's
// verbs and keys) agree — with the service's own config schema and routes.

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const dir = path.join(__dirname, '../../deploy/kubernetes');
const files = fs.readdirSync(dir).filter((f) => f.endsWith('.yaml'));
const docs: { file: string; doc: Json }[] = files.flatMap((file) =>
  parseAllDocuments(fs.readFileSync(path.join(dir, file), 'utf8')).map((d) => {
    if (d.errors.length) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
    return { file, doc: d.toJS() as Json };
  }),
);
const find = (kind: string, name: string): Json => {
  const d = docs.find((x) => x.doc.kind === kind && x.doc.metadata?.name === name);
  if (!d) throw new Error(`no ${kind} ${name}`);
  return d.doc;
};

const KNOWN: Record<string, string> = {
  Namespace: 'v1',
  ServiceAccount: 'v1',
  ConfigMap: 'v1',
  Service: 'v1',
  Deployment: 'apps/v1',
  ClusterRoleBinding: 'rbac.authorization.k8s.io/v1',
  RoleBinding: 'rbac.authorization.k8s.io/v1',
  Role: 'rbac.authorization.k8s.io/v1',
  NetworkPolicy: 'networking.k8s.io/v1',
};
// k8s.io/kube-scheduler/config/v1 Extender, JSON names.
const EXTENDER_KEYS = [
  'urlPrefix', 'filterVerb', 'preemptVerb', 'prioritizeVerb', 'weight', 'bindVerb', 'enableHTTPS', 'tlsConfig',
  'httpTimeout', 'nodeCacheCapable', 'managedResources', 'ignorable',
];
const SCHEDULER_CONFIG_KEYS = [
  'apiVersion', 'kind', 'parallelism', 'leaderElection', 'clientConnection', 'healthzBindAddress', 'metricsBindAddress',
  'enableProfiling', 'enableContentionProfiling', 'percentageOfNodesToScore', 'podInitialBackoffSeconds',
  'podMaxBackoffSeconds', 'profiles', 'extenders', 'delayCacheUntilActive',
];

describe('deploy/kubernetes manifests', () => {
  it('every document has a known apiVersion and kind, a name, and the namespace where namespaced', () => {
    expect(files.sort()).toEqual(['00-namespace.yaml', '10-wattplace.yaml', '20-scheduler.yaml']);
    expect(docs.length).toBeGreaterThanOrEqual(14);
    for (const { file, doc } of docs) {
      expect(KNOWN[doc.kind], `${file}: kind ${doc.kind}`).toBeDefined();
      expect(doc.apiVersion, `${file}: ${doc.kind}`).toBe(KNOWN[doc.kind]);
      expect(typeof doc.metadata?.name).toBe('string');
      const clusterScoped = doc.kind === 'Namespace' || doc.kind === 'ClusterRoleBinding';
      if (clusterScoped) expect(doc.metadata.namespace).toBeUndefined();
      else expect(['wattplace-system', 'kube-system']).toContain(doc.metadata.namespace);
    }
  });

  it('Deployments: selectors match their pod labels; mounted ConfigMaps exist; ports line up with the Service', () => {
    for (const { doc } of docs.filter((d) => d.doc.kind === 'Deployment')) {
      const tpl = doc.spec.template;
      for (const [k, v] of Object.entries(doc.spec.selector.matchLabels)) expect(tpl.metadata.labels[k]).toBe(v);
      expect(find('ServiceAccount', tpl.spec.serviceAccountName)).toBeDefined();
      for (const v of tpl.spec.volumes ?? []) if (v.configMap) expect(find('ConfigMap', v.configMap.name)).toBeDefined();
      for (const c of tpl.spec.containers) {
        for (const m of c.volumeMounts ?? []) expect(tpl.spec.volumes.map((v: Json) => v.name)).toContain(m.name);
        expect(Object.keys(c.resources ?? {})).toContain('requests');
      }
    }
    const svc = find('Service', 'wattplace');
    const pod = find('Deployment', 'wattplace').spec.template;
    const portNames = pod.spec.containers[0].ports.map((p: Json) => p.name);
    for (const p of svc.spec.ports) expect(portNames).toContain(p.targetPort);
    for (const [k, v] of Object.entries(svc.spec.selector)) expect(pod.metadata.labels[k]).toBe(v);
  });

  it('the service ConfigMap is a valid wattplace config, and the Deployment reads it', () => {
    const cm = find('ConfigMap', 'wattplace-config');
    const tmp = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'wattplace-')), 'config.yaml');
    fs.writeFileSync(tmp, cm.data['config.yaml']);
    const cfg = loadConfig({ file: tmp });
    expect(cfg.http).toBe('0.0.0.0:8080');
    expect(cfg.grpc).toBe('0.0.0.0:50051');
    expect(cfg.k8sExtender).toBe(true);
    const c = find('Deployment', 'wattplace').spec.template.spec.containers[0];
    const mount = c.volumeMounts.find((m: Json) => m.name === 'config').mountPath;
    expect(c.args).toEqual(['serve', '--config', `${mount}/config.yaml`]);
    expect(c.ports.map((p: Json) => p.containerPort)).toEqual([Number(cfg.grpc.split(':')[1]), Number(cfg.http.split(':')[1])]);
  });

  it('KubeSchedulerConfiguration: v1, a wattplace-scheduler profile, the extender spelled right and pointed at the Service', async () => {
    const cm = find('ConfigMap', 'wattplace-scheduler-config');
    const sc = parseYaml(cm.data['scheduler-config.yaml']) as Json;
    expect(sc.apiVersion).toBe('kubescheduler.config.k8s.io/v1');
    expect(sc.kind).toBe('KubeSchedulerConfiguration');
    for (const k of Object.keys(sc)) expect(SCHEDULER_CONFIG_KEYS).toContain(k);
    expect(sc.profiles.map((p: Json) => p.schedulerName)).toEqual(['wattplace-scheduler']);
    expect(sc.extenders).toHaveLength(1);
    const ext = sc.extenders[0];
    for (const k of Object.keys(ext)) expect(EXTENDER_KEYS).toContain(k);
    expect(ext).toMatchObject({ filterVerb: 'filter', prioritizeVerb: 'prioritize', nodeCacheCapable: true, ignorable: true, enableHTTPS: false });
    expect(ext.bindVerb).toBeUndefined(); // wattplace does not bind
    expect(Number.isInteger(ext.weight) && ext.weight > 0).toBe(true);
    expect(ext.httpTimeout).toMatch(/^\d+(\.\d+)?(ms|s|m)$/); // a metav1.Duration
    const svc = find('Service', 'wattplace');
    const http = svc.spec.ports.find((p: Json) => p.name === 'http');
    expect(ext.urlPrefix).toBe(`http://${svc.metadata.name}.${svc.metadata.namespace}.svc:${http.port}/k8s`);
    // the lease this scheduler elects with is the one its Role allows
    expect(sc.leaderElection).toMatchObject({ leaderElect: true, resourceNamespace: 'wattplace-system', resourceName: 'wattplace-scheduler' });
    const role = find('Role', 'wattplace-scheduler-leader-election');
    expect(role.rules.some((r: Json) => r.resourceNames?.includes(sc.leaderElection.resourceName))).toBe(true);
    const c = find('Deployment', 'wattplace-scheduler').spec.template.spec.containers[0];
    const mount = c.volumeMounts[0].mountPath;
    expect(c.command).toContain(`--config=${mount}/scheduler-config.yaml`);

    // The verbs are routes the service really serves: urlPrefix path + "/" + verb answers POST.
    const t = await startTestServer();
    try {
      const prefix = new URL(ext.urlPrefix).pathname;
      for (const verb of [ext.filterVerb, ext.prioritizeVerb]) {
        const res = await fetch(`http://${t.server.httpAddress}${prefix}/${verb}`, { method: 'POST', body: JSON.stringify({ Pod: { spec: { containers: [{}] } }, NodeNames: [] }) });
        expect(res.status).toBe(200);
      }
    } finally {
      await t.close();
    }
  });

  it('RBAC bindings name the scheduler ServiceAccount and existing upstream roles', () => {
    const bindings = docs.filter((d) => d.doc.kind === 'ClusterRoleBinding' || d.doc.kind === 'RoleBinding').map((d) => d.doc);
    expect(bindings.map((b) => b.roleRef.name).sort()).toEqual(
      ['extension-apiserver-authentication-reader', 'system:kube-scheduler', 'system:volume-scheduler', 'wattplace-scheduler-leader-election'].sort(),
    );
    for (const b of bindings) {
      expect(b.roleRef.apiGroup).toBe('rbac.authorization.k8s.io');
      expect(b.subjects).toEqual([{ kind: 'ServiceAccount', name: 'wattplace-scheduler', namespace: 'wattplace-system' }]);
    }
    expect(find('ServiceAccount', 'wattplace').automountServiceAccountToken).toBe(false);
  });
});
