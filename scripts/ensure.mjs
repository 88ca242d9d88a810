#!/usr/bin/env node
// Make this machine ready to build and test the project.
//
//   node scripts/ensure.mjs [--bench] [--tests] [--no-build]
//
// 1. Node >= 20.
// 2. System commands etcd, etcdctl, dig, nslookup (+ dnsperf, knotd, knotc,
//    dnssec-keygen with --bench; + openssl, knotd, dnssec-keygen, delv and unbound-host with
//    --tests, for the etcd TLS tests' certificates, the ExternalName test's
//    upstream and the DNSSEC tests' keys and validators). Missing ones are
//    installed with apt-get when running as root, otherwise the exact apt-get
//    command is printed and we exit 1.
// 3. npm dependencies (npm ci / npm install) when node_modules is missing or stale.
// 4. TypeScript build (tsc -p tsconfig.json) unless --no-build.
// 5. skydns's batched UDP module (native/udpio.node, scripts/build-native.mjs) with the C
//    compiler, which is installed with the packages above when running as root; without
//    one the build says so and skydns uses Node's dgram.
//
// Plain JS with no npm dependencies: it must run before `npm install`.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildNative } from './build-native.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const known = new Set(['--bench', '--tests', '--no-build', '--help', '-h']);
for (const a of argv) {
  if (!known.has(a)) {
    console.error(`[ensure] unknown argument: ${a}`);
    console.error('[ensure] usage: node scripts/ensure.mjs [--bench] [--tests] [--no-build]');
    process.exit(2);
  }
}
if (argv.includes('--help') || argv.includes('-h')) {
  console.log('usage: node scripts/ensure.mjs [--bench] [--tests] [--no-build]');
  process.exit(0);
}
const bench = argv.includes('--bench');
const build = !argv.includes('--no-build');

const log = (msg) => console.log(`[ensure] ${msg}`);
const fail = (msg) => {
  console.error(`[ensure] ERROR: ${msg}`);
  process.exit(1);
};

// ---------------------------------------------------------------- (a) Node
const major = Number(process.versions.node.split('.')[0]);
if (!(major >= 20)) fail(`Node.js >= 20 is required, this is ${process.version}`);
log(`node ${process.version} ok`);

// ---------------------------------------------------------------- (b) system commands
/** command -> Debian package */
const REQUIRED = [
  ['etcd', 'etcd-server'],
  ['etcdctl', 'etcd-client'],
  ['dig', 'bind9-dnsutils'],
  ['nslookup', 'bind9-dnsutils'],
];
const BENCH = [
  ['dnsperf', 'dnsperf'],
  ['knotd', 'knot'],
  ['knotc', 'knot'],
  ['dnssec-keygen', 'bind9-utils'],
];
// knotd: the real upstream nameserver of the ExternalName end-to-end test.
// dnssec-keygen, delv, unbound-host: keys and real validators for the DNSSEC tests.
const TESTS = [['openssl', 'openssl'], ['knotd', 'knot'], ['dnssec-keygen', 'bind9-utils'], ['delv', 'bind9-dnsutils'], ['unbound-host', 'unbound-host']];
// The C compiler builds skydns's batched UDP module; without it skydns falls back to Node's
// dgram, so it is installed only where we may (as root), never demanded.
const isRootUser = typeof process.getuid === 'function' && process.getuid() === 0;
const COMPILER = [['cc', 'gcc libc6-dev']];
const wanted = [...REQUIRED, ...(bench ? BENCH : []), ...(argv.includes('--tests') ? TESTS : []), ...(isRootUser ? COMPILER : [])];

function searchDirs() {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  // knotd/knotc live in /usr/sbin, which is not on every user's PATH.
  for (const d of ['/usr/local/sbin', '/usr/sbin', '/sbin']) if (!dirs.includes(d)) dirs.push(d);
  return dirs;
}

