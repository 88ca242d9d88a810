#!/usr/bin/env node
/**
 * The local stack: the whole kube-dns pod on this machine — etcd, the sandbox
 * API server seeded with a small cluster (or a real cluster via --kubeconfig /
 * --kube-master-url), kube2sky, skydns and exec-healthz with the legacy pod's
 * arguments, on loopback. Ctrl-C stops everything.
 *
 * The terminal gets each component's progress (starting with its address, ready), its
 * warnings and errors, and at the end what to try; every line of every component goes to a
 * log file of its own (--verbose prints them all here as well, --quiet none).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCommandLine, bool } from '../lib/flags.js';
import { STACK_FLAGS } from '../lib/stack/flags.js';
import { runStack } from '../lib/stack/run.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const distRoot = path.resolve(here, '..');
const repoRoot = path.resolve(distRoot, '..');

async function main(): Promise<void> {
  const { flags: p } = parseCommandLine('npm start --', STACK_FLAGS, process.argv.slice(2), (f) => {
    if (bool(f, 'quiet') && bool(f, 'verbose')) throw new Error('--quiet and --verbose exclude each other');
  });
  await runStack(p, repoRoot, distRoot);
}

main().catch((err: Error) => {
  process.stderr.write(`stack: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
