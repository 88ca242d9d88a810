/** URL → what a request addresses. */
import { isResourceName, RESOURCES, type ResourceName } from './resources.js';

export type Route =
  | { kind: 'health' }
  | { kind: 'version' }
  | { kind: 'api' }
  | { kind: 'apis' }
  | { kind: 'coreV1' }
  | { kind: 'openapiV3Root' }
  | { kind: 'openapiV3CoreV1' }
  | { kind: 'sandbox'; action: string }
  | { kind: 'collection'; resource: ResourceName; namespace?: string; watch: boolean }
  | { kind: 'object'; resource: ResourceName; namespace?: string; name: string; subresource?: 'status'; watch: boolean }
  | { kind: 'unknownResource' }
  | { kind: 'notFound' };

export function route(pathname: string): Route {
  const path = pathname.replace(/\/+$/, '') || '/';
  if (['/healthz', '/livez', '/readyz'].includes(path) || /^\/(healthz|livez|readyz)\/[a-z-]+$/.test(path)) return { kind: 'health' };
  if (path === '/version') return { kind: 'version' };
  if (path === '/api') return { kind: 'api' };
  if (path === '/apis') return { kind: 'apis' };
  if (path === '/api/v1') return { kind: 'coreV1' };
  if (path === '/openapi/v3') return { kind: 'openapiV3Root' };
  if (path === '/openapi/v3/api/v1') return { kind: 'openapiV3CoreV1' };
  if (path.startsWith('/sandbox/')) return { kind: 'sandbox', action: path.slice('/sandbox/'.length) };
  if (path.startsWith('/apis/')) return { kind: 'unknownResource' };
  if (!path.startsWith('/api/v1/')) return { kind: 'notFound' };
  let segs = path.slice('/api/v1/'.length).split('/').map(decodeURIComponent);
  let watch = false;
  if (segs[0] === 'watch') {
    watch = true;
    segs = segs.slice(1);
  }
  const bad: Route = { kind: 'unknownResource' };
  if (segs.length === 0) return bad;
  if (segs[0] === 'namespaces' && segs.length >= 3) {
    const ns = segs[1];
    const res = segs[2];
    if (segs.length === 3 && res === 'status') return { kind: 'object', resource: 'namespaces', name: ns, subresource: 'status', watch };
    if (!isResourceName(res) || !RESOURCES[res].namespaced) return bad;
    if (segs.length === 3) return { kind: 'collection', resource: res, namespace: ns, watch };
    if (segs.length === 4) return { kind: 'object', resource: res, namespace: ns, name: segs[3], watch };
    if (segs.length === 5 && segs[4] === 'status' && RESOURCES[res].hasStatus) {
      return { kind: 'object', resource: res, namespace: ns, name: segs[3], subresource: 'status', watch };
    }
    return bad;
  }
  const res = segs[0];
  if (!isResourceName(res)) return bad;
  if (segs.length === 1) return { kind: 'collection', resource: res, watch };
  if (segs.length === 2 && !RESOURCES[res].namespaced) return { kind: 'object', resource: res, name: segs[1], watch };
  return bad;
}