function which(cmd) {
  for (const dir of searchDirs()) {
    const p = path.join(dir, cmd);
    try {
      const st = fs.statSync(p);
      if (st.isFile()) {
        fs.accessSync(p, fs.constants.X_OK);
        return p;
      }
    } catch {
      // not here
    }
  }
  return null;
}

function missingCommands() {
  return wanted.filter(([cmd]) => which(cmd) === null);
}

function run(cmd, args, opts = {}) {
  log(`$ ${[cmd, ...args].join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });
  if (r.error) return { ok: false, why: r.error.message };
  if (r.status !== 0) return { ok: false, why: r.signal ? `killed by ${r.signal}` : `exit code ${r.status}` };
  return { ok: true };
}

let missing = missingCommands();
if (missing.length > 0) {
  const pkgs = [...new Set(missing.flatMap(([, pkg]) => pkg.split(' ')))];
  const names = missing.map(([cmd]) => cmd).join(', ');
  const installCmd = `apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y ${pkgs.join(' ')}`;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const apt = which('apt-get');
  if (!isRoot || apt === null) {
    const prefix = isRoot ? '' : 'sudo ';
    fail(
      `missing system commands: ${names}. Install them with:\n` +
        `    ${prefix}apt-get update && ${prefix}apt-get install -y ${pkgs.join(' ')}` +
        (apt === null ? '\n  (apt-get not found: install the equivalent packages with your package manager)' : ''),
    );
  }
  log(`missing system commands: ${names}; installing ${pkgs.join(' ')} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let r = run(apt, ['update'], { env });
  if (!r.ok) fail(`apt-get update failed (${r.why}); try manually: ${installCmd}`);
  r = run(apt, ['install', '-y', ...pkgs], { env });
  if (!r.ok) fail(`apt-get install failed (${r.why}); try manually: ${installCmd}`);
  missing = missingCommands();
  if (missing.length > 0) fail(`still missing after apt-get install: ${missing.map(([c]) => c).join(', ')}`);
}
log(`system commands ok: ${wanted.map(([cmd]) => cmd).join(', ')}`);

// ---------------------------------------------------------------- (c) npm dependencies
const nodeModules = path.join(root, 'node_modules');
const innerLock = path.join(nodeModules, '.package-lock.json');
const pkgJson = path.join(root, 'package.json');
const lockFile = path.join(root, 'package-lock.json');
const mtime = (p) => {
  try {
    return fs.statSync(p).mtimeMs;
  } catch {
    return null;
  }
};

const npmCli = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const haveNodeModules = fs.existsSync(nodeModules);
const innerLockTime = mtime(innerLock);
const tsc = path.join(nodeModules, 'typescript', 'bin', 'tsc');
let npmArgs = null;
if (!haveNodeModules) {
  npmArgs = fs.existsSync(lockFile) ? ['ci', '--no-audit', '--no-fund'] : ['install', '--no-audit', '--no-fund'];
} else if (innerLockTime === null || mtime(pkgJson) > innerLockTime || !fs.existsSync(tsc)) {
  npmArgs = ['install', '--no-audit', '--no-fund'];
}
if (npmArgs !== null) {
  log(haveNodeModules ? 'node_modules is stale; reinstalling npm dependencies' : 'installing npm dependencies');
  const r = run(npmCli, npmArgs);
  if (!r.ok) fail(`npm ${npmArgs[0]} failed (${r.why})`);
} else {
  log('node_modules up to date');
}

// ---------------------------------------------------------------- (d) build
if (build) {
  if (!fs.existsSync(tsc)) fail(`TypeScript compiler not found at ${tsc}; run npm install`);
  const r = run(process.execPath, [tsc, '-p', 'tsconfig.json']);
  if (!r.ok) fail(`TypeScript build failed (${r.why})`);
  log('build ok (dist/)');
  const n = buildNative({ log });
  if (n.ok) log(`native UDP module ok (${n.why})`);
  else log(`WARNING: skydns's batched UDP module not built: ${n.why}. skydns will use Node's dgram (about a third of the UDP throughput).`);
} else {
  log('skipping build (--no-build)');
}
log('ready');
