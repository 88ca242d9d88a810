#!/usr/bin/env node
/**
 * Sandbox API server benchmark (issue #10: the express port must not lower watch throughput).
 *
 * The real program (dist/cmd/apiserver.js, or BENCH_APISERVER_JS) runs as a child process on
 * loopback. This process:
 *   1. creates BENCH_API_SERVICES Services and BENCH_API_ENDPOINTS Endpoints in namespace
 *      `bench` (POST / PUT, BENCH_API_INFLIGHT requests in flight): creates per second;
 *   2. GETs single objects (BENCH_API_GETS requests, same concurrency): requests per second,
 *      which is mostly the cost of routing a request;
 *   3. LISTs every Service (BENCH_API_LISTS times, one at a time): p50/p99 latency and size;
 *   4. for each watcher count W in BENCH_API_WATCHERS (default "1,20"): opens W raw chunked
 *      watch streams (services across all namespaces, `?watch=1` on the namespace, the legacy
 *      `/api/v1/watch/...` path, and every 4th on endpoints) from the current resourceVersion,
 *      plus one @kubernetes/client-node informer on the namespace's services, then makes
 *      BENCH_API_UPDATES changes as fast as the server accepts them (PUTs of whole objects with
 *      a new `bench/seq` annotation; 4 in 5 on Services, 1 in 5 on Endpoints, with
 *      BENCH_API_INFLIGHT in flight) and reports: changes accepted per second; events
 *      delivered per second per watcher and in total (from the first write until the watcher
 *      saw its last expected event); p50/p99 from sending the write to seeing its event.
 *
 * Prints figures (and one `json:` line); asserts nothing. Every loop is bounded (counts, and
 * BENCH_API_DRAIN_S to wait for the last events). Loopback only; the child is stopped by PID,
 * also on error, signals and the BENCH_TIMEOUT_MIN watchdog.
 * Run: `npm run bench:apiserver` (built: `node dist/bench/apiserver-watch.js`).
 */
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { CoreV1Api, KubeConfig, makeInformer, type V1Service } from '@kubernetes/client-node';
import { kubeconfigYaml } from '../lib/sandbox-apiserver/auth.js';
import type { Program } from '../test/harness/proc.js';
import { ROOT, envInt, fmt, log, runBench, start, stopProgram, withTimeout } from './common.js';

// ---------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------

const NS = 'bench';
const SEQ_KEY = '"bench/seq":"';

interface Settings {
  apiserverJs: string;
  services: number;
  endpoints: number;
  updates: number;
  inflight: number;
  gets: number;
  lists: number;
  watchers: number[];
  drainS: number;
  informer: boolean;
  timeoutMin: number;
}

function readSettings(): Settings {
  const watchers = (process.env.BENCH_API_WATCHERS ?? '1,20').split(',').map((s) => Number(s.trim()));
  for (const w of watchers) if (!Number.isInteger(w) || w < 1 || w > 200) throw new Error(`BENCH_API_WATCHERS: ${JSON.stringify(process.env.BENCH_API_WATCHERS)}: expected integers in [1, 200], comma-separated`);
  return {
    apiserverJs: path.resolve(process.env.BENCH_APISERVER_JS ?? path.join(ROOT, 'dist', 'cmd', 'apiserver.js')),
    services: envInt('BENCH_API_SERVICES', 5000, 1, 60_000),
    endpoints: envInt('BENCH_API_ENDPOINTS', 1000, 1, 60_000),
    updates: envInt('BENCH_API_UPDATES', 20_000, 5, 1_000_000),
    inflight: envInt('BENCH_API_INFLIGHT', 8, 1, 256),
    gets: envInt('BENCH_API_GETS', 5000, 0, 1_000_000),
    lists: envInt('BENCH_API_LISTS', 20, 1, 1000),
    watchers,
    drainS: envInt('BENCH_API_DRAIN_S', 60, 1, 3600),
    informer: envInt('BENCH_API_INFORMER', 1, 0, 1) === 1,
    timeoutMin: envInt('BENCH_TIMEOUT_MIN', 15, 1, 240),
  };
}

// ---------------------------------------------------------------------------
// HTTP client (keep-alive, bounded concurrency)
// ---------------------------------------------------------------------------

class Client {
  private readonly agent: http.Agent;

