/**
 * Authoritative answers from the record tree, with SkyDNS semantics
 * (spec/skydns.md §2–3). The resolver holds no sockets: upstream lookups for
 * out-of-zone CNAME/SRV/MX targets go through the injected `Upstream`.
 */
import { hostname } from 'node:os';
import { Service } from '../msg/service.js';
import { addressFromReverse, fqdn, inZone, keyToName, labelCount, nameToSegments, parseIP, splitName } from '../msg/path.js';
import { Entry, LookupOptions, RecordTree } from './tree.js';
import { CLASS, RCODE, RR, TYPE, rdataKey } from './wire.js';
import { SKYDNS_VERSION, SkyConfig } from './config.js';

/** An upstream lookup: the answer section of a NOERROR reply, or null on any failure. */
export interface Upstream {
  lookup(name: string, qtype: number, opts: { do: boolean; bufsize: number }): Promise<RR[] | null>;
}

export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  debug(msg: string): void;
}

export interface Request {
  /** Question name as received (case preserved, FQDN). */
  qname: string;
  qtype: number;
  qclass: number;
  do: boolean;
  bufsize: number;
}

export interface Answer {
  rcode: number;
  aa: boolean;
  ra: boolean;
  answer: RR[];
  authority: RR[];
  additional: RR[];
  /** Epoch ms until which this answer may be served again unchanged (0: do not reuse). */
  reuseUntil: number;
}

/** Lease remaining-TTL oracle (seconds, or null when unknown). */
export type LeaseTTL = (lease: string) => number | null;

class NotFound extends Error {}

const CHAOS_AUTHORS = ['Erik St. Martin', 'Brian Ketelsen', 'Miek Gieben', 'Michael Crosby'];

function ipRR(owner: string, fam: 4 | 6, bytes: Uint8Array, ttl: number): RR {
  return { name: owner, type: fam === 4 ? TYPE.A : TYPE.AAAA, class: CLASS.IN, ttl, data: { t: 'ip', bytes } };
}

/** Splits text into ≤255-byte character strings (an empty text gives one empty string). */
export function txtChunks(text: string): Buffer[] {
  const b = Buffer.from(text, 'utf8');
  if (b.length === 0) return [Buffer.alloc(0)];
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i += 255) out.push(b.subarray(i, Math.min(i + 255, b.length)));
  return out;
}

/** Removes the n leftmost labels of a name, unless n ≥ its label count. */
export function targetStrip(name: string, n: number): string {
  if (n <= 0) return name;
  const labels = splitName(name);
  if (n >= labels.length) return name;
  return labels.slice(n).join('.') + '.';
}

/** The SkyDNS SRV weight: per priority, floor((100 / sum) × own), 0 counting as 100. */
export function srvWeights(services: readonly Service[]): number[] {
  const sums = new Map<number, number>();
  for (const s of services) sums.set(s.priority, (sums.get(s.priority) ?? 0) + (s.weight === 0 ? 100 : s.weight));
  return services.map((s) => Math.floor((100 / sums.get(s.priority)!) * (s.weight === 0 ? 100 : s.weight)));
}

/** SkyDNS msg.Group: restrict a subtree answer to the group chosen at the shallowest level. */
export function applyGroups(sx: Service[]): Service[] {
  if (sx.length === 0) return sx;
  const depth = (s: Service) => s.key.split('/').length - 1;
  let group = sx[0].group;
  let best = depth(sx[0]);
  const depths = new Array<number>(sx.length).fill(0);
  for (let i = 0; i < sx.length; i++) {
    const d = depth(sx[i]);
    if (d < best) {
      if (sx[i].group === '') break;
      group = sx[i].group;
      best = d;
    }
    depths[i] = d;
  }
  if (group === '') return sx;
  const out: Service[] = [];
  for (let i = 0; i < sx.length; i++) {
    const s = sx[i];
    if (s.group === '') out.push(s);
    else if (s.group === group) out.push(s);
    else if (depths[i] === best) return sx; // disagreement at the top level
  }
  return out;
}

