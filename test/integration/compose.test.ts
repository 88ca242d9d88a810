/**
 * docker-compose.yml and the Dockerfile. No Docker engine runs here, so:
 *   - Debian's docker-compose (1.29) validates the file (`config -q`); skipped when absent;
 *   - js-yaml checks the pod's shape: four containers in etcd's network namespace with the
 *     legacy arguments of the rendered skydns-rc.yaml, the seed mounted where --load reads it;
 *   - the Dockerfile provides every program the compose file names, built the README's way;
 *   - as root, the compose services' commands run for real in a private network namespace
 *     (what `network_mode: "service:etcd"` gives the containers) and answer DNS.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { load, loadAll } from 'js-yaml';
import { type Program, spawnProgram, waitUntil } from '../harness/proc.js';
import { SKYDNS_NODE_FLAGS } from '../../lib/skydns/node-flags.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const COMPOSE_FILE = path.join(root, 'docker-compose.yml');
const DOCKERFILE = path.join(root, 'Dockerfile');
const POD = ['etcd', 'kube2sky', 'skydns', 'healthz'] as const;

interface ComposeService {
  build?: unknown;
  image?: string;
  entrypoint?: string[];
  command?: string[];
  network_mode?: string;
  ports?: string[];
  volumes?: string[];
  environment?: Record<string, string>;
  depends_on?: unknown;
  healthcheck?: { test: string[] };
  sysctls?: Record<string, string>;
}

function compose(): Record<string, ComposeService> {
  const doc = load(fs.readFileSync(COMPOSE_FILE, 'utf8')) as { services: Record<string, ComposeService> };
  return doc.services;
}

function which(cmd: string): string | null {
  for (const dir of [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/sbin']) {
    const p = path.join(dir, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

interface Container {
  name: string;
  command?: string[];
  args?: string[];
}

/** The containers of the legacy ReplicationController, rendered by deploy/render.sh for the compose values. */
function legacyContainers(): Record<string, Container> {
  const r = spawnSync('bash', [path.join(root, 'deploy/render.sh'), '--legacy', '10.0.0.0/24', 'cluster.local'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const rc = (loadAll(r.stdout) as Array<{ kind?: string; spec?: { template: { spec: { containers: Container[] } } } }>).find((d) => d?.kind === 'ReplicationController');
  assert.ok(rc?.spec);
  return Object.fromEntries(rc.spec.template.spec.containers.map((c) => [c.name, c]));
}

const flagValue = (args: readonly string[], flag: string): string | undefined => args.find((a) => a.startsWith(`${flag}=`))?.slice(flag.length + 1);

// ------------------------------------------------------------------ docker-compose config

test('docker-compose config -q accepts docker-compose.yml (and rejects a broken copy)', (t) => {
  const bin = which('docker-compose');
  if (bin === null) {
    t.skip('docker-compose is not installed (Debian: apt-get install -y --no-install-recommends docker-compose); compose validation skipped');
    return;
  }
  const r = spawnSync(bin, ['-f', COMPOSE_FILE, 'config', '-q'], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, `docker-compose config -q failed:\n${r.stderr}`);

  // The validator really validates: a namespace owner that does not exist is refused.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'compose-bad-'));
  try {
    const bad = fs.readFileSync(COMPOSE_FILE, 'utf8').replaceAll('    network_mode: "service:etcd"', '    network_mode: "service:etc"');
    assert.notEqual(bad, fs.readFileSync(COMPOSE_FILE, 'utf8'));
    fs.writeFileSync(path.join(dir, 'docker-compose.yml'), bad);
    fs.mkdirSync(path.join(dir, 'manifests'));
    fs.copyFileSync(path.join(root, 'manifests/sandbox-cluster.yaml'), path.join(dir, 'manifests/sandbox-cluster.yaml'));
    const rb = spawnSync(bin, ['-f', path.join(dir, 'docker-compose.yml'), 'config', '-q'], { cwd: dir, encoding: 'utf8' });
    assert.notEqual(rb.status, 0, 'a broken compose file must fail validation');
    assert.match(rb.stderr, /network stack of service 'etc' which is undefined/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// ------------------------------------------------------------------ the pod's shape

test('compose: the four pod containers share etcd\'s network namespace, which publishes DNS on 127.0.0.1:10053', () => {
  const s = compose();
  assert.deepEqual(Object.keys(s).sort(), ['apiserver', 'etcd', 'healthz', 'kube2sky', 'skydns']);
  for (const name of ['kube2sky', 'skydns', 'healthz']) {
    assert.equal(s[name].network_mode, 'service:etcd', `${name} joins etcd's network namespace`);
    assert.equal(s[name].ports, undefined, `${name} publishes nothing itself`);
  }
  assert.equal(s.etcd.network_mode, undefined);
  assert.equal(s.apiserver.network_mode, undefined, 'the API server is another machine, reached by name');
  assert.ok(s.etcd.ports?.includes('127.0.0.1:10053:53/udp'), 'DNS over UDP on the host');
  assert.ok(s.etcd.ports?.includes('127.0.0.1:10053:53/tcp'), 'DNS over TCP on the host');
  for (const p of [...(s.etcd.ports ?? []), ...(s.apiserver.ports ?? [])]) assert.match(p, /^127\.0\.0\.1:/, `${p}: loopback only`);
  // skydns (uid 10001) binds 53 in this namespace.
  assert.equal(s.etcd.sysctls?.['net.ipv4.ip_unprivileged_port_start'], '53');
  // One image, built once.
  for (const [name, svc] of Object.entries(s)) assert.equal(svc.image, 'kube-dns-ts:0.1.0', `${name} image`);
  assert.deepEqual(Object.entries(s).filter(([, svc]) => svc.build !== undefined).map(([n]) => n), ['apiserver']);
});

test('compose: the pod containers carry the legacy arguments of skydns-rc.yaml; kube2sky reaches the API server by name', () => {
  const s = compose();
  const rc = legacyContainers();
  const argv = (svc: ComposeService): string[] => [...(svc.entrypoint ?? []), ...(svc.command ?? [])];
  assert.deepEqual(argv(s.etcd), [...(rc.etcd.command ?? []), ...(rc.etcd.args ?? [])]);
  assert.deepEqual(argv(s.skydns), [...(rc.skydns.command ?? []), ...(rc.skydns.args ?? [])]);
  assert.deepEqual(argv(s.healthz), [...(rc.healthz.command ?? []), ...(rc.healthz.args ?? [])]);
  assert.deepEqual(argv(s.kube2sky), [...(rc.kube2sky.command ?? []), ...(rc.kube2sky.args ?? []), '--kube-master-url=https://apiserver:8080', '--kubecfg-file=/var/lib/kube-sandbox/kubeconfig']);
  // Spelled out too, so a change to both files at once is still caught.
  assert.deepEqual(s.etcd.command, ['-data-dir', '/var/etcd/data', '-listen-client-urls', 'http://127.0.0.1:2379,http://127.0.0.1:4001', '-advertise-client-urls', 'http://127.0.0.1:2379,http://127.0.0.1:4001', '-initial-cluster-token', 'skydns-etcd']);
  assert.deepEqual(s.kube2sky.command, ['--domain=cluster.local', '--kube-master-url=https://apiserver:8080', '--kubecfg-file=/var/lib/kube-sandbox/kubeconfig']);
  assert.deepEqual(s.skydns.command, ['-machines=http://127.0.0.1:4001', '-addr=0.0.0.0:53', '-ns-rotate=false', '-domain=cluster.local.']);
  assert.deepEqual(s.healthz.command, ['-cmd=nslookup kubernetes.default.svc.cluster.local 127.0.0.1 >/dev/null', '-port=8080']);

  // The master URL names the apiserver service and the port it serves on.
  const master = new URL(flagValue(s.kube2sky.command ?? [], '--kube-master-url') ?? '');
  assert.equal(master.hostname, 'apiserver');
  assert.equal(master.port, flagValue(s.apiserver.command ?? [], '--port'));
  assert.equal(flagValue(s.apiserver.command ?? [], '--address'), '0.0.0.0', 'reachable from the pod\'s namespace');
  // Off loopback the API server requires a token over HTTPS: token, certificate and kubeconfig
  // live in a named volume that kube2sky mounts read-only, and the certificate names the
  // host kube2sky dials.
  const api = s.apiserver.command ?? [];
  assert.ok(api.includes('--allow-external'));
  assert.equal(master.protocol, 'https:');
  assert.ok((flagValue(api, '--tls-san') ?? '').split(',').includes(master.hostname), 'the certificate names the master URL\'s host');
  const authMount = (s.apiserver.volumes ?? []).map((v) => v.split(':')).find((v) => v[0] === 'sandbox-auth');
  assert.ok(authMount, 'the apiserver mounts the sandbox-auth volume');
  for (const f of ['--token-file', '--tls-cert-file', '--tls-private-key-file', '--write-kubeconfig']) {
    assert.equal(path.posix.dirname(flagValue(api, f) ?? ''), authMount[1], `${f} is in the volume`);
  }
  assert.ok((s.kube2sky.volumes ?? []).includes(`sandbox-auth:${authMount[1]}:ro`), 'kube2sky mounts it read-only');
  assert.equal(flagValue(s.kube2sky.command ?? [], '--kubecfg-file'), flagValue(api, '--write-kubeconfig'));
  // Docker fills a new named volume from the image's directory: it must be the runtime user's.
  assert.match(fs.readFileSync(DOCKERFILE, 'utf8'), new RegExp(`install -d -o 10001 -g 10001 -m 0700 [^\\n]*${authMount[1]}`));
  // The seed is mounted where --load reads it, and it exists.
  const loadPath = flagValue(s.apiserver.command ?? [], '--load');
  const mount = (s.apiserver.volumes ?? []).map((v) => v.split(':')).find((v) => v[1] === loadPath);
  assert.ok(mount, `a volume provides ${loadPath}`);
  assert.ok(fs.existsSync(path.join(root, mount[0])), `${mount[0]} exists`);
  // etcd's data dir is a volume, like the pod's emptyDir.
  assert.ok((s.etcd.volumes ?? []).some((v) => v.split(':')[1] === '/var/etcd/data'));
});

test('Dockerfile: the README\'s build steps, a non-root runtime with etcd, nslookup and every program compose names', () => {
  const text = fs.readFileSync(DOCKERFILE, 'utf8');
  const froms = [...text.matchAll(/^FROM (\S+)(?: AS (\S+))?$/gm)].map((m) => m[1]);
  assert.equal(froms.length, 2, 'multi-stage: build + runtime');
  assert.match(text, /^ARG NODE_IMAGE=node:20-bookworm-slim$/m);
  for (const f of froms) assert.equal(f, '${NODE_IMAGE}');
  // scripts/ensure.mjs (npm start / npm test) runs `npm ci` and `tsc -p tsconfig.json`.
  assert.match(text, /^RUN npm ci\b/m);
  assert.match(text, /npx tsc -p tsconfig\.json/);
  assert.match(text, /npm prune --omit=dev/);
  assert.match(fs.readFileSync(path.join(root, 'scripts/ensure.mjs'), 'utf8'), /\[tsc, '-p', 'tsconfig\.json'\]/);
  assert.match(text, /apt-get install -y --no-install-recommends [^\n]*\betcd-server\b[^\n]*\bbind9-dnsutils\b/);
  // skydns's batched UDP module: built in the build stage as ensure.mjs builds it, shipped in the image.
  assert.match(text, /node scripts\/build-native\.mjs --force --strict/);
  assert.match(text, /^COPY --from=build \/src\/native\/udpio\.node \.\/native\/udpio\.node$/m);
  assert.match(fs.readFileSync(path.join(root, 'scripts/ensure.mjs'), 'utf8'), /buildNative\(\{ log \}\)/);
  const user = /^USER (\d+)(?::(\d+))?$/m.exec(text);
  assert.ok(user && Number(user[1]) > 0, 'a numeric non-root USER');
  // Wrappers for each program; compose's entrypoints are among them (or etcd's path).
  const loop = /for p in ([a-z0-9 -]+); do/.exec(text);
  assert.ok(loop, 'the wrapper loop');
  const programs = new Set(loop[1].trim().split(/\s+/));
  for (const p of programs) assert.ok(fs.existsSync(path.join(root, 'cmd', `${p}.ts`)), `cmd/${p}.ts exists`);
  // skydns's wrapper starts node with the flags every other start of skydns uses (lib/skydns/node-flags.ts).
  assert.ok(text.includes(`if [ "$p" = skydns ]; then flags='${SKYDNS_NODE_FLAGS.join(' ')} '; fi`), "skydns's wrapper passes SKYDNS_NODE_FLAGS to node");
  for (const [name, svc] of Object.entries(compose())) {
    const ep = svc.entrypoint?.[0] ?? '';
    assert.ok(programs.has(ep) || ep === '/usr/bin/etcd', `${name}: entrypoint ${ep} is in the image`);
  }
  const ignore = fs.readFileSync(path.join(root, '.dockerignore'), 'utf8').split('\n');
  for (const p of ['node_modules', 'dist', '.git']) assert.ok(ignore.includes(p), `.dockerignore has ${p}`);
  for (const p of ['package.json', 'package-lock.json', 'tsconfig.json', 'cmd', 'lib', 'manifests']) assert.ok(!ignore.includes(p), `.dockerignore keeps ${p}`);
});

// ------------------------------------------------------------------ the pod, run for real

function run(cmd: string, args: string[], timeoutMs = 10_000): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, out: stdout + stderr });
    });
  });
}

