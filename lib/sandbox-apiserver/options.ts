/** Start-up options of the sandbox API server and the command-line flags that set them. */
import { type FlagDef, type ParsedFlags, FlagError, bool, num, str } from '../flags.js';

export interface ApiServerOptions {
  /** TCP port; 0 picks a free one (default 0 here, 8080 on the command line). */
  port?: number;
  /** Loopback address to listen on (default 127.0.0.1). */
  address?: string;
  /** Allow a non-loopback address (a container network, as in docker-compose.yml); requires a bearer token. */
  allowExternal?: boolean;
  /** The bearer token every request but /healthz, /livez, /readyz and /version must carry. Generated with allowExternal if neither this nor tokenFile is set. */
  token?: string;
  /** Read the token from this file, or create it with a new token if it does not exist. */
  tokenFile?: string;
  /** Write a kubeconfig (server URL, CA certificate and token; mode 0600) to this file once listening. */
  writeKubeconfig?: string;
  /** Serving certificate and key (PEM) when a token is required; both made (self-signed) and written if neither file exists. Without them, a self-signed certificate is made in memory. */
  tlsCertFile?: string;
  tlsKeyFile?: string;
  /** Extra DNS names or IP addresses for a self-signed certificate (besides localhost, 127.0.0.1, ::1, the host name and the listen address). */
  tlsSans?: readonly string[];
  /** Service CIDR, or "IPv4CIDR,IPv6CIDR" (default 10.0.0.0/24). */
  serviceCidr?: string;
  /** Pod CIDR for simulated pod addresses (default 10.244.0.0/16). */
  podCidr?: string;
  /** Simulate scheduler + kubelet for pods created without status.podIP (default true). */
  simulateKubelet?: boolean;
  /** Node name given to such pods (default sandbox-node). */
  nodeName?: string;
  /** Events held for resuming watches (default 1000). */
  history?: number;
  /** BOOKMARK period for watches that allow them, ms (default 5000). */
  bookmarkIntervalMs?: number;
  /** Create default/kubernetes and its Endpoints (default true). Namespaces are always created. */
  defaultObjects?: boolean;
  /** Run the endpoints controller (default true). */
  endpointsController?: boolean;
  /** Serve discovery.k8s.io/v1 EndpointSlices (and keep them for services with a selector). Default true. */
  endpointSlices?: boolean;
  /** YAML/JSON files of objects to create at start. */
  load?: readonly string[];
  /** Objects to create at start (after the files). */
  objects?: readonly unknown[];
  /** Watch duration when the client sets no timeoutSeconds, ms: random in [min, 2×min) like --min-request-timeout (default 1800 s). */
  minRequestTimeoutMs?: number;
  /** Log level (requests are logged at debug). */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
}

export const APISERVER_FLAGS: FlagDef[] = [
  { name: 'port', type: 'int', default: 8080, usage: 'port to serve on (0: a free port, printed at start)', aliases: ['insecure-port', 'secure-port'] },
  { name: 'address', type: 'string', default: '127.0.0.1', usage: 'loopback address to serve on', aliases: ['bind-address', 'insecure-bind-address'] },
  { name: 'allow-external', type: 'bool', default: false, usage: 'allow a non-loopback --address (for a container network); every request but /healthz, /livez, /readyz and /version then needs "Authorization: Bearer <token>"' },
  { name: 'token-file', type: 'string', default: '', usage: 'file holding the bearer token (created with a new random token if missing); with it the token is required on loopback too. Without it, --allow-external generates a token and logs it once' },
  { name: 'tls-cert-file', type: 'string', default: '', usage: 'serving certificate (PEM) when a token is required (the server then speaks HTTPS: kubectl sends tokens only over TLS); made self-signed and written here, with --tls-private-key-file, if neither exists' },
  { name: 'tls-private-key-file', type: 'string', default: '', usage: 'key (PEM) of --tls-cert-file' },
  { name: 'tls-san', type: 'string', default: '', usage: 'comma-separated extra DNS names or IPs for a self-signed certificate (e.g. the name other containers use)' },
  { name: 'write-kubeconfig', type: 'string', default: '', usage: 'write a kubeconfig for this server (its URL, CA certificate and token; mode 0600) to this file at start' },
  { name: 'service-cidr', type: 'string', default: '10.0.0.0/24', usage: 'cluster IP range; "IPv4CIDR,IPv6CIDR" for dual stack', aliases: ['service-cluster-ip-range'] },
  { name: 'pod-cidr', type: 'string', default: '10.244.0.0/16', usage: 'addresses for pods created without status.podIP', aliases: ['cluster-cidr'] },
  { name: 'simulate-kubelet', type: 'bool', default: true, usage: 'give pods created without status.podIP a node, an address, phase Running and Ready=True' },
  { name: 'node-name', type: 'string', default: 'sandbox-node', usage: 'spec.nodeName of simulated pods' },
  { name: 'load', type: 'string', default: '', usage: 'YAML/JSON file of objects to create at start (repeatable, or comma-separated)' },
  { name: 'history', type: 'int', default: 1000, usage: 'number of recent events kept for resuming watches (older resourceVersions get 410 Expired)' },
  { name: 'bookmark-interval', type: 'duration', default: '5s', usage: 'period of BOOKMARK events on watches with allowWatchBookmarks=true' },
  { name: 'no-default-objects', type: 'bool', default: false, usage: 'do not create the default/kubernetes service and endpoints' },
  { name: 'no-endpoints-controller', type: 'bool', default: false, usage: 'do not maintain Endpoints (nor EndpointSlices) for services with a selector' },
  { name: 'endpoint-slices', type: 'bool', default: true, usage: 'serve discovery.k8s.io/v1 EndpointSlices and keep them as the EndpointSlice controllers do; =false: an API server without them (as before Kubernetes 1.17)' },
  { name: 'min-request-timeout', type: 'int', default: 1800, usage: 'seconds; a watch without timeoutSeconds ends after a random time in [this, 2×this)' },
  { name: 'v', type: 'int', default: 0, usage: 'log verbosity: 1 or more logs every request' },
];