/** Message-level de-duplication (owner+class+type+rdata; CNAME by owner only), keeping first occurrence. */
export function dedup(rrs: RR[]): RR[] {
  const seen = new Set<string>();
  const out: RR[] = [];
  for (const rr of rrs) {
    const k = `${rr.name.toLowerCase()}|${rr.class}|${rr.type}|${rr.type === TYPE.CNAME ? '' : rdataKey(rr)}`;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(rr);
  }
  return out;
}

interface Ctx {
  req: Request;
  now: number;
  /** Set when the answer depends on leases or upstream data and must not be reused long. */
  reuseUntil: number;
}

export class Resolver {
  readonly domainSegs: string[];
  private readonly host = hostname();

  constructor(
    private readonly tree: RecordTree,
    readonly cfg: SkyConfig,
    private readonly upstream: Upstream | null,
    private readonly log: Logger,
    private readonly leaseTTL: LeaseTTL = () => null,
  ) {
    this.domainSegs = nameToSegments(cfg.domain);
  }

  // ------------------------------------------------------------ lookups

  /** Looks up a lower-case name; throws NotFound when no key exists at or below it. */
  private records(name: string, opts: LookupOptions, ctx: Ctx): Service[] {
    const res = this.tree.lookup(nameToSegments(name), opts);
    if (!res.exists) throw new NotFound(name);
    return this.services(res.entries, ctx);
  }

  /** Entries → services: bad values skipped (logged), duplicates dropped, TTL and priority defaulted. */
  private services(entries: Entry[], ctx: Ctx): Service[] {
    const out: Service[] = [];
    const seen = new Set<string>();
    for (const e of entries) {
      if (!e.svc) {
        this.log.warn(`skipping ${e.error}`);
        continue;
      }
      const s = e.svc;
      const dk = `${s.host}\u0000${s.port}\u0000${s.priority}\u0000${s.weight}\u0000${s.text}`;
      if (seen.has(dk)) continue;
      seen.add(dk);
      let ttl = s.ttl;
      if (e.lease !== '0') {
        const remaining = this.leaseTTL(e.lease);
        if (remaining !== null) {
          const r = Math.max(1, Math.ceil(remaining));
          ttl = ttl === 0 ? r : Math.min(ttl, r);
        }
        ctx.reuseUntil = Math.min(ctx.reuseUntil, ctx.now + 1000);
      }
      if (ttl === 0) ttl = this.cfg.ttl;
      out.push({ ...s, ttl, priority: s.priority === 0 ? this.cfg.priority : s.priority });
    }
    return out;
  }

  /** Does the name exist (a key at or below it; wildcard labels honoured, as the lookup does)? */
  private existsName(name: string): boolean {
    return this.tree.lookup(nameToSegments(name), { exact: true }).exists;
  }

  // ------------------------------------------------------------ records

  soa(ttl: number): RR {
    const now = Math.floor(Date.now() / 1000);
    return {
      name: this.cfg.domain,
      type: TYPE.SOA,
      class: CLASS.IN,
      ttl,
      data: {
        t: 'soa',
        mname: `ns.dns.${this.cfg.domain}`,
        rname: this.cfg.hostmaster,
        serial: now - (now % 3600),
        refresh: 28800,
        retry: 7200,
        expire: 604800,
        minimum: this.cfg.minTtl,
      },
    };
  }

  /** Upstream lookup of an out-of-zone name with SkyDNS's guards; TTLs forced to rcache-ttl. */
  private async upstreamLookup(name: string, qtype: number, ctx: Ctx): Promise<RR[] | null> {
    if (!this.upstream || this.cfg.noRec || this.cfg.nameservers.length === 0) return null;
    if (labelCount(name) < this.cfg.ndots) return null;
    const rrs = await this.upstream.lookup(name, qtype, { do: ctx.req.do, bufsize: ctx.req.bufsize });
    if (!rrs) {
      this.log.debug(`incomplete CNAME chain: upstream lookup of ${name} ${qtype} failed`);
      return null;
    }
    ctx.reuseUntil = Math.min(ctx.reuseUntil, ctx.now + this.cfg.rcacheTtl * 1000);
    return rrs.map((rr) => ({ ...rr, ttl: this.cfg.rcacheTtl }));
  }

