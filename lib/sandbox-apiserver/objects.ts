/**
 * From request bodies to stored objects: decoding checks, unknown fields, the
 * key order of the real server's JSON, and small per-kind defaults.
 */
import { badRequest } from './errors.js';
import { clone } from './json.js';
import type { ResourceInfo } from './resources.js';
import { checkShape } from './shape.js';
import { type Endpoints, type KubeObject, type ObjectMeta, isPlainObject } from './types.js';

export interface DecodeOptions {
  fieldValidation?: 'Strict' | 'Warn' | 'Ignore';
  warnings?: string[];
}

const META_FIELDS = new Set([
  'name', 'generateName', 'namespace', 'selfLink', 'uid', 'resourceVersion', 'generation', 'creationTimestamp',
  'deletionTimestamp', 'deletionGracePeriodSeconds', 'labels', 'annotations', 'ownerReferences', 'finalizers', 'managedFields',
]);
const META_ORDER = [
  'name', 'generateName', 'namespace', 'uid', 'resourceVersion', 'generation', 'creationTimestamp',
  'deletionTimestamp', 'deletionGracePeriodSeconds', 'labels', 'annotations', 'ownerReferences', 'finalizers',
];
const TOP_ORDER = ['kind', 'apiVersion', 'metadata', 'addressType', 'endpoints', 'ports', 'spec', 'subsets', 'status'];
/** Rebuilds an object with its keys in the order the real server writes them. */
export function canonical(obj: KubeObject): KubeObject {
  const meta: ObjectMeta = {};
  for (const k of META_ORDER) if (obj.metadata[k] !== undefined) meta[k] = obj.metadata[k];
  for (const [k, v] of Object.entries(obj.metadata)) if (!(k in meta) && v !== undefined) meta[k] = v;
  const out: Record<string, unknown> = {};
  for (const k of TOP_ORDER) {
    const v = k === 'metadata' ? meta : obj[k];
    if (v !== undefined) out[k] = v;
  }
  for (const [k, v] of Object.entries(obj)) if (!(k in out) && v !== undefined) out[k] = v;
  return out as KubeObject;
}

/** Endpoint ports default to TCP; empty subsets are dropped (omitempty). */
export function defaultEndpoints(ep: Endpoints): void {
  if (!ep.subsets) return;
  ep.subsets = ep.subsets.map((s) => (s.ports ? { ...s, ports: s.ports.map((p) => ({ ...p, protocol: p.protocol || 'TCP' })) } : s));
  if (ep.subsets.length === 0) delete ep.subsets;
}

/** RFC 3339 in seconds, as metav1.Time. */
export function timestamp(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Namespace defaults: the name label, the kubernetes finalizer, phase Active (or the old status). */
export function defaultNamespace(obj: KubeObject, old?: KubeObject): void {
  const name = obj.metadata.name ?? '';
  if (name) obj.metadata.labels = { ...(obj.metadata.labels ?? {}), 'kubernetes.io/metadata.name': name };
  obj.spec = isPlainObject(obj.spec) ? obj.spec : {};
  const spec = obj.spec as Record<string, unknown>;
  spec.finalizers ??= ['kubernetes'];
  obj.status = old?.status ?? { phase: 'Active' };
}

/**
 * Parses and checks a request body for `info`'s kind; returns a mutable copy
 * without unknown fields (rejected with fieldValidation=Strict, reported with Warn).
 */
export function decodeObject(info: ResourceInfo, body: unknown, opts: DecodeOptions): KubeObject {
  if (!isPlainObject(body)) throw badRequest(`${info.kind} in version "v1" cannot be handled as a ${info.kind}: the body must be a JSON object`);
  const obj = clone(body) as KubeObject;
  if (obj.apiVersion !== undefined && obj.apiVersion !== info.apiVersion) {
    throw badRequest(`the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${info.apiVersion})`);
  }
  if (obj.kind !== undefined && obj.kind !== info.kind) {
    throw badRequest(`${info.kind} in version "v1" cannot be handled as a ${info.kind}: the object kind "${String(obj.kind)}" does not match ${info.kind}`);
  }
  if (obj.metadata === undefined || obj.metadata === null) obj.metadata = {};
  checkShape(info, obj);
  const unknown: string[] = [];
  for (const k of Object.keys(obj)) if (!['apiVersion', 'kind', 'metadata', ...info.fields].includes(k)) unknown.push(k);
  for (const k of Object.keys(obj.metadata)) if (!META_FIELDS.has(k)) unknown.push(`metadata.${k}`);
  if (unknown.length > 0 && opts.fieldValidation === 'Strict') {
    throw badRequest(`${info.kind} in version "v1" cannot be handled as a ${info.kind}: strict decoding error: ${unknown.map((u) => `unknown field "${u}"`).join(', ')}`);
  }
  if (unknown.length > 0 && opts.fieldValidation === 'Warn') opts.warnings?.push(...unknown.map((u) => `unknown field "${u}"`));
  for (const u of unknown) {
    if (u.startsWith('metadata.')) delete obj.metadata[u.slice('metadata.'.length)];
    else delete obj[u];
  }
  delete obj.metadata.managedFields;
  delete obj.metadata.selfLink;
  obj.kind = info.kind;
  obj.apiVersion = info.apiVersion;
  return obj;
}
