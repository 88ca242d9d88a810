/**
 * Stub zones (docs/skydns.md §4.3): servers declared under
 * `stub.dns.<domain>` as `<nsname>.<zone>.stub.dns.<domain>` with an IP host
 * and optional port; queries at or below such a zone are forwarded there with
 * a private EDNS0 option (65011) that breaks forwarding loops.
 */
import { labelCount, nameToSegments, parseIP, splitName } from '../msg/path.js';
import { RecordTree } from './tree.js';
import { Query, Writer, TYPE } from './wire.js';
import type { Server } from './forwarder.js';

export const STUB_OPTION = 65011;

export class StubZones {
  private gen = -1;
  private zones = new Map<string, Server[]>();

  constructor(private readonly tree: RecordTree, private readonly domain: string) {}

  /** The current zone → servers map (rebuilt when the tree changed). */
  map(): Map<string, Server[]> {
    if (this.gen === this.tree.generation) return this.zones;
    this.gen = this.tree.generation;
    const zones = new Map<string, Server[]>();
    const base = nameToSegments(`stub.dns.${this.domain}`);
    const dropRight = 2 + labelCount(this.domain);
    const res = this.tree.lookup(base);
    for (const e of res.entries) {
      if (!e.svc) continue;
      const ip = parseIP(e.svc.host);
      if (!ip) continue;
      const labels = e.key.split('/').slice(2).reverse(); // name labels, left to right
      const zoneLabels = labels.slice(1, labels.length - dropRight);
      if (zoneLabels.length === 0) continue;
      const zone = zoneLabels.join('.').toLowerCase() + '.';
      if (zone === this.domain) continue;
      const list = zones.get(zone) ?? [];
      list.push({ host: e.svc.host, port: e.svc.port || 53 });
      zones.set(zone, list);
    }
    this.zones = zones;
    return zones;
  }

  /** The servers of the most specific stub zone containing `name` (lower-case), or null. */
  match(name: string): Server[] | null {
    const zones = this.map();
    if (zones.size === 0) return null;
    const labels = splitName(name);
    for (let i = 0; i < labels.length; i++) {
      const z = labels.slice(i).join('.') + '.';
      const s = zones.get(z);
      if (s) return s;
    }
    return null;
  }
}

/** True if the query already carries the loop-guard option. */
export function hasStubOption(q: Query): boolean {
  return q.edns?.options.some((o) => o.code === STUB_OPTION) ?? false;
}

/** The query re-encoded with the loop-guard option added to its OPT record (or a new OPT). */
export function withStubOption(q: Query): Buffer {
  const w = new Writer(q.questionEnd + 64);
  w.bytes(q.raw.subarray(0, q.questionEnd));
  w.buf.writeUInt16BE(0, 6);
  w.buf.writeUInt16BE(0, 8);
  w.buf.writeUInt16BE(1, 10);
  const opts = [...(q.edns?.options ?? []), { code: STUB_OPTION, data: Buffer.from([1]) }];
  w.u8(0);
  w.u16(TYPE.OPT);
  w.u16(q.edns ? q.edns.udpSize : 512);
  w.u32(q.edns ? ((q.edns.extRcode << 24) | (q.edns.version << 16) | (q.edns.do ? 0x8000 : 0)) : 0);
  let len = 0;
  for (const o of opts) len += 4 + o.data.length;
  w.u16(len);
  for (const o of opts) {
    w.u16(o.code);
    w.u16(o.data.length);
    w.bytes(o.data);
  }
  return Buffer.from(w.result());
}