/** Why the pod cannot be run here, or null. */
function cannotRunPod(): string | null {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'needs root (unshare -n) to run the pod in a private network namespace';
  const missing = ['unshare', 'nsenter', 'setpriv', 'ip', 'dig', 'nslookup', 'etcd'].filter((c) => which(c) === null);
  return missing.length ? `missing: ${missing.join(', ')}` : null;
}

const NODE = process.execPath;
/** What the image's wrappers run, by the name a pod spec or compose file uses. */
const PROGRAMS: Record<string, string[]> = {
  '/usr/bin/etcd': [which('etcd') ?? '/usr/bin/etcd'],
  kube2sky: [NODE, path.join(root, 'dist/cmd/kube2sky.js')],
  skydns: [NODE, ...SKYDNS_NODE_FLAGS, path.join(root, 'dist/cmd/skydns.js')],
  'exec-healthz': [NODE, path.join(root, 'dist/cmd/exec-healthz.js')],
  apiserver: [NODE, path.join(root, 'dist/cmd/apiserver.js')],
};

interface PodNs {
  /** argv for nsenter: run `argv` inside the namespace. */
  inPod(argv: string[]): string[];
  /** Starts a program (entrypoint/command + args) inside the namespace, optionally as a uid without privileges. */
  start(name: string, argv: string[], opts?: { env?: Record<string, string>; uid?: number }): Program;
  dig(port: number, name: string, type?: string): Promise<string[]>;
  /** Exit code of `argv` run inside the namespace. */
  exec(argv: string[]): Promise<number>;
  logs(): string;
}

