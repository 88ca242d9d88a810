#!/usr/bin/env node
/**
 * The two topologies side by side, at 1, 3 and 10 DNS replicas, against the sandbox API server
 * holding a large cluster (default 10,000 Services + 30,000 Pods, as bench/kube2sky-bench.ts):
 *
 *   pod        the four-container pod N times: each replica its own etcd, kube2sky and skydns;
 *   scale-out  one 3-member etcd cluster, 2 kube2sky with --leader-elect, N skydns reading it.
 *
 * Per run: time until every replica answers; what the API server sends (bytes, through a
 * counting TCP proxy every kube2sky talks to) while the replicas start and while pods restart at
 * SCALE_CHURN_RATE a second for SCALE_CHURN_SECONDS; the watch streams open on it; the API
 * server's CPU; memory (RSS) per DNS replica and of the shared parts. For scale-out, the
 * failover: the leading kube2sky is killed (-9) while pods keep restarting, and the time until
 * the first etcd write of the new leader (its lease, then its list and reconcile).
 *
 * Run: `npm run bench:scale-out`. Knobs: SCALE_SERVICES (10000), SCALE_PODS (30000),
 * SCALE_REPLICAS (1,3,10), SCALE_TOPOLOGIES (pod,scale-out), SCALE_CHURN_RATE (20 pod restarts/s),
 * SCALE_CHURN_SECONDS (20), SCALE_LEASE (15 s), SCALE_KUBE2SKY_ARGS, BENCH_TIMEOUT_MIN (90).
 * Loopback only; every process is stopped by PID, also on error and signals. Asserts nothing.
 */
import fsp from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { Etcd3 } from 'etcd3';
import { encodeQuery } from '../lib/skydns/wire.js';
import type { EtcdCluster, EtcdProcess } from '../test/harness/etcd.js';
import { freeTcpPort } from '../test/harness/ports.js';
import { paced, sleep, type Program } from '../test/harness/proc.js';
import { udpExchange } from '../test/harness/udp.js';
import { generateCluster, podIp } from './cluster.js';
import { RESULTS_DIR, ROOT, cpuSecondsOfOne, dnsAndMetricsPorts, envArgs, envInt, fmt, httpGet, log, logMachine, machineInfo, makeTempDir, memOfOne, removeTempDir, runBench, start, startBenchEtcd, startBenchEtcdCluster, stopBenchEtcd, stopBenchEtcdCluster, stopProgram, writeJson } from './common.js';

const DIST = path.join(ROOT, 'dist', 'cmd');
const KUBE2SKY_JS = path.join(DIST, 'kube2sky.js');
const SKYDNS_JS = path.join(DIST, 'skydns.js');
const APISERVER_JS = path.join(DIST, 'apiserver.js');
const DOMAIN = 'cluster.local';

interface Settings {
  services: number;
  pods: number;
  replicas: number[];
  topologies: Array<'pod' | 'scale-out'>;
  churnRate: number;
  churnSeconds: number;
  lease: number;
  kube2skyArgs: string[];
  timeoutMin: number;
}

function readSettings(): Settings {
  const list = (name: string, def: string) => (process.env[name] ?? def).split(',').map((x) => x.trim()).filter((x) => x !== '');
  const topologies = list('SCALE_TOPOLOGIES', 'pod,scale-out');
  for (const t of topologies) if (t !== 'pod' && t !== 'scale-out') throw new Error(`SCALE_TOPOLOGIES: unknown topology ${t} (pod, scale-out)`);
  const replicas = list('SCALE_REPLICAS', '1,3,10').map(Number);
  if (!replicas.every((n) => Number.isInteger(n) && n >= 1 && n <= 50)) throw new Error('SCALE_REPLICAS: whole numbers from 1 to 50');
  return {
    services: envInt('SCALE_SERVICES', 10_000, 1, 60_000),
    pods: envInt('SCALE_PODS', 30_000, 0, 500_000),
    replicas,
    topologies: topologies as Settings['topologies'],
    churnRate: envInt('SCALE_CHURN_RATE', 20, 0, 1000),
    churnSeconds: envInt('SCALE_CHURN_SECONDS', 20, 1, 3600),
    lease: envInt('SCALE_LEASE', 15, 2, 3600),
    kube2skyArgs: envArgs('SCALE_KUBE2SKY_ARGS'),
    timeoutMin: envInt('BENCH_TIMEOUT_MIN', 90, 1, 24 * 60),
  };
}

// ---------------------------------------------------------------------------
// A TCP proxy in front of the API server that counts what it sends and the watches open on it
// ---------------------------------------------------------------------------

