#!/usr/bin/env node
// `npm start`: make the machine ready (system packages, npm packages, build), then run the local stack.
import { spawnSync, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// --no-build (used by the tests, which already built) skips the TypeScript build; everything else goes to the stack.
const args = process.argv.slice(2);
const noBuild = args.includes('--no-build');
const ensure = spawnSync(process.execPath, [path.join(root, 'scripts/ensure.mjs'), ...(noBuild ? ['--no-build'] : [])], { stdio: 'inherit', cwd: root });
if (ensure.status !== 0) process.exit(ensure.status ?? 1);
const child = spawn(process.execPath, [path.join(root, 'dist/cmd/stack.js'), ...args.filter((a) => a !== '--no-build')], { stdio: 'inherit', cwd: root });
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
