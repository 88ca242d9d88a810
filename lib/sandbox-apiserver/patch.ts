/**
 * PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and the
 * strategic merge patch kubectl sends for built-in types (lists with a merge
 * key are merged element by element; `$patch`, `$retainKeys`,
 * `$setElementOrder/…` and `$deleteFromPrimitiveList/…` directives).
 */
import { isPlainObject } from './types.js';
import type { ResourceName } from './resources.js';
import { deepEqual } from './json.js';

export type PatchType = 'merge' | 'strategic' | 'json';

export const PATCH_CONTENT_TYPES: Record<string, PatchType> = {
  'application/merge-patch+json': 'merge',
  'application/strategic-merge-patch+json': 'strategic',
  'application/json-patch+json': 'json',
};

export class PatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PatchError';
  }
}

/** RFC 7386. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return patch;
  const out: Record<string, unknown> = isPlainObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

// ---------------------------------------------------------------------------
// RFC 6902
// ---------------------------------------------------------------------------

function unescapePointer(p: string): string[] {
  if (p === '') return [];
  if (!p.startsWith('/')) throw new PatchError(`invalid JSON pointer "${p}"`);
  return p
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function getAt(doc: unknown, path: string[]): unknown {
  let cur = doc;
  for (const seg of path) {
    if (Array.isArray(cur)) cur = cur[Number(seg)];
    else if (isPlainObject(cur)) cur = cur[seg];
    else return undefined;
  }
  return cur;
}

function containerOf(doc: unknown, path: string[], pointer: string): Record<string, unknown> | unknown[] {
  const parent = getAt(doc, path.slice(0, -1));
  if (!Array.isArray(parent) && !isPlainObject(parent)) throw new PatchError(`missing path: "${pointer}"`);
  return parent;
}

function arrayIndex(arr: unknown[], seg: string, pointer: string, forAdd: boolean): number {
  if (forAdd && seg === '-') return arr.length;
  if (!/^(0|[1-9]\d*)$/.test(seg)) throw new PatchError(`invalid array index "${seg}" in "${pointer}"`);
  const i = Number(seg);
  if (i > arr.length || (!forAdd && i === arr.length)) throw new PatchError(`array index out of bounds in "${pointer}"`);
  return i;
}

function addAt(doc: unknown, pointer: string, value: unknown): unknown {
  const path = unescapePointer(pointer);
  if (path.length === 0) return value;
  const parent = containerOf(doc, path, pointer);
  const last = path[path.length - 1];
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, last, pointer, true), 0, value);
  else parent[last] = value;
  return doc;
}

function removeAt(doc: unknown, pointer: string): unknown {
  const path = unescapePointer(pointer);
  if (path.length === 0) throw new PatchError('cannot remove the whole document');
  const parent = containerOf(doc, path, pointer);
  const last = path[path.length - 1];
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, last, pointer, false), 1);
  else {
    if (!Object.prototype.hasOwnProperty.call(parent, last)) throw new PatchError(`unable to remove nonexistent key: ${last}: missing value`);
    delete parent[last];
  }
  return doc;
}

export function jsonPatch(docIn: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw new PatchError('json patch must be an array of operations');
  let doc: unknown = structuredClone(docIn);
  for (const raw of ops) {
    if (!isPlainObject(raw) || typeof raw.op !== 'string' || typeof raw.path !== 'string') throw new PatchError('invalid json patch operation');
    const { op, path } = raw as { op: string; path: string };
    switch (op) {
      case 'add':
        doc = addAt(doc, path, structuredClone(raw.value));
        break;
      case 'remove':
        doc = removeAt(doc, path);
        break;
      case 'replace':
        if (getAt(doc, unescapePointer(path)) === undefined) throw new PatchError(`replace operation does not apply: doc is missing key: ${path}: missing value`);
        doc = removeAt(doc, path);
        doc = addAt(doc, path, structuredClone(raw.value));
        break;
      case 'move':
      case 'copy': {
        if (typeof raw.from !== 'string') throw new PatchError(`${op} operation requires "from"`);
        const v = getAt(doc, unescapePointer(raw.from));
        if (v === undefined) throw new PatchError(`${op} operation does not apply: doc is missing from path: ${raw.from}: missing value`);
        if (op === 'move') doc = removeAt(doc, raw.from);
        doc = addAt(doc, path, structuredClone(v));
        break;
      }
      case 'test':
        if (!deepEqual(getAt(doc, unescapePointer(path)), raw.value)) throw new PatchError(`testing value ${path} failed: test failed`);
        break;
      default:
        throw new PatchError(`Unexpected kind: ${op}`);
    }
  }
  return doc;
}

// ---------------------------------------------------------------------------
// strategic merge patch
// ---------------------------------------------------------------------------

/** patchMergeKey of the lists with patchStrategy "merge" (path with [] for list elements). */
const MERGE_KEYS: Record<string, string> = {
  'metadata.ownerReferences': 'uid',
  'spec.ports': 'port', // services
  'spec.containers': 'name',
  'spec.initContainers': 'name',
  'spec.ephemeralContainers': 'name',
  'spec.containers[].ports': 'containerPort',
  'spec.initContainers[].ports': 'containerPort',
  'spec.containers[].env': 'name',
  'spec.initContainers[].env': 'name',
  'spec.containers[].volumeMounts': 'mountPath',
  'spec.initContainers[].volumeMounts': 'mountPath',
  'spec.volumes': 'name',
  'spec.imagePullSecrets': 'name',
  'spec.hostAliases': 'ip',
  'status.conditions': 'type',
  'status.podIPs': 'ip',
  'status.hostIPs': 'ip',
};