class CountingProxy {
  bytesDown = 0;
  private server: net.Server | null = null;
  /** Open client connections, and whether the last request on each was a watch. */
  private readonly conns = new Map<net.Socket, boolean>();
  port = 0;

  constructor(private readonly upstreamPort: number) {}

  async start(): Promise<void> {
    this.server = net.createServer((client) => {
      const up = net.connect(this.upstreamPort, '127.0.0.1');
      this.conns.set(client, false);
      client.on('data', (chunk: Buffer) => {
        // A request line: node-fetch sends one request at a time per connection.
        const m = /^(GET|POST|PUT|PATCH|DELETE) (\S+) HTTP\/1\.[01]\r\n/m.exec(chunk.toString('latin1', 0, Math.min(chunk.length, 2048)));
        if (m) this.conns.set(client, /[?&]watch=(true|1)\b|\/watch\//.test(m[2]));
        up.write(chunk);
      });
      up.on('data', (chunk: Buffer) => {
        this.bytesDown += chunk.length;
        client.write(chunk);
      });
      const close = () => {
        this.conns.delete(client);
        client.destroy();
        up.destroy();
      };
      client.on('close', close);
      up.on('close', close);
      client.on('error', close);
      up.on('error', close);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  get watches(): number {
    let n = 0;
    for (const w of this.conns.values()) if (w) n++;
    return n;
  }

  async stop(): Promise<void> {
    for (const c of this.conns.keys()) c.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

// ---------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------

interface K2s {
  prog: Program;
  port: number;
}

interface Sky {
  prog: Program;
  port: number;
  metricsPort: number;
}

async function startKube2sky(etcd: string, apiUrl: string, extra: string[]): Promise<K2s> {
  const port = await freeTcpPort();
  const args = [KUBE2SKY_JS, `--etcd-server=${etcd}`, `--kube-master-url=${apiUrl}`, `--healthz-port=${port}`, '--healthz-address=127.0.0.1', `--domain=${DOMAIN}`, ...extra];
  return { prog: start(process.execPath, args, 'kube2sky', { cwd: ROOT }), port };
}

async function startSkydns(etcd: string): Promise<Sky> {
  const { port, metricsPort } = await dnsAndMetricsPorts();
  const args = [SKYDNS_JS, `-machines=${etcd}`, `-addr=127.0.0.1:${port}`, `-domain=${DOMAIN}.`, '-ns-rotate=false', '-nameservers=127.0.0.1:1', `-metrics-addr=127.0.0.1:${metricsPort}`];
  return { prog: start(process.execPath, args, 'skydns', { cwd: ROOT }), port, metricsPort };
}

async function readiness(k: K2s): Promise<string> {
  try {
    return (await httpGet(k.port, '/readiness', 2000)).body;
  } catch {
    return '';
  }
}

/** Whether skydns answers the A question with at least one address. */
async function answers(s: Sky, name: string): Promise<boolean> {
  const { reply } = await udpExchange(s.port, encodeQuery(name, 1, 4242, 1232), 1000);
  return reply !== null && (reply[3] & 0x0f) === 0 && reply.readUInt16BE(6) > 0;
}

async function waitFor(what: string, timeoutMs: number, fn: () => Promise<boolean>, progs: Program[]): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await fn())) {
    for (const p of progs) if (!p.running()) throw new Error(`${p.name} exited while waiting for ${what}:\n${p.output().slice(-3000)}`);
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await sleep(100);
  }
}

const rssOf = (progs: Program[]): number => progs.reduce((sum, p) => sum + (memOfOne(p.pid)?.rssMiB ?? 0), 0);

// ---------------------------------------------------------------------------
// Pod restarts through the API (delete a pod, create it again with a new address)
// ---------------------------------------------------------------------------

function podRestarter(apiUrl: string, s: Settings, pods: Array<Record<string, unknown>>): { stop(): Promise<number> } {
  return paced(pods.length > 0 ? s.churnRate : 0, async (i) => {
    const pod = pods[i % pods.length] as { metadata: { name: string; namespace: string }; status: { podIP: string; podIPs: Array<{ ip: string }> } };
    const gen = Math.floor(i / pods.length) + 1;
    const base = `${apiUrl}/api/v1/namespaces/${pod.metadata.namespace}/pods`;
    await fetch(`${base}/${pod.metadata.name}`, { method: 'DELETE' }).then((r) => r.text());
    const ip = podIp(s.pods + ((i + 1) % 200_000) + gen);
    const body = { ...pod, status: { ...pod.status, podIP: ip, podIPs: [{ ip }] } };
    await fetch(base, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.text());
  });
}

// ---------------------------------------------------------------------------
// One run
// ---------------------------------------------------------------------------

interface Run {
  topology: 'pod' | 'scale-out';
  replicas: number;
  readyS: number;
  startMiB: number;
  watches: number;
  churned: number;
  churnKiBPerChange: number;
  churnMiB: number;
  apiCpuPct: number;
  rssPerReplicaMiB: number;
  sharedMiB: number;
  failoverS: number | null;
}

async function run(topology: 'pod' | 'scale-out', n: number, api: { port: number; prog: Program }, s: Settings, pods: Array<Record<string, unknown>>, probe: string): Promise<Run> {
  log(`=== ${topology}, ${n} DNS replica${n > 1 ? 's' : ''} ===`);
  const proxy = new CountingProxy(api.port);
  await proxy.start();
  const apiUrl = `http://127.0.0.1:${proxy.port}`;
  const etcds: EtcdProcess[] = [];
  let cluster: EtcdCluster | null = null;
  const k2s: K2s[] = [];
  const sky: Sky[] = [];
  const t0 = performance.now();
  try {
    if (topology === 'pod') {
      for (let i = 0; i < n; i++) {
        const e = await startBenchEtcd(`replica${i}`);
        etcds.push(e);
        k2s.push(await startKube2sky(e.url, apiUrl, s.kube2skyArgs));
        sky.push(await startSkydns(e.url));
      }
    } else {
      cluster = await startBenchEtcdCluster(3);
      for (let i = 0; i < 2; i++) k2s.push(await startKube2sky(cluster.endpoints, apiUrl, ['--leader-elect', `--leader-elect-lease-duration=${s.lease}s`, ...s.kube2skyArgs]));
      for (let i = 0; i < n; i++) sky.push(await startSkydns(cluster.endpoints));
    }
    const progs = [...k2s.map((k) => k.prog), ...sky.map((x) => x.prog)];
    await waitFor('every kube2sky synced (or standing by)', 30 * 60_000, async () => {
      const bodies = await Promise.all(k2s.map(readiness));
      return bodies.every((b) => b.startsWith('ok')) && bodies.some((b) => b === 'ok\n');
    }, progs);
    await waitFor('every skydns answers', 10 * 60_000, async () => (await Promise.all(sky.map((x) => answers(x, probe)))).every(Boolean), progs);
    const readyS = (performance.now() - t0) / 1000;
    await sleep(2000);
    const startBytes = proxy.bytesDown;
    const watches = proxy.watches;
    log(`ready in ${fmt(readyS, 1)} s; the API server sent ${fmt(startBytes / 2 ** 20, 1)} MiB; ${watches} watch streams open`);

    const b0 = proxy.bytesDown;
    const c0 = cpuSecondsOfOne(api.prog.pid) ?? NaN;
    const w0 = performance.now();
    const churn = podRestarter(`http://127.0.0.1:${api.port}`, s, pods);
    await sleep(s.churnSeconds * 1000);
    const churned = await churn.stop();
    await sleep(1000);
    const churnBytes = proxy.bytesDown - b0;
    const apiCpuPct = (100 * ((cpuSecondsOfOne(api.prog.pid) ?? NaN) - c0)) / ((performance.now() - w0) / 1000);
    log(`${churned} pod restarts in ${s.churnSeconds} s: the API server sent ${fmt(churnBytes / 2 ** 20, 1)} MiB (${fmt(churnBytes / 1024 / Math.max(1, churned), 1)} KiB a restart), used ${fmt(apiCpuPct, 0)} % of a core`);

    const etcdPids = [...etcds, ...(cluster?.members ?? [])].map((e) => e.pid);
    const etcdMiB = etcdPids.reduce((sum, pid) => sum + (memOfOne(pid)?.rssMiB ?? 0), 0);
    const k2sMiB = rssOf(k2s.map((k) => k.prog));
    const skyMiB = rssOf(sky.map((x) => x.prog));
    const rssPerReplicaMiB = topology === 'pod' ? (etcdMiB + k2sMiB + skyMiB) / n : skyMiB / n;
    const sharedMiB = topology === 'pod' ? 0 : etcdMiB + k2sMiB;
    log(`memory: ${fmt(rssPerReplicaMiB, 0)} MiB per DNS replica${topology === 'scale-out' ? `, ${fmt(sharedMiB, 0)} MiB shared (3 etcd members ${fmt(etcdMiB, 0)}, 2 kube2sky ${fmt(k2sMiB, 0)})` : ` (etcd ${fmt(etcdMiB / n, 0)}, kube2sky ${fmt(k2sMiB / n, 0)}, skydns ${fmt(skyMiB / n, 0)})`}`);

    let failoverS: number | null = null;
    if (topology === 'scale-out') {
      const leader = (await Promise.all(k2s.map(async (k) => ({ k, body: await readiness(k) })))).find((x) => x.body === 'ok\n')!.k;
      const watcher = new Etcd3({ hosts: cluster!.endpoints.split(',') });
      const seen: number[] = [];
      const w = await watcher.watch().prefix('/skydns/').create();
      w.on('data', () => seen.push(performance.now()));
      const again = podRestarter(`http://127.0.0.1:${api.port}`, s, pods.slice().reverse());
      await sleep(1000);
      process.kill(leader.prog.pid, 'SIGKILL');
      const killed = performance.now();
      await stopProgram(leader.prog).catch(() => undefined);
      const deadline = killed + (s.lease + 600) * 1000;
      while (performance.now() < deadline && !seen.some((t) => t > killed + 500)) await sleep(50);
      await again.stop();
      await w.cancel();
      watcher.close();
      const first = seen.find((t) => t > killed + 500);
      failoverS = first === undefined ? null : (first - killed) / 1000;
      log(`failover: the new leader's first write ${failoverS === null ? 'never came' : `${fmt(failoverS, 1)} s`} after the leader was killed (lease ${s.lease} s)`);
    }
    return { topology, replicas: n, readyS, startMiB: startBytes / 2 ** 20, watches, churned, churnKiBPerChange: churnBytes / 1024 / Math.max(1, churned), churnMiB: churnBytes / 2 ** 20, apiCpuPct, rssPerReplicaMiB, sharedMiB, failoverS };
  } finally {
    for (const x of [...sky, ...k2s]) await stopProgram(x.prog);
    for (const e of etcds) await stopBenchEtcd(e);
    if (cluster) await stopBenchEtcdCluster(cluster);
    await proxy.stop();
  }
}

async function main(): Promise<number> {
  const s = readSettings();
  const machine = machineInfo({});
  logMachine(machine, 'below');
  const work = await makeTempDir('kube-dns-bench', 'scale-out');
  const shape = { services: s.services, pods: s.pods, namespaces: 50, headlessPct: 20 };
  const { objects } = generateCluster(shape, false, true);
  const file = path.join(work, 'cluster.json');
  await fsp.writeFile(file, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
  const pods = objects.filter((o) => (o as { kind?: string }).kind === 'Pod') as Array<Record<string, unknown>>;
  log(`starting the sandbox API server with ${s.services} services and ${s.pods} pods`);
  const apiProg = start(process.execPath, [APISERVER_JS, '--port', '0', '--service-cidr', '10.96.0.0/16', '--load', file], 'apiserver', { cwd: ROOT });
  const line = await apiProg.waitFor(/apiserver listening on http:\/\/\S+/, 600_000);
  const api = { prog: apiProg, port: Number(new URL(line.slice('apiserver listening on '.length)).port) };
  const probe = `svc-${s.services - 1}.ns${(s.services - 1) % 50}.svc.${DOMAIN}`;
  const runs: Run[] = [];
  try {
    for (const n of s.replicas) for (const t of s.topologies) runs.push(await run(t, n, api, s, pods, probe));
  } finally {
    await stopProgram(apiProg);
    await removeTempDir(work);
  }
  const out: string[] = [];
  out.push('');
  out.push(`kube-dns topologies at ${s.services} services + ${s.pods} pods (sandbox API server; ${s.churnRate} pod restarts a second for ${s.churnSeconds} s)`);
  out.push('  topology   DNS replicas  ready s  API MiB at start  watch streams  API KiB/restart  API CPU %  MiB per replica  shared MiB  failover s');
  for (const r of runs) {
    out.push(
      `  ${r.topology.padEnd(10)} ${String(r.replicas).padStart(12)} ${fmt(r.readyS, 1).padStart(8)} ${fmt(r.startMiB, 1).padStart(17)} ${String(r.watches).padStart(14)} ${fmt(r.churnKiBPerChange, 1).padStart(16)} ${fmt(r.apiCpuPct, 0).padStart(10)} ${fmt(r.rssPerReplicaMiB, 0).padStart(16)} ${fmt(r.sharedMiB, 0).padStart(11)} ${r.failoverS === null ? '-' : fmt(r.failoverS, 1).padStart(10)}`,
    );
  }
  process.stdout.write(`${out.join('\n')}\n`);
  await writeJson(path.join(RESULTS_DIR, 'scale-out.json'), { machine, settings: s, runs });
  return 0;
}

runBench(main, () => readSettings().timeoutMin, 90);
