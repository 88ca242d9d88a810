/**
 * manifests/*.yaml.in rendered by the real deploy/render.sh, parsed with js-yaml and validated
 * offline with kubernetes-models (the Kubernetes 1.27 OpenAPI schemas): the legacy v1.2
 * ReplicationController + Service keep the exact legacy arguments, probes and resources;
 * the lockstep values agree across containers; the current form (Deployment, RBAC, PDB)
 * is non-root with read-only root filesystems; our programs accept every argument.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAll } from 'js-yaml';
import { Namespace, Pod, ReplicationController, Service, ServiceAccount } from 'kubernetes-models/v1';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { ClusterRole, ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { parseFlags } from '../../lib/flags.js';
import { KUBE2SKY_FLAGS, configFromFlags as kube2skyConfig } from '../../lib/kube2sky/config.js';
import { SKYDNS_FLAGS, configFromFlags as skydnsConfig } from '../../lib/skydns/config.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const RENDER = path.join(root, 'deploy/render.sh');
const MANIFESTS = path.join(root, 'manifests');

// ------------------------------------------------------------------ rendering

interface RenderResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

function render(...args: string[]): RenderResult {
  const r = spawnSync('bash', [RENDER, ...args], { encoding: 'utf8', env: { ...process.env, DNS_DOMAIN: '', DNS_REPLICAS: '' } });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

type Obj = Record<string, unknown>;

function parseDocs(text: string): Obj[] {
  return loadAll(text).filter((d): d is Obj => d !== null && d !== undefined && typeof d === 'object');
}

function renderDocs(...args: string[]): Obj[] {
  const r = render(...args);
  assert.equal(r.status, 0, `render.sh ${args.join(' ')} failed:\n${r.stderr}`);
  return parseDocs(r.stdout);
}

type Model = ReplicationController | Service | ServiceAccount | Deployment | StatefulSet | HorizontalPodAutoscaler | NetworkPolicy | ClusterRole | ClusterRoleBinding | PodDisruptionBudget | Namespace | Pod;

/** Builds the kubernetes-models object for a document and validates it (throws when invalid). */
function validated(doc: Obj): Model {
  const key = `${String(doc.apiVersion)}/${String(doc.kind)}`;
  let m: Model;
  switch (key) {
    case 'v1/ReplicationController':
      m = new ReplicationController(doc as never);
      break;
    case 'v1/Service':
      m = new Service(doc as never);
      break;
    case 'v1/ServiceAccount':
      m = new ServiceAccount(doc as never);
      break;
    case 'v1/Namespace':
      m = new Namespace(doc as never);
      break;
    case 'v1/Pod':
      m = new Pod(doc as never);
      break;
    case 'apps/v1/Deployment':
      m = new Deployment(doc as never);
      break;
    case 'apps/v1/StatefulSet':
      m = new StatefulSet(doc as never);
      break;
    case 'autoscaling/v2/HorizontalPodAutoscaler':
      m = new HorizontalPodAutoscaler(doc as never);
      break;
    case 'networking.k8s.io/v1/NetworkPolicy':
      m = new NetworkPolicy(doc as never);
      break;
    case 'rbac.authorization.k8s.io/v1/ClusterRole':
      m = new ClusterRole(doc as never);
      break;
    case 'rbac.authorization.k8s.io/v1/ClusterRoleBinding':
      m = new ClusterRoleBinding(doc as never);
      break;
    case 'policy/v1/PodDisruptionBudget':
      m = new PodDisruptionBudget(doc as never);
      break;
    default:
      throw new Error(`unexpected document ${key}`);
  }
  try {
    m.validate();
  } catch (err) {
    throw new Error(`${key} ${JSON.stringify((doc.metadata as Obj | undefined)?.name)} is invalid: ${(err as Error).message}`);
  }
  return m;
}

function one<T>(docs: Model[], cls: new (...a: never[]) => T): T {
  const found = docs.filter((d): d is Model & T => d instanceof cls);
  assert.equal(found.length, 1, `expected exactly one ${cls.name}, got ${found.length}`);
  return found[0];
}

// kubernetes-models accepts unknown fields; catch typos where the manifests are edited most.
const CONTAINER_KEYS = new Set(['name', 'image', 'command', 'args', 'ports', 'resources', 'livenessProbe', 'readinessProbe', 'securityContext', 'volumeMounts', 'env']);
const PROBE_KEYS = new Set(['httpGet', 'initialDelaySeconds', 'periodSeconds', 'timeoutSeconds', 'successThreshold', 'failureThreshold']);

interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  ports?: Array<{ name?: string; containerPort: number; protocol?: string }>;
  resources?: { limits?: Record<string, unknown>; requests?: Record<string, unknown> };
  livenessProbe?: Obj;
  readinessProbe?: Obj;
  securityContext?: Obj;
  volumeMounts?: Array<{ name: string; mountPath: string }>;
}

function containersOf(podSpec: { containers: unknown[] } | undefined): Container[] {
  assert.ok(podSpec, 'pod template has a spec');
  const cs = podSpec.containers as Array<Container & Obj>;
  for (const c of cs) {
    for (const k of Object.keys(c)) assert.ok(CONTAINER_KEYS.has(k), `container ${c.name}: unexpected field ${k}`);
    for (const p of [c.livenessProbe, c.readinessProbe]) {
      if (p) for (const k of Object.keys(p)) assert.ok(PROBE_KEYS.has(k), `container ${c.name}: unexpected probe field ${k}`);
    }
  }
  return cs;
}

