/** exec-healthz's flags (a table here so tests can check it against the program's --help). */
import type { FlagDef } from '../flags.js';

export const EXEC_HEALTHZ_FLAGS: readonly FlagDef[] = [
  { name: 'cmd', type: 'string', default: 'echo healthz', usage: 'command to run in a shell (sh -c); stdout and stderr are captured' },
  { name: 'port', type: 'int', default: 8080, usage: 'port number to serve /healthz on' },
  { name: 'address', type: 'string', default: '0.0.0.0', usage: 'address to serve on' },
  { name: 'period', type: 'duration', default: '2s', usage: 'period to run the command' },
  { name: 'latency', type: 'duration', default: '30s', usage: 'a result older than this is a failure' },
  { name: 'timeout', type: 'duration', default: '0s', usage: 'kill a run that takes longer than this (default: the period)' },
  { name: 'enable-quit', type: 'bool', default: false, usage: 'serve /quit, which makes the program exit (off: anyone on the pod network could stop it)' },
  { name: 'quiet', type: 'bool', default: false, usage: 'log only failures' },
];
