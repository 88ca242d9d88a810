/**
 * Semantic validation with the real server's field paths and messages.
 * Each function returns the list of field errors (empty = valid).
 */
import { type FieldError, duplicate, forbiddenField, invalidValue, notSupported, required } from './errors.js';
import { parseIp } from './ipalloc.js';
import type { ResourceName } from './resources.js';
import type { Container, Endpoints, EndpointPort, KubeObject, ObjectMeta, Pod, Service } from './types.js';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

const LABEL_MSG =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1035_MSG =
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_VALUE_MSG =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const QUALIFIED_MSG =
  "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const PORT_RANGE = 'must be between 1 and 65535, inclusive';
const IP_MSG = 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)';
export const PROTOCOLS = ['SCTP', 'TCP', 'UDP'] as const;

/** IsDNS1123Label: a valid subdomain that is no label can only have dots, and is told so. */
export function dns1123Label(field: string, v: string): FieldError[] {
  const errs: FieldError[] = [];
  if (v.length > 63) errs.push(invalidValue(field, v, 'must be no more than 63 characters'));
  if (!DNS1123_LABEL.test(v)) errs.push(invalidValue(field, v, DNS1123_SUBDOMAIN.test(v) ? 'must not contain dots' : LABEL_MSG));
  return errs;
}

function dns1035Label(field: string, v: string): FieldError[] {
  const errs: FieldError[] = [];
  if (v.length > 63) errs.push(invalidValue(field, v, 'must be no more than 63 characters'));
  if (!DNS1035_LABEL.test(v)) errs.push(invalidValue(field, v, DNS1035_MSG));
  return errs;
}

export function dns1123Subdomain(field: string, v: string): FieldError[] {
  const errs: FieldError[] = [];
  if (v.length > 253) errs.push(invalidValue(field, v, 'must be no more than 253 characters'));
  if (!DNS1123_SUBDOMAIN.test(v)) errs.push(invalidValue(field, v, SUBDOMAIN_MSG));
  return errs;
}

function qualifiedName(field: string, key: string): FieldError[] {
  const slash = key.lastIndexOf('/');
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const errs: FieldError[] = [];
  if (prefix !== undefined && (prefix.length === 0 || prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix))) {
    errs.push(invalidValue(field, key, `prefix part ${SUBDOMAIN_MSG}`));
  }
  if (name.length === 0) errs.push(invalidValue(field, key, 'name part must be non-empty'));
  else if (name.length > 63) errs.push(invalidValue(field, key, 'name part must be no more than 63 characters'));
  else if (!QUALIFIED_NAME.test(name)) errs.push(invalidValue(field, key, QUALIFIED_MSG));
  return errs;
}

export function validateLabels(field: string, labels: Readonly<Record<string, string>> | undefined): FieldError[] {
  const errs: FieldError[] = [];
  for (const [k, v] of Object.entries(labels ?? {})) {
    errs.push(...qualifiedName(field, k));
    if (v.length > 63) errs.push(invalidValue(field, v, 'must be no more than 63 characters'));
    if (!LABEL_VALUE.test(v)) errs.push(invalidValue(field, v, LABEL_VALUE_MSG));
  }
  return errs;
}

function portNumber(field: string, v: number | undefined): FieldError[] {
  return v !== undefined && v >= 1 && v <= 65535 ? [] : [invalidValue(field, v ?? 0, PORT_RANGE)];
}

function protocol(field: string, v: string | undefined): FieldError[] {
  if (v === undefined || v === '') return [required(field)];
  return (PROTOCOLS as readonly string[]).includes(v) ? [] : [notSupported(field, v, PROTOCOLS)];
}

/**
 * IANA_SVC_NAME (IsValidPortName, its messages in its order): container port names and
 * string targetPorts. Service and Endpoints port names are DNS-1123 labels instead (up to
 * 63 characters), as in the real validation (validateServicePort, validateEndpointPort).
 */
export function ianaSvcName(field: string, v: string): FieldError[] {
  const errs: FieldError[] = [];
  if (v.length > 15) errs.push(invalidValue(field, v, 'must be no more than 15 characters'));
  if (!/^[-a-z0-9]+$/.test(v)) errs.push(invalidValue(field, v, 'must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)'));
  if (!/[a-z]/.test(v)) errs.push(invalidValue(field, v, 'must contain at least one letter (a-z)'));
  if (v.includes('--')) errs.push(invalidValue(field, v, 'must not contain consecutive hyphens'));
  if (v.startsWith('-') || v.endsWith('-')) errs.push(invalidValue(field, v, 'must not begin or end with a hyphen'));
  return errs;
}

