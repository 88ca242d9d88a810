/**
 * The sandbox Kubernetes API server: core/v1 Services, Endpoints, Pods and
 * Namespaces in memory, served over the real REST list/watch protocol on a
 * loopback address. See README.md.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Log, createLogger } from '../log.js';
import { EndpointsController } from './controller.js';
import { createKubernetesService, createNamespaces } from './defaults.js';
import { type LoadedObject, loadObjects, readObjectFile } from './load.js';
import type { ApiServerOptions } from './options.js';
import { createHandler } from './server.js';
import { Store } from './store.js';
import { isPlainObject } from './types.js';
import { WatchHub } from './watch.js';

export type { ApiServerOptions } from './options.js';
export { APISERVER_FLAGS, optionsFromFlags, extractRepeated } from './options.js';
export { Store } from './store.js';
export type { StoreEvent, StoreOptions, WriteOptions, DeleteOptions, ListOptions, ListResult } from './store.js';
export { EndpointsController } from './controller.js';
export { computeSubsets } from './endpoints.js';
export { ApiError } from './errors.js';
export type { Status } from './errors.js';
export type { KubeObject, Service, Pod, Endpoints } from './types.js';

export interface ApiServer {
  /** http://ADDRESS:PORT */
  url: string;
  port: number;
  address: string;
  store: Store;
  controller: EndpointsController | undefined;
  /** Ends every open watch stream (clients reconnect from their last resourceVersion). Returns how many. */
  closeWatches(): number;
  /** New watch requests wait without an answer until releaseWatches(). */
  holdWatches(): void;
  releaseWatches(): void;
  /** Open watch streams. */
  activeWatches(): number;
  close(): Promise<void>;
}

function isLoopback(address: string): boolean {
  return address === 'localhost' || address === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address);
}

export async function startApiServer(opts: ApiServerOptions = {}, log: Log = createLogger('apiserver', opts.logLevel ?? 'info')): Promise<ApiServer> {
  const address = opts.address ?? '127.0.0.1';
  if (!isLoopback(address) && !opts.allowExternal) throw new Error(`--address ${address}: the sandbox API server only listens on loopback addresses (127.0.0.0/8, ::1, localhost) unless --allow-external is given`);
  const store = new Store({
    serviceCidr: opts.serviceCidr,
    podCidr: opts.podCidr,
    simulateKubelet: opts.simulateKubelet,
    nodeName: opts.nodeName,
    history: opts.history,
  });
  const files: LoadedObject[] = [];
  for (const f of opts.load ?? []) files.push(...readObjectFile(f));
  const hub = new WatchHub(store, { bookmarkIntervalMs: opts.bookmarkIntervalMs ?? 5000, log });
  const minTimeout = opts.minRequestTimeoutMs ?? 1_800_000;
  let port = opts.port ?? 0;
  const server = http.createServer(
    createHandler({
      store,
      hub,
      log,
      serverAddress: () => `${address.includes(':') ? `[${address}]` : address}:${port}`,
      watchTimeoutMs: [minTimeout, 2 * minTimeout],
    }),
  );
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: address, port }, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  const host = address === 'localhost' ? '127.0.0.1' : address;

  const close = async (): Promise<void> => {
    hub.release();
    hub.closeAll();
    controller?.stop();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  };

  let controller: EndpointsController | undefined;
  try {
    createNamespaces(store);
    if (opts.defaultObjects ?? true) createKubernetesService(store, host, port);
    if (opts.endpointsController ?? true) {
      controller = new EndpointsController(store, log);
      controller.start();
    }
    const given = (opts.objects ?? []).map((o, i): LoadedObject => {
      if (!isPlainObject(o)) throw new Error(`object ${i}: not an object`);
      return { source: `object ${i}`, object: o };
    });
    const n = loadObjects(store, [...files, ...given]);
    if (n > 0) log.info(`loaded ${n} objects`);
  } catch (err) {
    await close();
    throw err;
  }

  return {
    url: `http://${address.includes(':') ? `[${address}]` : address}:${port}`,
    port,
    address,
    store,
    controller,
    closeWatches: () => hub.closeAll(),
    holdWatches: () => hub.hold(),
    releaseWatches: () => hub.release(),
    activeWatches: () => hub.count,
    close,
  };
}
