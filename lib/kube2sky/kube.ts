/** Kubernetes API client selection, as kube2sky 1.14 did it (docs/kube2sky.md §1.2). */
import { KubeConfig, type KubernetesObject, Watch } from '@kubernetes/client-node';
import { accessSync, constants } from 'node:fs';
import { createInterface } from 'node:readline';
import fetch from 'node-fetch';

/** Where the kubelet mounts a pod's service-account token. */
export const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export function kubeConfigFor(masterUrl: string, kubeconfigPath: string): { kc: KubeConfig; how: string } {
  const kc = new KubeConfig();
  if (masterUrl && !kubeconfigPath) {
    kc.loadFromClusterAndUser({ name: 'master', server: masterUrl, skipTLSVerify: true }, { name: 'anonymous' });
    return { kc, how: `${masterUrl} (no credentials)` };
  }
  if (kubeconfigPath) {
    kc.loadFromFile(kubeconfigPath);
    if (masterUrl) {
      const current = kc.getCurrentCluster();
      const clusters = kc.clusters.map((c) => (current && c.name === current.name ? { ...c, server: masterUrl } : c));
      kc.loadFromOptions({ clusters, users: kc.users, contexts: kc.contexts, currentContext: kc.currentContext });
    }
    return { kc, how: `${kc.getCurrentCluster()?.server ?? '(no server)'} (kubeconfig ${kubeconfigPath})` };
  }
  // In a pod: the kubelet's service variables and the mounted service-account token.
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) {
    throw new Error('neither --kube-master-url nor --kubecfg-file is set, and KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT are not (they are in a pod)');
  }
  try {
    accessSync(SERVICE_ACCOUNT_TOKEN, constants.R_OK);
  } catch (err) {
    throw new Error(`in-cluster service account: cannot read ${SERVICE_ACCOUNT_TOKEN}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  kc.loadFromCluster();
  return { kc, how: `${kc.getCurrentCluster()?.server ?? '(no server)'} (in-cluster service account)` };
}

/** The result of a LIST: plain JSON objects, and the resourceVersion to watch from. */
export interface RawList {
  items: KubernetesObject[];
  metadata: { resourceVersion?: string };
}

/** Objects per LIST page: bounds the size of one response body however large the cluster. */
export const LIST_PAGE_SIZE = 500;
/** Longest wait for one page (request and body): an API server that stops answering fails the list, which is retried. */
export const LIST_PAGE_TIMEOUT_MS = 60_000;

/** A failed LIST request, with the HTTP status (as client-node's own errors carry it). */
export class ListError extends Error {
  constructor(
    message: string,
    readonly statusCode: number,
  ) {
    super(message);
  }
}

/**
 * LISTs `path` (e.g. /api/v1/pods) in pages of `limit` objects (limit/continue,
 * every page from the same snapshot) and returns the objects as the API sent
 * them: plain JSON, the same shape watch events carry. client-node's typed
 * list calls build a second, typed copy of every object and read the whole
 * list as one response body; for 30,000 pods that was the peak of kube2sky's
 * memory. A continue token that expires between pages (410 Gone) starts the
 * list over, at most `maxRestarts` times. A page that takes longer than
 * `pageTimeoutMs` fails the list. `map` is applied to every object as its page
 * arrives; `onPage` is called after each page with the number of objects so far.
 */
export async function listPaged(
  kc: KubeConfig,
  path: string,
  opts: {
    limit?: number;
    maxRestarts?: number;
    pageTimeoutMs?: number;
    /** Applied to each object as its page arrives (e.g. to keep only the fields used). */
    map?: (o: KubernetesObject) => KubernetesObject;
    onPage?: (soFar: number, pages: number) => void | Promise<void>;
  } = {},
): Promise<RawList> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('no current cluster in the Kubernetes client configuration');
  const limit = opts.limit ?? LIST_PAGE_SIZE;
  const maxRestarts = opts.maxRestarts ?? 3;
  const pageTimeoutMs = opts.pageTimeoutMs ?? LIST_PAGE_TIMEOUT_MS;
  for (let restarts = 0; ; restarts++) {
    const items: KubernetesObject[] = [];
    let resourceVersion: string | undefined;
    let token = '';
    let pages = 0;
    let expired = false;
    do {
      const url = new URL(cluster.server + path);
      if (limit > 0) url.searchParams.set('limit', String(limit));
      if (token) url.searchParams.set('continue', token);
      const what = `LIST ${path}${token ? ' (continued)' : ''}`;
      const init = await kc.applyToFetchOptions({});
      init.method = 'GET';
      const abort = new AbortController();
      init.signal = abort.signal as NonNullable<typeof init.signal>;
      const timer = setTimeout(() => abort.abort(), pageTimeoutMs);
      let page: { items?: unknown; metadata?: { resourceVersion?: unknown; continue?: unknown } };
      try {
        const res = await fetch(url.toString(), init);
        if (res.status === 410 && token && restarts < maxRestarts) {
          await res.text();
          expired = true;
          break;
        }
        if (res.status !== 200) {
          const body = await res.text();
          let reason = body.slice(0, 200);
          try {
            const status = JSON.parse(body) as { message?: unknown };
            if (typeof status.message === 'string') reason = status.message;
          } catch {
            // not a Status object: keep the start of the body
          }
          throw new ListError(`${what}: HTTP ${res.status}${reason ? `: ${reason}` : ''}`, res.status);
        }
        page = (await res.json()) as typeof page;
      } catch (err) {
        if (abort.signal.aborted) throw new ListError(`${what}: no complete answer within ${pageTimeoutMs} ms`, 0);
        throw err;
      } finally {
        clearTimeout(timer);
      }
      if (!Array.isArray(page.items)) throw new ListError(`${what}: the response has no items array`, 200);
      const map = opts.map;
      for (const o of page.items as KubernetesObject[]) items.push(map ? map(o) : o);
      if (typeof page.metadata?.resourceVersion === 'string') resourceVersion = page.metadata.resourceVersion;
      token = typeof page.metadata?.continue === 'string' ? page.metadata.continue : '';
      pages++;
      await opts.onPage?.(items.length, pages);
    } while (token);
    if (!expired) return { items, metadata: { resourceVersion } };
  }
}

/** How a MappingWatch asks for its streams and reports that the API server is there. */
export interface WatchOptions {
  /** Asked of the server (timeoutSeconds): it ends the stream after this long and the informer opens a new one. 0: not asked. */
  timeoutSeconds?: number;
  /** Called on every sign of life: the answer to a watch request, and every line of the stream (events and bookmarks). */
  alive?: () => void;
}

/**
 * client-node's Watch protocol (the informer calls watch() and gets done() when the stream
 * ends), written out here for three things client-node's Watch does not do:
 *   - `map` is applied to the object of every ADDED, MODIFIED and DELETED event before the
 *     informer sees it (ERROR and BOOKMARK events pass unchanged: a Status, a resourceVersion);
 *   - each request asks for bookmarks and, if set, a server-side timeout, so a healthy watch
 *     on a quiet cluster still shows signs of life (`alive`) at least every timeoutSeconds;
 *   - restart() ends the current request, answered or still waiting for its answer, and the
 *     informer resumes from its resourceVersion (client-node's Watch hands its
 *     AbortController over only once the server has answered, so a request the server never
 *     answers could not be ended).
 */
export class MappingWatch extends Watch {
  private current: { abort: AbortController; restarting: boolean } | null = null;

  constructor(
    config: KubeConfig,
    private readonly map: (o: KubernetesObject) => KubernetesObject,
    private readonly opts: WatchOptions = {},
  ) {
    super(config);
  }

  /** Ends the open watch request so that a new one starts from the informer's resourceVersion. False if none is open. */
  restart(): boolean {
    const c = this.current;
    if (!c) return false;
    c.restarting = true;
    c.abort.abort();
    return true;
  }

  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: any, watchObj?: any) => void,
    done: (err: any) => void,
  ): Promise<AbortController> {
    const cluster = this.config.getCurrentCluster();
    if (!cluster) throw new Error('no current cluster in the Kubernetes client configuration');
    const url = new URL(cluster.server + path);
    url.searchParams.set('watch', 'true');
    url.searchParams.set('allowWatchBookmarks', 'true');
    if (this.opts.timeoutSeconds) url.searchParams.set('timeoutSeconds', String(this.opts.timeoutSeconds));
    for (const [k, v] of Object.entries(queryParams)) if (v !== undefined) url.searchParams.set(k, String(v));
    const init = await this.config.applyToFetchOptions({});
    const abort = new AbortController();
    init.signal = abort.signal as NonNullable<typeof init.signal>;
    init.method = 'GET';
    const state = { abort, restarting: false };
    this.current = state;
    let finished = false;
    const finish = (err: unknown): void => {
      if (finished) return;
      finished = true;
      if (this.current === state) this.current = null;
      const ourRestart = state.restarting;
      const stoppedByInformer = !ourRestart && abort.signal.aborted;
      abort.abort();
      // The informer aborts a request only when it stops or starts another: nothing to tell it.
      if (stoppedByInformer) return;
      done(ourRestart ? null : err);
    };
    const alive = (): void => this.opts.alive?.();
    fetch(url.toString(), init).then(
      async (res) => {
        if (res.status !== 200) {
          const body = await res.text().catch(() => '');
          let reason = res.statusText || `HTTP ${res.status}`;
          try {
            const status = JSON.parse(body) as { message?: unknown };
            if (typeof status.message === 'string') reason = status.message;
          } catch {
            // not a Status object
          }
          finish(Object.assign(new Error(`WATCH ${path}: HTTP ${res.status}: ${reason}`), { statusCode: res.status }));
          return;
        }
        alive();
        const body = res.body as unknown as NodeJS.ReadableStream;
        body.on('error', finish);
        body.on('end', () => finish(null));
        body.on('close', () => finish(null));
        const lines = createInterface({ input: body });
        // readline re-emits the body's errors (an abort on stop or restart() among them): without
        // a listener each would be an uncaught exception.
        lines.on('error', finish);
        lines.on('line', (line: string) => {
          if (finished) return;
          alive();
          let data: { type?: unknown; object?: unknown };
          try {
            data = JSON.parse(line) as typeof data;
          } catch {
            return; // not an event (as client-node's Watch, skipped)
          }
          const phase = typeof data.type === 'string' ? data.type : '';
          const obj = phase === 'ADDED' || phase === 'MODIFIED' || phase === 'DELETED' ? this.map(data.object as KubernetesObject) : data.object;
          callback(phase, obj, data);
        });
      },
      (err: unknown) => finish(err),
    );
    return abort;
  }
}
