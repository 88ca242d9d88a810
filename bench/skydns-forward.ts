/**
 * Forwarding into a black hole (issue #16 finding 4): BENCH_RATE q/s (default 6000) of distinct
 * outside names for BENCH_SECONDS (default 10) into an upstream that never answers (a bound,
 * silent UDP socket of this process), and in-zone probes at BENCH_PROBE_RATE q/s (default 200)
 * meanwhile. Reports the probes' loss and latency, how the forwards were answered, and skydns's
 * peak descriptors and RSS. Extra skydns flags in BENCH_SKYDNS_ARGS (e.g. -max-forwards=0 for no
 * bound); BENCH_SKYDNS_BIN runs another build of skydns (e.g. an older checkout's dist/cmd/skydns.js).
 *
 *   node dist/bench/skydns-forward.js
 */
import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import { etcdPut } from '../test/harness/etcd.js';
import { SKYDNS_BIN } from '../test/harness/skydns.js';
import { sleep, waitUntil } from '../test/harness/proc.js';
import { encodeQuery } from '../lib/skydns/wire.js';
import { dnsAndMetricsPorts, envArgs, envInt, fmt, killEverything, log, logProblems, memOfOne, onSignal, start, startBenchEtcd, stopBenchEtcd, stopProgram } from './common.js';

const RATE = envInt('BENCH_RATE', 6000, 100, 100_000);
const SECONDS = envInt('BENCH_SECONDS', 10, 1, 600);
const PROBE_RATE = envInt('BENCH_PROBE_RATE', 200, 10, 10_000);
const TICK_MS = 10;
const PROBE = 'kubernetes.default.svc.cluster.local.';

async function udpSocket(onMessage: (m: Buffer, port: number) => void): Promise<dgram.Socket> {
  const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 << 20 });
  s.on('message', (m, r) => onMessage(m, r.port));
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  return s;
}

function pct(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : NaN;
}

