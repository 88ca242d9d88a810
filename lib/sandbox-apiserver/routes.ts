/**
 * The route table of the sandbox API server, in express: which handler serves which path and
 * method. Handlers live in server.ts; this file only says where they are mounted, on the
 * express Router server.ts makes (strict, case-sensitive routing).
 *
 * Routes match the canonical path that `canonicalPath` makes of the request (server.ts puts it
 * in req.url before these routes):
 *   - trailing slashes are dropped (`/readyz/`, `/api/v1/services//` are `/readyz`,
 *     `/api/v1/services`), so the route patterns need no optional trailing slash;
 *   - under /api/v1/ every segment is percent-decoded, as the old hand-written router did, and
 *     encoded again with encodeURIComponent: `%6eamespaces` is the literal `namespaces`, while
 *     `a%2Fb` stays one segment, which express decodes to the name `a/b`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { IRoute, Router } from 'express';
import { badRequest, methodNotAllowed, resourceNotFound } from './errors.js';
import { RESOURCE_NAMES, RESOURCES, type ResourceInfo, type ResourceName } from './resources.js';

/** What a collection URL addresses: `/api/v1/{resource}`, `/api/v1/namespaces/{ns}/{resource}`, or either under /api/v1/watch/. */
export interface CollectionTarget {
  resource: ResourceName;
  namespace?: string;
  /** The legacy /api/v1/watch/ prefix (?watch=true is read by the handler). */
  watch: boolean;
}

/** What an object URL addresses: `.../{resource}/{name}` and its `/status` subresource. */
export interface ObjectTarget {
  resource: ResourceName;
  namespace?: string;
  name: string;
  subresource?: 'status';
  watch: boolean;
}

/**
 * A request as express's Router hands it to a route: Node's IncomingMessage with the route's
 * path parameters. (No express app wraps this router, so requests and responses are not
 * express's Request and Response: see server.ts.)
 */
export type RoutedRequest = IncomingMessage & { params?: Record<string, string | undefined> };
export type Handler = (req: RoutedRequest, res: ServerResponse) => void | Promise<void>;
type Target<T> = (req: RoutedRequest, res: ServerResponse, target: T) => void | Promise<void>;

/** The handlers the table mounts (server.ts). */
export interface ApiHandlers {
  health: Handler;
  version: Handler;
  api: Handler;
  apis: Handler;
  coreV1: Handler;
  /** /apis/discovery.k8s.io and /apis/discovery.k8s.io/v1 */
  discoveryGroup: Handler;
  discoveryV1: Handler;
  openapiV3Root: Handler;
  openapiV3CoreV1: Handler;
  openapiV3DiscoveryV1: Handler;
  /** GET /sandbox/watches */
  sandboxWatches: Handler;
  /** POST /sandbox/{action} */
  sandboxActions: Record<string, Handler>;
  /** GET on a collection: LIST, or WATCH with ?watch=true or the /watch/ prefix. */
  listOrWatch: Target<CollectionTarget>;
  create: Target<CollectionTarget>;
  deleteCollection: Target<CollectionTarget>;
  /** GET on an object: the object, or a WATCH of it. */
  getOrWatch: Target<ObjectTarget>;
  replace: Target<ObjectTarget>;
  patch: Target<ObjectTarget>;
  remove: Target<ObjectTarget>;
  /** 404 with the text body Go's mux writes, for paths outside the API. */
  notFound: Handler;
}

const notAllowed: Handler = () => {
  throw methodNotAllowed();
};
const unknownResource: Handler = () => {
  throw resourceNotFound();
};

type Verb = 'get' | 'post' | 'put' | 'patch' | 'delete';

/**
 * Mounts `handlers` on the route `path` of `router` and answers any other method with 405
 * MethodNotAllowed. express serves HEAD with the GET handler; `head: false` keeps HEAD a 405,
 * as the REST routes have always answered it. (`path as string`: express takes a RegExp too,
 * but its route() typing wants a string literal type.)
 */
function methods(router: Router, path: string | RegExp, handlers: Partial<Record<Verb, Handler>>, head: boolean): void {
  const route: IRoute = router.route(path as string);
  for (const verb of ['get', 'post', 'put', 'patch', 'delete'] as const) {
    const h = handlers[verb];
    if (h) route[verb](h);
  }
  // After the verbs, so that they are tried first: once a route has a head handler, express no longer gives HEAD to get.
  if (!head) route.head(notAllowed);
  route.all(notAllowed);
}

/** An express path parameter that may be empty: the old router accepted `namespaces//services` (namespace ""). */
const param = (name: string) => `{:${name}}`;
const paramOf = (req: RoutedRequest, name: string): string => req.params?.[name] ?? '';

/**
 * The REST routes of the resources of one API group under `prefix`: /api/v1 or /api/v1/watch
 * for core, /apis/<group>/v1 or /apis/<group>/v1/watch for the others (the legacy watch paths:
 * watch true).
 */