  /**
   * A/AAAA builder. `owner` is the name written into records, `name` the name looked
   * up (lower-case). `both` emits both families (SRV/MX glue).
   */
  private async addressRecords(owner: string, name: string, qtype: number, chain: string[], both: boolean, ctx: Ctx): Promise<RR[]> {
    const services = applyGroups(this.records(name, { skipAttrleaf: true }, ctx));
    const out: RR[] = [];
    for (const s of services) {
      const ip = parseIP(s.host);
      if (ip) {
        if (ip.family === 4 && (both || qtype === TYPE.A)) out.push(ipRR(owner, 4, ip.bytes, s.ttl));
        else if (ip.family === 6 && (both || qtype === TYPE.AAAA)) out.push(ipRR(owner, 6, ip.bytes, s.ttl));
        continue;
      }
      if (s.host === '') {
        this.log.warn(`skipping record at ${s.key}: empty host`);
        continue;
      }
      const target = fqdn(s.host);
      if (target === owner || chain.length >= 8 || chain.includes(target)) continue;
      const lower = target.toLowerCase();
      let sub: RR[];
      try {
        sub = await this.addressRecords(target, lower, qtype, [...chain, target], both, ctx);
      } catch (err) {
        if (!(err instanceof NotFound)) throw err;
        if (inZone(lower, this.cfg.domain)) continue;
        // In "both" mode (SRV/MX glue) the question is A, as SkyDNS asked upstream.
        const up = await this.upstreamLookup(target, qtype, ctx);
        if (!up) continue;
        out.push({ name: owner, type: TYPE.CNAME, class: CLASS.IN, ttl: s.ttl, data: { t: 'name', name: target } }, ...up);
        continue;
      }
      if (sub.length > 0) out.push({ name: owner, type: TYPE.CNAME, class: CLASS.IN, ttl: s.ttl, data: { t: 'name', name: target } }, ...sub);
    }
    return out;
  }

  /** Glue for an SRV/MX target name: in-zone via the address builder, else upstream A + AAAA. */
  private async targetGlue(target: string, ctx: Ctx): Promise<RR[]> {
    const lower = target.toLowerCase();
    if (!inZone(lower, this.cfg.domain)) {
      const out: RR[] = [];
      const a = await this.upstreamLookup(target, TYPE.A, ctx);
      if (a) out.push(...a);
      const aaaa = await this.upstreamLookup(target, TYPE.AAAA, ctx);
      if (aaaa) out.push(...aaaa.filter((rr) => rr.type !== TYPE.CNAME));
      return out;
    }
    try {
      return await this.addressRecords(target, lower, TYPE.A, [], true, ctx);
    } catch (err) {
      if (err instanceof NotFound) return [];
      throw err;
    }
  }

  private async srvRecords(owner: string, name: string, ctx: Ctx): Promise<{ answer: RR[]; extra: RR[] }> {
    const services = applyGroups(this.records(name, {}, ctx)).filter((s) => {
      if (s.host !== '') return true;
      this.log.warn(`skipping record at ${s.key}: empty host`);
      return false;
    });
    // Weights are shared among the records that are served (an empty-host record is not).
    const weights = srvWeights(services);
    const answer: RR[] = [];
    const extra: RR[] = [];
    const glued = new Set<string>();
    for (let i = 0; i < services.length; i++) {
      const s = services[i];
      const ip = parseIP(s.host);
      const srv = (target: string): RR => ({
        name: owner,
        type: TYPE.SRV,
        class: CLASS.IN,
        ttl: s.ttl,
        data: { t: 'srv', priority: s.priority & 0xffff, weight: weights[i] & 0xffff, port: s.port & 0xffff, target },
      });
      if (ip) {
        const target = targetStrip(keyToName(s.key), s.targetstrip);
        answer.push(srv(target));
        extra.push(ipRR(target, ip.family, ip.bytes, s.ttl));
        continue;
      }
      const target = targetStrip(fqdn(s.host), s.targetstrip);
      answer.push(srv(target));
      const k = target.toLowerCase();
      if (glued.has(k)) continue;
      glued.add(k);
      extra.push(...(await this.targetGlue(target, ctx)));
    }
    return { answer, extra };
  }