function byName(cs: Container[]): Record<string, Container> {
  return Object.fromEntries(cs.map((c) => [c.name, c]));
}

// ------------------------------------------------------------------ the legacy values (docs/kube2sky.md §3)

const ETCD_COMMAND = [
  '/usr/bin/etcd',
  '-data-dir',
  '/var/etcd/data',
  '-listen-client-urls',
  'http://127.0.0.1:2379,http://127.0.0.1:4001',
  '-advertise-client-urls',
  'http://127.0.0.1:2379,http://127.0.0.1:4001',
  '-initial-cluster-token',
  'skydns-etcd',
];
const kube2skyArgs = (domain: string): string[] => [`--domain=${domain}`];
const skydnsArgs = (domain: string): string[] => ['-machines=http://127.0.0.1:4001', '-addr=0.0.0.0:53', '-ns-rotate=false', `-domain=${domain}.`];
const healthzArgs = (domain: string): string[] => [`-cmd=nslookup kubernetes.default.svc.${domain} 127.0.0.1 >/dev/null`, '-port=8080'];

const CASES = [
  { args: ['10.0.0.0/24', 'cluster.local'], ip: '10.0.0.10', domain: 'cluster.local' },
  { args: ['172.20.0.0/16', 'Corp.Example.'], ip: '172.20.0.10', domain: 'corp.example' },
  { args: ['10.96.0.53', 'k8s.internal'], ip: '10.96.0.53', domain: 'k8s.internal' },
];

const argValue = (args: readonly string[], flag: string): string | undefined => {
  const hit = args.find((a) => a.startsWith(`${flag}=`));
  return hit === undefined ? undefined : hit.slice(flag.length + 1);
};

/** The lockstep values as each container sees them. */
function lockstep(cs: Record<string, Container>): { kube2sky: string; skydns: string; healthz: string; healthzServer: string; healthzPort: number; skydnsPort: number } {
  const k = argValue(cs.kube2sky.args ?? [], '--domain');
  const s = argValue(cs.skydns.args ?? [], '-domain');
  const cmd = argValue(cs.healthz.args ?? [], '-cmd') ?? '';
  const m = /^nslookup (?:-port=(\d+) )?kubernetes\.default\.svc\.(\S+) (\S+) >\/dev\/null$/.exec(cmd);
  assert.ok(m, `healthz -cmd is not the nslookup of kubernetes.default.svc.<domain>: ${cmd}`);
  assert.ok(k !== undefined && s !== undefined, 'kube2sky --domain and skydns -domain are set');
  assert.ok(s.endsWith('.'), `skydns -domain ends with a dot: ${s}`);
  const addr = argValue(cs.skydns.args ?? [], '-addr') ?? '';
  return {
    kube2sky: k,
    skydns: s.slice(0, -1),
    healthz: m[2],
    healthzServer: m[3],
    healthzPort: m[1] === undefined ? 53 : Number(m[1]),
    skydnsPort: Number(addr.split(':').pop()),
  };
}

// ------------------------------------------------------------------ tests

