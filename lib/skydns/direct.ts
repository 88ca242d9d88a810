/**
 * Direct answers: the address questions nearly all of a cluster's traffic is,
 * answered from the request's bytes and the record tree into the reply's
 * bytes, with none of the general path's objects.
 *
 * What pods send is mostly A and AAAA questions for names in the zone: a
 * service's address, the AAAA it does not have, and the search-path misses
 * `ndots:5` makes of every name (`svc.ns.otherns.svc.cluster.local`,
 * `example.com.ns.svc.cluster.local`, …). At 100,000 services most of those
 * questions are each asked too rarely for the answer cache to hold them, and
 * the general path (parse the query into objects, resolve into records and
 * sections, encode) allocated ~1.2 KB for each: the young-generation
 * collections that garbage set off, about six a second at 55,000 questions a
 * second, each stopping the query thread ~1 ms, were half of the answers
 * slower than 1 ms (bench/README.md, "Direct answers").
 *
 * Here one pass over the question finds its labels; the tree is walked from
 * them (RecordTree.probe); and the reply — the question copied, one address
 * record pointing at it, or the zone's SOA for NXDOMAIN/NODATA, and the OPT
 * record — is written where the caller wants it. Nothing is allocated but
 * the request metrics' two clock readings (performance.now() makes a heap
 * number of 16 bytes each time).
 *
 * It answers only what it can answer exactly as the general path would, byte
 * for byte (test/unit/direct.test.ts compares the two over random trees and
 * questions), and declines (-1) everything else, which then takes the general
 * path: other types and classes, compressed or unusual names, EDNS options or
 * trailing bytes, DO with DNSSEC on, names at the apex or under
 * `dns.<domain>` (the NS, `-local` and stub-zone names), wildcard labels,
 * names with more than one record or whose one record is a CNAME or has a
 * lease, stub zones configured, `-verbose`, and before the first read of etcd.
 * Direct answers are never cached: each costs about what serving a cached one
 * does.
 */
import type { SkyConfig } from './config.js';
import type { Resolver } from './resolver.js';
import { PROBE_EMPTY, PROBE_NONE, PROBE_ONE, type RecordTree } from './tree.js';
import { CLASS, PLAIN_BYTE, RCODE, TYPE, type ZoneSoa, isFoldedLabel, isPlainQueryHeader, optTtl, replyFlags, replyLimit, writeAddressRR, writeOptRR } from './wire.js';
import { splitName } from '../msg/path.js';

/** The most labels a name of 255 bytes can have. */
const MAX_LABELS = 128;

export class DirectAnswers {
  /** The zone's labels, lower case, left to right; the zone is the last `zoneLabels.length` labels of a name in it. */
  private readonly zoneLabels: string[];
  /** Offsets of the question's label-length bytes (one question at a time: the path is synchronous). */
  private readonly offs = new Int32Array(MAX_LABELS);

  constructor(
    private readonly cfg: SkyConfig,
    private readonly tree: RecordTree,
    private readonly resolver: Resolver,
    /** The zone's SOA pre-encoded; null when its names keep negative answers off this path. */
    private readonly soa: ZoneSoa | null,
    /** Whether DO queries are signed (they then take the general path). */
    private readonly signing: boolean,
    /** False until the first full read of etcd. */
    private readonly synced: () => boolean,
    /** Stub zones are configured: a name in the zone may be one of theirs. */
    private readonly stubs: boolean,
  ) {
    this.zoneLabels = splitName(cfg.domain.toLowerCase());
  }