/** A private network namespace with loopback up (the pod's), torn down after `fn`. */
async function withPodNamespace(fn: (pod: PodNs) => Promise<void>): Promise<void> {
  const procs: Program[] = [];
  const holder = spawnProgram('unshare', ['-n', '--', 'sh', '-c', 'ip link set lo up && echo up && exec sleep 600'], { name: 'netns' });
  try {
    await holder.waitFor(/up/, 5000);
    const inPod = (argv: string[]): string[] => ['-t', String(holder.pid), '-n', '--', ...argv];
    const pod: PodNs = {
      inPod,
      start(name, argv, opts = {}) {
        const [ep, ...rest] = argv;
        const bin = PROGRAMS[ep];
        assert.ok(bin, `${name}: no local program for ${ep}`);
        // Like the pod's securityContext: a uid, no privilege escalation, no capabilities.
        const drop = opts.uid === undefined ? [] : ['setpriv', `--reuid=${opts.uid}`, `--regid=${opts.uid}`, '--clear-groups', '--no-new-privs', '--inh-caps=-all', '--bounding-set=-all', '--'];
        const p = spawnProgram('nsenter', inPod([...drop, ...bin, ...rest]), { name, env: opts.env, cwd: root });
        procs.push(p);
        return p;
      },
      async dig(port, name, type = 'A') {
        const r = await run('nsenter', inPod(['dig', '+short', '+time=1', '+tries=1', '@127.0.0.1', '-p', String(port), name, type]));
        return r.out.split('\n').filter((l) => l.trim() !== '' && !l.startsWith(';')).sort();
      },
      async exec(argv) {
        return (await run('nsenter', inPod(argv))).code;
      },
      logs: () => procs.map((p) => `--- ${p.name}\n${p.output().split('\n').slice(-15).join('\n')}`).join('\n'),
    };
    await fn(pod);
  } finally {
    for (const p of procs.reverse()) await p.stop();
    await holder.kill();
  }
}

