/**
 * Objects from YAML/JSON files: multi-document YAML, `kind: List` and typed
 * lists (`ServiceList`, …). Loading creates missing namespaces.
 */
import fs from 'node:fs';
import { loadAll } from 'js-yaml';
import { ApiError } from './errors.js';
import { resourceForKind } from './resources.js';
import type { Store } from './store.js';
import { isPlainObject } from './types.js';

export interface LoadedObject {
  /** Where it came from, for error messages ("file.yaml: document 2"). */
  source: string;
  object: Record<string, unknown>;
}

function flatten(doc: unknown, source: string, out: LoadedObject[]): void {
  if (doc === null || doc === undefined) return;
  if (!isPlainObject(doc)) throw new Error(`${source}: not an object`);
  const kind = typeof doc.kind === 'string' ? doc.kind : '';
  if (kind === 'List' || (kind.endsWith('List') && Array.isArray(doc.items))) {
    const items = Array.isArray(doc.items) ? doc.items : [];
    const itemKind = kind === 'List' ? undefined : kind.slice(0, -'List'.length);
    items.forEach((item, i) => {
      if (itemKind && isPlainObject(item) && item.kind === undefined) item.kind = itemKind;
      flatten(item, `${source} item ${i}`, out);
    });
    return;
  }
  out.push({ source, object: doc });
}

/** Parses YAML (one or more documents) into objects. */
export function parseObjects(text: string, source: string): LoadedObject[] {
  const out: LoadedObject[] = [];
  let docs: unknown[];
  try {
    docs = loadAll(text);
  } catch (err) {
    throw new Error(`${source}: ${(err as Error).message}`);
  }
  docs.forEach((d, i) => flatten(d, docs.length > 1 ? `${source}: document ${i + 1}` : source, out));
  return out;
}

export function readObjectFile(file: string): LoadedObject[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`read ${file}: ${(err as NodeJS.ErrnoException).message}`);
  }
  return parseObjects(text, file);
}

const ORDER: Record<string, number> = { Namespace: 0, Service: 1, Endpoints: 2, EndpointSlice: 3, Pod: 4 };

/**
 * Creates the objects in the store: namespaces first, then services,
 * endpoints and pods. A missing namespace is created. Throws on the first
 * object the server rejects, naming it.
 */
export function loadObjects(store: Store, objects: readonly LoadedObject[]): number {
  const sorted = [...objects].sort((a, b) => (ORDER[String(a.object.kind)] ?? 9) - (ORDER[String(b.object.kind)] ?? 9));
  let n = 0;
  for (const { source, object } of sorted) {
    const kind = typeof object.kind === 'string' ? object.kind : '';
    const info = resourceForKind(kind);
    if (!info) throw new Error(`${source}: kind ${JSON.stringify(kind)} is not served by the sandbox API server (Service, Endpoints, EndpointSlice, Pod, Namespace)`);
    const meta = isPlainObject(object.metadata) ? object.metadata : {};
    const ns = info.namespaced ? (typeof meta.namespace === 'string' && meta.namespace ? meta.namespace : 'default') : undefined;
    try {
      if (ns !== undefined && !store.tryGet('namespaces', undefined, ns)) {
        store.create('namespaces', undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
      }
      store.create(info.name, ns, object);
      n++;
    } catch (err) {
      const msg = err instanceof ApiError ? err.message : (err as Error).message;
      throw new Error(`${source}: ${msg}`);
    }
  }
  return n;
}