test('templates: only the three placeholders outside comments, and the lockstep note in every file', () => {
  const files = fs.readdirSync(MANIFESTS).filter((f) => f.endsWith('.yaml.in')).sort();
  assert.deepEqual(files, ['kube-dns-scale-out.yaml.in', 'kube-dns.yaml.in', 'skydns-rc.yaml.in', 'skydns-svc.yaml.in']);
  for (const f of files) {
    const text = fs.readFileSync(path.join(MANIFESTS, f), 'utf8');
    const code = text.split('\n').filter((l) => !/^\s*#/.test(l)).join('\n');
    const used = new Set(code.match(/__[A-Z_0-9]+__/g) ?? []);
    const allowed = ['__PILLAR__DNS__DOMAIN__', '__PILLAR__DNS__SERVER__', '__PILLAR__DNS__REPLICAS__', ...(f === 'kube-dns-scale-out.yaml.in' ? ['__PILLAR__ETCD__0__', '__PILLAR__ETCD__1__', '__PILLAR__ETCD__2__'] : [])];
    for (const p of used) assert.ok(allowed.includes(p), `${f}: unknown placeholder ${p}`);
    const comments = text.split('\n').filter((l) => /^\s*#/.test(l)).join('\n');
    assert.match(comments, /deploy\/render\.sh/, `${f}: says how to render it`);
    assert.match(comments, /__PILLAR__DNS__(DOMAIN|SERVER)__/, `${f}: names its placeholders`);
    assert.match(comments, f === 'skydns-svc.yaml.in' ? /--cluster-dns/ : /--cluster-domain/, `${f}: the lockstep note`);
  }
});

for (const c of CASES) {
  test(`render ${c.args.join(' ')}: every document is valid; the DNS IP is ${c.ip}; stderr names the kubelet flags`, () => {
    for (const form of [[], ['--legacy']]) {
      const r = render(...form, ...c.args);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, new RegExp(`--cluster-dns=${c.ip.replace(/\./g, '\\.')} --cluster-domain=${c.domain.replace(/\./g, '\\.')}`));
      assert.doesNotMatch(r.stdout.split('\n').filter((l) => !/^\s*#/.test(l)).join('\n'), /__PILLAR__/);
      const docs = parseDocs(r.stdout).map(validated);
      const kinds = docs.map((d) => `${d.apiVersion}/${d.kind}`).sort();
      assert.deepEqual(
        kinds,
        form.length
          ? ['v1/ReplicationController', 'v1/Service']
          : ['apps/v1/Deployment', 'policy/v1/PodDisruptionBudget', 'rbac.authorization.k8s.io/v1/ClusterRole', 'rbac.authorization.k8s.io/v1/ClusterRoleBinding', 'v1/Service', 'v1/ServiceAccount'],
      );
      assert.equal(one(docs, Service).spec?.clusterIP, c.ip);
    }
  });

  test(`render ${c.args.join(' ')}: the lockstep values agree across containers, in both forms`, () => {
    for (const form of [[], ['--legacy']]) {
      const docs = renderDocs(...form, ...c.args).map(validated);
      const spec = form.length ? one(docs, ReplicationController).spec?.template?.spec : one(docs, Deployment).spec?.template.spec;
      const cs = byName(containersOf(spec));
      const l = lockstep(cs);
      assert.equal(l.kube2sky, c.domain, 'kube2sky --domain');
      assert.equal(l.skydns, c.domain, 'skydns -domain (minus the trailing dot)');
      assert.equal(l.healthz, c.domain, 'the healthz lookup name');
      assert.equal(l.healthzServer, '127.0.0.1', 'healthz asks the skydns of its own pod');
      assert.equal(l.healthzPort, l.skydnsPort, 'healthz asks the port skydns listens on');
      // skydns reads the etcd of its pod.
      const machines = argValue(cs.skydns.args ?? [], '-machines') ?? '';
      const etcdUrls = (cs.etcd.command ?? [])[(cs.etcd.command ?? []).indexOf('-listen-client-urls') + 1].split(',');
      for (const m of machines.split(',')) assert.ok(etcdUrls.includes(m), `skydns -machines ${m} is one of etcd's client URLs`);
      // The Service's clusterIP is the derived DNS IP, and it reaches skydns's port.
      const svc = one(docs, Service);
      assert.equal(svc.spec?.clusterIP, c.ip);
      for (const p of (svc.spec?.ports ?? []).filter((q) => q.name?.startsWith('dns'))) {
        assert.equal(p.port, 53);
        const target = p.targetPort ?? p.port;
        const cp = (cs.skydns.ports ?? []).find((q) => (typeof target === 'string' ? q.name === target : q.containerPort === target) && q.protocol === p.protocol);
        assert.ok(cp, `Service port ${p.name} reaches a skydns container port`);
        assert.equal(cp.containerPort, l.skydnsPort, `Service port ${p.name} reaches the port in skydns -addr`);
      }
    }
  });
}

test('legacy ReplicationController kube-dns-v11: metadata, four containers, the exact v1.2 arguments, probes, resources', () => {
  const docs = renderDocs('--legacy', '10.0.0.0/24', 'cluster.local').map(validated);
  const rc = one(docs, ReplicationController);
  assert.equal(rc.metadata?.name, 'kube-dns-v11');
  assert.equal(rc.metadata?.namespace, 'kube-system');
  assert.deepEqual(rc.metadata?.labels, { 'k8s-app': 'kube-dns', version: 'v11', 'kubernetes.io/cluster-service': 'true' });
  assert.equal(rc.spec?.replicas, 1);
  assert.deepEqual(rc.spec?.selector, { 'k8s-app': 'kube-dns', version: 'v11' });
  assert.deepEqual(rc.spec?.template?.metadata?.labels, { 'k8s-app': 'kube-dns', version: 'v11', 'kubernetes.io/cluster-service': 'true' });
  const spec = rc.spec?.template?.spec;
  assert.equal(spec?.dnsPolicy, 'Default');
  assert.deepEqual(spec?.volumes, [{ name: 'etcd-storage', emptyDir: {} }]);
  assert.equal(spec?.hostNetwork, undefined);
  const list = containersOf(spec);
  assert.deepEqual(list.map((c) => c.name), ['etcd', 'kube2sky', 'skydns', 'healthz']);
  const cs = byName(list);
  for (const c of list) assert.equal(c.image, 'kube-dns-ts:0.1.0');

  assert.deepEqual(cs.etcd.command, ETCD_COMMAND);
  assert.equal(cs.etcd.args, undefined);
  assert.deepEqual(cs.etcd.volumeMounts, [{ name: 'etcd-storage', mountPath: '/var/etcd/data' }]);
  assert.deepEqual(cs.etcd.resources, { limits: { cpu: '100m', memory: '500Mi' }, requests: { cpu: '100m', memory: '50Mi' } });

  assert.deepEqual(cs.kube2sky.command, ['kube2sky']);
  assert.deepEqual(cs.kube2sky.args, kube2skyArgs('cluster.local'));
  assert.deepEqual(cs.kube2sky.resources, { limits: { cpu: '100m', memory: '200Mi' }, requests: { cpu: '100m', memory: '50Mi' } });
  assert.deepEqual(cs.kube2sky.livenessProbe, {
    httpGet: { path: '/healthz', port: 8080, scheme: 'HTTP' },
    initialDelaySeconds: 60,
    timeoutSeconds: 5,
    successThreshold: 1,
    failureThreshold: 5,
  });
  assert.deepEqual(cs.kube2sky.readinessProbe, { httpGet: { path: '/readiness', port: 8081, scheme: 'HTTP' }, initialDelaySeconds: 30, timeoutSeconds: 5 });
  assert.equal(cs.kube2sky.ports, undefined, '8081 is not declared, as in v1.2');

  assert.deepEqual(cs.skydns.command, ['skydns']);
  assert.deepEqual(cs.skydns.args, skydnsArgs('cluster.local'));
  assert.deepEqual(cs.skydns.resources, { limits: { cpu: '100m', memory: '200Mi' }, requests: { cpu: '100m', memory: '50Mi' } });
  assert.deepEqual(cs.skydns.ports, [
    { containerPort: 53, name: 'dns', protocol: 'UDP' },
    { containerPort: 53, name: 'dns-tcp', protocol: 'TCP' },
  ]);
  assert.equal(cs.skydns.livenessProbe, undefined);
  assert.equal(cs.skydns.readinessProbe, undefined);
  assert.deepEqual(cs.skydns.securityContext, { runAsUser: 0 }, 'port 53: root, as the legacy images were');

  assert.deepEqual(cs.healthz.command, ['exec-healthz']);
  assert.deepEqual(cs.healthz.args, healthzArgs('cluster.local'));
  assert.deepEqual(cs.healthz.ports, [{ containerPort: 8080, protocol: 'TCP' }]);
  assert.deepEqual(cs.healthz.resources?.limits, cs.healthz.resources?.requests, 'healthz stays in the guaranteed class');
  // The kubelet's probe of kube2sky's liveness is served by healthz in the same pod.
  assert.equal(argValue(cs.healthz.args ?? [], '-port'), String((cs.kube2sky.livenessProbe as { httpGet: { port: number } }).httpGet.port));
});

test('legacy Service kube-dns: labels, selector, clusterIP, dns 53/UDP and dns-tcp 53/TCP', () => {
  const docs = renderDocs('--legacy', '10.0.0.0/24', 'cluster.local').map(validated);
  const svc = one(docs, Service);
  assert.equal(svc.metadata?.name, 'kube-dns');
  assert.equal(svc.metadata?.namespace, 'kube-system');
  assert.deepEqual(svc.metadata?.labels, { 'k8s-app': 'kube-dns', 'kubernetes.io/cluster-service': 'true', 'kubernetes.io/name': 'KubeDNS' });
  assert.deepEqual(svc.spec, {
    selector: { 'k8s-app': 'kube-dns' },
    clusterIP: '10.0.0.10',
    ports: [
      { name: 'dns', port: 53, protocol: 'UDP' },
      { name: 'dns-tcp', port: 53, protocol: 'TCP' },
    ],
  });
  // The selector has no version label, so RC upgrades keep the Service.
  const rc = one(docs, ReplicationController);
  for (const [k, v] of Object.entries(svc.spec?.selector ?? {})) assert.equal(rc.spec?.template?.metadata?.labels?.[k], v);
});

test('current form: Deployment with the same four containers, non-root, read-only root filesystems, probes', () => {
  const docs = renderDocs('10.0.0.0/24', 'cluster.local').map(validated);
  const dep = one(docs, Deployment);
  assert.equal(dep.metadata?.name, 'kube-dns');
  assert.equal(dep.metadata?.namespace, 'kube-system');
  assert.equal(dep.spec?.replicas, 1);
  const tmplLabels = dep.spec?.template.metadata?.labels ?? {};
  for (const [k, v] of Object.entries(dep.spec?.selector.matchLabels ?? {})) assert.equal(tmplLabels[k], v, `selector ${k}`);
  const spec = dep.spec?.template.spec;
  assert.ok(spec);
  assert.equal(spec.dnsPolicy, 'Default');
  assert.equal(spec.serviceAccountName, 'kube-dns');
  assert.deepEqual(spec.volumes, [{ name: 'etcd-storage', emptyDir: {} }]);
  assert.equal(spec.securityContext?.runAsNonRoot, true);
  assert.ok(typeof spec.securityContext?.runAsUser === 'number' && spec.securityContext.runAsUser > 0, 'a non-root uid');
  const anti = spec.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
  assert.equal(anti.length, 1);
  assert.equal(anti[0].podAffinityTerm.topologyKey, 'kubernetes.io/hostname');
  assert.deepEqual(anti[0].podAffinityTerm.labelSelector?.matchLabels, { 'k8s-app': 'kube-dns' });

  const list = containersOf(spec);
  assert.deepEqual(list.map((c) => c.name), ['etcd', 'kube2sky', 'skydns', 'healthz']);
  const cs = byName(list);
  for (const c of list) {
    assert.deepEqual(c.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } }, `${c.name} securityContext`);
    assert.ok(c.resources?.limits && c.resources.requests, `${c.name} has limits and requests`);
  }
  // The only writable path is etcd's data dir.
  assert.deepEqual(cs.etcd.volumeMounts, [{ name: 'etcd-storage', mountPath: '/var/etcd/data' }]);
  for (const c of list.filter((x) => x.name !== 'etcd')) assert.equal(c.volumeMounts, undefined);

  // The same arguments, except skydns's unprivileged port and metrics address.
  assert.deepEqual(cs.etcd.command, ETCD_COMMAND);
  assert.deepEqual(cs.kube2sky.command, ['kube2sky']);
  assert.deepEqual(cs.kube2sky.args, kube2skyArgs('cluster.local'));
  assert.deepEqual(cs.skydns.command, ['skydns']);
  assert.deepEqual(cs.skydns.args, ['-machines=http://127.0.0.1:4001', '-addr=0.0.0.0:10053', '-ns-rotate=false', '-domain=cluster.local.', '-metrics-addr=0.0.0.0:9153', '-workers=auto']);
  assert.deepEqual(cs.healthz.command, ['exec-healthz']);
  assert.deepEqual(cs.healthz.args, ['-cmd=nslookup -port=10053 kubernetes.default.svc.cluster.local 127.0.0.1 >/dev/null', '-port=8080']);

  const get = (p: Obj | undefined): { path: string; port: number } => (p as { httpGet: { path: string; port: number } }).httpGet;
  assert.deepEqual(get(cs.kube2sky.readinessProbe), { path: '/readiness', port: 8081, scheme: 'HTTP' });
  assert.deepEqual(get(cs.kube2sky.livenessProbe), { path: '/healthz', port: 8081, scheme: 'HTTP' });
  assert.deepEqual(get(cs.skydns.readinessProbe), { path: '/readyz', port: 9153, scheme: 'HTTP' });
  assert.equal(argValue(cs.skydns.args ?? [], '-metrics-addr'), `0.0.0.0:${get(cs.skydns.readinessProbe).port}`);
  // Liveness through exec-healthz, on the container it tests.
  assert.deepEqual(get(cs.skydns.livenessProbe), { path: '/healthz', port: 8080, scheme: 'HTTP' });
  assert.equal(argValue(cs.healthz.args ?? [], '-port'), String(get(cs.skydns.livenessProbe).port));
  assert.equal((cs.skydns.livenessProbe as { failureThreshold: number }).failureThreshold, 5);
  assert.deepEqual(cs.healthz.resources?.limits, cs.healthz.resources?.requests);
});

test('current form: ServiceAccount, ClusterRole (get/list/watch services, endpoints, pods, endpointslices), binding, Service, PodDisruptionBudget', () => {
  const docs = renderDocs('10.0.0.0/24', 'cluster.local').map(validated);
  const sa = one(docs, ServiceAccount);
  const role = one(docs, ClusterRole);
  const binding = one(docs, ClusterRoleBinding);
  const dep = one(docs, Deployment);
  const svc = one(docs, Service);
  const pdb = one(docs, PodDisruptionBudget);
  assert.equal(sa.metadata?.namespace, 'kube-system');
  assert.equal(dep.spec?.template.spec?.serviceAccountName, sa.metadata?.name);

  const rules = role.rules ?? [];
  for (const resource of ['services', 'endpoints', 'pods']) {
    for (const verb of ['get', 'list', 'watch']) {
      assert.ok(rules.some((r) => (r.apiGroups ?? []).includes('') && (r.resources ?? []).includes(resource) && r.verbs.includes(verb)), `${verb} ${resource}`);
    }
  }
  for (const verb of ['get', 'list', 'watch']) {
    assert.ok(rules.some((r) => (r.apiGroups ?? []).includes('discovery.k8s.io') && (r.resources ?? []).includes('endpointslices') && r.verbs.includes(verb)), `${verb} endpointslices`);
  }
  for (const r of rules) assert.deepEqual([...r.verbs].sort(), ['get', 'list', 'watch'], 'read-only');
  assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata?.name });
  assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: sa.metadata?.name, namespace: sa.metadata?.namespace }]);

  const labels = dep.spec?.template.metadata?.labels ?? {};
  assert.equal(svc.metadata?.name, 'kube-dns');
  assert.equal(svc.metadata?.labels?.['kubernetes.io/name'], 'KubeDNS');
  for (const [k, v] of Object.entries(svc.spec?.selector ?? {})) assert.equal(labels[k], v, `Service selector ${k}`);
  assert.deepEqual(
    svc.spec?.ports?.map((p) => [p.name, p.port, p.protocol, p.targetPort]),
    [
      ['dns', 53, 'UDP', 'dns'],
      ['dns-tcp', 53, 'TCP', 'dns-tcp'],
      ['metrics', 9153, 'TCP', 'metrics'],
    ],
  );
  assert.equal(pdb.metadata?.namespace, 'kube-system');
  assert.equal(pdb.spec?.maxUnavailable, 1);
  for (const [k, v] of Object.entries(pdb.spec?.selector?.matchLabels ?? {})) assert.equal(labels[k], v, `PDB selector ${k}`);
  assert.ok(Object.keys(pdb.spec?.selector?.matchLabels ?? {}).length > 0);
});

