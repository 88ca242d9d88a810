// The real kubectl binary against the sandbox API server (run as a program):
// discovery, get (tables and -o json), create -f, create service clusterip,
// apply, label, delete, and the server's own error messages.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { type ProcessApi, kubectl, request, startApiServerProcess } from '../harness/apiserver.js';

let api: ProcessApi;
before(async () => {
  api = await startApiServerProcess(['--v=1']);
});
after(async () => {
  await api.stop();
});

const k = (...args: string[]) => kubectl(api, args);

async function ok(...args: string[]): Promise<string> {
  const r = await k(...args);
  assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout;
}

/** kubectl's table output as rows of cells (columns found from the header), AGE cells replaced by "*". */
function table(text: string): string[][] {
  const lines = text.trimEnd().split('\n');
  const header = lines[0];
  const starts: number[] = [];
  const re = /\S+(?: \S+)*/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(header)) !== null) starts.push(m.index);
  const names = starts.map((st, i) => header.slice(st, starts[i + 1]).trim());
  const age = names.indexOf('AGE');
  return [names, ...lines.slice(1).map((l) => starts.map((st, i) => (i === age ? '*' : l.slice(st, starts[i + 1]).trim())))];
}

test('kubectl get: services in all namespaces, namespaces, endpoints, pods', async () => {
  assert.deepEqual(table(await ok('get', 'svc', '-A')), [
    ['NAMESPACE', 'NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE'],
    ['default', 'kubernetes', 'ClusterIP', '10.0.0.1', '<none>', '443/TCP', '*'],
  ]);
  assert.deepEqual(table(await ok('get', 'ns')), [
    ['NAME', 'STATUS', 'AGE'],
    ['default', 'Active', '*'],
    ['kube-node-lease', 'Active', '*'],
    ['kube-public', 'Active', '*'],
    ['kube-system', 'Active', '*'],
  ]);
  assert.deepEqual(table(await ok('get', 'endpoints')), [
    ['NAME', 'ENDPOINTS', 'AGE'],
    ['kubernetes', `127.0.0.1:${api.port}`, '*'],
  ]);
  const pods = await k('get', 'pods');
  assert.deepEqual([pods.code, pods.stdout, pods.stderr], [0, '', 'No resources found in default namespace.\n']);
  const json = JSON.parse(await ok('get', 'svc', '-n', 'default', '-o', 'json')) as { kind: string; items: Array<{ kind: string; apiVersion: string; metadata: { name: string }; spec: { clusterIP: string } }> };
  assert.equal(json.kind, 'List');
  assert.deepEqual(json.items.map((i) => [i.kind, i.apiVersion, i.metadata.name, i.spec.clusterIP]), [['Service', 'v1', 'kubernetes', '10.0.0.1']]);
  assert.equal(await ok('get', 'svc', 'kubernetes', '-o', 'jsonpath={.spec.ports[0].name}:{.spec.ports[0].port}'), 'https:443');
});

test('kubectl create service clusterip foo --tcp=80, then delete it', async () => {
  assert.equal(await ok('create', 'service', 'clusterip', 'foo', '--tcp=80'), 'service/foo created\n');
  const svc = JSON.parse(await ok('get', 'svc', 'foo', '-o', 'json')) as { metadata: { labels: unknown }; spec: Record<string, unknown> };
  assert.deepEqual(svc.metadata.labels, { app: 'foo' });
  assert.deepEqual(
    { ports: svc.spec.ports, selector: svc.spec.selector, type: svc.spec.type, clusterIP: svc.spec.clusterIP },
    { ports: [{ name: '80', port: 80, protocol: 'TCP', targetPort: 80 }], selector: { app: 'foo' }, type: 'ClusterIP', clusterIP: '10.0.0.2' },
  );
  assert.deepEqual(table(await ok('get', 'ep', 'foo')), [
    ['NAME', 'ENDPOINTS', 'AGE'],
    ['foo', '<none>', '*'],
  ]);
  assert.equal(await ok('delete', 'svc', 'foo'), 'service "foo" deleted\n');
  const gone = await k('get', 'svc', 'foo');
  assert.deepEqual([gone.code, gone.stderr], [1, 'Error from server (NotFound): services "foo" not found\n']);
  assert.equal((await request(`${api.url}/api/v1/namespaces/default/endpoints/foo`)).status, 404, 'its endpoints went with it');
});

