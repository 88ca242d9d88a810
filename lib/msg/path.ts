/**
 * Name ↔ etcd key mapping of SkyDNS: labels reversed under `/<prefix>/`.
 * `service.staging.skydns.local.` ↔ `/skydns/local/skydns/staging/service`.
 */

/** Splits a presentation-format name into labels, honouring `\.` escapes. The root yields []. */
export function splitName(name: string): string[] {
  const labels: string[] = [];
  let cur = '';
  for (let i = 0; i < name.length; i++) {
    const c = name[i];
    if (c === '\\' && i + 1 < name.length) {
      cur += c + name[i + 1];
      i++;
    } else if (c === '.') {
      if (cur !== '') labels.push(cur);
      cur = '';
    } else cur += c;
  }
  if (cur !== '') labels.push(cur);
  return labels;
}

/** Makes a name fully qualified (one trailing dot). */
export function fqdn(name: string): string {
  if (name === '' || name === '.') return '.';
  return isFqdn(name) ? name : name + '.';
}

/** True if the name ends in an unescaped dot (`a\\.` is qualified, `a\.` is not). */
function isFqdn(name: string): boolean {
  if (!name.endsWith('.')) return false;
  let backslashes = 0;
  for (let i = name.length - 2; i >= 0 && name[i] === '\\'; i--) backslashes++;
  return backslashes % 2 === 0;
}

/** True if `name` equals `zone` or lies below it. Both lower-case FQDNs. */
export function inZone(name: string, zone: string): boolean {
  if (zone === '.') return true;
  // name ends with '.' + zone, without making that string (every query asks this).
  const at = name.length - zone.length - 1;
  return name === zone || (at >= 0 && name.charCodeAt(at) === 0x2e && name.endsWith(zone));
}

export function labelCount(name: string): number {
  return splitName(name).length;
}

/** Name → etcd key: `/<prefix>/<labels reversed>`; the root maps to `/<prefix>`. */
export function nameToKey(name: string, prefix = 'skydns'): string {
  const labels = splitName(name);
  if (labels.length === 0) return `/${prefix}`;
  return `/${prefix}/${labels.reverse().join('/')}`;
}

/** Name → key segments (below the prefix), in key order. Names without escapes are cut with lastIndexOf, without splitName's character loop (the query path). */
export function nameToSegments(name: string): string[] {
  if (name.indexOf('\\') !== -1) return splitName(name).reverse();
  let end = name.length;
  if (end > 0 && name.charCodeAt(end - 1) === 0x2e) end--;
  // The labels are counted first and the array made at their number: every question name is
  // cut here, and an empty array pushed to is given room for 17.
  let n = 0;
  for (let i = 0, start = 0; i <= end; i++) {
    if (i < end && name.charCodeAt(i) !== 0x2e) continue;
    if (i > start) n++;
    start = i + 1;
  }
  const out = new Array<string>(n);
  let k = 0;
  let i = end;
  while (i > 0) {
    const dot = name.lastIndexOf('.', i - 1);
    if (dot + 1 < i) out[k++] = name.slice(dot + 1, i);
    i = dot;
  }
  return out;
}

/**
 * etcd key → DNS name (used to synthesise SRV/MX/NS targets): drop the leading
 * empty element and the prefix element, reverse the rest, join with dots.
 */
export function keyToName(key: string): string {
  const segs = key.split('/');
  // segs[0] is '' (leading slash), segs[1] the prefix
  const labels = segs.slice(2).filter((s) => s !== '');
  if (labels.length === 0) return '.';
  return labels.reverse().join('.') + '.';
}

/**
 * The reverse-zone name of an IPv4 or IPv6 address (`4.3.2.1.in-addr.arpa.`, nibble `ip6.arpa.`).
 * An IPv4-mapped IPv6 address gets the in-addr.arpa name, as Go's dns.ReverseAddr gives it.
 */
export function reverseName(ip: string): string | null {
  const parsed = parseIP(ip);
  if (!parsed) return null;
  const b = parsed.bytes;
  if (parsed.family === 4) return `${b[3]}.${b[2]}.${b[1]}.${b[0]}.in-addr.arpa.`;
  const nibbles: string[] = [];
  for (let i = 15; i >= 0; i--) {
    nibbles.push((b[i] & 0x0f).toString(16), (b[i] >> 4).toString(16));
  }
  return nibbles.join('.') + '.ip6.arpa.';
}

/**
 * A dotted-quad IPv4 literal, strictly: four parts of 1–3 digits, no leading
 * zero but "0", each at most 255. Its bytes as ipOctets gives them (one
 * character each), or null. No allocation but the result: the record tree
 * parses every host it ingests with it.
 */
function dottedQuad(s: string): string | null {
  const n = s.length;
  if (n < 7 || n > 15) return null;
  let a = 0;
  let b = 0;
  let c = 0;
  let d = 0;
  let part = 0;
  let v = 0;
  let digits = 0;
  for (let i = 0; i <= n; i++) {
    const ch = i < n ? s.charCodeAt(i) : 0x2e;
    if (ch === 0x2e) {
      if (digits === 0 || v > 255 || part > 3) return null;
      if (part === 0) a = v;
      else if (part === 1) b = v;
      else if (part === 2) c = v;
      else d = v;
      part++;
      v = 0;
      digits = 0;
    } else if (ch >= 0x30 && ch <= 0x39) {
      if (digits === 1 && v === 0) return null;
      if (++digits > 3) return null;
      v = v * 10 + (ch - 0x30);
    } else return null;
  }
  return part === 4 ? String.fromCharCode(a, b, c, d) : null;
}