const withLogs = (pod: PodNs) => (err: Error): never => {
  throw new Error(`${err.message}\n${pod.logs()}`);
};

test('as root: the compose commands run in one private network namespace (the pod) and answer DNS', { timeout: 90_000 }, async (t) => {
  const why = cannotRunPod();
  if (why !== null) {
    t.skip(why);
    return;
  }
  const s = compose();
  const argv = (svc: ComposeService): string[] => [...(svc.entrypoint ?? []), ...(svc.command ?? [])];
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'compose-etcd-'));
  const volDir = fs.mkdtempSync(path.join(os.tmpdir(), 'compose-sandbox-auth-'));
  try {
    await withPodNamespace(async (pod) => {
      // What Docker provides outside the containers, replaced here: the seed's bind mount,
      // etcd's volume, and the apiserver's own network (it shares the pod's loopback here,
      // on a port healthz does not use; the sandbox serves loopback only).
      const seedMount = (s.apiserver.volumes ?? []).map((v) => v.split(':'))[0];
      // The sandbox-auth volume: a directory both see.
      const authDir = (s.apiserver.volumes ?? []).map((v) => v.split(':')).find((v) => v[0] === 'sandbox-auth')?.[1] ?? '/var/lib/kube-sandbox';
      const apiPort = '8090';
      const api = argv(s.apiserver).map((a) =>
        a === '--address=0.0.0.0' ? '--address=127.0.0.1' : a === '--port=8080' ? `--port=${apiPort}` : a.replace(seedMount[1], path.join(root, seedMount[0])).replace(authDir, volDir),
      );
      pod.start('apiserver', api);
      pod.start('etcd', argv(s.etcd).map((a) => (a === '/var/etcd/data' ? dataDir : a)));
      // The certificate names 127.0.0.1 as well as apiserver.
      pod.start('kube2sky', argv(s.kube2sky).map((a) => a.replace('https://apiserver:8080', `https://127.0.0.1:${apiPort}`).replace(authDir, volDir)));
      pod.start('skydns', argv(s.skydns), { env: s.skydns.environment });
      const hz = pod.start('healthz', argv(s.healthz));

      await waitUntil(async () => (await pod.dig(53, 'demoapp.default.svc.cluster.local')).join() === '10.0.0.20', 30_000, 'demoapp.default.svc.cluster.local from skydns on :53').catch(withLogs(pod));
      assert.deepEqual(await pod.dig(53, 'kubernetes.default.svc.cluster.local'), ['10.0.0.1']);
      assert.deepEqual(await pod.dig(53, '_https._tcp.kubernetes.default.svc.cluster.local', 'SRV'), ['10 100 443 kubernetes.default.svc.cluster.local.']);
      assert.deepEqual(await pod.dig(53, 'db.default.svc.cluster.local'), ['10.244.1.5', '10.244.1.6']);
      assert.deepEqual(await pod.dig(53, 'web.shop.svc.cluster.local'), ['10.0.0.30']);

      // The compose healthchecks, run as Docker would run them inside the containers.
      const healthcheck = async (svc: ComposeService): Promise<number> => {
        const [kind, cmd, ...rest] = svc.healthcheck?.test ?? [];
        assert.equal(kind, 'CMD');
        return pod.exec([cmd === 'node' ? NODE : cmd, ...rest]);
      };
      await waitUntil(async () => (await healthcheck(s.kube2sky)) === 0, 20_000, 'kube2sky /readiness').catch(withLogs(pod));
      // exec-healthz's nslookup (every 2s) reaches skydns on 127.0.0.1:53.
      await hz.waitFor(/Worker running nslookup/, 10_000);
      await waitUntil(async () => (await healthcheck(s.healthz)) === 0, 10_000, 'exec-healthz /healthz').catch(withLogs(pod));
      // PROMETHEUS_PORT from the compose environment: /readyz on 9153.
      const readyz = await pod.exec([NODE, '-e', "fetch('http://127.0.0.1:9153/readyz').then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(2))"]);
      assert.equal(readyz, 0, pod.logs());
      // The API server's healthcheck (its port and credentials dir as mapped here), and a
      // request without the token, which is refused.
      const [, apiCmd, ...apiRest] = s.apiserver.healthcheck?.test ?? [];
      assert.equal(await pod.exec([apiCmd === 'node' ? NODE : apiCmd, ...apiRest.map((a) => a.replace(':8080/', `:${apiPort}/`).replace(authDir, volDir))]), 0, pod.logs());
      const noToken = `require('https').get('https://127.0.0.1:${apiPort}/api/v1/services', { ca: require('fs').readFileSync('${volDir}/tls.crt') }, (r) => process.exit(r.statusCode === 401 ? 0 : 1)).on('error', () => process.exit(2))`;
      assert.equal(await pod.exec([NODE, '-e', noToken]), 0, 'no token: 401');
    });
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(volDir, { recursive: true, force: true });
  }
});

