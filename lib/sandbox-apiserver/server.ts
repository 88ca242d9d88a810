/**
 * The sandbox API server's request handler, an express Router: per-request context,
 * bearer-token authentication, the handlers of discovery, health, the REST verbs on /api/v1
 * and the test hooks under /sandbox/, mounted by the route table in routes.ts, and
 * Kubernetes Status bodies for errors.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import express from 'express';
import type { Request, Response } from 'express';
import { parseBool } from '../flags.js';
import type { Log } from '../log.js';
import { type BearerAuth, isPublicPath } from './auth.js';
import { apiGroup, apiGroupList, apiResourceList, apiVersions, openApiV3Group, openApiV3Root, SERVER_VERSION } from './discovery.js';
import { ApiError, badRequest, success, unsupportedMediaType, failure } from './errors.js';
import { decodeObjectBody, mediaType, parseJson, readBody, responder, type Responder } from './bodies.js';
import { Paginator } from './paging.js';
import { PATCH_CONTENT_TYPES } from './patch.js';
import { RESOURCES, type ResourceName } from './resources.js';
import { type ApiHandlers, type CollectionTarget, type ObjectTarget, type RoutedRequest, canonicalPath, mountRoutes } from './routes.js';
import { parseFieldSelector, parseLabelSelector, type Selectors } from './selectors.js';
import type { FieldValidation, Store, WriteOptions, DeleteOptions } from './store.js';
import { type IncludeObject, toTable, wantsTable } from './table.js';
import type { KubeObject } from './types.js';
import { isPlainObject } from './types.js';
import type { WatchHub } from './watch.js';

export interface HandlerOptions {
  store: Store;
  hub: WatchHub;
  log: Log;
  /** host:port clients reach the server on (for /api). */
  serverAddress: () => string;
  /** Watch timeout when the client gives no timeoutSeconds: [min, max) milliseconds. */
  watchTimeoutMs: readonly [number, number];
  /** Bearer-token check; absent: every request is served (loopback without a token). */
  auth?: BearerAuth;
  /** Serve the discovery.k8s.io/v1 group (EndpointSlices). */
  endpointSlices?: boolean;
}

/** What the first middleware learns about a request, kept (by response) for the handlers. */
interface RequestContext {
  /** The query string, parsed as URLSearchParams (not express's req.query). */
  query: URLSearchParams;
  /** The request path and query as WHATWG URL parsing reads them (the path before canonicalPath()). */
  pathname: string;
  search: string;
  out: Responder;
}

/**
 * The context rides on the response under a private symbol. Not in a WeakMap: one keyed by
 * short-lived responses kept them alive through young-generation collections (measured:
 * scavenges of 15-20 ms instead of 0.3 ms, and a third of the GETs per second).
 */
const CONTEXT = Symbol('sandbox request context');
type WithContext = ServerResponse & { [CONTEXT]?: RequestContext };

function setContext(res: ServerResponse, ctx: RequestContext): void {
  (res as WithContext)[CONTEXT] = ctx;
}

function context(res: ServerResponse): RequestContext {
  const ctx = (res as WithContext)[CONTEXT];
  if (!ctx) throw new Error('no request context (the context middleware did not run)');
  return ctx;
}

type Next = (err?: unknown) => void;

function flag(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  return v !== null && parseBool(v) === true;
}

function selectorsOf(q: URLSearchParams, resource: ResourceName): Selectors {
  return { labels: parseLabelSelector(q.get('labelSelector')), fields: parseFieldSelector(q.get('fieldSelector'), resource) };
}

function includeObject(q: URLSearchParams): IncludeObject {
  const v = q.get('includeObject');
  if (v === null || v === '') return 'Metadata';
  if (v === 'None' || v === 'Metadata' || v === 'Object') return v;
  throw badRequest(`includeObject: Unsupported value: "${v}": supported values: "None", "Metadata", "Object"`);
}

function writeOptions(q: URLSearchParams, warnings: string[]): WriteOptions {
  const dry = q.getAll('dryRun');
  for (const d of dry) if (d !== 'All') throw badRequest(`dryRun: Unsupported value: "${d}": supported values: "All"`);
  const fv = q.get('fieldValidation') ?? 'Ignore';
  if (!['Strict', 'Warn', 'Ignore'].includes(fv)) throw badRequest(`fieldValidation: Unsupported value: "${fv}": supported values: "Ignore", "Strict", "Warn"`);
  return { dryRun: dry.length > 0, fieldValidation: fv as FieldValidation, warnings };
}

