/**
 * IPv4/IPv6 CIDR parsing and a sequential allocator over a range of integers
 * (used for cluster IPs, pod IPs and node ports).
 */
import net from 'node:net';

export type IpFamily = 4 | 6;

export interface ParsedIp {
  family: IpFamily;
  value: bigint;
}

/** Parses an IP address (no zone, no leading zeros); null if invalid. */
export function parseIp(s: string): ParsedIp | null {
  const fam = net.isIP(s);
  if (fam === 4) {
    const parts = s.split('.').map(Number);
    return { family: 4, value: BigInt(((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3]) };
  }
  if (fam === 6) {
    if (s.includes('%')) return null;
    let text = s;
    // an embedded IPv4 tail (::ffff:1.2.3.4)
    const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
    if (v4) {
      const p = parseIp(v4[1]);
      if (!p) return null;
      const hi = Number(p.value >> 16n).toString(16);
      const lo = Number(p.value & 0xffffn).toString(16);
      text = text.slice(0, text.length - v4[1].length) + `${hi}:${lo}`;
    }
    const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
    const h = head === '' ? [] : head.split(':');
    const t = tail === undefined || tail === '' ? [] : tail.split(':');
    const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
    if (groups.length !== 8) return null;
    let v = 0n;
    for (const g of groups) v = (v << 16n) | BigInt(parseInt(g, 16));
    return { family: 6, value: v };
  }
  return null;
}

/** Formats an address the way Go's net.IP.String() does (RFC 5952 for IPv6). */
export function formatIp(ip: ParsedIp): string {
  if (ip.family === 4) {
    const n = Number(ip.value);
    return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
  }
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((ip.value >> BigInt(i * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Canonical text of an IP string, or null if it is not an IP. */
export function canonicalIp(s: string): string | null {
  const p = parseIp(s);
  return p ? formatIp(p) : null;
}

export class Cidr {
  private constructor(
    readonly family: IpFamily,
    readonly base: bigint,
    readonly prefix: number,
  ) {}

  static parse(text: string): Cidr {
    const m = /^([^/]+)\/(\d{1,3})$/.exec(text.trim());
    const ip = m ? parseIp(m[1]) : null;
    if (!m || !ip) throw new Error(`invalid CIDR address: ${text}`);
    const prefix = Number(m[2]);
    const bits = ip.family === 4 ? 32 : 128;
    if (prefix > bits) throw new Error(`invalid CIDR address: ${text}`);
    const hostBits = BigInt(bits - prefix);
    const base = (ip.value >> hostBits) << hostBits;
    return new Cidr(ip.family, base, prefix);
  }

  get bits(): number {
    return this.family === 4 ? 32 : 128;
  }

  /** Number of addresses in the block. */
  get size(): bigint {
    return 1n << BigInt(this.bits - this.prefix);
  }

  contains(ip: ParsedIp): boolean {
    return ip.family === this.family && ip.value >= this.base && ip.value < this.base + this.size;
  }

  /** The n-th address of the block (0 = network address). */
  nth(n: bigint): ParsedIp {
    return { family: this.family, value: this.base + n };
  }

  toString(): string {
    return `${formatIp({ family: this.family, value: this.base })}/${this.prefix}`;
  }
}

/**
 * Hands out integers in [first, last], lowest free one after the previous
 * allocation first (so a released value is not immediately reused), skipping
 * `reserved` values unless they are asked for explicitly.
 */
export class RangeAllocator {
  private readonly used = new Set<bigint>();
  private next: bigint;

  constructor(
    readonly first: bigint,
    readonly last: bigint,
    private readonly reserved: ReadonlySet<bigint> = new Set(),
  ) {
    this.next = first;
  }

  get allocatedCount(): number {
    return this.used.size;
  }

  inRange(v: bigint): boolean {
    return v >= this.first && v <= this.last;
  }

  isAllocated(v: bigint): boolean {
    return this.used.has(v);
  }

  /** Allocates the next free value, or null when the range is full. */
  allocateNext(): bigint | null {
    const span = this.last - this.first + 1n;
    if (span <= 0n) return null;
    // bounded scan: at most used + reserved + 1 steps before a free slot, or a full wrap
    const limit = span < BigInt(this.used.size + this.reserved.size + 1) ? span : BigInt(this.used.size + this.reserved.size + 1);
    let v = this.next;
    for (let i = 0n; i < limit; i++) {
      if (v > this.last) v = this.first;
      if (!this.used.has(v) && !this.reserved.has(v)) {
        this.used.add(v);
        this.next = v + 1n;
        return v;
      }
      v++;
    }
    return null;
  }

  /** Marks a specific value used; false if it is out of range or taken. */
  allocate(v: bigint): 'ok' | 'taken' | 'out-of-range' {
    if (!this.inRange(v)) return 'out-of-range';
    if (this.used.has(v)) return 'taken';
    this.used.add(v);
    return 'ok';
  }

  release(v: bigint): void {
    this.used.delete(v);
  }
}

/**
 * IP allocator over a CIDR: the network address (and, for IPv4, the
 * broadcast address) are never handed out; `reserveFirst` keeps .1 for
 * explicit requests only (the `kubernetes` service).
 */
export class IpAllocator {
  private readonly range: RangeAllocator;

  constructor(
    readonly cidr: Cidr,
    opts: { reserveFirst?: boolean } = {},
  ) {
    const size = cidr.size;
    let first = cidr.base + 1n;
    let last = cidr.family === 4 ? cidr.base + size - 2n : cidr.base + size - 1n;
    if (size <= 2n) {
      first = cidr.base;
      last = cidr.base + size - 1n;
    }
    const reserved = new Set<bigint>();
    if (opts.reserveFirst && last > first) reserved.add(cidr.base + 1n);
    this.range = new RangeAllocator(first, last, reserved);
  }

  get family(): IpFamily {
    return this.cidr.family;
  }

  get allocatedCount(): number {
    return this.range.allocatedCount;
  }

  allocateNext(): string | null {
    const v = this.range.allocateNext();
    return v === null ? null : formatIp({ family: this.cidr.family, value: v });
  }

  /** 'invalid' if not an IP of this family; 'out-of-range' if outside the usable range. */
  allocate(ip: string): 'ok' | 'taken' | 'out-of-range' | 'invalid' {
    const p = parseIp(ip);
    if (!p || p.family !== this.cidr.family) return 'invalid';
    return this.range.allocate(p.value);
  }

  isAllocated(ip: string): boolean {
    const p = parseIp(ip);
    return p !== null && p.family === this.cidr.family && this.range.isAllocated(p.value);
  }

  release(ip: string): void {
    const p = parseIp(ip);
    if (p && p.family === this.cidr.family) this.range.release(p.value);
  }
}