function resourceRoutes(router: Router, h: ApiHandlers, prefix: string, watch: boolean, group: ResourceInfo['group']): void {
  const collection = (resource: ResourceName, namespaced: boolean) => (fn: Target<CollectionTarget>): Handler => (req, res) =>
    fn(req, res, namespaced ? { resource, namespace: paramOf(req, 'namespace'), watch } : { resource, watch });
  const object = (resource: ResourceName, namespaced: boolean, subresource?: 'status') => (fn: Target<ObjectTarget>): Handler => (req, res) => {
    const t: ObjectTarget = { resource, name: paramOf(req, 'name'), watch };
    if (namespaced) t.namespace = paramOf(req, 'namespace');
    if (subresource) t.subresource = subresource;
    return fn(req, res, t);
  };
  for (const name of RESOURCE_NAMES) {
    const info = RESOURCES[name];
    if (info.group !== group) continue;
    if (info.namespaced) {
      // Across all namespaces a namespaced resource can only be listed and watched.
      methods(router, `${prefix}/${name}`, { get: collection(name, false)(h.listOrWatch) }, false);
      const base = `${prefix}/namespaces/${param('namespace')}/${name}`;
      const c = collection(name, true);
      methods(router, base, { get: c(h.listOrWatch), post: c(h.create), delete: c(h.deleteCollection) }, false);
      const o = object(name, true);
      methods(router, `${base}/${param('name')}`, { get: o(h.getOrWatch), put: o(h.replace), patch: o(h.patch), delete: o(h.remove) }, false);
      if (info.hasStatus) {
        const s = object(name, true, 'status');
        methods(router, `${base}/${param('name')}/status`, { get: s(h.getOrWatch), put: s(h.replace), patch: s(h.patch) }, false);
      }
    } else {
      const c = collection(name, false);
      methods(router, `${prefix}/${name}`, { get: c(h.listOrWatch), post: c(h.create), delete: c(h.deleteCollection) }, false);
      const o = object(name, false);
      methods(router, `${prefix}/${name}/${param('name')}`, { get: o(h.getOrWatch), put: o(h.replace), patch: o(h.patch), delete: o(h.remove) }, false);
      if (info.hasStatus) {
        const s = object(name, false, 'status');
        methods(router, `${prefix}/${name}/${param('name')}/status`, { get: s(h.getOrWatch), put: s(h.replace), patch: s(h.patch) }, false);
      }
    }
  }
}

/** /healthz, /livez, /readyz and their named checks (/healthz/ping, /readyz/etcd, …). */
const HEALTH = /^\/(?:healthz|livez|readyz)(?:\/[a-z-]+)?$/;

/**
 * Mounts the whole table on `router`: every path and method gets an answer from it. One flat
 * list of routes, no routers mounted on a path: express's router remembers the scheme and host
 * of an absolute-form request target (`GET http://host/api/v1/services HTTP/1.1`) from the URL
 * it started with and puts them back in front of the rewritten one when it strips a mount path,
 * which a flat table never does (and one level of routing is also the cheapest).
 */
export function mountRoutes(router: Router, h: ApiHandlers, opts: { endpointSlices: boolean }): void {
  // The REST routes first: they carry nearly all the traffic.
  resourceRoutes(router, h, '/api/v1', false, '');
  resourceRoutes(router, h, '/api/v1/watch', true, '');
  if (opts.endpointSlices) {
    resourceRoutes(router, h, '/apis/discovery.k8s.io/v1', false, 'discovery.k8s.io');
    resourceRoutes(router, h, '/apis/discovery.k8s.io/v1/watch', true, 'discovery.k8s.io');
    methods(router, '/apis/discovery.k8s.io', { get: h.discoveryGroup }, true);
    methods(router, '/apis/discovery.k8s.io/v1', { get: h.discoveryV1 }, true);
    methods(router, '/openapi/v3/apis/discovery.k8s.io/v1', { get: h.openapiV3DiscoveryV1 }, true);
  }

  methods(router, HEALTH, { get: h.health }, true);
  methods(router, '/version', { get: h.version }, true);
  methods(router, '/api', { get: h.api }, true);
  methods(router, '/apis', { get: h.apis }, true);
  methods(router, '/api/v1', { get: h.coreV1 }, true);
  methods(router, '/openapi/v3', { get: h.openapiV3Root }, true);
  methods(router, '/openapi/v3/api/v1', { get: h.openapiV3CoreV1 }, true);

  // Test hooks: GET /sandbox/watches, POST /sandbox/{action}; any other method 405, an
  // unknown action (POSTed) 404.
  router.route('/sandbox/watches').head(notAllowed).get(h.sandboxWatches);
  for (const [action, fn] of Object.entries(h.sandboxActions)) router.post(`/sandbox/${action}`, fn);
  router.all('/sandbox/*action', (req) => {
    throw req.method === 'POST' ? resourceNotFound() : methodNotAllowed();
  });

  // Anything else under the API groups is a resource this server does not have.
  router.all(['/api/v1/*rest', '/apis/*rest'], unknownResource);
  router.use(h.notFound);
}

/**
 * The path the route table matches for a request's (WHATWG-parsed) pathname: trailing slashes
 * dropped; under /api/v1/ each segment decoded and encoded again (see the top of this file).
 * A segment that is not valid percent-encoded UTF-8 is a 400 (the hand-written router threw
 * an uncaught URIError there, which ended the process).
 */
const DECODED_PREFIXES = ['/api/v1/', '/apis/discovery.k8s.io/v1/'];

export function canonicalPath(pathname: string): string {
  const path = pathname.endsWith('/') ? pathname.replace(/\/+$/, '') || '/' : pathname;
  if (!path.includes('%')) return path;
  const prefix = DECODED_PREFIXES.find((p) => path.startsWith(p));
  if (prefix === undefined) return path;
  const segs = path.slice(prefix.length).split('/');
  return (
    prefix +
    segs
      .map((s) => {
        if (!s.includes('%')) return s;
        let decoded: string;
        try {
          decoded = decodeURIComponent(s);
        } catch {
          throw badRequest(`invalid URL escape in the path segment ${JSON.stringify(s)}`);
        }
        return encodeURIComponent(decoded);
      })
      .join('/')
  );
}