function ip(field: string, v: string): FieldError[] {
  return parseIp(v) ? [] : [invalidValue(field, v, IP_MSG)];
}

const NAME_RULES: Record<ResourceName, (field: string, v: string) => FieldError[]> = {
  services: dns1035Label,
  endpoints: dns1123Subdomain,
  pods: dns1123Subdomain,
  namespaces: dns1123Label,
  endpointslices: dns1123Subdomain,
};

export function validateMeta(resource: ResourceName, meta: ObjectMeta): FieldError[] {
  const errs: FieldError[] = [];
  if (!meta.name) errs.push(required('metadata.name', 'name or generateName is required'));
  else errs.push(...NAME_RULES[resource]('metadata.name', meta.name));
  if (meta.namespace) errs.push(...dns1123Label('metadata.namespace', meta.namespace));
  errs.push(...validateLabels('metadata.labels', meta.labels));
  for (const k of Object.keys(meta.annotations ?? {})) errs.push(...qualifiedName('metadata.annotations', k.toLowerCase()));
  return errs;
}

const SERVICE_TYPES = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'];

export function validateService(svc: Service): FieldError[] {
  const errs: FieldError[] = [];
  const spec = svc.spec ?? {};
  const type = spec.type ?? 'ClusterIP';
  if (!SERVICE_TYPES.includes(type)) errs.push(notSupported('spec.type', type, SERVICE_TYPES));
  const headless = spec.clusterIP === 'None';
  const ports = spec.ports ?? [];
  if (type === 'ExternalName') {
    if (!spec.externalName) errs.push(required('spec.externalName'));
    else errs.push(...dns1123Subdomain('spec.externalName', spec.externalName.replace(/\.$/, '')));
    if (spec.clusterIP && spec.clusterIP !== '') errs.push(invalidValue('spec.clusterIPs', spec.clusterIPs ?? [spec.clusterIP], 'may not be set for ExternalName services'));
  } else if (ports.length === 0 && !headless) {
    errs.push(required('spec.ports'));
  }
  if (spec.clusterIP && spec.clusterIP !== 'None') errs.push(...ip('spec.clusterIPs[0]', spec.clusterIP));
  if (headless && (type === 'NodePort' || type === 'LoadBalancer')) {
    errs.push(invalidValue('spec.clusterIPs[0]', 'None', `may not be set to 'None' for ${type} services`));
  }
  (spec.clusterIPs ?? []).slice(1).forEach((c, i) => errs.push(...ip(`spec.clusterIPs[${i + 1}]`, c)));
  if (spec.clusterIPs && spec.clusterIPs.length > 0 && spec.clusterIP !== undefined && spec.clusterIPs[0] !== spec.clusterIP) {
    errs.push(invalidValue('spec.clusterIPs', spec.clusterIPs, 'first value must match `clusterIP`'));
  }
  (spec.ipFamilies ?? []).forEach((f, i) => {
    if (f !== 'IPv4' && f !== 'IPv6') errs.push(notSupported(`spec.ipFamilies[${i}]`, f, ['IPv4', 'IPv6']));
  });
  if (spec.ipFamilyPolicy !== undefined && !['SingleStack', 'PreferDualStack', 'RequireDualStack'].includes(spec.ipFamilyPolicy)) {
    errs.push(notSupported('spec.ipFamilyPolicy', spec.ipFamilyPolicy, ['PreferDualStack', 'RequireDualStack', 'SingleStack']));
  }
  if (spec.sessionAffinity !== undefined && !['ClientIP', 'None'].includes(spec.sessionAffinity)) {
    errs.push(notSupported('spec.sessionAffinity', spec.sessionAffinity, ['ClientIP', 'None']));
  }
  const names = new Set<string>();
  const keys = new Set<string>();
  ports.forEach((p, i) => {
    const f = `spec.ports[${i}]`;
    if (!p.name) {
      if (ports.length > 1) errs.push(required(`${f}.name`));
    } else {
      errs.push(...dns1123Label(`${f}.name`, p.name));
      if (names.has(p.name)) errs.push(duplicate(`${f}.name`, p.name));
      names.add(p.name);
    }
    errs.push(...portNumber(`${f}.port`, p.port));
    errs.push(...protocol(`${f}.protocol`, p.protocol));
    if (typeof p.targetPort === 'number') errs.push(...portNumber(`${f}.targetPort`, p.targetPort));
    else if (typeof p.targetPort === 'string') errs.push(...ianaSvcName(`${f}.targetPort`, p.targetPort));
    if (p.nodePort !== undefined && p.nodePort !== 0 && type !== 'NodePort' && type !== 'LoadBalancer') {
      errs.push(forbiddenField(`${f}.nodePort`, `may not be used when \`type\` is '${type}'`));
    }
    const key = `${p.port}/${p.protocol}`;
    if (keys.has(key)) errs.push(duplicate(f, { port: p.port, protocol: p.protocol }));
    keys.add(key);
  });
  errs.push(...validateLabels('spec.selector', spec.selector));
  (spec.externalIPs ?? []).forEach((e, i) => errs.push(...ip(`spec.externalIPs[${i}]`, e)));
  return errs;
}

