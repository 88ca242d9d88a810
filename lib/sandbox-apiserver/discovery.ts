/**
 * Discovery documents: /api, /api/v1, /apis, /version, and a minimal
 * OpenAPI v3 (/openapi/v3, /openapi/v3/api/v1) that tells kubectl the server
 * does field validation itself, so `kubectl create -f` needs no
 * `--validate=false`.
 */
import { RESOURCE_NAMES, RESOURCES, apiPrefix, type ResourceName } from './resources.js';

export const SERVER_VERSION = {
  major: '1',
  minor: '29',
  gitVersion: 'v1.29.0',
  gitCommit: '3f7a50f38688eb332e2a1b013678c6435d539ae6',
  gitTreeState: 'clean',
  buildDate: '2023-12-13T08:43:41Z',
  goVersion: 'go1.21.5',
  compiler: 'gc',
  platform: 'linux/amd64',
};

export function apiVersions(serverAddress: string): unknown {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

export type Group = '' | 'discovery.k8s.io';

function groupVersions(name: string): unknown {
  const gv = { groupVersion: `${name}/v1`, version: 'v1' };
  return { name, versions: [gv], preferredVersion: gv };
}

/** /apis: the groups served besides core (discovery.k8s.io unless turned off). */
export function apiGroupList(groups: readonly Group[]): unknown {
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: groups.filter((g) => g !== '').map(groupVersions) };
}

/** /apis/<group> */
export function apiGroup(name: Exclude<Group, ''>): unknown {
  return { kind: 'APIGroup', apiVersion: 'v1', ...(groupVersions(name) as object) };
}

/** /api/v1 or /apis/<group>/v1: the resources of that group. */
export function apiResourceList(group: Group): unknown {
  const resources: unknown[] = [];
  for (const r of [...RESOURCE_NAMES].sort()) {
    const info = RESOURCES[r];
    if (info.group !== group) continue;
    const entry: Record<string, unknown> = {
      name: info.name,
      singularName: info.singularName,
      namespaced: info.namespaced,
      kind: info.kind,
      verbs: info.verbs,
    };
    if (info.shortNames.length) entry.shortNames = info.shortNames;
    if (info.categories) entry.categories = info.categories;
    resources.push(entry);
    if (info.hasStatus) {
      resources.push({ name: `${info.name}/status`, singularName: '', namespaced: info.namespaced, kind: info.kind, verbs: ['get', 'patch', 'update'] });
    }
  }
  return { kind: 'APIResourceList', ...(group === '' ? {} : { apiVersion: 'v1' }), groupVersion: group === '' ? 'v1' : `${group}/v1`, resources };
}

const HASH = 'sandbox0000000000000000000000000000000000000000000000000000000000000000';

export function openApiV3Root(groups: readonly Group[]): unknown {
  const paths: Record<string, unknown> = { 'api/v1': { serverRelativeURL: `/openapi/v3/api/v1?hash=${HASH}` } };
  for (const g of groups) if (g !== '') paths[`apis/${g}/v1`] = { serverRelativeURL: `/openapi/v3/apis/${g}/v1?hash=${HASH}` };
  return { paths };
}

function op(resource: ResourceName, verb: string): unknown {
  const info = RESOURCES[resource];
  return {
    operationId: `${verb}${info.group === '' ? 'CoreV1' : 'DiscoveryV1'}${info.namespaced ? 'Namespaced' : ''}${info.kind}`,
    parameters: [
      { name: 'dryRun', in: 'query', schema: { type: 'string', uniqueItems: true } },
      { name: 'fieldManager', in: 'query', schema: { type: 'string', uniqueItems: true } },
      { name: 'fieldValidation', in: 'query', schema: { type: 'string', uniqueItems: true } },
    ],
    responses: { '200': { description: 'OK' } },
    'x-kubernetes-action': verb === 'patch' ? 'patch' : verb === 'create' ? 'post' : 'put',
    'x-kubernetes-group-version-kind': { group: info.group, version: 'v1', kind: info.kind },
  };
}

/** Just enough of a group's OpenAPI v3 document for kubectl's field-validation probe. */
export function openApiV3Group(group: Group): unknown {
  const paths: Record<string, unknown> = {};
  for (const r of RESOURCE_NAMES) {
    const info = RESOURCES[r];
    if (info.group !== group) continue;
    const prefix = apiPrefix(info);
    const collection = info.namespaced ? `${prefix}/namespaces/{namespace}/${r}` : `${prefix}/${r}`;
    paths[collection] = { post: op(r, 'create') };
    paths[`${collection}/{name}`] = { put: op(r, 'replace'), patch: op(r, 'patch') };
  }
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: SERVER_VERSION.gitVersion },
    paths,
    components: { schemas: {} },
  };
}
