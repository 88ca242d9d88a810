/**
 * Wires skydns together: config → etcd client → store → resolver → handler →
 * sockets and the metrics/health endpoint. Used by run.ts and by tests.
 */
import { EventEmitter } from 'node:events';
import type http from 'node:http';
import type { Etcd3 } from 'etcd3';
import { createEtcdClient, etcdConnection, etcdErrorText } from '../etcd/client.js';
import { Log, createLogger } from '../log.js';
import { loadKey } from '../dnssec/key.js';
import { Signer } from '../dnssec/sign.js';
import { SkyConfig, applyDefaults, mergeConfigObject, ConfigObjectError } from './config.js';
import { Forwarder, Server, parseServers } from './forwarder.js';
import { DnsHandler, HandlerDeps } from './handler.js';
import { serveStatus, statusEndpoint } from './status-http.js';
import { close as closeHttp } from '../http/serve.js';
import { AnswerCache } from './caches.js';
import { Metrics, StoreState, metricsFromEnv } from './metrics.js';
import { Resolver } from './resolver.js';
import { DnsServer } from './server.js';
import { EtcdStore } from './etcd-store.js';
import { StubZones } from './stub.js';
import { allocateYoungFirst, collectAfterLoad, collectYoungOnQueryThread, recordFeedbackFromFirstCall, warmUp } from './warm.js';

/** Entries of the warm-up's private answer cache: few, so it fills and evicts (warm.ts). */
const WARM_ANSWER_CACHE = 256;
/** Counts between two agings of the warm-up cache's admission filter: short, so the warm-up runs the ageing step many times (caches.ts). */
const WARM_AGE_PERIOD = 2048;

export interface AppOptions {
  env?: NodeJS.ProcessEnv;
  /** Wait for the first etcd read before returning from start() (tests). */
  waitForSync?: boolean;
  /** Running as one of several cluster workers: shared sockets, no HTTP endpoint. */
  worker?: boolean;
}

export class SkyDnsApp extends EventEmitter {
  client!: Etcd3;
  store!: EtcdStore;
  handler!: DnsHandler;
  server!: DnsServer;
  forwarder: Forwarder | null = null;
  metrics: Metrics | null = null;
  /** Signs answers to DO queries when -dnssec names a key. */
  signer: Signer | null = null;
  http: http.Server | null = null;
  private listening = false;
  /** The query path ran hot after the first read of the records (see warm.ts). */
  warmed = false;

  constructor(readonly cfg: SkyConfig, private readonly log: Log, private readonly opts: AppOptions = {}) {
    super();
  }