function validateContainers(field: string, list: Container[] | undefined, names: Set<string>): FieldError[] {
  const errs: FieldError[] = [];
  (list ?? []).forEach((c, i) => {
    const f = `${field}[${i}]`;
    if (!c.name) errs.push(required(`${f}.name`));
    else {
      errs.push(...dns1123Label(`${f}.name`, c.name));
      if (names.has(c.name)) errs.push(duplicate(`${f}.name`, c.name));
      names.add(c.name);
    }
    if (!c.image) errs.push(required(`${f}.image`));
    const portNames = new Set<string>();
    (c.ports ?? []).forEach((p, j) => {
      const pf = `${f}.ports[${j}]`;
      if (p.name) {
        // As validateContainerPorts: an invalid name is not also checked for duplicates.
        const nameErrs = ianaSvcName(`${pf}.name`, p.name);
        errs.push(...nameErrs);
        if (nameErrs.length === 0 && portNames.has(p.name)) errs.push(duplicate(`${pf}.name`, p.name));
        portNames.add(p.name);
      }
      errs.push(...portNumber(`${pf}.containerPort`, p.containerPort));
      errs.push(...protocol(`${pf}.protocol`, p.protocol));
    });
  });
  return errs;
}

export function validatePod(pod: Pod): FieldError[] {
  const errs: FieldError[] = [];
  const spec = pod.spec ?? {};
  if (!spec.containers || spec.containers.length === 0) errs.push(required('spec.containers'));
  const names = new Set<string>();
  errs.push(...validateContainers('spec.containers', spec.containers, names));
  errs.push(...validateContainers('spec.initContainers', spec.initContainers, names));
  if (spec.hostname) errs.push(...dns1123Label('spec.hostname', spec.hostname));
  if (spec.subdomain) errs.push(...dns1123Label('spec.subdomain', spec.subdomain));
  if (spec.restartPolicy !== undefined && !['Always', 'OnFailure', 'Never'].includes(spec.restartPolicy)) {
    errs.push(notSupported('spec.restartPolicy', spec.restartPolicy, ['Always', 'Never', 'OnFailure']));
  }
  const status = pod.status ?? {};
  if (status.podIP) errs.push(...ip('status.podIP', status.podIP));
  (status.podIPs ?? []).forEach((p, i) => errs.push(...ip(`status.podIPs[${i}].ip`, p.ip ?? '')));
  return errs;
}

function validateEndpointPorts(field: string, ports: EndpointPort[]): FieldError[] {
  const errs: FieldError[] = [];
  const names = new Set<string>();
  ports.forEach((p, i) => {
    const f = `${field}[${i}]`;
    if (!p.name) {
      if (ports.length > 1) errs.push(required(`${f}.name`));
    } else {
      errs.push(...dns1123Label(`${f}.name`, p.name));
      if (names.has(p.name)) errs.push(duplicate(`${f}.name`, p.name));
      names.add(p.name);
    }
    errs.push(...portNumber(`${f}.port`, p.port));
    errs.push(...protocol(`${f}.protocol`, p.protocol));
  });
  return errs;
}

