/**
 * The HTTP handler of the sandbox API server: discovery, health, the REST
 * verbs on /api/v1 and the test hooks under /sandbox/.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseBool } from '../flags.js';
import type { Log } from '../log.js';
import { type BearerAuth, isPublicPath } from './auth.js';
import { apiGroupList, apiResourceList, apiVersions, openApiV3CoreV1, openApiV3Root, SERVER_VERSION } from './discovery.js';
import { ApiError, badRequest, methodNotAllowed, resourceNotFound, success, unsupportedMediaType, failure } from './errors.js';
import { decodeObjectBody, mediaType, parseJson, readBody, responder, type Responder } from './http.js';
import { Paginator } from './paging.js';
import { PATCH_CONTENT_TYPES } from './patch.js';
import { RESOURCES, type ResourceName } from './resources.js';
import { route, type Route } from './routes.js';
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
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

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
    apiVersion: 'v1',
    metadata: meta,
    items: items.map(({ kind: _k, apiVersion: _a, ...rest }) => rest),
  };
}

export function createHandler(opts: HandlerOptions): Handler {
  const { store, hub, log } = opts;
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

  const serveWatch = (req: IncomingMessage, res: ServerResponse, q: URLSearchParams, resource: ResourceName, namespace: string | undefined, selectors: Selectors): void => {
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

  const list = (req: IncomingMessage, out: Responder, q: URLSearchParams, r: Extract<Route, { kind: 'collection' }>): void => {
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

  const single = (req: IncomingMessage, out: Responder, q: URLSearchParams, resource: ResourceName, obj: KubeObject, code = 200, headers: Record<string, string> = {}): void => {
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

  const collection = async (req: IncomingMessage, res: ServerResponse, out: Responder, q: URLSearchParams, r: Extract<Route, { kind: 'collection' }>): Promise<void> => {
    const info = RESOURCES[r.resource];
    switch (req.method) {
      case 'GET':
        if (r.watch || flag(q, 'watch')) serveWatch(req, res, q, r.resource, r.namespace, selectorsOf(q, r.resource));
        else list(req, out, q, r);
        return;
      case 'POST': {
        if (info.namespaced && r.namespace === undefined) throw methodNotAllowed();
        const warnings: string[] = [];
        const body = decodeObjectBody(req.headers['content-type'], await readBody(req));
        const created = store.create(r.resource, r.namespace, body, writeOptions(q, warnings));
        single(req, out, q, r.resource, created, 201, warningHeaders(warnings));
        return;
      }
      case 'DELETE': {
        if (info.namespaced && r.namespace === undefined) throw methodNotAllowed();
        const o = deleteOptions(q, await readBody(req));
        const deleted = store.deleteCollection(r.resource, r.namespace, selectorsOf(q, r.resource), o);
        out.json(200, listOf(r.resource, deleted, { resourceVersion: store.resourceVersion }));
        return;
      }
      default:
        throw methodNotAllowed();
    }
  };

  const object = async (req: IncomingMessage, res: ServerResponse, out: Responder, q: URLSearchParams, r: Extract<Route, { kind: 'object' }>): Promise<void> => {
    const info = RESOURCES[r.resource];
    const warnings: string[] = [];
    switch (req.method) {
      case 'GET':
        if (r.watch || flag(q, 'watch')) {
          const sel = selectorsOf(q, r.resource);
          sel.fields.push({ field: 'metadata.name', op: '=', value: r.name });
          serveWatch(req, res, q, r.resource, r.namespace, sel);
        } else single(req, out, q, r.resource, store.get(r.resource, r.namespace, r.name));
        return;
      case 'PUT': {
        const body = decodeObjectBody(req.headers['content-type'], await readBody(req));
        const o = { ...writeOptions(q, warnings), subresource: r.subresource };
        const { object: obj, created } = store.update(r.resource, r.namespace, r.name, body, o);
        single(req, out, q, r.resource, obj, created ? 201 : 200, warningHeaders(warnings));
        return;
      }
      case 'PATCH': {
        const type = PATCH_CONTENT_TYPES[mediaType(req.headers['content-type'])];
        if (!type) throw unsupportedMediaType(['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json']);
        const patch = parseJson((await readBody(req)).toString('utf8'));
        const o = { ...writeOptions(q, warnings), subresource: r.subresource };
        single(req, out, q, r.resource, store.patch(r.resource, r.namespace, r.name, type, patch, o), 200, warningHeaders(warnings));
        return;
      }
      case 'DELETE': {
        if (r.subresource) throw methodNotAllowed();
        const o = deleteOptions(q, await readBody(req));
        const deleted = store.delete(r.resource, r.namespace, r.name, o);
        if (info.deleteReturnsObject) out.json(200, deleted);
        else out.json(200, success({ name: r.name, kind: r.resource, uid: deleted.metadata.uid }));
        return;
      }
      default:
        throw methodNotAllowed();
    }
  };

  const sandbox = (req: IncomingMessage, out: Responder, action: string): void => {
    if (action === 'watches' && req.method === 'GET') return out.json(200, { active: hub.count, resourceVersion: store.resourceVersion, oldestResourceVersion: store.oldestResourceVersion });
    if (req.method !== 'POST') throw methodNotAllowed();
    switch (action) {
      case 'close-watches':
        return out.json(200, { closed: hub.closeAll() });
      case 'hold-watches':
        hub.hold();
        return out.json(200, { held: true });
      case 'release-watches':
        hub.release();
        return out.json(200, { held: false });
      case 'compact':
        store.compact();
        return out.json(200, { oldestResourceVersion: store.oldestResourceVersion });
      default:
        throw resourceNotFound();
    }
  };

  const dispatch = async (req: IncomingMessage, res: ServerResponse, out: Responder, q: URLSearchParams, r: Route): Promise<void> => {
    const getOnly = (): void => {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotAllowed();
    };
    switch (r.kind) {
      case 'health':
        getOnly();
        return out.text(200, 'ok');
      case 'version':
        getOnly();
        return out.json(200, SERVER_VERSION);
      case 'api':
        getOnly();
        return out.json(200, apiVersions(opts.serverAddress()));
      case 'apis':
        getOnly();
        return out.json(200, apiGroupList());
      case 'coreV1':
        getOnly();
        return out.json(200, apiResourceList());
      case 'openapiV3Root':
        getOnly();
        return out.json(200, openApiV3Root());
      case 'openapiV3CoreV1':
        getOnly();
        return out.json(200, openApiV3CoreV1());
      case 'sandbox':
        return sandbox(req, out, r.action);
      case 'collection':
        return collection(req, res, out, q, r);
      case 'object':
        return object(req, res, out, q, r);
      case 'unknownResource':
        throw resourceNotFound();
      case 'notFound':
        return out.text(404, '404 page not found\n');
    }
  };

  return (req, res) => {
    const started = Date.now();
    const url = new URL(req.url ?? '/', 'http://sandbox');
    const q = url.searchParams;
    const out = responder(req, res, q);
    res.on('close', () => {
      const how = res.writableFinished ? '' : ' (connection closed by the client)';
      log.debug(`${req.method ?? '?'} ${req.url ?? ''} ${res.statusCode} ${Date.now() - started}ms${how} ${req.headers['user-agent'] ?? ''}`);
    });
    if (opts.auth && !isPublicPath(url.pathname) && !opts.auth.allows(req.headers.authorization)) {
      // As kube-apiserver answers a missing or wrong token: 401 with an Unauthorized Status.
      out.status(failure(401, 'Unauthorized', 'Unauthorized'));
      return;
    }
    dispatch(req, res, out, q, route(url.pathname)).catch((err: unknown) => {
      if (res.headersSent) {
        log.warn(`${req.method ?? '?'} ${req.url ?? ''}: ${err instanceof Error ? err.message : String(err)} (after the response started)`);
        res.destroy();
        return;
      }
      if (err instanceof ApiError) return out.status(err);
      log.error(`${req.method ?? '?'} ${req.url ?? ''}: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
      out.status(failure(500, 'InternalError', `Internal error occurred: ${err instanceof Error ? err.message : String(err)}`));
    });
  };
}
