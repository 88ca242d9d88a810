#!/usr/bin/env node
// Builds native/udpio.node, skydns's batched UDP I/O (recvmmsg/sendmmsg; see
// native/udpio.c), with the C compiler and Node's own headers (node_api.h,
// uv.h). No node-gyp, no Python: one `cc` command.
//
//   node scripts/build-native.mjs [--force] [--strict]
//
// Without a compiler or headers it says what is missing and exits 0 (skydns
// then uses Node's dgram; `-udp-io=batch` would refuse to start); --strict
// makes that exit 1. Rebuilds only when udpio.c is newer than udpio.node.
// Plain JS with no npm dependencies (it runs from scripts/ensure.mjs).

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const SOURCE = path.join(root, 'native', 'udpio.c');
export const MODULE = path.join(root, 'native', 'udpio.node');

/** The first C compiler that answers --version: $CC, cc, gcc, clang; null if none (also used by bench/dns-servers.ts). */
export function findCompiler() {
  for (const cc of [process.env.CC, 'cc', 'gcc', 'clang'].filter(Boolean)) {
    const r = spawnSync(cc, ['--version'], { stdio: 'ignore' });
    if (!r.error && r.status === 0) return cc;
  }
  return null;
}

/** The directory holding node_api.h and uv.h for this Node. */
export function nodeHeaders() {
  const dirs = [
    process.env.NODE_INCLUDE,
    path.join(path.dirname(process.execPath), '..', 'include', 'node'),
    '/usr/include/node',
    '/usr/local/include/node',
  ].filter(Boolean);
  return dirs.find((d) => fs.existsSync(path.join(d, 'node_api.h')) && fs.existsSync(path.join(d, 'uv.h'))) ?? null;
}

/** Builds the module if needed; returns { ok, why } (why: what was done, or what is missing). */
export function buildNative({ force = false, log = (m) => console.log(`[native] ${m}`) } = {}) {
  const mtime = (p) => {
    try {
      return fs.statSync(p).mtimeMs;
    } catch {
      return null;
    }
  };
  const built = mtime(MODULE);
  if (!force && built !== null && built >= (mtime(SOURCE) ?? 0)) return { ok: true, why: 'up to date' };
  const cc = findCompiler();
  if (cc === null) return { ok: false, why: 'no C compiler (cc/gcc/clang) found; install one: apt-get install -y gcc libc6-dev' };
  const inc = nodeHeaders();
  if (inc === null) return { ok: false, why: `Node's headers (node_api.h, uv.h) not found next to ${process.execPath}, in /usr/include/node or /usr/local/include/node; set NODE_INCLUDE to their directory` };
  const tmp = `${MODULE}.tmp-${process.pid}`;
  const args = ['-O2', '-Wall', '-Wextra', '-Wno-unused-parameter', '-shared', '-fPIC', `-I${inc}`, SOURCE, '-o', tmp];
  log(`$ ${cc} ${args.join(' ')}`);
  const r = spawnSync(cc, args, { stdio: 'inherit', cwd: root });
  if (r.error || r.status !== 0) {
    fs.rmSync(tmp, { force: true });
    return { ok: false, why: `${cc} failed (${r.error ? r.error.message : `exit code ${r.status}`})` };
  }
  fs.renameSync(tmp, MODULE);
  return { ok: true, why: `built ${path.relative(root, MODULE)}` };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const res = buildNative({ force: args.includes('--force') });
  if (res.ok) console.log(`[native] ${res.why}`);
  else {
    console.error(`[native] not built: ${res.why}. skydns will use Node's dgram for UDP (slower; see README "Dependencies").`);
    if (args.includes('--strict')) process.exit(1);
  }
}