async function main(): Promise<void> {
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => onSignal(sig));
  const bin = process.env.BENCH_SKYDNS_BIN ? path.resolve(process.env.BENCH_SKYDNS_BIN) : SKYDNS_BIN;
  const extra = envArgs('BENCH_SKYDNS_ARGS');
  const etcd = await startBenchEtcd('fwd');
  await etcdPut(etcd.url, '/skydns/local/cluster/svc/default/kubernetes/c88f1059', '{"host":"10.0.0.1","priority":10,"weight":10,"ttl":30,"targetstrip":0}');

  let upstreamGot = 0;
  const hole = await udpSocket(() => void upstreamGot++);
  const { port, metricsPort } = await dnsAndMetricsPorts();
  const args = [bin, `-machines=${etcd.url}`, `-addr=127.0.0.1:${port}`, '-domain=cluster.local.', `-metrics-addr=127.0.0.1:${metricsPort}`, `-nameservers=127.0.0.1:${hole.address().port}`, ...extra];
  const sky = start(process.execPath, args, 'skydns');
  await sky.waitFor(/ready for queries/, 15000);
  await waitUntil(async () => (await fetch(`http://127.0.0.1:${metricsPort}/readyz`).catch(() => null))?.status === 200, 15000, 'skydns ready');

  // Forwards: rcode counts. Probes: latency by sequence number (the ID).
  const rcodes = new Map<number, number>();
  const fwd = await udpSocket((m) => m.length >= 4 && rcodes.set(m[3] & 0x0f, (rcodes.get(m[3] & 0x0f) ?? 0) + 1));
  const probeSent: number[] = [];
  const probeMs: number[] = [];
  let probeWrong = 0;
  const probe = await udpSocket((m) => {
    if (m.length < 12) return;
    const i = m.readUInt16BE(0);
    if (probeSent[i] === undefined || probeMs[i] !== undefined) return;
    probeMs[i] = performance.now() - probeSent[i];
    if ((m[3] & 0x0f) !== 0 || m.readUInt16BE(6) !== 1 || m.subarray(m.length - 4).join('.') !== '10.0.0.1') probeWrong++;
  });

  log(`skydns ${[path.relative(process.cwd(), bin), ...args.slice(1)].join(' ')}`);
  log(`${RATE} q/s of distinct outside names into a silent upstream and ${PROBE_RATE} in-zone q/s, for ${SECONDS} s`);
  let fdPeak = 0;
  let rssPeak = 0;
  let sent = 0;
  const t0 = performance.now();
  const ticks = (SECONDS * 1000) / TICK_MS;
  for (let tick = 0; tick < ticks; tick++) {
    const due = Math.round(((tick + 1) * RATE * TICK_MS) / 1000);
    for (; sent < due; sent++) fwd.send(encodeQuery(`b${sent}.blackhole.example.`, 1, sent & 0xffff), port, '127.0.0.1');
    const probesDue = Math.min(65535, Math.round(((tick + 1) * PROBE_RATE * TICK_MS) / 1000));
    for (let i = probeSent.length; i < probesDue; i++) {
      probeSent[i] = performance.now();
      probe.send(encodeQuery(PROBE, 1, i), port, '127.0.0.1');
    }
    if (tick % 10 === 0) {
      fdPeak = Math.max(fdPeak, fs.readdirSync(`/proc/${sky.pid}/fd`).length);
      rssPeak = Math.max(rssPeak, memOfOne(sky.pid)?.rssMiB ?? 0);
    }
    const wait = t0 + (tick + 1) * TICK_MS - performance.now();
    if (wait > 0) await sleep(wait);
  }
  const elapsed = (performance.now() - t0) / 1000;
  await sleep(2500); // the probes' answers, and forwards waiting out -rtimeout
  const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const refusedMetric = /^skydns_skydns_forward_refused_total (\d+)$/m.exec(metrics)?.[1] ?? '-';
  const beforeStop = new Map(rcodes);
  const code = await stopProgram(sky);
  await sleep(200); // answers to forwards settled by the stop
  for (const s of [hole, fwd, probe]) s.close();
  await stopBenchEtcd(etcd);

  const answered = probeMs.filter((x) => x !== undefined).sort((a, b) => a - b);
  const lost = probeSent.length - answered.length;
  const name = (rc: number) => ({ 0: 'NOERROR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 5: 'REFUSED' })[rc] ?? `rcode ${rc}`;
  const counts = (m: Map<number, number>) => `${[...m].map(([rc, n]) => `${name(rc)} ${n}`).join(', ') || 'none'}; no answer ${sent - [...m.values()].reduce((a, b) => a + b, 0)}`;
  const out = [
    `sent ${sent} forwards in ${elapsed.toFixed(1)} s (${(sent / elapsed).toFixed(0)} q/s); answers 2.5 s after the end: ${counts(beforeStop)}; after stopping skydns: ${counts(rcodes)}`,
    `upstream received ${upstreamGot} queries; skydns_skydns_forward_refused_total ${refusedMetric}`,
    `in-zone probes: ${probeSent.length} sent, ${lost} lost (${((100 * lost) / probeSent.length).toFixed(1)} %), ${probeWrong} wrong; latency p50 ${fmt(pct(answered, 50), 2)} ms, p99 ${fmt(pct(answered, 99), 2)} ms, max ${fmt(answered[answered.length - 1], 2)} ms`,
    `skydns peak: ${fdPeak} open descriptors, ${rssPeak.toFixed(0)} MiB RSS; exit code ${code}`,
  ];
  for (const l of out) console.log(l);
  const problems = logProblems(sky.output()).filter((l) => !/ WARN forward: /.test(l));
  if (problems.length) console.log(`skydns log problems:\n${problems.slice(0, 10).join('\n')}`);
}

main().catch((err) => {
  log(`failed: ${(err as Error).stack ?? err}`);
  killEverything();
  process.exit(1);
});
