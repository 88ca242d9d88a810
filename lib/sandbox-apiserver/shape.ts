/**
 * Type checks of the fields this server reads, with the decoding errors of the
 * real server (`json: cannot unmarshal string into Go struct field
 * ServicePort.spec.ports.port of type int32`). Null members are removed (Go
 * decodes them to zero values). Unknown fields pass through untouched.
 */
import { badRequest } from './errors.js';
import type { ResourceInfo } from './resources.js';
import { isPlainObject } from './types.js';

type Scalar = 'string' | 'int32' | 'int64' | 'bool' | 'intOrString' | 'object';
interface Struct {
  go: string;
  fields: Record<string, Shape>;
}
type Shape = Scalar | { map: 'string' } | { array: Shape } | Struct;

const strings: Shape = { array: 'string' };
const labels: Shape = { map: 'string' };

const META: Struct = {
  go: 'ObjectMeta',
  fields: {
    name: 'string',
    generateName: 'string',
    namespace: 'string',
    uid: 'string',
    resourceVersion: 'string',
    generation: 'int64',
    creationTimestamp: 'string',
    deletionTimestamp: 'string',
    labels,
    annotations: labels,
    finalizers: strings,
    ownerReferences: { array: 'object' },
  },
};

const CONTAINER: Struct = {
  go: 'Container',
  fields: {
    name: 'string',
    image: 'string',
    ports: { array: { go: 'ContainerPort', fields: { name: 'string', containerPort: 'int32', protocol: 'string', hostPort: 'int32', hostIP: 'string' } } },
  },
};

const ADDRESS: Struct = {
  go: 'EndpointAddress',
  fields: { ip: 'string', hostname: 'string', nodeName: 'string', targetRef: 'object' },
};

const SCHEMAS: Record<string, Struct> = {
  Service: {
    go: 'Service',
    fields: {
      metadata: META,
      spec: {
        go: 'ServiceSpec',
        fields: {
          type: 'string',
          clusterIP: 'string',
          clusterIPs: strings,
          ipFamilies: strings,
          ipFamilyPolicy: 'string',
          selector: labels,
          externalName: 'string',
          externalIPs: strings,
          publishNotReadyAddresses: 'bool',
          sessionAffinity: 'string',
          ports: {
            array: { go: 'ServicePort', fields: { name: 'string', protocol: 'string', appProtocol: 'string', port: 'int32', targetPort: 'intOrString', nodePort: 'int32' } },
          },
        },
      },
      status: 'object',
    },
  },
  Pod: {
    go: 'Pod',
    fields: {
      metadata: META,
      spec: {
        go: 'PodSpec',
        fields: {
          containers: { array: CONTAINER },
          initContainers: { array: CONTAINER },
          hostname: 'string',
          subdomain: 'string',
          nodeName: 'string',
          hostNetwork: 'bool',
          restartPolicy: 'string',
        },
      },
      status: {
        go: 'PodStatus',
        fields: {
          phase: 'string',
          podIP: 'string',
          hostIP: 'string',
          podIPs: { array: { go: 'PodIP', fields: { ip: 'string' } } },
          conditions: { array: { go: 'PodCondition', fields: { type: 'string', status: 'string' } } },
        },
      },
    },
  },
  Endpoints: {
    go: 'Endpoints',
    fields: {
      metadata: META,
      subsets: {
        array: {
          go: 'EndpointSubset',
          fields: {
            addresses: { array: ADDRESS },
            notReadyAddresses: { array: ADDRESS },
            ports: { array: { go: 'EndpointPort', fields: { name: 'string', port: 'int32', protocol: 'string', appProtocol: 'string' } } },
          },
        },
      },
    },
  },
  EndpointSlice: {
    go: 'EndpointSlice',
    fields: {
      metadata: META,
      addressType: 'string',
      endpoints: {
        array: {
          go: 'Endpoint',
          fields: {
            addresses: strings,
            conditions: { go: 'EndpointConditions', fields: { ready: 'bool', serving: 'bool', terminating: 'bool' } },
            hostname: 'string',
            nodeName: 'string',
            zone: 'string',
            targetRef: 'object',
          },
        },
      },
      ports: { array: { go: 'EndpointPort', fields: { name: 'string', protocol: 'string', appProtocol: 'string', port: 'int32' } } },
    },
  },
  Namespace: {
    go: 'Namespace',
    fields: { metadata: META, spec: { go: 'NamespaceSpec', fields: { finalizers: strings } }, status: 'object' },
  },
};