  private async mxRecords(owner: string, name: string, ctx: Ctx): Promise<{ answer: RR[]; extra: RR[] }> {
    const services = this.records(name, { skipAttrleaf: true }, ctx);
    const answer: RR[] = [];
    const extra: RR[] = [];
    const glued = new Set<string>();
    for (const s of services) {
      if (!s.mail) continue;
      const ip = parseIP(s.host);
      const mx = (exchange: string): RR => ({
        name: owner,
        type: TYPE.MX,
        class: CLASS.IN,
        ttl: s.ttl,
        data: { t: 'mx', preference: s.priority & 0xffff, exchange },
      });
      if (ip) {
        const synth = keyToName(s.key);
        const target = targetStrip(synth, s.targetstrip);
        answer.push(mx(target));
        // Fixed: glue is owned by the (stripped) exchange name, so it matches the MX target.
        extra.push(ipRR(target, ip.family, ip.bytes, s.ttl));
        continue;
      }
      if (s.host === '') continue;
      const target = targetStrip(fqdn(s.host), s.targetstrip);
      answer.push(mx(target));
      const k = target.toLowerCase();
      if (glued.has(k)) continue;
      glued.add(k);
      extra.push(...(await this.targetGlue(target, ctx)));
    }
    return { answer, extra };
  }

  private txtRecords(owner: string, name: string, ctx: Ctx): RR[] {
    const services = applyGroups(this.records(name, {}, ctx));
    const out: RR[] = [];
    for (const s of services) {
      if (s.text === '') continue;
      out.push({ name: owner, type: TYPE.TXT, class: CLASS.IN, ttl: s.ttl, data: { t: 'txt', strings: txtChunks(s.text) } });
    }
    return out;
  }

  private cnameRecords(owner: string, name: string, ctx: Ctx): RR[] {
    const services = applyGroups(this.records(name, { exact: true }, ctx));
    if (services.length === 0) return [];
    const s = services[0];
    if (parseIP(s.host) || s.host === '') return [];
    return [{ name: owner, type: TYPE.CNAME, class: CLASS.IN, ttl: s.ttl, data: { t: 'name', name: fqdn(s.host) } }];
  }

  private nsRecords(ctx: Ctx): { answer: RR[]; extra: RR[] } {
    const name = `ns.dns.${this.cfg.domain}`;
    let services: Service[];
    try {
      services = applyGroups(this.records(name, {}, ctx));
    } catch (err) {
      if (err instanceof NotFound) return { answer: [], extra: [] };
      throw err;
    }
    const answer: RR[] = [];
    const extra: RR[] = [];
    for (const s of services) {
      const ip = parseIP(s.host);
      if (!ip) return { answer: [], extra: [] };
      const target = keyToName(s.key);
      answer.push({ name: this.cfg.domain, type: TYPE.NS, class: CLASS.IN, ttl: s.ttl, data: { t: 'name', name: target } });
      extra.push(ipRR(target, ip.family, ip.bytes, s.ttl));
    }
    return { answer, extra };
  }

  // ------------------------------------------------------------ entry points

  private chaos(req: Request, name: string): Answer {
    const txt = (texts: string[]): Answer => ({
      rcode: RCODE.NOERROR,
      aa: true,
      ra: true,
      answer: texts.map((t) => ({ name: req.qname, type: TYPE.TXT, class: CLASS.CH, ttl: 0, data: { t: 'txt' as const, strings: txtChunks(t) } })),
      authority: [],
      additional: [],
      reuseUntil: 0,
    });
    if (req.qtype === TYPE.TXT) {
      if (name === 'authors.bind.' || name === this.cfg.domain) return txt(CHAOS_AUTHORS);
      if (name === 'version.bind.' || name === 'version.server.') return txt([SKYDNS_VERSION]);
      if (name === 'hostname.bind.' || name === 'id.server.') return txt([this.host]);
    }
    return { rcode: RCODE.SERVFAIL, aa: true, ra: true, answer: [], authority: [], additional: [], reuseUntil: 0 };
  }

