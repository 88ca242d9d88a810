/**
 * What kube2sky's informer caches keep of each object: the fields of
 * ./types.ts, which are all that record generation reads, and what the cache
 * itself needs (name, namespace, resourceVersion). A full Pod or Service
 * carries much more (spec.containers, managedFields, the
 * last-applied-configuration annotation, ...), and with tens of thousands of
 * objects that is most of kube2sky's memory.
 *
 * Values are copied as they are: a field of the wrong type stays wrong, so
 * record generation reports it exactly as it would on the full object.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { HOSTNAMES_MAP_ANNOTATION } from './records.js';
import { SERVICE_NAME_LABEL } from './slices.js';

export type WatchedKind = 'services' | 'endpoints' | 'endpointslices' | 'pods';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The listed fields of o that are present (o itself when it is not an object). */
function pick(o: unknown, fields: readonly string[], inner: Record<string, (v: unknown) => unknown> = {}): unknown {
  if (!isObject(o)) return o;
  const out: Json = {};
  for (const f of fields) {
    if (!(f in o)) continue;
    const v = o[f];
    out[f] = inner[f] ? inner[f](v) : v;
  }
  return out;
}

/** Each element picked, when v is an array (v itself otherwise). */
const each =
  (fields: readonly string[], inner: Record<string, (v: unknown) => unknown> = {}) =>
  (v: unknown) =>
    Array.isArray(v) ? v.map((e) => pick(e, fields, inner)) : v;

const PORT = ['name', 'protocol', 'port'] as const;
const ADDRESS = ['ip', 'hostname'] as const;

function meta(o: unknown, withHostnamesMap: boolean): unknown {
  return pick(o, ['name', 'namespace', 'resourceVersion', 'uid', ...(withHostnamesMap ? ['annotations'] : [])], {
    annotations: (a) => {
      if (!isObject(a)) return a;
      return HOSTNAMES_MAP_ANNOTATION in a ? { [HOSTNAMES_MAP_ANNOTATION]: a[HOSTNAMES_MAP_ANNOTATION] } : {};
    },
  });
}

export function trimObject(kind: WatchedKind, o: KubernetesObject): KubernetesObject {
  if (!isObject(o)) return o;
  switch (kind) {
    case 'services':
      return pick(o, ['metadata', 'spec'], {
        metadata: (m) => meta(m, false),
        spec: (s) => pick(s, ['type', 'clusterIP', 'clusterIPs', 'externalName', 'ports', 'publishNotReadyAddresses'], { ports: each(PORT) }),
      }) as KubernetesObject;
    case 'endpoints':
      return pick(o, ['metadata', 'subsets'], {
        metadata: (m) => meta(m, true),
        subsets: each(['addresses', 'notReadyAddresses', 'ports'], { addresses: each(ADDRESS), notReadyAddresses: each(ADDRESS), ports: each(PORT) }),
      }) as KubernetesObject;
    case 'endpointslices':
      return pick(o, ['metadata', 'addressType', 'endpoints', 'ports'], {
        metadata: (m) =>
          pick(m, ['name', 'namespace', 'resourceVersion', 'uid', 'labels'], {
            labels: (l) => (isObject(l) ? (SERVICE_NAME_LABEL in l ? { [SERVICE_NAME_LABEL]: l[SERVICE_NAME_LABEL] } : {}) : l),
          }),
        endpoints: each(['addresses', 'conditions', 'hostname'], { conditions: (c) => pick(c, ['ready']) }),
        ports: each(PORT),
      }) as KubernetesObject;
    case 'pods':
      return pick(o, ['metadata', 'status'], {
        metadata: (m) => meta(m, false),
        status: (s) => pick(s, ['podIP', 'podIPs'], { podIPs: each(['ip']) }),
      }) as KubernetesObject;
  }
}
