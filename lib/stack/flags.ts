/** The local stack's flags (a table here so tests can check it against the program's --help). */
import type { FlagDef } from '../flags.js';

export const STACK_FLAGS: readonly FlagDef[] = [
  { name: 'dns-port', type: 'int', default: 10053, usage: 'DNS port on 127.0.0.1 (53 needs root)' },
  { name: 'api-port', type: 'int', default: 0, usage: 'sandbox API server port on 127.0.0.1 (default: a free port)' },
  { name: 'etcd-port', type: 'int', default: 0, usage: 'etcd client port on 127.0.0.1 (default: a free port)' },
  { name: 'domain', type: 'string', default: 'cluster.local', usage: 'cluster DNS domain (kube2sky --domain, skydns -domain, the healthz name)' },
  { name: 'seed', type: 'string', default: '', usage: 'YAML objects for the sandbox API server (default: manifests/sandbox-cluster.yaml)' },
  { name: 'kubeconfig', type: 'string', default: '', usage: 'run against the cluster of this kubeconfig instead of the sandbox API server' },
  { name: 'kube-master-url', type: 'string', default: '', usage: 'run against this API server URL (no credentials) instead of the sandbox' },
  { name: 'data-dir', type: 'string', default: '', usage: 'etcd data directory (default: a new temporary directory, removed on exit)' },
  { name: 'dnssec', type: 'bool', default: false, usage: 'sign the zone: make an ECDSAP256SHA256 key with dnssec-keygen (bind9-utils) in the data directory and start skydns with -dnssec' },
  { name: 'verbose', type: 'bool', default: false, usage: "print every line of every component's log here, not only warnings and errors" },
  { name: 'quiet', type: 'bool', default: false, usage: "print none of the components' lines, not even warnings and errors (the log files still get them)" },
  { name: 'log-dir', type: 'string', default: '', usage: "directory for the components' log files (default: a new .stack/logs/<time>-<pid>/, the last 10 kept)" },
];