function jsonType(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? 'number' : `number ${v}`;
  if (typeof v === 'boolean') return 'bool';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'object') return 'object';
  return typeof v;
}

function goType(s: Shape): string {
  if (typeof s === 'string') {
    if (s === 'object') return 'map[string]interface {}';
    if (s === 'intOrString') return 'intstr.IntOrString';
    return s;
  }
  if ('map' in s) return 'map[string]string';
  if ('array' in s) return `[]${goType(s.array)}`;
  return `v1.${s.go}`;
}

class ShapeError extends Error {}

function check(v: unknown, s: Shape, struct: string, path: string): void {
  // struct: the Go struct holding this field; path: the JSON path from the root
  const fail = (): never => {
    throw new ShapeError(`json: cannot unmarshal ${jsonType(v)} into Go struct field ${struct}.${path} of type ${goType(s)}`);
  };
  if (typeof s === 'string') {
    switch (s) {
      case 'string':
        if (typeof v !== 'string') fail();
        return;
      case 'bool':
        if (typeof v !== 'boolean') fail();
        return;
      case 'int32':
      case 'int64':
        if (typeof v !== 'number' || !Number.isInteger(v)) fail();
        if (s === 'int32' && ((v as number) > 2147483647 || (v as number) < -2147483648)) fail();
        return;
      case 'intOrString':
        if (!(typeof v === 'string' || (typeof v === 'number' && Number.isInteger(v)))) fail();
        return;
      case 'object':
        if (!isPlainObject(v)) fail();
        return;
    }
  }
  if ('map' in s) {
    if (!isPlainObject(v)) fail();
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (x === null) delete (v as Record<string, unknown>)[k];
      else if (typeof x !== 'string') throw new ShapeError(`json: cannot unmarshal ${jsonType(x)} into Go struct field ${struct}.${path} of type string`);
    }
    return;
  }
  if ('array' in s) {
    if (!Array.isArray(v)) fail();
    for (const x of v as unknown[]) if (x !== null) check(x, s.array, struct, path);
    return;
  }
  if (!isPlainObject(v)) fail();
  const o = v as Record<string, unknown>;
  for (const [k, fs] of Object.entries(s.fields)) {
    if (!(k in o)) continue;
    if (o[k] === null) {
      delete o[k];
      continue;
    }
    check(o[k], fs, s.go, path ? `${path}.${k}` : k);
  }
}

/**
 * Checks (and normalises nulls in) a request body for `info`'s kind.
 * Throws a 400 BadRequest Status on a type mismatch.
 */
export function checkShape(info: ResourceInfo, body: unknown): void {
  const schema = SCHEMAS[info.kind];
  if (!isPlainObject(body)) throw badRequest(`${info.kind} in version "v1" cannot be handled as a ${info.kind}: json: cannot unmarshal ${jsonType(body)} into Go value of type v1.${info.kind}`);
  try {
    for (const [k, fs] of Object.entries(schema.fields)) {
      if (!(k in body)) continue;
      if (body[k] === null) {
        delete body[k];
        continue;
      }
      check(body[k], fs, schema.go, k);
    }
  } catch (err) {
    if (err instanceof ShapeError) throw badRequest(`${info.kind} in version "v1" cannot be handled as a ${info.kind}: ${err.message}`);
    throw err;
  }
}