/** Parses a dotted-quad IPv4 literal strictly (dottedQuad's rules) into 4 bytes. */
export function parseIPv4(s: string): Uint8Array | null {
  const q = dottedQuad(s);
  return q === null ? null : Uint8Array.of(q.charCodeAt(0), q.charCodeAt(1), q.charCodeAt(2), q.charCodeAt(3));
}

/** Parses an IPv6 literal (with `::` and an optional dotted IPv4 tail) into 16 bytes. */
export function parseIPv6(s: string): Uint8Array | null {
  if (s.length < 2 || s.length > 45 || !s.includes(':')) return null;
  if (s.includes('%')) return null;
  const dbl = s.indexOf('::');
  if (dbl !== -1 && s.indexOf('::', dbl + 1) !== -1) return null;
  // `allowV4`: only the part that ends the address may end in a dotted IPv4 tail.
  const parseGroups = (part: string, allowV4: boolean): number[] | null => {
    if (part === '') return [];
    const groups = part.split(':');
    const out: number[] = [];
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i];
      if (allowV4 && i === groups.length - 1 && g.includes('.')) {
        const v4 = parseIPv4(g);
        if (!v4) return null;
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
        out.push(parseInt(g, 16));
      }
    }
    return out;
  };
  let groups: number[];
  if (dbl === -1) {
    const g = parseGroups(s, true);
    if (!g || g.length !== 8) return null;
    groups = g;
  } else {
    const head = parseGroups(s.slice(0, dbl), false);
    const tail = parseGroups(s.slice(dbl + 2), true);
    if (!head || !tail || head.length + tail.length > 7) return null;
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  }
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[i * 2] = groups[i] >> 8;
    out[i * 2 + 1] = groups[i] & 0xff;
  }
  return out;
}

export type IPFamily = 4 | 6;

/**
 * Classifies a record host the way Go's net.ParseIP did for SkyDNS: an IPv4
 * literal (or IPv4-mapped IPv6) is family 4, other IPv6 literals family 6,
 * anything else is a name (null). Returns the address bytes (4 or 16).
 */
export function parseIP(s: string): { family: IPFamily; bytes: Uint8Array } | null {
  const v4 = parseIPv4(s);
  if (v4) return { family: 4, bytes: v4 };
  const v6 = parseIPv6(s);
  if (!v6) return null;
  let mapped = v6[10] === 0xff && v6[11] === 0xff;
  for (let i = 0; i < 10 && mapped; i++) if (v6[i] !== 0) mapped = false;
  if (mapped) return { family: 4, bytes: v6.slice(12) };
  return { family: 6, bytes: v6 };
}

/**
 * The bytes of an IP literal (parseIP's rules) as a string of 4 or 16
 * characters, one per byte (code points 0–255, Node's 'latin1'); null for
 * anything else. The form the record tree and A/AAAA record data keep
 * addresses in: a short string costs a fraction of a Uint8Array on the heap.
 */
export function ipOctets(s: string): string | null {
  const v4 = dottedQuad(s);
  if (v4 !== null) return v4;
  const p = parseIP(s);
  if (!p) return null;
  // One call makes one flat string (appending char by char would leave a chain of cons strings at 16).
  return String.fromCharCode(...p.bytes);
}

/** The presentation form of an address held as ipOctets gives it (dotted quad, or RFC 5952 IPv6). */
export function octetsText(octets: string): string {
  if (octets.length === 4) return `${octets.charCodeAt(0)}.${octets.charCodeAt(1)}.${octets.charCodeAt(2)}.${octets.charCodeAt(3)}`;
  return formatIPv6(Buffer.from(octets, 'latin1'));
}

/** RFC 5952 text of 16 address bytes. */
export function formatIPv6(b: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i] << 8) | b[i + 1]).toString(16));
  // The longest run of two or more zero groups, the first of equal runs (RFC 5952 §4.2).
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/** Parses a reverse-zone name (`d.c.b.a.in-addr.arpa.` or 32 nibbles `.ip6.arpa.`) back into an address string. */
export function addressFromReverse(name: string): string | null {
  const n = name.toLowerCase();
  if (n.endsWith('.in-addr.arpa.')) {
    const labels = splitName(n.slice(0, -'.in-addr.arpa.'.length));
    if (labels.length !== 4) return null;
    const ip = labels.reverse().join('.');
    return parseIPv4(ip) ? ip : null;
  }
  if (n.endsWith('.ip6.arpa.')) {
    const labels = splitName(n.slice(0, -'.ip6.arpa.'.length));
    if (labels.length !== 32 || !labels.every((l) => /^[0-9a-f]$/.test(l))) return null;
    const hex = labels.reverse().join('');
    const groups: string[] = [];
    for (let i = 0; i < 32; i += 4) groups.push(hex.slice(i, i + 4));
    return groups.join(':');
  }
  return null;
}
