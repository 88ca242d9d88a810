/**
 * Server-side printing: the meta.k8s.io/v1 Table that `kubectl get` asks for
 * (Accept: application/json;as=Table;v=v1;g=meta.k8s.io), with the columns
 * of the real server's printers for these four kinds.
 */
import type { ResourceName } from './resources.js';
import type { Endpoints, KubeObject, Pod, Service } from './types.js';

export interface TableColumn {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

export interface TableRow {
  cells: Array<string | number>;
  object?: unknown;
}

export interface Table {
  kind: 'Table';
  apiVersion: 'meta.k8s.io/v1';
  metadata: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  columnDefinitions: TableColumn[];
  rows: TableRow[];
}

export type IncludeObject = 'None' | 'Metadata' | 'Object';

const col = (name: string, type: string, description: string, priority = 0, format = ''): TableColumn => ({ name, type, format, description, priority });

const NAME = col('Name', 'string', 'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names', 0, 'name');
const AGE = col('Age', 'string', 'CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata');

const COLUMNS: Record<ResourceName, TableColumn[]> = {
  services: [
    NAME,
    col('Type', 'string', 'The type of the service.'),
    col('Cluster-IP', 'string', 'The IP address of the service.'),
    col('External-IP', 'string', 'The external IP address of the service.'),
    col('Port(s)', 'string', 'The ports of the service.'),
    AGE,
    col('Selector', 'string', 'Route service traffic to pods with label keys and values matching this selector.', 1),
  ],
  endpoints: [NAME, col('Endpoints', 'string', 'Endpoints of the service.'), AGE],
  pods: [
    NAME,
    col('Ready', 'string', 'The aggregate readiness state of this pod for accepting traffic.'),
    col('Status', 'string', 'The aggregate status of the containers in this pod.'),
    col('Restarts', 'string', 'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.'),
    AGE,
    col('IP', 'string', 'The IP address assigned to the pod.', 1),
    col('Node', 'string', 'The name of the node to which the pod is assigned.', 1),
    col('Nominated Node', 'string', 'The name of the node where the pod is nominated to be scheduled.', 1),
    col('Readiness Gates', 'string', 'The readiness gates of the pod.', 1),
  ],
  namespaces: [NAME, col('Status', 'string', 'The status of the namespace.'), AGE],
  endpointslices: [
    NAME,
    col('AddressType', 'string', 'The IP protocol for this slice'),
    col('Ports', 'string', 'The ports of this slice'),
    col('Endpoints', 'string', 'The endpoints of this slice'),
    AGE,
  ],
};

/** k8s.io/apimachinery/pkg/util/duration.HumanDuration */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 192) {
    const h = hours % 24;
    return h === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const dy = Math.floor(hours / 24) % 365;
    return dy === 0 ? `${Math.floor(hours / 24 / 365)}y` : `${Math.floor(hours / 24 / 365)}y${dy}d`;
  }
  return `${Math.floor(hours / 24 / 365)}y`;
}

function age(obj: KubeObject, now: Date): string {
  const ts = obj.metadata.creationTimestamp;
  if (!ts) return '<unknown>';
  return humanDuration(now.getTime() - Date.parse(ts));
}

