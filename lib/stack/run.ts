/**
 * The local stack (`npm start`), once its flags are parsed: the whole kube-dns
 * pod on this machine — etcd, the sandbox API server seeded with a small
 * cluster (or a real cluster via --kubeconfig / --kube-master-url), kube2sky,
 * skydns and exec-healthz with the legacy pod's arguments, on loopback.
 * Ctrl-C stops everything.
 *
 * The terminal gets each component's progress (starting with its address, ready), its
 * warnings and errors, and at the end what to try; every line of every component goes to a
 * log file of its own (--verbose prints them all here as well, --quiet none).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadKey } from '../dnssec/key.js';
import { SKYDNS_NODE_FLAGS } from '../skydns/node-flags.js';
import { type ParsedFlags, num, str, bool } from '../flags.js';
import { Component, Show } from './component.js';
import { waitUntil } from './wait.js';
import { etcdArgs, etcdEnv, etcdHealthy } from './etcd.js';
import { makeRunDir, shown } from './logs.js';
import { freePort, tcpPortFree, udpPortFree } from './ports.js';

function fail(msg: string): never {
  process.stderr.write(`stack: ${msg}\n`);
  process.exit(1);
}

async function httpOk(url: string): Promise<boolean> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await r.text();
    return r.ok;
  } catch {
    return false;
  }
}

/** Runs the stack from parsed flags; `repoRoot` holds the seed manifest, `distRoot` the built programs. */
export async function runStack(p: ParsedFlags, repoRoot: string, distRoot: string): Promise<void> {
  const domain = str(p, 'domain').replace(/\.$/, '').toLowerCase();
  const dnsPort = num(p, 'dns-port');
  const show: Show = bool(p, 'quiet') ? 'none' : bool(p, 'verbose') ? 'all' : 'problems';
  const kubeconfig = str(p, 'kubeconfig');
  const masterUrl = str(p, 'kube-master-url');
  const sandbox = !kubeconfig && !masterUrl;
  const seed = str(p, 'seed') || path.join(repoRoot, 'manifests/sandbox-cluster.yaml');

  if (dnsPort < 1024 && process.getuid?.() !== 0) fail(`DNS port ${dnsPort} needs root; run as root or pick --dns-port=10053`);
  if (!(await udpPortFree(dnsPort)) || !(await tcpPortFree(dnsPort))) fail(`port ${dnsPort} on 127.0.0.1 is taken (UDP or TCP); stop what uses it or pass --dns-port=<another port>`);
  const etcdPort = num(p, 'etcd-port') || (await freePort());
  const apiPort = num(p, 'api-port') || (await freePort());
  const peerPort = await freePort();
  const skyMetrics = await freePort();
  const k2sPort = await freePort();
  const healthzPort = await freePort();
  for (const [what, port] of [['etcd', etcdPort], ['api', apiPort]] as const) {
    if (!(await tcpPortFree(port))) fail(`${what} port ${port} on 127.0.0.1 is taken; pass another with --${what}-port`);
  }
  if (kubeconfig) {
    try {
      await fs.access(kubeconfig);
    } catch {
      fail(`kubeconfig ${kubeconfig} cannot be read`);
    }
  }
  if (sandbox) {
    try {
      await fs.access(seed);
    } catch {
      fail(`seed file ${seed} cannot be read`);
    }
  }
  let logDir: string;
  try {
    logDir = makeRunDir(repoRoot, str(p, 'log-dir'));
  } catch (err) {
    fail(`cannot create the log directory ${str(p, 'log-dir')}: ${(err as Error).message}`);
  }
  const ownDir = str(p, 'data-dir') === '';
  const dataDir = ownDir ? await fs.mkdtemp(path.join(os.tmpdir(), 'kube-dns-stack-')) : str(p, 'data-dir');
  // --dnssec: a key of its own for the zone, made here (dnssec-keygen prints the base name it chose).
  let keyBase = '';
  let anchorFile = '';
  if (bool(p, 'dnssec')) {
    const keyDir = path.join(dataDir, 'dnssec');
    await fs.mkdir(keyDir, { recursive: true });
    try {
      keyBase = path.join(keyDir, execFileSync('dnssec-keygen', ['-q', '-K', keyDir, '-a', 'ECDSAP256SHA256', '-n', 'ZONE', '-f', 'KSK', domain], { encoding: 'utf8' }).trim());
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      fail(e.code === 'ENOENT' ? '--dnssec needs dnssec-keygen: apt-get install -y bind9-utils' : `dnssec-keygen failed: ${e.message.split('\n')[0]}`);
    }
    // The key as a trust anchor for BIND's delv, from its DNSKEY rdata as skydns reads it: flags, protocol, algorithm, key.
    const { rdata } = loadKey(keyBase, `${domain}.`);
    anchorFile = path.join(keyDir, 'delv-anchor.conf');
    await fs.writeFile(anchorFile, `trust-anchors {\n  "${domain}." static-key ${rdata.readUInt16BE(0)} ${rdata[2]} ${rdata[3]} "${rdata.subarray(4).toString('base64')}";\n};\n`);
  }
  const etcdUrl = `http://127.0.0.1:${etcdPort}`;
  const apiUrl = masterUrl || `http://127.0.0.1:${apiPort}`;
  const node = process.execPath;
  const bin = (name: string) => path.join(distRoot, 'cmd', `${name}.js`);
  const q = (name: string) => ({ show, logFile: path.join(logDir, `${name}.log`) });

  const etcdMember = { name: 'kube-dns-etcd', dataDir: path.join(dataDir, 'etcd'), clientUrl: etcdUrl, peerUrl: `http://127.0.0.1:${peerPort}` };
  const etcd = new Component('etcd', 'etcd', etcdArgs(etcdMember), { ...q('etcd'), fullEnv: etcdEnv() });
  const apiserver = new Component('apiserver', node, [bin('apiserver'), `--port=${apiPort}`, '--address=127.0.0.1', '--service-cidr=10.0.0.0/24', `--load=${seed}`], q('apiserver'));
  // The legacy pod's arguments, with loopback ports instead of 4001/53/8080/8081.
  const kube2sky = new Component('kube2sky', node, [
    bin('kube2sky'), `--domain=${domain}`, `--etcd-server=${etcdUrl}`,
    ...(kubeconfig ? [`--kubecfg-file=${kubeconfig}`] : []), ...(kubeconfig && !masterUrl ? [] : [`--kube-master-url=${apiUrl}`]),
    `--healthz-port=${k2sPort}`, '--healthz-address=127.0.0.1',
  ], q('kube2sky'));
  const skydns = new Component('skydns', node, [
    ...SKYDNS_NODE_FLAGS, bin('skydns'), `-machines=${etcdUrl}`, `-addr=127.0.0.1:${dnsPort}`, '-ns-rotate=false', `-domain=${domain}.`,
    `-metrics-addr=127.0.0.1:${skyMetrics}`, ...(keyBase ? [`-dnssec=${keyBase}`] : []),
  ], q('skydns'));
  const healthz = new Component('healthz', node, [
    bin('exec-healthz'), `-cmd=nslookup -port=${dnsPort} kubernetes.default.svc.${domain} 127.0.0.1 >/dev/null`, `-port=${healthzPort}`, '-address=127.0.0.1',
  ], q('healthz'));
  const started: Component[] = [];
  let stopping = false;
  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('\nstack: stopping ...\n');
    for (const c of [...started].reverse()) {
      await c.stop();
      process.stdout.write(`stack: ${c.name} stopped\n`);
    }
    if (ownDir) await fs.rm(dataDir, { recursive: true, force: true });
    process.stdout.write(`stack: stopped; the logs stay in ${shown(logDir)}/\n`);
    process.exit(code);
  };
  // SIGHUP too: the components have process groups of their own, so a closed terminal reaches only the stack.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => void shutdown(0));
  // If the stack itself ends any other way (a crash), no component outlives it.
  process.on('exit', () => {
    for (const c of started) c.killNow();
  });
  const step = (s: string) => process.stdout.write(`stack: ${s}\n`);
  const full = (c: Component) => `full log: ${shown(c.logFile ?? '')}`;
  step(`logs in ${shown(logDir)}/, a file per component; ${show === 'all' ? 'every line is printed here too' : show === 'none' ? 'none is printed here (--quiet)' : 'their warnings and errors are printed here too (--verbose: everything)'}`);
  const launch = async (c: Component, ready: () => Promise<boolean>, what: string, timeoutMs = 30000) => {
    step(`${c.name}: starting (${what})`);
    c.start();
    started.push(c);
    void c.exited.then(({ code, signal }) => {
      if (!stopping) {
        process.stderr.write(`stack: ${c.name} exited (${signal ?? `code ${code}`}); last lines (${full(c)}):\n${c.lastLines()}\n`);
        void shutdown(1);
      }
    });
    try {
      await waitUntil(ready, timeoutMs, `${c.name} to become ready`);
    } catch (err) {
      process.stderr.write(`stack: ${(err as Error).message}; last lines (${full(c)}):\n${c.lastLines()}\n`);
      await shutdown(1);
    }
    step(`${c.name}: ready`);
  };

  await launch(etcd, () => etcdHealthy(etcdUrl), `${etcdUrl}, data in ${dataDir}`);
  if (sandbox) await launch(apiserver, () => httpOk(`${apiUrl}/readyz`), `sandbox API server ${apiUrl}, seeded from ${path.relative(process.cwd(), seed) || seed}`);
  else step(`using the Kubernetes API at ${kubeconfig ? `the kubeconfig ${kubeconfig}` : apiUrl}`);
  await launch(skydns, () => httpOk(`http://127.0.0.1:${skyMetrics}/readyz`), `DNS on 127.0.0.1:${dnsPort}`);
  await launch(kube2sky, () => httpOk(`http://127.0.0.1:${k2sPort}/readiness`), `domain ${domain}, /readiness on 127.0.0.1:${k2sPort}`, 120000);
  await launch(healthz, () => httpOk(`http://127.0.0.1:${healthzPort}/healthz`), `nslookup every 2s, /healthz on 127.0.0.1:${healthzPort}`);

  const d = `dig @127.0.0.1 -p ${dnsPort}`;
  const kubectl = kubeconfig ? `kubectl --kubeconfig ${kubeconfig}` : `kubectl --server ${apiUrl}`;
  process.stdout.write(`
kube-dns is up (etcd ${etcdUrl}, API ${apiUrl}, DNS 127.0.0.1:${dnsPort}).
Logs, a file per component (tail -f to follow one):
${started.map((c) => `  ${c.name.padEnd(10)} ${shown(c.logFile ?? '')}`).join('\n')}
Try:
  ${d} kubernetes.default.svc.${domain}
  ${d} demoapp.default.svc.${domain}
  ${d} _http._tcp.demoapp.default.svc.${domain} SRV
  ${d} -x 10.0.0.20${kubeconfig ? '' : `
  ${d} payments.shop.svc.${domain} CNAME   (an ExternalName service)`}
  nslookup -port=${dnsPort} db.default.svc.${domain} 127.0.0.1
  ETCDCTL_API=3 etcdctl --endpoints ${etcdUrl} get --prefix /skydns
  ${kubectl} create service clusterip foo --tcp=80
  ${d} foo.default.svc.${domain}
  curl http://127.0.0.1:${healthzPort}/healthz   (exec-healthz)
  curl http://127.0.0.1:${k2sPort}/readiness   (kube2sky; /metrics too)
  curl http://127.0.0.1:${skyMetrics}/metrics    (skydns; /readyz too)${keyBase ? `
Signed with ${keyBase} (--dnssec):
  ${d} +dnssec kubernetes.default.svc.${domain}
  dnssec-dsfromkey -2 ${keyBase}.key    (the DS record for a resolver's trust anchor)
  delv @127.0.0.1 -p ${dnsPort} -a ${anchorFile} +root=${domain} kubernetes.default.svc.${domain}` : ''}
Ctrl-C stops everything.
`);
}