test('kubectl create -f (multi-document), endpoints follow the pod, apply, label, delete -f', async () => {
  const file = path.join(api.dir, 'app.yaml');
  await fs.writeFile(
    file,
    [
      'apiVersion: v1',
      'kind: Namespace',
      'metadata: {name: shop}',
      '---',
      'apiVersion: v1',
      'kind: Service',
      'metadata: {name: web, namespace: shop}',
      'spec:',
      '  clusterIP: None',
      '  selector: {app: web}',
      '  ports: [{name: http, port: 80, targetPort: http}]',
      '---',
      'apiVersion: v1',
      'kind: Pod',
      'metadata: {name: web-0, namespace: shop, labels: {app: web}}',
      'spec:',
      '  hostname: web-0',
      '  subdomain: web',
      '  containers: [{name: nginx, image: "nginx:1.25", ports: [{name: http, containerPort: 8080}]}]',
      '',
    ].join('\n'),
  );
  assert.equal(await ok('create', '-f', file), 'namespace/shop created\nservice/web created\npod/web-0 created\n');
  assert.deepEqual(table(await ok('-n', 'shop', 'get', 'pods', '-o', 'wide')), [
    ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE', 'IP', 'NODE', 'NOMINATED NODE', 'READINESS GATES'],
    ['web-0', '1/1', 'Running', '0', '*', '10.244.0.1', 'sandbox-node', '<none>', '<none>'],
  ]);
  const ep = JSON.parse(await ok('-n', 'shop', 'get', 'endpoints', 'web', '-o', 'json')) as { subsets: Array<{ addresses: Array<{ ip: string; hostname: string }>; ports: unknown }> };
  assert.deepEqual([ep.subsets[0].addresses.map((a) => [a.ip, a.hostname]), ep.subsets[0].ports], [[['10.244.0.1', 'web-0']], [{ name: 'http', port: 8080, protocol: 'TCP' }]]);

  const again = await k('create', '-f', file);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /Error from server \(AlreadyExists\): error when creating ".*app\.yaml": namespaces "shop" already exists/);

  assert.equal(await ok('-n', 'shop', 'label', 'pod', 'web-0', 'app=other', '--overwrite'), 'pod/web-0 labeled\n');
  assert.equal(await ok('-n', 'shop', 'get', 'endpoints', 'web', '-o', 'jsonpath={.subsets}'), '');

  const applied = path.join(api.dir, 'applied.yaml');
  const svc = (port: number) => `apiVersion: v1\nkind: Service\nmetadata: {name: api, namespace: shop}\nspec:\n  selector: {app: other}\n  ports:\n  - {name: http, port: 80, targetPort: ${port}}\n  - {name: admin, port: 81, targetPort: 9000}\n`;
  await fs.writeFile(applied, svc(8080));
  assert.equal(await ok('apply', '-f', applied), 'service/api created\n');
  await fs.writeFile(applied, svc(8081));
  assert.equal(await ok('apply', '-f', applied), 'service/api configured\n');
  assert.equal(await ok('apply', '-f', applied), 'service/api unchanged\n');
  assert.equal(await ok('-n', 'shop', 'get', 'svc', 'api', '-o', 'jsonpath={.spec.ports[*].targetPort}'), '8081 9000');

  // deleting the namespace takes its objects with it; kubectl then finds them gone
  const del = await k('delete', '-f', file);
  assert.equal(del.stdout.split('\n')[0], 'namespace "shop" deleted');
  assert.equal(await ok('get', 'ns', 'shop', '--ignore-not-found'), '');
  assert.equal((await request(`${api.url}/api/v1/namespaces/shop/services`)).text.includes('"items":[]'), true);
});