test('our programs accept the arguments of both forms (kube2sky, skydns: their flag parsers; etcd 3.4 and exec-healthz: the real programs)', async (t) => {
  for (const form of [[], ['--legacy']]) {
    const docs = renderDocs(...form, '10.0.0.0/24', 'cluster.local').map(validated);
    const spec = form.length ? one(docs, ReplicationController).spec?.template?.spec : one(docs, Deployment).spec?.template.spec;
    const cs = byName(containersOf(spec));
    const k = kube2skyConfig(parseFlags(KUBE2SKY_FLAGS, cs.kube2sky.args ?? [], { underscores: true }), {});
    assert.equal(k.domain, 'cluster.local.');
    assert.deepEqual(k.etcdUrls, ['http://127.0.0.1:4001'], 'kube2sky writes to the etcd of its pod by default');
    assert.equal(k.healthzPort, 8081);
    const s = skydnsConfig(parseFlags(SKYDNS_FLAGS, cs.skydns.args ?? []));
    assert.equal(s.domain, 'cluster.local.');
    assert.equal(s.nsRotate, false);
    assert.deepEqual(s.machines, ['http://127.0.0.1:4001']);

    // etcd parses every flag before it handles -version: unknown or malformed flags exit 2.
    const etcd = cs.etcd.command ?? [];
    if (fs.existsSync(etcd[0])) {
      const r = spawnSync(etcd[0], [...etcd.slice(1), '-version'], { encoding: 'utf8' });
      assert.equal(r.status, 0, `${etcd.join(' ')} -version: ${r.stderr}`);
      assert.match(r.stdout, /etcd Version: 3\./);
    } else {
      t.diagnostic(`${etcd[0]} is not installed here (Debian etcd-server): etcd's flags not checked`);
    }

    // exec-healthz with the manifest's arguments, moved to a free loopback port.
    const hz = spawn(process.execPath, [path.join(root, 'dist/cmd/exec-healthz.js'), ...(cs.healthz.args ?? []), '-port=0', '-address=127.0.0.1', '-period=1h'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    hz.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const serving = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 10_000);
      hz.stderr.on('data', () => {
        if (/serving \/healthz/.test(err)) {
          clearTimeout(timer);
          resolve(true);
        }
      });
      hz.once('exit', () => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    hz.kill('SIGTERM');
    await new Promise((resolve) => (hz.exitCode !== null ? resolve(null) : hz.once('exit', resolve)));
    assert.ok(serving, `exec-healthz rejected ${JSON.stringify(cs.healthz.args)}:\n${err}`);
    assert.match(err, new RegExp(`for "${(argValue(cs.healthz.args ?? [], '-cmd') ?? '').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}"`));
  }
});

test('render options: -r sets replicas, -i the image of every container, --all -o DIR writes one file per template', () => {
  for (const form of [[], ['--legacy']]) {
    const docs = renderDocs(...form, '-r', '3', '-i', 'registry.example.com/dns/kube-dns-ts:0.1.0', '10.0.0.0/24').map(validated);
    const w = form.length ? one(docs, ReplicationController) : one(docs, Deployment);
    assert.equal(w.spec?.replicas, 3);
    const spec = w instanceof Deployment ? w.spec?.template.spec : (w as ReplicationController).spec?.template?.spec;
    for (const c of containersOf(spec)) assert.equal(c.image, 'registry.example.com/dns/kube-dns-ts:0.1.0');
    assert.equal(lockstep(byName(containersOf(spec))).kube2sky, 'cluster.local', 'the domain defaults to cluster.local');
  }
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'kube-dns-render-'));
  try {
    const r = render('--all', '-o', out, '10.0.0.0/24', 'cluster.local');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '', 'nothing on stdout with -o');
    assert.deepEqual(fs.readdirSync(out).sort(), ['kube-dns-scale-out.yaml', 'kube-dns.yaml', 'skydns-rc.yaml', 'skydns-svc.yaml']);
    const stdoutForm = [...renderDocs('--scale-out', '10.0.0.0/24', 'cluster.local'), ...renderDocs('10.0.0.0/24', 'cluster.local'), ...renderDocs('--legacy', '10.0.0.0/24', 'cluster.local')];
    const files = ['kube-dns-scale-out.yaml', 'kube-dns.yaml', 'skydns-rc.yaml', 'skydns-svc.yaml'].flatMap((f) => parseDocs(fs.readFileSync(path.join(out, f), 'utf8')));
    assert.deepEqual(files, stdoutForm);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test('bad input: a clear message on stderr and exit status 2', () => {
  const table: Array<[string[], RegExp]> = [
    [[], /missing the service CIDR/],
    [['10.0.0.0/33', 'cluster.local'], /prefix length/],
    [['10.0.0.0/24/8'], /not a valid IPv4 CIDR/],
    [['300.0.0.0/24', 'cluster.local'], /not a valid IPv4 CIDR/],
    [['10.0.0.5/24', 'cluster.local'], /host bits set; did you mean 10\.0\.0\.0\/24\?/],
    [['10.0.0.0/29', 'cluster.local'], /too small/],
    [['ten.0.0.0/24'], /not a valid IPv4 CIDR/],
    [['not-an-ip', 'cluster.local'], /neither a service CIDR .* nor an IP address/],
    [['010.0.0.10'], /neither a service CIDR/],
    [['fd00:10::/108'], /IPv6 service CIDRs are not derived/],
    [['127.0.0.1'], /cannot be a Service clusterIP/],
    [['10.0.0.0/24', 'bad_domain!'], /not a valid DNS label/],
    [['10.0.0.0/24', 'a..b'], /empty label/],
    [['10.0.0.0/24', 'cluster.local', 'extra'], /too many arguments/],
    [['-r', '0', '10.0.0.0/24'], /replicas/],
    [['-i', 'bad image', '10.0.0.0/24'], /not an image reference/],
    [['--frobnicate', '10.0.0.0/24'], /unknown option --frobnicate/],
    [['--scale-out', '10.0.0.10'], /needs the etcd members' clusterIPs/],
    [['--scale-out', '--etcd-ips', '10.0.0.11,10.0.0.12', '10.0.0.10'], /exactly three addresses/],
    [['--scale-out', '--etcd-ips', '10.0.0.11,10.0.0.12,nope', '10.0.0.10'], /"nope" is not an IP address/],
    [['--scale-out', '--etcd-ips', '10.0.0.11,10.0.0.11,10.0.0.12', '10.0.0.10'], /must differ/],
    [['--scale-out', '--etcd-ips', '10.0.0.10,10.0.0.11,10.0.0.12', '10.0.0.10'], /is the DNS server address/],
  ];
  for (const [args, re] of table) {
    const r = render(...args);
    assert.equal(r.status, 2, `render.sh ${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
    assert.match(r.stderr, re, `render.sh ${args.join(' ')}`);
    assert.match(r.stderr, /^usage: deploy\/render\.sh/m);
    assert.equal(r.stdout, '', `render.sh ${args.join(' ')}: nothing on stdout`);
  }
  const ok = render('fd00:10::a', 'cluster.local');
  assert.equal(ok.status, 0, 'an IPv6 DNS server address is used as it is');
  assert.equal(one(parseDocs(ok.stdout).map(validated), Service).spec?.clusterIP, 'fd00:10::a');
});

test('scale-out form: etcd StatefulSet of 3 with fixed member addresses, kube2sky with --leader-elect, skydns reading every member, PDBs, autoscaler, network policy', () => {
  const docs = renderDocs('--scale-out', '-r', '3', '172.20.0.0/16', 'corp.example').map(validated);
  const kinds = docs.map((d) => `${d.apiVersion}/${d.kind}`).sort();
  assert.deepEqual(kinds, [
    'apps/v1/Deployment', 'apps/v1/Deployment', 'apps/v1/StatefulSet', 'autoscaling/v2/HorizontalPodAutoscaler',
    'networking.k8s.io/v1/NetworkPolicy', 'policy/v1/PodDisruptionBudget', 'policy/v1/PodDisruptionBudget', 'policy/v1/PodDisruptionBudget',
    'rbac.authorization.k8s.io/v1/ClusterRole', 'rbac.authorization.k8s.io/v1/ClusterRoleBinding',
    'v1/Service', 'v1/Service', 'v1/Service', 'v1/Service', 'v1/Service', 'v1/ServiceAccount',
  ]);
  const services = docs.filter((d): d is Service => d instanceof Service);
  const svc = (n: string) => services.find((x) => x.metadata?.name === n)!;
  const members = ['172.20.0.11', '172.20.0.12', '172.20.0.13'];
  assert.equal(svc('kube-dns').spec?.clusterIP, '172.20.0.10');
  members.forEach((ip, i) => {
    const s = svc(`kube-dns-etcd-${i}`);
    assert.equal(s.spec?.clusterIP, ip);
    assert.equal(s.spec?.publishNotReadyAddresses, true);
    assert.deepEqual(s.spec?.selector, { 'k8s-app': 'kube-dns-etcd', 'statefulset.kubernetes.io/pod-name': `kube-dns-etcd-${i}` });
  });
  const urls = members.map((ip) => `http://${ip}:2379`);

  const sts = one(docs, StatefulSet);
  assert.equal(sts.spec?.replicas, 3);
  assert.equal(sts.spec?.serviceName, 'kube-dns-etcd');
  assert.equal(svc('kube-dns-etcd').spec?.clusterIP, 'None');
  assert.equal(sts.spec?.podManagementPolicy, 'Parallel');
  const etcd = byName(containersOf(sts.spec?.template.spec)).etcd;
  const script = (etcd.command ?? [])[2];
  assert.deepEqual((etcd.command ?? []).slice(0, 2), ['/bin/sh', '-c']);
  // The real etcd 3.4 parses every flag the script gives it (then -version exits 0); a pod with no member address stops with a message.
  if (fs.existsSync('/usr/bin/etcd')) {
    for (let i = 0; i < 3; i++) {
      const r = spawnSync('/bin/sh', ['-c', script.replace('--initial-cluster-token kube-dns-etcd', '--initial-cluster-token kube-dns-etcd -version')], { encoding: 'utf8', env: { ...process.env, POD_NAME: `kube-dns-etcd-${i}` } });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /etcd Version: 3\./);
    }
  }
  const r = spawnSync('/bin/sh', ['-c', script.replace('exec /usr/bin/etcd', 'exec /bin/true')], { encoding: 'utf8', env: { ...process.env, POD_NAME: 'kube-dns-etcd-7' } });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no member address for pod kube-dns-etcd-7/);
  for (const [i, ip] of members.entries()) assert.ok(script.includes(`kube-dns-etcd-${i}=http://${ip}:2380`), `initial cluster names member ${i}`);

  const deployments = docs.filter((d): d is Deployment => d instanceof Deployment);
  const k2sDep = deployments.find((d) => d.metadata?.name === 'kube2sky')!;
  const dnsDep = deployments.find((d) => d.metadata?.name === 'kube-dns')!;
  const k2s = byName(containersOf(k2sDep.spec?.template.spec)).kube2sky;
  const k = kube2skyConfig(parseFlags(KUBE2SKY_FLAGS, k2s.args ?? [], { underscores: true }), {});
  assert.equal(k.leaderElect, true);
  assert.equal(k.leaderLeaseSeconds, 15);
  assert.deepEqual(k.etcdUrls, urls);
  assert.equal(k.domain, 'corp.example.');
  assert.equal(k2sDep.spec?.template.spec?.serviceAccountName, 'kube-dns');
  assert.ok((k2sDep.spec?.replicas ?? 0) >= 2, 'a standby');

  const cs = byName(containersOf(dnsDep.spec?.template.spec));
  assert.deepEqual(Object.keys(cs).sort(), ['healthz', 'skydns'], 'no etcd and no kube2sky in the DNS pods');
  const s = skydnsConfig(parseFlags(SKYDNS_FLAGS, cs.skydns.args ?? []));
  assert.deepEqual(s.machines, urls);
  assert.equal(s.domain, 'corp.example.');
  assert.equal(dnsDep.spec?.replicas, 3);
  assert.match(argValue(cs.healthz.args ?? [], '-cmd') ?? '', /^nslookup -port=10053 kubernetes\.default\.svc\.corp\.example 127\.0\.0\.1 /);
  // The kube-dns Service selects the DNS pods.
  const labels = dnsDep.spec?.template.metadata?.labels ?? {};
  for (const [key, v] of Object.entries(svc('kube-dns').spec?.selector ?? {})) assert.equal(labels[key], v);

  const hpa = one(docs, HorizontalPodAutoscaler);
  assert.deepEqual(hpa.spec?.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: 'kube-dns' });
  assert.equal(hpa.spec?.minReplicas, 3);
  const pdbs = docs.filter((d): d is PodDisruptionBudget => d instanceof PodDisruptionBudget);
  assert.equal(pdbs.find((p) => p.metadata?.name === 'kube-dns-etcd')?.spec?.minAvailable, 2);
  // Only the DNS pods, kube2sky and the members reach etcd.
  const np = one(docs, NetworkPolicy);
  const from = (np.spec?.ingress ?? []).flatMap((rule) => (rule.from ?? []).map((f) => f.podSelector?.matchLabels?.['k8s-app']));
  assert.deepEqual(from.sort(), ['kube-dns', 'kube-dns-etcd', 'kube2sky']);
  assert.equal(k2sDep.spec?.template.metadata?.labels?.['k8s-app'], 'kube2sky');
  assert.equal(labels['k8s-app'], 'kube-dns');
  const rules = one(docs, ClusterRole).rules ?? [];
  assert.ok(rules.some((x) => (x.apiGroups ?? []).includes('discovery.k8s.io') && (x.resources ?? []).includes('endpointslices')));

  // --etcd-ips instead of the derived addresses.
  const other = renderDocs('--scale-out', '--etcd-ips', '10.96.0.21,10.96.0.22,10.96.0.23', '10.96.0.10').map(validated);
  assert.equal(other.filter((d): d is Service => d instanceof Service).find((x) => x.metadata?.name === 'kube-dns-etcd-2')?.spec?.clusterIP, '10.96.0.23');
});

test('manifests/sandbox-cluster.yaml: valid objects; kube-dns is the DNS IP render.sh derives for 10.0.0.0/24', () => {
  const docs = parseDocs(fs.readFileSync(path.join(MANIFESTS, 'sandbox-cluster.yaml'), 'utf8')).map(validated);
  const services = docs.filter((d): d is Service => d instanceof Service);
  const dnsIp = one(renderDocs('10.0.0.0/24', 'cluster.local').map(validated), Service).spec?.clusterIP;
  const kubeDns = services.find((s) => s.metadata?.namespace === 'kube-system' && s.metadata.name === 'kube-dns');
  assert.equal(kubeDns?.spec?.clusterIP, dnsIp);
  for (const s of services) {
    const ip = s.spec?.clusterIP;
    if (ip && ip !== 'None') assert.match(ip, /^10\.0\.0\.\d+$/, `${s.metadata?.name} is inside 10.0.0.0/24`);
  }
  assert.ok(services.some((s) => s.spec?.clusterIP === 'None'), 'a headless service');
  assert.ok(services.some((s) => (s.spec?.ports ?? []).filter((p) => p.name).length >= 2), 'a service with named ports');
  const pods = docs.filter((d): d is Pod => d instanceof Pod);
  assert.ok(pods.length >= 4);
  for (const p of pods) assert.ok(p.status?.podIP, `${p.metadata?.name} has a podIP`);
  assert.ok(new Set(docs.map((d) => d.metadata?.namespace ?? 'default')).size >= 3, 'a couple of namespaces');
});