export function validateEndpoints(ep: Endpoints): FieldError[] {
  const errs: FieldError[] = [];
  (ep.subsets ?? []).forEach((s, i) => {
    const f = `subsets[${i}]`;
    const addrs = s.addresses ?? [];
    const notReady = s.notReadyAddresses ?? [];
    if (addrs.length === 0 && notReady.length === 0) errs.push(required(`${f}`, 'must specify `addresses` or `notReadyAddresses`'));
    for (const [kind, list] of [['addresses', addrs], ['notReadyAddresses', notReady]] as const) {
      list.forEach((a, j) => {
        const af = `${f}.${kind}[${j}]`;
        errs.push(...ip(`${af}.ip`, a.ip ?? ''));
        if (a.hostname) errs.push(...dns1123Label(`${af}.hostname`, a.hostname));
        if (a.nodeName) errs.push(...dns1123Subdomain(`${af}.nodeName`, a.nodeName));
      });
    }
    errs.push(...validateEndpointPorts(`${f}.ports`, s.ports ?? []));
  });
  return errs;
}

const ADDRESS_TYPES = ['IPv4', 'IPv6', 'FQDN'];

/** discovery.k8s.io/v1 EndpointSlice: address type, at most 1,000 endpoints of 1–100 addresses of that type, at most 100 ports. */
export function validateEndpointSlice(obj: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  const type = obj.addressType;
  if (type === undefined || type === '') errs.push(required('addressType'));
  else if (typeof type !== 'string' || !ADDRESS_TYPES.includes(type)) errs.push(notSupported('addressType', String(type), ADDRESS_TYPES));
  const endpoints = (obj.endpoints as Array<{ addresses?: unknown; hostname?: unknown; nodeName?: unknown }> | undefined) ?? [];
  if (endpoints.length > 1000) errs.push(invalidValue('endpoints', endpoints.length, 'must have at most 1000 items'));
  endpoints.forEach((e, i) => {
    const f = `endpoints[${i}]`;
    const addrs = Array.isArray(e.addresses) ? (e.addresses as unknown[]) : [];
    if (addrs.length === 0) errs.push(required(`${f}.addresses`, 'must contain at least 1 address'));
    if (addrs.length > 100) errs.push(invalidValue(`${f}.addresses`, addrs.length, 'must have at most 100 items'));
    addrs.forEach((a, j) => {
      const af = `${f}.addresses[${j}]`;
      const s = typeof a === 'string' ? a : '';
      if (type === 'FQDN') errs.push(...dns1123Subdomain(af, s));
      else {
        const p = parseIp(s);
        if (!p) errs.push(invalidValue(af, s, IP_MSG));
        else if ((type === 'IPv4' && p.family !== 4) || (type === 'IPv6' && p.family !== 6)) errs.push(invalidValue(af, s, `must be an ${type} address`));
      }
    });
    if (typeof e.hostname === 'string' && e.hostname !== '') errs.push(...dns1123Label(`${f}.hostname`, e.hostname));
    if (typeof e.nodeName === 'string' && e.nodeName !== '') errs.push(...dns1123Subdomain(`${f}.nodeName`, e.nodeName));
  });
  const ports = (obj.ports as Array<{ name?: string; port?: number | null; protocol?: string }> | undefined) ?? [];
  if (ports.length > 100) errs.push(invalidValue('ports', ports.length, 'must have at most 100 items'));
  const names = new Set<string>();
  ports.forEach((p, i) => {
    const f = `ports[${i}]`;
    const name = p.name ?? '';
    if (name !== '') errs.push(...dns1123Label(`${f}.name`, name));
    if (names.has(name)) errs.push(duplicate(`${f}.name`, name));
    names.add(name);
    if (p.port != null) errs.push(...portNumber(`${f}.port`, p.port));
    if (p.protocol !== undefined) errs.push(...protocol(`${f}.protocol`, p.protocol));
  });
  return errs;
}

export function validateObject(resource: ResourceName, obj: KubeObject): FieldError[] {
  const errs = validateMeta(resource, obj.metadata);
  switch (resource) {
    case 'services':
      return [...errs, ...validateService(obj as Service)];
    case 'pods':
      return [...errs, ...validatePod(obj as Pod)];
    case 'endpoints':
      return [...errs, ...validateEndpoints(obj as Endpoints)];
    case 'namespaces':
      return errs;
    case 'endpointslices':
      return [...errs, ...validateEndpointSlice(obj)];
  }
}