function serviceCells(svc: Service): Array<string | number> {
  const spec = svc.spec ?? {};
  const type = spec.type ?? 'ClusterIP';
  let external = '<none>';
  if (type === 'ExternalName') external = spec.externalName ?? '<none>';
  else if (type === 'LoadBalancer') {
    const ingress = ((svc.status?.loadBalancer as { ingress?: Array<{ ip?: string; hostname?: string }> } | undefined)?.ingress ?? []).map((i) => i.ip ?? i.hostname ?? '');
    const all = [...ingress, ...(spec.externalIPs ?? [])];
    external = all.length ? all.join(',') : '<pending>';
  } else if ((spec.externalIPs ?? []).length) external = (spec.externalIPs ?? []).join(',');
  const ports = (spec.ports ?? []).map((p) => (p.nodePort ? `${p.port}:${p.nodePort}/${p.protocol ?? 'TCP'}` : `${p.port}/${p.protocol ?? 'TCP'}`));
  const sel = Object.entries(spec.selector ?? {})
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`);
  return [svc.metadata.name ?? '', type, spec.clusterIP ?? '<none>', external, ports.length ? ports.join(',') : '<none>', '', sel.length ? sel.join(',') : '<none>'];
}

function endpointsCell(ep: Endpoints): string {
  const list: string[] = [];
  let total = 0;
  for (const s of ep.subsets ?? []) {
    const addrs = s.addresses ?? [];
    const ports = s.ports ?? [];
    if (ports.length === 0) {
      for (const a of addrs) {
        total++;
        if (list.length < 3) list.push(a.ip);
      }
      continue;
    }
    for (const p of ports) {
      for (const a of addrs) {
        total++;
        if (list.length < 3) list.push(a.ip.includes(':') ? `[${a.ip}]:${p.port}` : `${a.ip}:${p.port}`);
      }
    }
  }
  if (total === 0) return '<none>';
  return total > list.length ? `${list.join(',')} + ${total - list.length} more...` : list.join(',');
}

/** The slice printer's cells: ports as numbers (`<unset>` for none), the first three addresses. */
function sliceCells(obj: KubeObject): Array<string | number> {
  const ports = ((obj.ports as Array<{ port?: number | null }> | undefined) ?? []).map((p) => (p.port == null ? '<unset>' : String(p.port)));
  const addrs: string[] = [];
  for (const e of (obj.endpoints as Array<{ addresses?: string[] }> | undefined) ?? []) addrs.push(...(e.addresses ?? []));
  const shown = addrs.slice(0, 3).join(',');
  return [
    obj.metadata.name ?? '',
    String(obj.addressType ?? ''),
    ports.length ? ports.join(',') : '<unset>',
    addrs.length === 0 ? '<unset>' : addrs.length > 3 ? `${shown} + ${addrs.length - 3} more...` : shown,
    '',
  ];
}

function podCells(pod: Pod): Array<string | number> {
  const statuses = (pod.status?.containerStatuses as Array<{ ready?: boolean; restartCount?: number }> | undefined) ?? [];
  const total = (pod.spec?.containers ?? []).length;
  const ready = statuses.filter((s) => s.ready).length;
  const restarts = statuses.reduce((n, s) => n + (s.restartCount ?? 0), 0);
  let reason = pod.status?.phase ?? 'Pending';
  if (typeof pod.status?.reason === 'string' && pod.status.reason) reason = pod.status.reason;
  if (pod.metadata.deletionTimestamp) reason = 'Terminating';
  const gates = (pod.spec?.readinessGates as unknown[] | undefined) ?? [];
  return [
    pod.metadata.name ?? '',
    `${ready}/${total}`,
    reason,
    String(restarts),
    '',
    pod.status?.podIP || '<none>',
    pod.spec?.nodeName || '<none>',
    (pod.status?.nominatedNodeName as string | undefined) || '<none>',
    gates.length ? `0/${gates.length}` : '<none>',
  ];
}

function cellsFor(resource: ResourceName, obj: KubeObject): Array<string | number> {
  switch (resource) {
    case 'services':
      return serviceCells(obj as Service);
    case 'endpoints':
      return [obj.metadata.name ?? '', endpointsCell(obj as Endpoints), ''];
    case 'pods':
      return podCells(obj as Pod);
    case 'namespaces':
      return [obj.metadata.name ?? '', String((obj.status as { phase?: string } | undefined)?.phase ?? ''), ''];
    case 'endpointslices':
      return sliceCells(obj);
  }
}

function rowObject(obj: KubeObject, include: IncludeObject, kind: string): unknown {
  if (include === 'None') return undefined;
  if (include === 'Object') return { kind, apiVersion: obj.apiVersion ?? 'v1', ...obj };
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata };
}

export function toTable(
  resource: ResourceName,
  kind: string,
  items: readonly KubeObject[],
  meta: Table['metadata'],
  opts: { include: IncludeObject; now: Date; noHeaders?: boolean },
): Table {
  const columns = COLUMNS[resource];
  const ageIdx = columns.indexOf(AGE);
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: meta,
    columnDefinitions: opts.noHeaders ? [] : columns,
    rows: items.map((o) => {
      const cells = cellsFor(resource, o);
      cells[ageIdx] = age(o, opts.now);
      const row: TableRow = { cells };
      const ro = rowObject(o, opts.include, kind);
      if (ro !== undefined) row.object = ro;
      return row;
    }),
  };
}

/** Does the Accept header ask for a Table? */
export function wantsTable(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept.split(',').some((part) => {
    const params = part.split(';').map((s) => s.trim());
    return params.includes('as=Table') && params.includes('g=meta.k8s.io') && (params.includes('v=v1') || params.includes('v=v1beta1'));
  });
}