test('kubectl create of an invalid object prints the server message', async () => {
  const file = path.join(api.dir, 'bad.yaml');
  await fs.writeFile(file, 'apiVersion: v1\nkind: Service\nmetadata: {name: bad}\nspec:\n  ports: [{port: 99999, protocol: HTTP}]\n');
  const r = await k('create', '-f', file);
  assert.equal(r.code, 1);
  assert.equal(
    r.stderr,
    'The Service "bad" is invalid: \n' +
      '* spec.ports[0].port: Invalid value: 99999: must be between 1 and 65535, inclusive\n' +
      '* spec.ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"\n' +
      '* spec.ports[0].targetPort: Invalid value: 99999: must be between 1 and 65535, inclusive\n',
  );
  await fs.writeFile(file, 'apiVersion: v1\nkind: Service\nmetadata: {name: typo}\nspec:\n  ports: [{port: 80}]\nspecc: {}\n');
  const strict = await k('create', '-f', file);
  assert.equal(strict.code, 1);
  assert.match(strict.stderr, /Error from server \(BadRequest\): error when creating ".*bad\.yaml": Service in version "v1" cannot be handled as a Service: strict decoding error: unknown field "specc"/);
  const full = await k('create', 'service', 'clusterip', 'kubernetes', '--tcp=80');
  assert.deepEqual([full.code, full.stderr], [1, 'error: failed to create ClusterIP service: services "kubernetes" already exists\n']);
});

test('port names as the real API validates them: Service and Endpoints ports DNS-1123 labels (up to 63), container ports IANA_SVC_NAME (up to 15)', async () => {
  const file = path.join(api.dir, 'ports.yaml');
  const create = async (yaml: string) => {
    await fs.writeFile(file, yaml);
    return k('create', '-f', file);
  };
  const long64 = 'p'.repeat(64);
  const bad = await create(`apiVersion: v1\nkind: Service\nmetadata: {name: long-port}\nspec:\n  ports: [{name: ${long64}, port: 80}]\n`);
  assert.equal(bad.code, 1);
  assert.equal(bad.stderr, `The Service "long-port" is invalid: spec.ports[0].name: Invalid value: "${long64}": must be no more than 63 characters\n`);
  const dots = await create('apiVersion: v1\nkind: Service\nmetadata: {name: dotted}\nspec:\n  ports: [{name: a.b, port: 80}]\n');
  assert.equal(dots.stderr, 'The Service "dotted" is invalid: spec.ports[0].name: Invalid value: "a.b": must not contain dots\n');
  const several = await create('apiVersion: v1\nkind: Service\nmetadata: {name: several}\nspec:\n  ports: [{name: http, port: 80}, {port: 81}, {name: http, port: 82}]\n');
  assert.equal(
    several.stderr,
    'The Service "several" is invalid: \n* spec.ports[1].name: Required value\n* spec.ports[2].name: Duplicate value: "http"\n',
  );
  // 63 characters is a valid Service port name (what kube2sky must cope with: no SRV label for it).
  const long63 = 'p'.repeat(63);
  const good = await create(`apiVersion: v1\nkind: Service\nmetadata: {name: wide-port}\nspec:\n  ports: [{name: ${long63}, port: 80}]\n`);
  assert.deepEqual([good.code, good.stdout], [0, 'service/wide-port created\n']);
  const ep = await create(`apiVersion: v1\nkind: Endpoints\nmetadata: {name: manual-ep}\nsubsets:\n- addresses: [{ip: 10.1.2.3}]\n  ports: [{name: ${long64}, port: 80}]\n`);
  assert.equal(ep.stderr, `The Endpoints "manual-ep" is invalid: subsets[0].ports[0].name: Invalid value: "${long64}": must be no more than 63 characters\n`);
  const pod = await create('apiVersion: v1\nkind: Pod\nmetadata: {name: named-port}\nspec:\n  containers: [{name: c, image: nginx, ports: [{name: metrics-exporter, containerPort: 9100}]}]\n');
  assert.equal(pod.stderr, 'The Pod "named-port" is invalid: spec.containers[0].ports[0].name: Invalid value: "metrics-exporter": must be no more than 15 characters\n');
  const pod2 = await create('apiVersion: v1\nkind: Pod\nmetadata: {name: named-port}\nspec:\n  containers: [{name: c, image: nginx, ports: [{name: "--9", containerPort: 9100}]}]\n');
  assert.equal(
    pod2.stderr,
    'The Pod "named-port" is invalid: \n' +
      '* spec.containers[0].ports[0].name: Invalid value: "--9": must contain at least one letter (a-z)\n' +
      '* spec.containers[0].ports[0].name: Invalid value: "--9": must not contain consecutive hyphens\n' +
      '* spec.containers[0].ports[0].name: Invalid value: "--9": must not begin or end with a hyphen\n',
  );
  await ok('delete', 'service', 'wide-port');
});