  constructor(
    private readonly port: number,
    sockets: number,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: sockets });
  }

  request(method: string, p: string, body?: string): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { Accept: 'application/json' };
      if (body !== undefined) {
        headers['Content-Type'] = 'application/json';
        headers['Content-Length'] = Buffer.byteLength(body);
      }
      const req = http.request({ host: '127.0.0.1', port: this.port, method, path: p, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${p}: no answer in 30 s`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  /** `request` that throws unless the status is one of `ok`. */
  async expect(ok: number[], method: string, p: string, body?: string): Promise<string> {
    const r = await this.request(method, p, body);
    if (!ok.includes(r.status)) throw new Error(`${method} ${p}: HTTP ${r.status}: ${r.text.slice(0, 300)}`);
    return r.text;
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Runs job(0..n-1) with `inflight` at a time; resolves when all are done (rejects on the first failure). */
async function pool(n: number, inflight: number, job: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) await job(next++);
  };
  await Promise.all(Array.from({ length: Math.min(inflight, n) }, worker));
}

// ---------------------------------------------------------------------------
// Objects
// ---------------------------------------------------------------------------

const svcName = (i: number) => `s-${String(i).padStart(5, '0')}`;
const epName = (i: number) => `e-${String(i).padStart(5, '0')}`;

function serviceBody(i: number, seq: number): string {
  return `{"apiVersion":"v1","kind":"Service","metadata":{"name":"${svcName(i)}","namespace":"${NS}","labels":{"app":"bench","n":"${i % 50}"},"annotations":{"bench/seq":"${seq}"}},"spec":{"ports":[{"name":"http","port":80,"targetPort":8080},{"name":"dns","port":53,"protocol":"UDP"}]}}`;
}

function endpointsBody(i: number, seq: number): string {
  const a = (i >> 8) & 255;
  const b = i & 255;
  return `{"apiVersion":"v1","kind":"Endpoints","metadata":{"name":"${epName(i)}","namespace":"${NS}","annotations":{"bench/seq":"${seq}"}},"subsets":[{"addresses":[{"ip":"10.250.${a}.${b}"},{"ip":"10.251.${a}.${b}"}],"ports":[{"name":"http","port":8080}]}]}`;
}

/** Update number u goes to an Endpoints object one time in five, else to a Service. */
const isEndpointsUpdate = (u: number) => u % 5 === 4;

// ---------------------------------------------------------------------------
// Statistics
// ---------------------------------------------------------------------------

function quantile(sorted: Float64Array | number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function sortedCopy(xs: ArrayLike<number>, n = xs.length): Float64Array {
  const a = Float64Array.from({ length: n }, (_, i) => xs[i]);
  return a.sort();
}

// ---------------------------------------------------------------------------
// Raw watch streams
// ---------------------------------------------------------------------------

interface RawWatcher {
  url: string;
  kind: 'services' | 'endpoints';
  expected: number;
  events: number;
  lastSeen: number;
  /** Latency samples (ms), one per event with a bench/seq annotation. */
  latencies: Float64Array;
  bad: string[];
  done: Promise<void>;
  close(): void;
}

/**
 * Opens a watch and counts its events. Lines are not JSON-parsed (the client must not be the
 * bottleneck): the event type and the bench/seq annotation are read by position.
 */
function openRawWatch(port: number, url: string, kind: 'services' | 'endpoints', expected: number, sentAt: Float64Array): Promise<RawWatcher> {
  return new Promise((resolve, reject) => {
    let finish: () => void = () => undefined;
    const w: RawWatcher = {
      url,
      kind,
      expected,
      events: 0,
      lastSeen: 0,
      latencies: new Float64Array(expected),
      bad: [],
      done: new Promise<void>((r) => (finish = r)),
      close: () => req.destroy(),
    };
    const req = http.get({ host: '127.0.0.1', port, path: url, agent: false }, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`watch ${url}: HTTP ${res.statusCode}`));
        res.resume();
        return;
      }
      if (res.headers['transfer-encoding'] !== 'chunked') w.bad.push(`transfer-encoding ${String(res.headers['transfer-encoding'])}`);
      res.setEncoding('utf8');
      let buf = '';
      res.on('data', (chunk: string) => {
        const now = performance.now();
        buf += chunk;
        let start = 0;
        let nl: number;
        while ((nl = buf.indexOf('\n', start)) >= 0) {
          const k = buf.indexOf(SEQ_KEY, start);
          if (!buf.startsWith('{"type":"MODIFIED"', start)) {
            if (w.bad.length < 5) w.bad.push(buf.slice(start, Math.min(nl, start + 120)));
          } else if (k >= 0 && k < nl) {
            const seq = Number(buf.slice(k + SEQ_KEY.length, buf.indexOf('"', k + SEQ_KEY.length)));
            if (w.events < w.latencies.length) w.latencies[w.events] = now - sentAt[seq];
          }
          w.events++;
          w.lastSeen = now;
          start = nl + 1;
        }
        buf = buf.slice(start);
        if (w.events >= w.expected) finish();
      });
      res.on('close', finish);
      resolve(w);
    });
    req.on('error', (err) => {
      finish();
      reject(err);
    });
  });
}

// ---------------------------------------------------------------------------
// One scenario: W raw watchers + an informer, U updates
// ---------------------------------------------------------------------------

interface ScenarioResult {
  watchers: number;
  updates: number;
  writeSeconds: number;
  writesPerSecond: number;
  /** Events per second of each watcher, median per watched resource (endpoints get 1 change in 5). */
  perWatcherEventsPerSecond: { services: number; endpoints: number; min: number; max: number };
  totalEventsPerSecond: number;
  eventsDelivered: number;
  eventsExpected: number;
  latencyMs: { p50: number; p99: number; max: number };
  informer: { updates: number; expected: number; eventsPerSecond: number; latencyMs: { p50: number; p99: number } } | null;
  problems: string[];
}

async function scenario(s: Settings, client: Client, port: number, kc: KubeConfig | null, nWatchers: number, seqBase: number): Promise<ScenarioResult> {
  const U = s.updates;
  const svcUpdates = Array.from({ length: U }, (_, u) => u).filter((u) => !isEndpointsUpdate(u)).length;
  const epUpdates = U - svcUpdates;
  // sentAt is indexed by the global sequence number (unique across scenarios).
  const sentAt = new Float64Array(seqBase + U);
  const { resourceVersion } = JSON.parse(await client.expect([200], 'GET', '/sandbox/watches')) as { resourceVersion: string };
  const q = `resourceVersion=${resourceVersion}&timeoutSeconds=3600`;
  const urls: Array<[string, 'services' | 'endpoints']> = [];
  for (let j = 0; j < nWatchers; j++) {
    if (j % 4 === 0) urls.push([`/api/v1/services?watch=true&${q}`, 'services']);
    else if (j % 4 === 1) urls.push([`/api/v1/namespaces/${NS}/services?watch=1&${q}`, 'services']);
    else if (j % 4 === 2) urls.push([`/api/v1/watch/namespaces/${NS}/services?${q}`, 'services']);
    else urls.push([`/api/v1/namespaces/${NS}/endpoints?watch=true&${q}`, 'endpoints']);
  }
  const watchers = await Promise.all(urls.map(([u, k]) => openRawWatch(port, u, k, k === 'services' ? svcUpdates : epUpdates, sentAt)));

  // The informer (client-node's list + watch), on the namespace's services.
  let informerStop: (() => Promise<void>) | null = null;
  const inf = { updates: 0, lastSeen: 0, lat: new Float64Array(svcUpdates) };
  if (kc !== null) {
    const core = kc.makeApiClient(CoreV1Api);
    const informer = makeInformer<V1Service>(kc, `/api/v1/namespaces/${NS}/services`, () => core.listNamespacedService({ namespace: NS }));
    informer.on('update', (o) => {
      const now = performance.now();
      const seq = Number(o.metadata?.annotations?.['bench/seq']);
      if (inf.updates < inf.lat.length && seq >= seqBase) inf.lat[inf.updates] = now - sentAt[seq];
      if (seq >= seqBase) {
        inf.updates++;
        inf.lastSeen = now;
      }
    });
    let stopping = false;
    informer.on('error', (e) => {
      if (!stopping) log(`informer error: ${String(e)}`);
    });
    await withTimeout(informer.start(), 60_000, 'informer start');
    informerStop = () => {
      stopping = true;
      return informer.stop();
    };
  }

  log(`${nWatchers} raw watcher(s)${kc ? ' + 1 informer' : ''}: ${U} updates (${svcUpdates} services, ${epUpdates} endpoints), ${s.inflight} in flight`);
  const t0 = performance.now();
  await pool(U, s.inflight, async (u) => {
    const seq = seqBase + u;
    const ep = isEndpointsUpdate(u);
    const i = ep ? Math.floor(u / 5) % s.endpoints : (u - Math.floor(u / 5)) % s.services;
    const body = ep ? endpointsBody(i, seq) : serviceBody(i, seq);
    const p = `/api/v1/namespaces/${NS}/${ep ? 'endpoints' : 'services'}/${ep ? epName(i) : svcName(i)}`;
    sentAt[seq] = performance.now();
    await client.expect([200], 'PUT', p, body);
  });
  const t1 = performance.now();

  // Wait (bounded) for every watcher to see its last event.
  const drainUntil = Date.now() + s.drainS * 1000;
  const all = Promise.all(watchers.map((w) => w.done));
  await Promise.race([all, new Promise((r) => setTimeout(r, Math.max(0, drainUntil - Date.now())).unref())]);
  while (kc !== null && inf.updates < svcUpdates && Date.now() < drainUntil) await new Promise((r) => setTimeout(r, 20));
  for (const w of watchers) w.close();
  if (informerStop) await informerStop().catch(() => undefined);

  const problems: string[] = [];
  const rates: number[] = [];
  const byKind: Record<'services' | 'endpoints', number[]> = { services: [], endpoints: [] };
  let delivered = 0;
  let expected = 0;
  let lastSeen = t0;
  let samples = 0;
  for (const w of watchers) {
    delivered += w.events;
    expected += w.expected;
    samples += Math.min(w.events, w.expected);
    if (w.events > 0) lastSeen = Math.max(lastSeen, w.lastSeen);
    const rate = w.events / ((w.lastSeen - t0) / 1000);
    rates.push(rate);
    byKind[w.kind].push(rate);
    if (w.events !== w.expected) problems.push(`${w.url}: ${w.events} events, expected ${w.expected}`);
    for (const b of w.bad) problems.push(`${w.url}: unexpected ${b}`);
  }
  const lat = new Float64Array(samples);
  let k = 0;
  for (const w of watchers) {
    const n = Math.min(w.events, w.expected);
    lat.set(w.latencies.subarray(0, n), k);
    k += n;
  }
  lat.sort();
  const r = sortedCopy(rates);
  let informer: ScenarioResult['informer'] = null;
  if (kc !== null) {
    if (inf.updates !== svcUpdates) problems.push(`informer: ${inf.updates} updates, expected ${svcUpdates}`);
    const il = sortedCopy(inf.lat, Math.min(inf.updates, inf.lat.length));
    informer = { updates: inf.updates, expected: svcUpdates, eventsPerSecond: inf.updates / ((inf.lastSeen - t0) / 1000), latencyMs: { p50: quantile(il, 0.5), p99: quantile(il, 0.99) } };
  }
  return {
    watchers: nWatchers,
    updates: U,
    writeSeconds: (t1 - t0) / 1000,
    writesPerSecond: U / ((t1 - t0) / 1000),
    perWatcherEventsPerSecond: { services: quantile(sortedCopy(byKind.services), 0.5), endpoints: quantile(sortedCopy(byKind.endpoints), 0.5), min: r[0], max: r[r.length - 1] },
    totalEventsPerSecond: delivered / ((lastSeen - t0) / 1000),
    eventsDelivered: delivered,
    eventsExpected: expected,
    latencyMs: { p50: quantile(lat, 0.5), p99: quantile(lat, 0.99), max: lat.length ? lat[lat.length - 1] : NaN },
    informer,
    problems,
  };
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

async function main(): Promise<number> {
  const s = readSettings();
  log(`machine: ${os.availableParallelism()} x ${os.cpus()[0]?.model ?? 'unknown'}, node ${process.version}, load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  log(`server: ${s.apiserverJs}`);
  const prog: Program = start(process.execPath, [s.apiserverJs, '--port', '0', '--address', '127.0.0.1', '--service-cidr', '10.96.0.0/16', '--history', '1000', '--no-endpoints-controller'], 'apiserver');
  let client: Client | null = null;
  try {
    const line = await prog.waitFor(/apiserver listening on http:\/\/127\.0\.0\.1:\d+/, 15_000);
    const port = Number(/:(\d+)\s*$/.exec(line.trim())?.[1]);
    client = new Client(port, s.inflight);
    const c = client;
    await c.expect([201], 'POST', '/api/v1/namespaces', `{"metadata":{"name":"${NS}"}}`);

    // 1. creates
    let t = performance.now();
    await pool(s.services, s.inflight, async (i) => {
      await c.expect([201], 'POST', `/api/v1/namespaces/${NS}/services`, serviceBody(i, 0));
    });
    await pool(s.endpoints, s.inflight, async (i) => {
      await c.expect([201], 'PUT', `/api/v1/namespaces/${NS}/endpoints/${epName(i)}`, endpointsBody(i, 0));
    });
    const createsPerSecond = (s.services + s.endpoints) / ((performance.now() - t) / 1000);
    log(`created ${s.services} services and ${s.endpoints} endpoints: ${createsPerSecond.toFixed(0)}/s`);

    // 2. single GETs
    t = performance.now();
    await pool(s.gets, s.inflight, async (i) => {
      await c.expect([200], 'GET', `/api/v1/namespaces/${NS}/services/${svcName(i % s.services)}`);
    });
    const getsPerSecond = s.gets / ((performance.now() - t) / 1000);

    // 3. LIST of every service
    const listMs: number[] = [];
    let listBytes = 0;
    for (let i = 0; i < s.lists; i++) {
      const t2 = performance.now();
      const text = await c.expect([200], 'GET', '/api/v1/services');
      listMs.push(performance.now() - t2);
      listBytes = Buffer.byteLength(text);
    }
    listMs.sort((a, b) => a - b);
    log(`GET one service: ${getsPerSecond.toFixed(0)}/s; LIST ${s.services + 1} services: p50 ${listMs[Math.floor(listMs.length / 2)].toFixed(1)} ms`);

    // 4. watch scenarios
    const kc = s.informer ? new KubeConfig() : null;
    kc?.loadFromString(kubeconfigYaml(`http://127.0.0.1:${port}`, { skipTlsVerify: true }));
    const results: ScenarioResult[] = [];
    let seqBase = 1;
    for (const w of s.watchers) {
      results.push(await scenario(s, c, port, kc, w, seqBase));
      seqBase += s.updates;
    }

    // Report
    const out: string[] = [];
    out.push(`sandbox API server benchmark (${path.relative(ROOT, s.apiserverJs) || s.apiserverJs}), ${os.availableParallelism()} CPUs, loadavg at end ${os.loadavg()[0].toFixed(2)}`);
    out.push(`  creates (POST services, PUT endpoints), ${s.inflight} in flight: ${fmt(createsPerSecond, 0)}/s`);
    out.push(`  GET one service, ${s.inflight} in flight:                 ${fmt(getsPerSecond, 0)}/s`);
    out.push(`  LIST ${s.services + 1} services (${(listBytes / 1e6).toFixed(2)} MB): p50 ${fmt(quantile(listMs, 0.5), 1)} ms, p99 ${fmt(quantile(listMs, 0.99), 1)} ms (${s.lists} lists)`);
    for (const r of results) {
      out.push(`  ${r.watchers} raw watcher(s)${r.informer ? ' + informer' : ''}, ${r.updates} PUTs, ${s.inflight} in flight:`);
      out.push(`    changes accepted: ${fmt(r.writesPerSecond, 0)}/s (${fmt(r.writeSeconds, 2)} s)`);
      out.push(`    events delivered: ${fmt(r.totalEventsPerSecond, 0)}/s in total (${r.eventsDelivered}/${r.eventsExpected}); per watcher (median) ${fmt(r.perWatcherEventsPerSecond.services, 0)}/s on services, ${fmt(r.perWatcherEventsPerSecond.endpoints, 0)}/s on endpoints`);
      out.push(`    write -> event seen (raw watchers): p50 ${fmt(r.latencyMs.p50, 2)} ms, p99 ${fmt(r.latencyMs.p99, 2)} ms, max ${fmt(r.latencyMs.max, 1)} ms`);
      if (r.informer) out.push(`    informer: ${r.informer.updates}/${r.informer.expected} updates, ${fmt(r.informer.eventsPerSecond, 0)}/s; write -> update seen p50 ${fmt(r.informer.latencyMs.p50, 2)} ms, p99 ${fmt(r.informer.latencyMs.p99, 2)} ms`);
      for (const p of r.problems.slice(0, 10)) out.push(`    PROBLEM: ${p}`);
    }
    process.stdout.write(out.join('\n') + '\n');
    const json = { server: s.apiserverJs, createsPerSecond, getsPerSecond, list: { services: s.services + 1, bytes: listBytes, p50Ms: quantile(listMs, 0.5), p99Ms: quantile(listMs, 0.99) }, scenarios: results };
    process.stdout.write(`json: ${JSON.stringify(json, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v))}\n`);
    return 0;
  } finally {
    client?.close();
    const code = await stopProgram(prog);
    log(`apiserver (pid ${prog.pid}) stopped, exit ${code}`);
  }
}

runBench(main, () => readSettings().timeoutMin, 15);