  /** Reads `/<prefix>/config` once (legacy start-up step); failures fall back to the flags. */
  private async readConfigObject(): Promise<void> {
    const key = `/${this.cfg.prefix}/config`;
    try {
      const value = await Promise.race([
        this.client.get(key).string(),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('deadline exceeded')), 2000).unref()),
      ]);
      if (value === null) {
        this.log.info(`falling back to default configuration, could not read from etcd: key not found (${key})`);
        return;
      }
      const m = mergeConfigObject(this.cfg, value);
      if (m.ignored.length) this.log.warn(`${key}: ignoring unknown or unsupported keys: ${m.ignored.join(', ')}`);
      for (const r of m.refused) this.log.error(`${key}: refused ${r}; the command-line value stays`);
      this.log.info(m.applied.length ? `${key}: applied ${m.applied.join(', ')}` : `${key}: nothing applied`);
    } catch (err) {
      if (err instanceof ConfigObjectError) this.log.error(`${key}: ${err.message}; using the command-line configuration`);
      else this.log.warn(`falling back to default configuration, could not read from etcd: ${etcdErrorText(err)}`);
    }
  }

  async start(): Promise<void> {
    recordFeedbackFromFirstCall();
    collectYoungOnQueryThread();
    const env = this.opts.env ?? process.env;
    const cfg = this.cfg;
    const etcdOpts = {
      urls: cfg.machines,
      caFile: cfg.caCert || undefined,
      certFile: cfg.tlsPem || undefined,
      keyFile: cfg.tlsKey || undefined,
      username: cfg.username || undefined,
      password: cfg.password || undefined,
    };
    const conn = etcdConnection(etcdOpts);
    this.client = createEtcdClient(etcdOpts, conn);
    await this.readConfigObject();
    applyDefaults(cfg);
    this.store = new EtcdStore(this.client, conn, cfg.prefix, this.log);
    const store = this.store;

    // Metrics: PROMETHEUS_PORT (all interfaces, like SkyDNS) or -metrics-addr; in a worker the primary serves them.
    const endpoint = this.opts.worker ? null : statusEndpoint(cfg, env, this.log);
    if (endpoint || this.opts.worker) this.metrics = metricsFromEnv(env);

    const forwarderFor = (servers: Server[], m: Metrics | null, log: Log) => new Forwarder({ servers, timeoutMs: cfg.readTimeoutMs, nsRotate: cfg.nsRotate, log, maxOutstanding: cfg.maxForwards, metrics: m });
    const forwarder = forwarderFor(parseServers(cfg.nameservers), this.metrics, this.log);
    this.forwarder = forwarder;
    // -dnssec: each process loads the key itself (cmd/skydns.ts checked the flag's key before forking).
    const metrics = this.metrics;
    this.signer = cfg.dnssec ? new Signer(loadKey(cfg.dnssec, cfg.domain), { domain: cfg.domain, ttl: cfg.ttl, minTtl: cfg.minTtl, scache: cfg.scache, onMiss: () => metrics?.cacheMiss.inc('signature') }) : null;
    const synced = () => store.synced;
    /**
     * One recipe for the real handler's parts and the warm-up's: the same
     * classes in the same fields, so the code V8 optimises while warming is
     * the code real queries run (lib/skydns/warm.ts).
     */
    const handlerParts = (fwd: Forwarder, m: Metrics | null, log: Log, answerCache: AnswerCache): HandlerDeps => {
      const resolver = new Resolver(store.tree, cfg, fwd, log, store.leaseTTL);
      if (this.signer) resolver.dnskey = (owner) => this.signer!.dnskey(owner);
      return { cfg, tree: store.tree, resolver, forwarder: fwd, stubs: cfg.stubzones ? new StubZones(store.tree, cfg.domain) : null, metrics: m, log, synced, answerCache, signer: this.signer };
    };
    this.handler = new DnsHandler(handlerParts(forwarder, this.metrics, this.log, new AnswerCache(cfg.answerCacheSize)));
    store.on('synced', () => {
      const obj = store.tree.get(`/${cfg.prefix}/config`);
      if (obj) this.log.debug(`/${cfg.prefix}/config is read at start only; restart skydns to apply changes to it`);
      // In a task of its own: the read that emitted 'synced' has let go of what it read by then.
      setImmediate(() => {
        // Answers flow from now on; ready once the query path has run hot (lib/skydns/warm.ts):
        // through a handler of the same make whose forwarder has no servers (it never sends),
        // whose metrics count nowhere and whose logger writes nothing.
        const quiet = createLogger('warm-up', 'error', () => undefined);
        const warmMetrics = this.metrics ? metricsFromEnv(env) : null;
        // Pretenuring off from here on (it speeds the initial read; allocateYoungFirst), and the
        // initial read's garbage collected first (collectAfterLoad): a full collection after the
        // warm-up threw away the code the warm-up had optimised.
        allocateYoungFirst();
        const c = collectAfterLoad();
        this.log.info(`heap collected after the initial read: ${c.beforeMiB.toFixed(0)} → ${c.afterMiB.toFixed(0)} MiB in ${c.ms.toFixed(0)} ms`);
        warmUp(handlerParts(forwarderFor([], warmMetrics, quiet), warmMetrics, quiet, new AnswerCache(WARM_ANSWER_CACHE, { agePeriod: WARM_AGE_PERIOD, presize: false })), this.log, { transport: this.server?.warmTransport() }).then(
          (w) => {
            this.log.info(`query path warmed up with ${w.queries} answers from the records in ${w.ms.toFixed(0)} ms`);
            this.warmed = true;
            this.emit('warmed');
          },
          (err: Error) => {
            this.warmed = true;
            this.log.warn(`warm-up failed (${err.message}); reporting ready anyway`);
            this.emit('warmed');
          },
        );
      });
    });
    const sync = store.start();
    this.server = new DnsServer(this.handler, { host: cfg.host, port: cfg.port, maxTcpConns: cfg.tcpMaxConns, tcpIdleMs: cfg.tcpIdleMs, tcpIoMs: cfg.tcpIoMs, exclusive: !this.opts.worker, udpIo: cfg.udpIo, metrics: this.metrics }, this.log);
    await this.server.listen();
    this.listening = true;
    const udp = this.server.udpMode;
    const udpText = udp.mode === 'batch' ? 'batched UDP I/O' : `Node's dgram for UDP (${udp.why})`;
    const signing = this.signer ? `, signing with ${cfg.dnssec} [scache ${cfg.scache}]` : '';
    if (!this.opts.worker) this.log.info(`ready for queries on ${cfg.domain} for tcp/udp ${cfg.dnsAddr}${signing} [rcache ${cfg.rcache}; ${udpText}]; etcd ${cfg.machines.join(',')}; nameservers ${cfg.nameservers.join(',') || '(none)'}`);
    else if (udp.mode === 'dgram' && cfg.udpIo === 'auto') this.log.info(`using ${udpText}`);
    if (endpoint) {
      const metrics = this.metrics!;
      this.http = await serveStatus(endpoint, env, this.log, { expected: 1, listening: () => this.listening, processes: () => [{ state: this.state(), snapshot: metrics.snapshot() }] });
    }
    if (this.opts.waitForSync) await sync;
    else sync.catch((err: Error) => this.log.error(`etcd sync: ${etcdErrorText(err)}`));
  }

  /** The store's state, as reported to metrics and to a cluster primary. */
  state(): StoreState {
    const st = this.store;
    return { synced: st.synced, warmed: this.warmed, connected: st.connected, records: st.tree.size, invalid: st.tree.invalid, staleness: st.stalenessSeconds() };
  }

  get isListening(): boolean {
    return this.listening;
  }

  async stop(): Promise<void> {
    this.listening = false;
    // Forwards in flight settle now (SERVFAIL) instead of after -rtimeout, and none starts later;
    // one turn of the event loop lets those answers out before the sockets close.
    this.forwarder?.close();
    await new Promise<void>((r) => setImmediate(r));
    await this.server?.close();
    await closeHttp(this.http);
    await this.store?.stop();
    this.client?.close();
  }
}
