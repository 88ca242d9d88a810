/**
 * The sandbox Kubernetes API server: core/v1 Services, Endpoints, Pods and
 * Namespaces in memory, served over the real REST list/watch protocol on a
 * loopback address. See README.md.
 */
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import type { AddressInfo } from 'node:net';
import { type Log, createLogger } from '../log.js';
import { BearerAuth, checkToken, generateToken, kubeconfigYaml, tokenFromFile, writeSecretFile } from './auth.js';
import { EndpointsController } from './controller.js';
import { createKubernetesService, createNamespaces } from './defaults.js';
import { type LoadedObject, loadObjects, readObjectFile } from './load.js';
import type { ApiServerOptions } from './options.js';
import { createApiHandler } from './server.js';
import { Store } from './store.js';
import { type ServingCert, certFromFiles, selfSignedCert } from './tls.js';
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
  /** The bearer token requests must carry, or undefined when the server is open (loopback without a token). */
  token: string | undefined;
  /** With a token the server speaks HTTPS: its certificate (PEM), self-signed unless given, which clients trust as the CA. */
  caCert: string | undefined;
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

/**
 * The bearer token, if the server requires one: given (option or --token-file), or
 * generated for --allow-external (a network listener is never left open). A token the
 * server made up is logged once: the only way its user learns it without a file.
 */
function resolveToken(opts: ApiServerOptions, log: Log): string | undefined {
  if (opts.token !== undefined) return checkToken(opts.token, 'token');
  const what = 'required on every request but /healthz, /livez, /readyz and /version as "Authorization: Bearer <token>"';
  if (opts.tokenFile) {
    const { token, created } = tokenFromFile(opts.tokenFile);
    if (created) log.info(`bearer token (new, written to ${opts.tokenFile}; ${what}): ${token}`);
    else log.info(`bearer token read from ${opts.tokenFile}; ${what}`);
    return token;
  }
  if (!opts.allowExternal) return undefined;
  const token = generateToken();
  log.info(`bearer token (generated; ${what}): ${token}`);
  return token;
}

/** The serving certificate of a server that requires a token: from files, or self-signed for the names it is reached by. */
function servingCert(opts: ApiServerOptions, address: string, log: Log): ServingCert {
  const names = [...new Set(['localhost', '127.0.0.1', '::1', os.hostname(), ...(address === '0.0.0.0' || address === '::' ? [] : [address]), ...(opts.tlsSans ?? [])])];
  if (opts.tlsCertFile && opts.tlsKeyFile) {
    const { cert, created } = certFromFiles(opts.tlsCertFile, opts.tlsKeyFile, names);
    log.info(created ? `self-signed certificate for ${names.join(', ')} written to ${opts.tlsCertFile} (key ${opts.tlsKeyFile})` : `serving certificate read from ${opts.tlsCertFile}`);
    return cert;
  }
  log.info(`serving HTTPS with a self-signed certificate for ${names.join(', ')} (its own CA: see --write-kubeconfig)`);
  return selfSignedCert(names);
}

export async function startApiServer(opts: ApiServerOptions = {}, log: Log = createLogger('apiserver', opts.logLevel ?? 'info')): Promise<ApiServer> {
  const address = opts.address ?? '127.0.0.1';
  if (!isLoopback(address) && !opts.allowExternal) throw new Error(`--address ${address}: the sandbox API server only listens on loopback addresses (127.0.0.0/8, ::1, localhost) unless --allow-external is given`);
  const token = resolveToken(opts, log);
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
  const tls = token === undefined ? undefined : servingCert(opts, address, log);
  const handler = createApiHandler({
    store,
    hub,
    log,
    serverAddress: () => `${address.includes(':') ? `[${address}]` : address}:${port}`,
    watchTimeoutMs: [minTimeout, 2 * minTimeout],
    auth: token === undefined ? undefined : new BearerAuth(token),
    endpointSlices: opts.endpointSlices ?? true,
  });
  const server = tls ? https.createServer({ cert: tls.certPem, key: tls.keyPem }, handler) : http.createServer(handler);
  const scheme = tls ? 'https' : 'http';
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
      controller = new EndpointsController(store, log, { slices: opts.endpointSlices ?? true });
      controller.start();
    }
    const given = (opts.objects ?? []).map((o, i): LoadedObject => {
      if (!isPlainObject(o)) throw new Error(`object ${i}: not an object`);
      return { source: `object ${i}`, object: o };
    });
    const n = loadObjects(store, [...files, ...given]);
    if (n > 0) log.info(`loaded ${n} objects`);
    if (opts.writeKubeconfig) {
      // An unspecified listen address is reached on loopback from this machine.
      const reach = address === '0.0.0.0' ? '127.0.0.1' : address === '::' ? '::1' : host;
      writeSecretFile(opts.writeKubeconfig, kubeconfigYaml(`${scheme}://${reach.includes(':') ? `[${reach}]` : reach}:${port}`, { token, caPem: tls?.certPem }));
      log.info(`kubeconfig written to ${opts.writeKubeconfig}`);
    }
  } catch (err) {
    await close();
    throw err;
  }

  return {
    url: `${scheme}://${address.includes(':') ? `[${address}]` : address}:${port}`,
    port,
    address,
    token,
    caCert: tls?.certPem,
    store,
    controller,
    closeWatches: () => hub.closeAll(),
    holdWatches: () => hub.hold(),
    releaseWatches: () => hub.release(),
    activeWatches: () => hub.count,
    close,
  };
}
