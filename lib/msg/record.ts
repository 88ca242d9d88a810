/**
 * The SkyDNS record ("msg.Service"): the JSON value stored at every etcd leaf.
 *
 * Decoding follows Go's encoding/json rules as SkyDNS applied them: keys match
 * field names case-insensitively, unknown keys are ignored, `null` leaves a
 * field at its zero value, and a value of the wrong JSON type is an error.
 * Encoding reproduces the exact bytes Go wrote (field order, omitempty rules,
 * the always-present `targetstrip`, Go's HTML-safe string escaping), because
 * kube2sky hashes those bytes into the leaf label.
 */

export interface SkyRecord {
  host: string;
  port: number;
  priority: number;
  weight: number;
  text: string;
  mail: boolean;
  ttl: number;
  targetstrip: number;
  group: string;
  /** The etcd key the value was read from; never part of the JSON. */
  key: string;
}

export class RecordDecodeError extends Error {
  constructor(readonly key: string, detail: string) {
    super(`bad record at ${key}: ${detail}`);
    this.name = 'RecordDecodeError';
  }
}

type FieldKind = 'string' | 'int' | 'uint32' | 'bool';
type FieldName = Exclude<keyof SkyRecord, 'key'>;

const FIELDS: ReadonlyArray<readonly [FieldName, FieldKind]> = [
  ['host', 'string'],
  ['port', 'int'],
  ['priority', 'int'],
  ['weight', 'int'],
  ['text', 'string'],
  ['mail', 'bool'],
  ['ttl', 'uint32'],
  ['targetstrip', 'int'],
  ['group', 'string'],
];
const FIELD_BY_LOWER = new Map<string, readonly [FieldName, FieldKind]>(FIELDS.map((f) => [f[0], f]));

const INT64_LIMIT = 2 ** 63;

function jsonTypeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v === 'object' ? 'object' : typeof v;
}

export function emptyRecord(key = ''): SkyRecord {
  return { host: '', port: 0, priority: 0, weight: 0, text: '', mail: false, ttl: 0, targetstrip: 0, group: '', key };
}

/** Decodes one etcd value; throws RecordDecodeError naming the key and the problem. */
export function decodeRecord(value: string, key: string): SkyRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (err) {
    throw new RecordDecodeError(key, `invalid JSON (${(err as Error).message})`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new RecordDecodeError(key, `value is a JSON ${jsonTypeName(parsed)}, want an object`);
  }
  const svc = emptyRecord(key);
  const obj = parsed as Record<string, unknown>;
  for (const rawName in obj) {
    const v = obj[rawName];
    // Most values spell the fields as kube2sky writes them: look that up before folding case.
    const field = FIELD_BY_LOWER.get(rawName) ?? FIELD_BY_LOWER.get(rawName.toLowerCase());
    if (!field || v === null) continue;
    const [name, kind] = field;
    switch (kind) {
      case 'string':
        if (typeof v !== 'string') throw new RecordDecodeError(key, `field "${rawName}" is a JSON ${jsonTypeName(v)}, want a string`);
        (svc[name] as string) = v;
        break;
      case 'bool':
        if (typeof v !== 'boolean') throw new RecordDecodeError(key, `field "${rawName}" is a JSON ${jsonTypeName(v)}, want a boolean`);
        (svc[name] as boolean) = v;
        break;
      case 'int':
      case 'uint32': {
        if (typeof v !== 'number') throw new RecordDecodeError(key, `field "${rawName}" is a JSON ${jsonTypeName(v)}, want a number`);
        if (!Number.isInteger(v)) throw new RecordDecodeError(key, `field "${rawName}" is ${v}, want an integer`);
        if (kind === 'uint32' && (v < 0 || v > 0xffffffff)) throw new RecordDecodeError(key, `field "${rawName}" is ${v}, out of range 0..4294967295`);
        if (kind === 'int' && Math.abs(v) >= INT64_LIMIT) throw new RecordDecodeError(key, `field "${rawName}" is ${v}, out of range`);
        (svc[name] as number) = v;
        break;
      }
    }
  }
  return svc;
}

/** Go encoding/json string escaping (HTML-safe, as json.Marshal does). */
export function goJsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c < 0x20 || c === 0x3c || c === 0x3e || c === 0x26 || c === 0x2028 || c === 0x2029) {
      out += '\\u' + c.toString(16).padStart(4, '0');
    } else if (c >= 0xd800 && c <= 0xdfff) {
      // A lone surrogate stands for bytes that are not valid UTF-8; for those Go
      // writes the six-character escape `\ufffd` (not the character U+FFFD).
      const next = s.charCodeAt(i + 1);
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        out += s[i] + s[i + 1];
        i++;
      } else out += '\\ufffd';
    } else out += s[i];
  }
  return out + '"';
}

export type SkyRecordFields = Partial<Omit<SkyRecord, 'key'>>;

/**
 * Encodes a record exactly as Go's json.Marshal encoded the legacy msg.Service:
 * fields in declaration order, zero values omitted, except `targetstrip`, which the
 * legacy struct tag (`json:"targetstrip",omitempty"`) made always present.
 */
export function encodeRecord(s: SkyRecordFields): string {
  const parts: string[] = [];
  if (s.host) parts.push(`"host":${goJsonString(s.host)}`);
  if (s.port) parts.push(`"port":${Math.trunc(s.port)}`);
  if (s.priority) parts.push(`"priority":${Math.trunc(s.priority)}`);
  if (s.weight) parts.push(`"weight":${Math.trunc(s.weight)}`);
  if (s.text) parts.push(`"text":${goJsonString(s.text)}`);
  if (s.mail) parts.push(`"mail":true`);
  if (s.ttl) parts.push(`"ttl":${Math.trunc(s.ttl)}`);
  parts.push(`"targetstrip":${Math.trunc(s.targetstrip ?? 0)}`);
  if (s.group) parts.push(`"group":${goJsonString(s.group)}`);
  return `{${parts.join(',')}}`;
}

/** 32-bit FNV-1a over the UTF-8 bytes of `s`. */
export function fnv1a32(s: string): number {
  const bytes = Buffer.from(s, 'utf8');
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i];
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** The leaf label kube2sky derives from a value: FNV-1a-32 as lower-case hex, no padding (Go `%x`). */
export function hashLabel(value: string): string {
  return fnv1a32(value).toString(16);
}