/** Pulls every `-load`/`--load` occurrence out of argv (parseFlags keeps only the last). */
export function extractRepeated(argv: readonly string[], name: string): { values: string[]; rest: string[] } {
  const values: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    const m = /^--?([^=]+)(?:=(.*))?$/.exec(a);
    if (m && m[1] === name) {
      let v = m[2];
      if (v === undefined) {
        if (i + 1 >= argv.length) throw new FlagError(`flag needs an argument: -${name}`);
        v = argv[++i];
      }
      values.push(...v.split(',').filter((s) => s !== ''));
      continue;
    }
    rest.push(a);
  }
  return { values, rest };
}

function tlsOptions(certFile: string, keyFile: string, sans: string): Pick<ApiServerOptions, 'tlsCertFile' | 'tlsKeyFile' | 'tlsSans'> {
  if ((certFile === '') !== (keyFile === '')) throw new FlagError('-tls-cert-file and -tls-private-key-file go together');
  const list = sans.split(',').map((s) => s.trim()).filter((s) => s !== '');
  return { ...(certFile ? { tlsCertFile: certFile, tlsKeyFile: keyFile } : {}), ...(list.length ? { tlsSans: list } : {}) };
}

export function optionsFromFlags(p: ParsedFlags, load: readonly string[]): ApiServerOptions {
  const port = num(p, 'port');
  if (port < 0 || port > 65535) throw new FlagError(`-port: ${port} is not a valid port`);
  const history = num(p, 'history');
  if (history < 1) throw new FlagError(`-history: must be at least 1, got ${history}`);
  const minTimeout = num(p, 'min-request-timeout');
  if (minTimeout < 1) throw new FlagError(`-min-request-timeout: must be at least 1, got ${minTimeout}`);
  return {
    port,
    address: str(p, 'address'),
    allowExternal: bool(p, 'allow-external'),
    ...(str(p, 'token-file') ? { tokenFile: str(p, 'token-file') } : {}),
    ...(str(p, 'write-kubeconfig') ? { writeKubeconfig: str(p, 'write-kubeconfig') } : {}),
    ...tlsOptions(str(p, 'tls-cert-file'), str(p, 'tls-private-key-file'), str(p, 'tls-san')),
    serviceCidr: str(p, 'service-cidr'),
    podCidr: str(p, 'pod-cidr'),
    simulateKubelet: bool(p, 'simulate-kubelet'),
    nodeName: str(p, 'node-name'),
    history,
    bookmarkIntervalMs: num(p, 'bookmark-interval'),
    defaultObjects: !bool(p, 'no-default-objects'),
    endpointsController: !bool(p, 'no-endpoints-controller'),
    endpointSlices: bool(p, 'endpoint-slices'),
    load,
    minRequestTimeoutMs: minTimeout * 1000,
    logLevel: num(p, 'v') >= 1 ? 'debug' : 'info',
  };
}