test('as root: kube-dns.yaml\'s containers run as uid 10001 without capabilities; healthz reaches skydns on 10053', { timeout: 90_000 }, async (t) => {
  const why = cannotRunPod();
  if (why !== null) {
    t.skip(why);
    return;
  }
  const r = spawnSync('bash', [path.join(root, 'deploy/render.sh'), '10.0.0.0/24', 'cluster.local'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  type PodContainer = Container & { securityContext?: unknown };
  type Doc = { kind?: string; spec?: { template: { spec: { securityContext: { runAsUser: number }; containers: PodContainer[] } } } };
  const dep = (loadAll(r.stdout) as Doc[]).find((d) => d?.kind === 'Deployment');
  assert.ok(dep?.spec);
  const uid = dep.spec.template.spec.securityContext.runAsUser;
  const readable = spawnSync('setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--', NODE, '-e', 'require("fs").accessSync(process.argv[1], 4)', path.join(root, 'dist/cmd/skydns.js')]);
  if (readable.status !== 0) {
    t.skip(`uid ${uid} cannot read ${root}/dist (a checkout under a private home directory?)`);
    return;
  }
  const cs = Object.fromEntries(dep.spec.template.spec.containers.map((c) => [c.name, [...(c.command ?? []), ...(c.args ?? [])]]));
  // The emptyDir (the image makes /var/etcd/data the user's own).
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'deploy-pod-etcd-'));
  fs.chownSync(dataDir, uid, uid);
  try {
    await withPodNamespace(async (pod) => {
      // The pod reaches the API server through its service account; here through the sandbox
      // on the pod's loopback (the only argument added).
      pod.start('apiserver', ['apiserver', '--address=127.0.0.1', '--port=8090', `--load=${path.join(root, 'manifests/sandbox-cluster.yaml')}`]);
      pod.start('etcd', cs.etcd.map((a) => (a === '/var/etcd/data' ? dataDir : a)), { uid });
      pod.start('kube2sky', [...cs.kube2sky, '--kube-master-url=http://127.0.0.1:8090'], { uid });
      pod.start('skydns', cs.skydns, { uid });
      const hz = pod.start('healthz', cs.healthz, { uid });

      await waitUntil(async () => (await pod.dig(10053, 'demoapp.default.svc.cluster.local')).join() === '10.0.0.20', 30_000, 'demoapp from skydns on :10053 (uid ' + uid + ')').catch(withLogs(pod));
      const probe = async (port: number, p: string): Promise<number> =>
        pod.exec([NODE, '-e', `fetch('http://127.0.0.1:${port}${p}').then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(2))`]);
      // The probes of kube-dns.yaml.
      await waitUntil(async () => (await probe(8081, '/readiness')) === 0, 20_000, 'kube2sky readinessProbe /readiness').catch(withLogs(pod));
      assert.equal(await probe(8081, '/healthz'), 0, 'kube2sky livenessProbe');
      await waitUntil(async () => (await probe(9153, '/readyz')) === 0, 10_000, 'skydns readinessProbe /readyz').catch(withLogs(pod));
      await hz.waitFor(/Worker running nslookup -port=10053/, 10_000);
      await waitUntil(async () => (await probe(8080, '/healthz')) === 0 && /Worker running/.test(hz.output()), 10_000, 'skydns livenessProbe via exec-healthz').catch(withLogs(pod));
      // Let two more runs happen: they succeed.
      const runs = (hz.output().match(/Worker running/g) ?? []).length;
      await waitUntil(() => (hz.output().match(/Worker running/g) ?? []).length >= runs + 2, 10_000, 'two more healthz runs');
      await new Promise((res) => setTimeout(res, 500));
      assert.equal(await probe(8080, '/healthz'), 0, pod.logs());
      // Nothing ran as root.
      const owner = fs.readdirSync(dataDir).map((f) => fs.statSync(path.join(dataDir, f)).uid);
      assert.deepEqual([...new Set(owner)], [uid], 'etcd wrote its data as the pod user');
    });
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