  /**
   * Writes the reply to `raw` over `tcp` (or UDP) at out[at, at + room) and
   * returns its length, or -1 when the general path must answer (the
   * reply's rcode is in the low bits of its byte 3). `now` is Date.now().
   */
  answerInto(raw: Buffer, tcp: boolean, out: Buffer, at: number, room: number, now: number): number {
    const n = raw.length;
    if (!isPlainQueryHeader(raw)) return -1;
    // The name: written out in full, every label plain printable ASCII (as parseQuery's plain names).
    const offs = this.offs;
    let k = 0;
    let p = 12;
    for (;;) {
      if (p >= n) return -1;
      const len = raw[p];
      if (len === 0) break;
      if (len > 63 || p + 1 + len > n || k === MAX_LABELS) return -1;
      for (let i = p + 1; i <= p + len; i++) if (PLAIN_BYTE[raw[i]] === 0) return -1;
      offs[k++] = p;
      p += len + 1;
    }
    if (p - 12 + 1 > 255) return -1;
    const qEnd = p + 5;
    if (qEnd > n) return -1;
    const qtype = (raw[p + 1] << 8) | raw[p + 2];
    if ((qtype !== TYPE.A && qtype !== TYPE.AAAA) || raw[p + 3] !== 0 || raw[p + 4] !== 1) return -1;
    // In the zone, below its apex, and not under dns.<zone>.
    const z = this.zoneLabels.length;
    if (k <= z || !this.inZone(raw, k)) return -1;
    const below = offs[k - z - 1];
    if (raw[below] === 3 && (raw[below + 1] | 0x20) === 0x64 && (raw[below + 2] | 0x20) === 0x6e && (raw[below + 3] | 0x20) === 0x73) return -1;
    // EDNS0: an OPT record of version 0 without options, and nothing after it.
    let ednsSize = -1;
    let doBit = false;
    if (raw[11] === 1) {
      if (n !== qEnd + 11 || raw[qEnd] !== 0 || raw[qEnd + 1] !== 0 || raw[qEnd + 2] !== TYPE.OPT || raw[qEnd + 6] !== 0 || raw[qEnd + 9] !== 0 || raw[qEnd + 10] !== 0) return -1;
      ednsSize = (raw[qEnd + 3] << 8) | raw[qEnd + 4];
      doBit = (raw[qEnd + 7] & 0x80) !== 0;
      if (doBit && this.signing) return -1;
    } else if (n !== qEnd) return -1;
    const cfg = this.cfg;
    if (cfg.verbose || this.stubs || !this.synced()) return -1;

    // What the general path's records(name, false, true) would find (resolver.ts addressRecords).
    const tree = this.tree;
    const found = tree.probe(raw, offs, k);
    let octets: string | null = null;
    let ttl = 0;
    let rcode: number = RCODE.NOERROR;
    if (found === PROBE_NONE) rcode = RCODE.NXDOMAIN;
    else if (found === PROBE_ONE) {
      const e = tree.probed!;
      const s = e.svc;
      if (s !== null) {
        // A lease shortens the TTL and the answer's life: the general path knows how.
        if (e.lease !== '0') return -1;
        const ip = e.ip;
        if (ip !== null) {
          if ((ip.length === 4 ? TYPE.A : TYPE.AAAA) === qtype) {
            octets = ip;
            ttl = s.ttl === 0 ? cfg.ttl : s.ttl;
          }
        } else if (e.target !== '') return -1; // a CNAME to chase
      }
    } else if (found !== PROBE_EMPTY) return -1;

    // The reply: the question as asked, then one address record or the SOA, then OPT.
    const soa = this.soa;
    if (octets === null && soa === null) return -1;
    const limit = replyLimit(tcp, ednsSize >= 0 ? ednsSize : null, cfg.udpMaxPayload);
    const size = qEnd + (octets !== null ? 12 + octets.length : soa!.size()) + (ednsSize >= 0 ? 11 : 0);
    if (size > limit || size > room) return -1;
    // The request as it came (its OPT record, if any, is written over next): the question as asked.
    out.set(raw, at);
    const flags = replyFlags((raw[2] << 8) | raw[3], true, true, false, rcode);
    out[at + 2] = flags >> 8;
    out[at + 3] = flags & 0xff;
    out[at + 6] = 0;
    out[at + 7] = octets !== null ? 1 : 0;
    out[at + 8] = 0;
    out[at + 9] = octets !== null ? 0 : 1;
    out[at + 10] = 0;
    out[at + 11] = ednsSize >= 0 ? 1 : 0;
    let w = at + qEnd;
    if (octets !== null) w = writeAddressRR(out, w, qtype, CLASS.IN, ttl, octets);
    else w = soa!.write(out, w, this.resolver.negativeAuthority(now)[0], qEnd - 4 - 12);
    if (ednsSize >= 0) w = writeOptRR(out, w, cfg.udpMaxPayload, optTtl(0, 0, doBit));
    return w - at;
  }

  /** Whether the last labels of the question's name (k of them) are the zone's, without regard to ASCII case. */
  private inZone(raw: Buffer, k: number): boolean {
    const zl = this.zoneLabels;
    const offs = this.offs;
    for (let j = 0; j < zl.length; j++) {
      const o = offs[k - zl.length + j];
      if (!isFoldedLabel(zl[j], raw, o + 1, raw[o])) return false;
    }
    return true;
  }
}