function warningHeaders(warnings: string[]): Record<string, string> {
  if (warnings.length === 0) return {};
  return { Warning: warnings.map((w) => `299 - ${JSON.stringify(w)}`).join(', ') };
}

function listOf(resource: ResourceName, items: readonly KubeObject[], meta: Record<string, unknown>): unknown {
  const info = RESOURCES[resource];
  return {
    kind: info.listKind,
    apiVersion: info.apiVersion,
    metadata: meta,
    items: items.map(({ kind: _k, apiVersion: _a, ...rest }) => rest),
  };
}

/** The handlers the route table (routes.ts) mounts. */
function createHandlers(opts: HandlerOptions): ApiHandlers {
  const { store, hub } = opts;
  const pages = new Paginator();

  const watchTimeout = (q: URLSearchParams): number => {
    const t = q.get('timeoutSeconds');
    if (t !== null && t !== '') {
      const n = Number(t);
      if (!Number.isInteger(n) || n < 0) throw badRequest(`timeoutSeconds: Invalid value: "${t}": must be a non-negative integer`);
      if (n > 0) return n * 1000;
    }
    const [min, max] = opts.watchTimeoutMs;
    return min + Math.floor(Math.random() * Math.max(0, max - min));
  };

  const serveWatch = (req: RoutedRequest, res: ServerResponse, q: URLSearchParams, resource: ResourceName, namespace: string | undefined, selectors: Selectors): void => {
    const rv = q.get('resourceVersion') ?? '';
    if (rv !== '' && !/^\d+$/.test(rv)) throw badRequest(`resourceVersion: Invalid value: "${rv}": must be a decimal number`);
    hub.serve(req, res, {
      resource,
      namespace,
      selectors,
      resourceVersion: rv,
      allowBookmarks: flag(q, 'allowWatchBookmarks'),
      sendInitialEvents: flag(q, 'sendInitialEvents'),
      timeoutMs: watchTimeout(q),
      table: wantsTable(req.headers.accept) ? { include: includeObject(q) } : undefined,
    });
  };

  const list = (req: RoutedRequest, out: Responder, q: URLSearchParams, r: CollectionTarget): void => {
    const selectors = selectorsOf(q, r.resource);
    const limitText = q.get('limit');
    const limit = limitText ? Number(limitText) : 0;
    if (!Number.isInteger(limit) || limit < 0) throw badRequest(`limit: Invalid value: "${limitText}": must be a non-negative integer`);
    const key = `${r.resource}|${r.namespace ?? ''}|${q.get('labelSelector') ?? ''}|${q.get('fieldSelector') ?? ''}`;
    const token = q.get('continue');
    let page;
    if (token) page = pages.next(token, limit, key);
    else {
      const all = store.list(r.resource, { namespace: r.namespace, selectors });
      page = pages.first(all.items, all.resourceVersion, limit, key);
    }
    const meta: Record<string, unknown> = { resourceVersion: page.resourceVersion };
    if (page.continue) {
      meta.continue = page.continue;
      if (selectors.labels.length === 0 && selectors.fields.length === 0) meta.remainingItemCount = page.remainingItemCount;
    }
    if (wantsTable(req.headers.accept)) {
      out.json(200, toTable(r.resource, RESOURCES[r.resource].kind, page.items, meta, { include: includeObject(q), now: new Date() }));
    } else out.json(200, listOf(r.resource, page.items, meta));
  };

  const single = (req: RoutedRequest, out: Responder, q: URLSearchParams, resource: ResourceName, obj: KubeObject, code = 200, headers: Record<string, string> = {}): void => {
    if (wantsTable(req.headers.accept)) {
      out.json(code, toTable(resource, RESOURCES[resource].kind, [obj], { resourceVersion: obj.metadata.resourceVersion }, { include: includeObject(q), now: new Date() }), headers);
    } else out.json(code, obj, headers);
  };

  const deleteOptions = (q: URLSearchParams, body: Buffer): DeleteOptions => {
    const o: DeleteOptions = { dryRun: q.getAll('dryRun').includes('All') };
    if (body.length > 0 && body.toString('utf8').trim() !== '') {
      const b = parseJson(body.toString('utf8'));
      if (isPlainObject(b)) {
        if (Array.isArray(b.dryRun) && b.dryRun.includes('All')) o.dryRun = true;
        if (isPlainObject(b.preconditions)) {
          const p = b.preconditions;
          o.preconditions = {
            uid: typeof p.uid === 'string' ? p.uid : undefined,
            resourceVersion: typeof p.resourceVersion === 'string' ? p.resourceVersion : undefined,
          };
        }
      }
    }
    return o;
  };

  const groups: Array<'discovery.k8s.io'> = opts.endpointSlices === false ? [] : ['discovery.k8s.io'];
  const answer = (body: () => unknown) => (_req: RoutedRequest, res: ServerResponse): void => context(res).out.json(200, body());

  return {
    health: (_req, res) => context(res).out.text(200, 'ok'),
    version: answer(() => SERVER_VERSION),
    api: answer(() => apiVersions(opts.serverAddress())),
    apis: answer(() => apiGroupList(groups)),
    coreV1: answer(() => apiResourceList('')),
    discoveryGroup: answer(() => apiGroup('discovery.k8s.io')),
    discoveryV1: answer(() => apiResourceList('discovery.k8s.io')),
    openapiV3Root: answer(() => openApiV3Root(groups)),
    openapiV3CoreV1: answer(() => openApiV3Group('')),
    openapiV3DiscoveryV1: answer(() => openApiV3Group('discovery.k8s.io')),

    sandboxWatches: answer(() => ({ active: hub.count, resourceVersion: store.resourceVersion, oldestResourceVersion: store.oldestResourceVersion })),
    sandboxActions: {
      'close-watches': answer(() => ({ closed: hub.closeAll() })),
      'hold-watches': answer(() => {
        hub.hold();
        return { held: true };
      }),
      'release-watches': answer(() => {
        hub.release();
        return { held: false };
      }),
      compact: answer(() => {
        store.compact();
        return { oldestResourceVersion: store.oldestResourceVersion };
      }),
    },

    listOrWatch: (req, res, r) => {
      const { query: q, out } = context(res);
      if (r.watch || flag(q, 'watch')) serveWatch(req, res, q, r.resource, r.namespace, selectorsOf(q, r.resource));
      else list(req, out, q, r);
    },
    create: async (req, res, r) => {
      const { query: q, out } = context(res);
      const warnings: string[] = [];
      const body = decodeObjectBody(req.headers['content-type'], await readBody(req));
      const created = store.create(r.resource, r.namespace, body, writeOptions(q, warnings));
      single(req, out, q, r.resource, created, 201, warningHeaders(warnings));
    },
    deleteCollection: async (req, res, r) => {
      const { query: q, out } = context(res);
      const o = deleteOptions(q, await readBody(req));
      const deleted = store.deleteCollection(r.resource, r.namespace, selectorsOf(q, r.resource), o);
      out.json(200, listOf(r.resource, deleted, { resourceVersion: store.resourceVersion }));
    },

    getOrWatch: (req, res, r) => {
      const { query: q, out } = context(res);
      if (r.watch || flag(q, 'watch')) {
        const sel = selectorsOf(q, r.resource);
        sel.fields.push({ field: 'metadata.name', op: '=', value: r.name });
        serveWatch(req, res, q, r.resource, r.namespace, sel);
      } else single(req, out, q, r.resource, store.get(r.resource, r.namespace, r.name));
    },
    replace: async (req, res, r) => {
      const { query: q, out } = context(res);
      const warnings: string[] = [];
      const body = decodeObjectBody(req.headers['content-type'], await readBody(req));
      const o = { ...writeOptions(q, warnings), subresource: r.subresource };
      const { object: obj, created } = store.update(r.resource, r.namespace, r.name, body, o);
      single(req, out, q, r.resource, obj, created ? 201 : 200, warningHeaders(warnings));
    },
    patch: async (req, res, r) => {
      const { query: q, out } = context(res);
      const warnings: string[] = [];
      const type = PATCH_CONTENT_TYPES[mediaType(req.headers['content-type'])];
      if (!type) throw unsupportedMediaType(['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json']);
      const patch = parseJson((await readBody(req)).toString('utf8'));
      const o = { ...writeOptions(q, warnings), subresource: r.subresource };
      single(req, out, q, r.resource, store.patch(r.resource, r.namespace, r.name, type, patch, o), 200, warningHeaders(warnings));
    },
    remove: async (req, res, r) => {
      const { query: q, out } = context(res);
      const o = deleteOptions(q, await readBody(req));
      const deleted = store.delete(r.resource, r.namespace, r.name, o);
      if (RESOURCES[r.resource].deleteReturnsObject) out.json(200, deleted);
      else out.json(200, success({ name: r.name, kind: r.resource, uid: deleted.metadata.uid }));
    },

    notFound: (_req, res) => context(res).out.text(404, '404 page not found\n'),
  };
}