  /**
   * Answers a question inside the domain (or CHAOS). `lookupName` replaces the
   * question name for the lookup (the `-local` substitution); owners keep `req.qname`.
   */
  async authoritative(req: Request, lookupName?: string): Promise<Answer> {
    const now = Date.now();
    const ctx: Ctx = { req, now, reuseUntil: now + 3600_000 };
    const name = lookupName ?? req.qname.toLowerCase();
    const owner = req.qname;
    const domain = this.cfg.domain;
    // SOA serial changes on the hour; never reuse an answer across it.
    ctx.reuseUntil = Math.min(ctx.reuseUntil, now - (now % 3600_000) + 3600_000);

    if (name === domain && req.qtype === TYPE.SOA && req.qclass !== CLASS.CH) {
      return this.finish(ctx, RCODE.NOERROR, [{ ...this.soa(this.cfg.ttl), name: owner }], [], []);
    }
    if (req.qclass === CLASS.CH) return this.chaos(req, name);

    let answer: RR[] = [];
    let extra: RR[] = [];
    try {
      switch (req.qtype) {
        case TYPE.NS:
          if (name !== domain) {
            if (!this.existsName(name)) throw new NotFound(name);
            break;
          }
          ({ answer, extra } = this.nsRecords(ctx));
          answer = answer.map((rr) => ({ ...rr, name: owner }));
          break;
        case TYPE.A:
        case TYPE.AAAA:
          answer = await this.addressRecords(owner, name, req.qtype, [], false, ctx);
          // CNAMEs first: stub resolvers cannot follow a chain whose CNAME comes after the addresses.
          answer = [...answer.filter((r) => r.type === TYPE.CNAME), ...answer.filter((r) => r.type !== TYPE.CNAME)];
          break;
        case TYPE.TXT:
          answer = this.txtRecords(owner, name, ctx);
          break;
        case TYPE.CNAME:
          answer = this.cnameRecords(owner, name, ctx);
          break;
        case TYPE.MX:
          ({ answer, extra } = await this.mxRecords(owner, name, ctx));
          break;
        case TYPE.SRV:
          ({ answer, extra } = await this.srvRecords(owner, name, ctx));
          break;
        default:
          if (name !== domain && !this.existsName(name)) throw new NotFound(name);
      }
    } catch (err) {
      if (err instanceof NotFound) {
        if (name === domain) return this.finish(ctx, RCODE.NOERROR, [], [this.soa(this.cfg.minTtl)], []);
        return this.finish(ctx, RCODE.NXDOMAIN, [], [this.soa(this.cfg.minTtl)], []);
      }
      throw err;
    }
    if (answer.length === 0) return this.finish(ctx, RCODE.NOERROR, [], [this.soa(this.cfg.minTtl)], []);
    answer = dedup(answer);
    if (answer.length > 1) {
      let min = this.cfg.ttl;
      for (const rr of answer) if (rr.ttl < min) min = rr.ttl;
      answer = answer.map((rr) => (rr.ttl === min ? rr : { ...rr, ttl: min }));
    }
    return this.finish(ctx, RCODE.NOERROR, answer, [], dedup(extra));
  }

  private finish(ctx: Ctx, rcode: number, answer: RR[], authority: RR[], additional: RR[]): Answer {
    return { rcode, aa: true, ra: true, answer, authority, additional, reuseUntil: ctx.reuseUntil };
  }

  /**
   * PTR from the reverse tree: the key must hold exactly one valid record.
   * Returns null when the query must be forwarded instead.
   */
  reverse(req: Request): Answer | null {
    const name = req.qname.toLowerCase();
    if (addressFromReverse(name) === null && !/\.(in-addr|ip6)\.arpa\.$/.test(name)) return null;
    const segs = nameToSegments(name);
    if (segs.some((s) => s === '*' || s === 'any')) return null;
    const entry = this.tree.get(`/${this.cfg.prefix}/${segs.join('/')}`);
    if (!entry || !entry.svc) {
      if (entry?.error) this.log.warn(`skipping ${entry.error}`);
      return null;
    }
    if (this.tree.lookup(segs).entries.length !== 1) return null;
    const now = Date.now();
    const ctx: Ctx = { req, now, reuseUntil: now + 3600_000 };
    const [s] = this.services([entry], ctx);
    if (!s || s.host === '' || parseIP(s.host)) return null;
    return {
      rcode: RCODE.NOERROR,
      aa: false,
      ra: true,
      answer: [{ name: req.qname, type: TYPE.PTR, class: CLASS.IN, ttl: s.ttl, data: { t: 'name', name: fqdn(s.host) } }],
      authority: [],
      additional: [],
      reuseUntil: ctx.reuseUntil,
    };
  }
}
