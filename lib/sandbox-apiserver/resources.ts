/** The resources this server serves (core/v1 and discovery.k8s.io/v1), with what discovery says about them. */

export type ResourceName = 'services' | 'endpoints' | 'pods' | 'namespaces' | 'endpointslices';

export interface ResourceInfo {
  name: ResourceName;
  /** API group ('' for core). */
  group: '' | 'discovery.k8s.io';
  /** apiVersion of its objects: `v1` or `<group>/v1`. */
  apiVersion: string;
  singularName: string;
  kind: string;
  listKind: string;
  namespaced: boolean;
  shortNames: string[];
  verbs: string[];
  categories?: string[];
  /** PUT of a missing object creates it (endpoints). */
  createOnUpdate: boolean;
  /** DELETE answers with the deleted object (else a Success Status). */
  deleteReturnsObject: boolean;
  /** Has a /status subresource. */
  hasStatus: boolean;
  /** Top-level fields besides apiVersion, kind, metadata. */
  fields: readonly string[];
  /** Field selector labels besides metadata.name and metadata.namespace. */
  fieldLabels: readonly string[];
}

const NAMESPACED_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

export const RESOURCES: Record<ResourceName, ResourceInfo> = {
  services: {
    name: 'services',
    group: '',
    apiVersion: 'v1',
    singularName: 'service',
    kind: 'Service',
    listKind: 'ServiceList',
    namespaced: true,
    shortNames: ['svc'],
    verbs: NAMESPACED_VERBS,
    categories: ['all'],
    createOnUpdate: false,
    deleteReturnsObject: true,
    hasStatus: true,
    fields: ['spec', 'status'],
    fieldLabels: ['spec.clusterIP', 'spec.type'],
  },
  endpoints: {
    name: 'endpoints',
    group: '',
    apiVersion: 'v1',
    singularName: 'endpoints',
    kind: 'Endpoints',
    listKind: 'EndpointsList',
    namespaced: true,
    shortNames: ['ep'],
    verbs: NAMESPACED_VERBS,
    createOnUpdate: true,
    deleteReturnsObject: false,
    hasStatus: false,
    fields: ['subsets'],
    fieldLabels: [],
  },
  pods: {
    name: 'pods',
    group: '',
    apiVersion: 'v1',
    singularName: 'pod',
    kind: 'Pod',
    listKind: 'PodList',
    namespaced: true,
    shortNames: ['po'],
    verbs: NAMESPACED_VERBS,
    categories: ['all'],
    createOnUpdate: false,
    deleteReturnsObject: true,
    hasStatus: true,
    fields: ['spec', 'status'],
    fieldLabels: ['spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'spec.serviceAccountName', 'spec.hostNetwork', 'status.phase', 'status.podIP', 'status.nominatedNodeName'],
  },
  namespaces: {
    name: 'namespaces',
    group: '',
    apiVersion: 'v1',
    singularName: 'namespace',
    kind: 'Namespace',
    listKind: 'NamespaceList',
    namespaced: false,
    shortNames: ['ns'],
    verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
    createOnUpdate: false,
    deleteReturnsObject: true,
    hasStatus: true,
    fields: ['spec', 'status'],
    fieldLabels: ['status.phase'],
  },
  endpointslices: {
    name: 'endpointslices',
    group: 'discovery.k8s.io',
    apiVersion: 'discovery.k8s.io/v1',
    singularName: 'endpointslice',
    kind: 'EndpointSlice',
    listKind: 'EndpointSliceList',
    namespaced: true,
    shortNames: [],
    verbs: NAMESPACED_VERBS,
    createOnUpdate: false,
    deleteReturnsObject: false,
    hasStatus: false,
    fields: ['addressType', 'endpoints', 'ports'],
    fieldLabels: ['addressType'],
  },
};

export const RESOURCE_NAMES: readonly ResourceName[] = ['services', 'endpoints', 'pods', 'namespaces', 'endpointslices'];

/** The URL prefix of a resource's API: /api/v1 for core, /apis/<group>/v1 for the others. */
export function apiPrefix(info: ResourceInfo): string {
  return info.group === '' ? '/api/v1' : `/apis/${info.apiVersion}`;
}

export function isResourceName(s: string): s is ResourceName {
  return Object.prototype.hasOwnProperty.call(RESOURCES, s);
}

/** Resource by kind ("Service" → services). */
export function resourceForKind(kind: string): ResourceInfo | undefined {
  return RESOURCE_NAMES.map((r) => RESOURCES[r]).find((r) => r.kind === kind);
}