/**
 * The sandbox API server's request listener (for http.createServer / https.createServer): an
 * express Router, the router express() applications route with, with the settings of
 * plainApp() that concern routing (strict, case-sensitive), rather than an express()
 * application. An application decorates every request and response (it swaps their
 * prototypes for express's request and response, and makes a final handler per request):
 * measured here, that cut the GETs per second of the program to a half or less, with many
 * more objects surviving young-generation collections, and with them the changes per second
 * that watches deliver (bench/apiserver-watch.ts, bench/README.md). The handlers use none of
 * the decoration. Without it there is also no X-Powered-By header, and no ETag (which only
 * express's res.send makes).
 */
export function createApiHandler(opts: HandlerOptions): RequestListener {
  const { log } = opts;
  const router = express.Router({ strict: true, caseSensitive: true });

  // Context: the query, a responder, the request log line.
  router.use((req: IncomingMessage, res: ServerResponse, next: Next) => {
    const started = Date.now();
    const raw = req.url ?? '/';
    res.on('close', () => {
      const how = res.writableFinished ? '' : ' (connection closed by the client)';
      log.debug(`${req.method ?? '?'} ${raw} ${res.statusCode} ${Date.now() - started}ms${how} ${req.headers['user-agent'] ?? ''}`);
    });
    let url: URL;
    try {
      url = new URL(raw, 'http://sandbox');
    } catch {
      // An absolute-form request target with an impossible host or port (GET http://x:99999/ HTTP/1.1).
      setContext(res, { query: new URLSearchParams(), pathname: '', search: '', out: responder(req, res, new URLSearchParams()) });
      throw badRequest(`the request target ${JSON.stringify(raw)} is not a valid URL`);
    }
    setContext(res, { query: url.searchParams, pathname: url.pathname, search: url.search, out: responder(req, res, url.searchParams) });
    next();
  });

  // Authentication, before the path is decoded: a client without the token learns nothing.
  const auth = opts.auth;
  if (auth) {
    router.use((req: IncomingMessage, res: ServerResponse, next: Next) => {
      const { pathname, out } = context(res);
      // As kube-apiserver answers a missing or wrong token: 401 with an Unauthorized Status.
      if (!isPublicPath(pathname) && !auth.allows(req.headers.authorization)) out.status(failure(401, 'Unauthorized', 'Unauthorized'));
      else next();
    });
  }

  // express matches routes on req.url: give the route table the canonical path (routes.ts), with the query.
  router.use((req: IncomingMessage, res: ServerResponse, next: Next) => {
    const { pathname, search } = context(res);
    req.url = canonicalPath(pathname) + search;
    next();
  });

  mountRoutes(router, createHandlers(opts), { endpointSlices: opts.endpointSlices !== false });

  // Errors: a Status body (never an HTML page); after a watch has started, drop the connection.
  const fail = (err: unknown, req: IncomingMessage, res: ServerResponse): void => {
    const what = `${req.method ?? '?'} ${(req as { originalUrl?: string }).originalUrl ?? req.url ?? ''}`;
    const message = err instanceof Error ? err.message : String(err);
    if (res.headersSent) {
      log.warn(`${what}: ${message} (after the response started)`);
      res.destroy();
      return;
    }
    const out = (res as WithContext)[CONTEXT]?.out ?? responder(req, res, new URLSearchParams());
    if (err instanceof ApiError) return out.status(err);
    log.error(`${what}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    out.status(failure(500, 'InternalError', `Internal error occurred: ${message}`));
  };
  router.use((err: unknown, req: IncomingMessage, res: ServerResponse, _next: Next) => fail(err, req, res));

  // The router's own requests and responses are Node's: express's types are only names here.
  return (req, res) =>
    router(req as Request, res as Response, (err?: unknown) => {
      // Not reached (the table answers every path, the error handler every error); to be sure:
      if (err !== undefined) fail(err, req, res);
      else if (!res.headersSent) responder(req, res, new URLSearchParams()).text(404, '404 page not found\n');
    });
}