/** Lists of scalars merged as sets. */
const PRIMITIVE_MERGE = new Set(['metadata.finalizers']);

function mergeKeyOf(resource: ResourceName, path: string): string | undefined {
  if (path === 'spec.ports' && resource !== 'services') return undefined;
  return MERGE_KEYS[path];
}

function orderBy(list: unknown[], order: unknown[], key: string | undefined): unknown[] {
  const pos = (item: unknown): number => {
    const idx = order.findIndex((o) => (key && isPlainObject(o) && isPlainObject(item) ? deepEqual(o[key], item[key]) : deepEqual(o, item)));
    return idx < 0 ? Number.MAX_SAFE_INTEGER : idx;
  };
  return list
    .map((item, i) => ({ item, i, p: pos(item) }))
    .sort((a, b) => a.p - b.p || a.i - b.i)
    .map((x) => x.item);
}

function mergeList(resource: ResourceName, path: string, original: unknown, patch: unknown[], deletions: unknown[] | undefined): unknown[] {
  const key = mergeKeyOf(resource, path);
  const base = Array.isArray(original) ? original : [];
  if (PRIMITIVE_MERGE.has(path)) {
    const out = [...base];
    for (const v of patch) if (!out.some((x) => deepEqual(x, v))) out.push(v);
    return deletions ? out.filter((v) => !deletions.some((d) => deepEqual(d, v))) : out;
  }
  if (!key) {
    if (deletions) return base.filter((v) => !deletions.some((d) => deepEqual(d, v)));
    return patch.map((p) => (isPlainObject(p) ? strategicMerge(resource, path + '[]', undefined, p) : p));
  }
  if (patch.some((p) => isPlainObject(p) && p.$patch === 'replace')) {
    return patch.filter((p) => !(isPlainObject(p) && p.$patch === 'replace'));
  }
  const out = [...base];
  for (const p of patch) {
    if (!isPlainObject(p)) continue;
    const idx = out.findIndex((o) => isPlainObject(o) && deepEqual(o[key], p[key]));
    if (p.$patch === 'delete') {
      if (idx >= 0) out.splice(idx, 1);
      continue;
    }
    if (idx >= 0) out[idx] = strategicMerge(resource, path + '[]', out[idx], p);
    else out.push(strategicMerge(resource, path + '[]', undefined, p));
  }
  return out;
}

/** Applies a strategic merge patch to `original` (which is not modified). */
export function strategicMerge(resource: ResourceName, path: string, original: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return patch;
  if (patch.$patch === 'delete') return undefined;
  const replace = patch.$patch === 'replace';
  const out: Record<string, unknown> = !replace && isPlainObject(original) ? { ...original } : {};
  const orders = new Map<string, unknown[]>();
  const deletions = new Map<string, unknown[]>();
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$setElementOrder/') && Array.isArray(v)) orders.set(k.slice('$setElementOrder/'.length), v);
    if (k.startsWith('$deleteFromPrimitiveList/') && Array.isArray(v)) deletions.set(k.slice('$deleteFromPrimitiveList/'.length), v);
  }
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$')) continue;
    const childPath = path ? `${path}.${k}` : k;
    if (v === null) {
      delete out[k];
    } else if (Array.isArray(v)) {
      out[k] = mergeList(resource, childPath, out[k], v, deletions.get(k));
    } else if (isPlainObject(v)) {
      const merged = strategicMerge(resource, childPath, out[k], v);
      if (merged === undefined) delete out[k];
      else out[k] = merged;
    } else {
      out[k] = v;
    }
  }
  for (const [k, del] of deletions) {
    if (Object.prototype.hasOwnProperty.call(patch, k)) continue;
    if (Array.isArray(out[k])) out[k] = (out[k] as unknown[]).filter((v) => !del.some((d) => deepEqual(d, v)));
  }
  for (const [k, order] of orders) {
    if (Array.isArray(out[k])) out[k] = orderBy(out[k] as unknown[], order, mergeKeyOf(resource, path ? `${path}.${k}` : k));
  }
  if (Array.isArray(patch.$retainKeys)) {
    const keep = new Set(patch.$retainKeys.filter((x): x is string => typeof x === 'string'));
    for (const k of Object.keys(out)) if (!keep.has(k)) delete out[k];
  }
  return out;
}

export function applyPatch(resource: ResourceName, type: PatchType, original: unknown, patch: unknown): unknown {
  switch (type) {
    case 'merge':
      return mergePatch(original, patch);
    case 'strategic':
      return strategicMerge(resource, '', original, patch);
    case 'json':
      return jsonPatch(original, patch);
  }
}
