// The sandbox Kubernetes API server for tests: in-process (startApiServer) or
// as the real program (dist/cmd/apiserver.js), plus a kubeconfig pointing at
// it and a kubectl runner that never reads the user's own configuration.

import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ApiServer, type ApiServerOptions, startApiServer } from '../../lib/sandbox-apiserver/index.js';
import { createLogger } from '../../lib/log.js';
import { kubeconfigYaml } from '../../lib/sandbox-apiserver/auth.js';
import { type Program, spawnProgram } from './proc.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const APISERVER_BIN = path.join(root, 'dist/cmd/apiserver.js');
export const KUBECTL = process.env.KUBECTL ?? '/usr/bin/kubectl';

/** Writes a kubeconfig for `url` (into a new temp dir unless `file` is given); returns its path. */
export async function writeKubeconfig(url: string, file?: string): Promise<string> {
  const target = file ?? path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'sandbox-kubeconfig-')), 'kubeconfig');
  // Plain http, no credentials; client-node wants insecure-skip-tls-verify even so.
  await fs.writeFile(target, kubeconfigYaml(url, { skipTlsVerify: true }));
  return target;
}

export interface SandboxApi {
  url: string;
  port: number;
  /** Path of a kubeconfig pointing at the server. */
  kubeconfig: string;
  /** Temp dir holding the kubeconfig and kubectl's cache (removed by stop()). */
  dir: string;
  stop(): Promise<void>;
}

export interface InProcessApi extends SandboxApi {
  server: ApiServer;
}

/** Starts the server in this process on a free loopback port. Quiet unless APISERVER_LOG=debug|info. */
export async function startApiServerInProcess(opts: ApiServerOptions = {}): Promise<InProcessApi> {
  const level = process.env.APISERVER_LOG === 'debug' || process.env.APISERVER_LOG === 'info' ? process.env.APISERVER_LOG : 'error';
  const server = await startApiServer({ port: 0, ...opts }, createLogger('apiserver', level));
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sandbox-api-'));
  const kubeconfig = await writeKubeconfig(server.url, path.join(dir, 'kubeconfig'));
  let stopped = false;
  return {
    server,
    url: server.url,
    port: server.port,
    kubeconfig,
    dir,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await server.close();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

export interface ProcessApi extends SandboxApi {
  prog: Program;
}

/** Runs `node dist/cmd/apiserver.js --port 0 …extra` and waits for its "listening" line. */
export async function startApiServerProcess(extra: string[] = [], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<ProcessApi> {
  const prog = spawnProgram(process.execPath, [APISERVER_BIN, '--port', '0', ...extra], { name: 'apiserver', env: opts.env });
  const line = await prog.waitFor(/apiserver listening on https?:\/\/[^\s]+/, 15000);
  const url = line.slice('apiserver listening on '.length);
  const port = Number(new URL(url).port);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sandbox-api-'));
  const kubeconfig = await writeKubeconfig(url, path.join(dir, 'kubeconfig'));
  let stopped = false;
  return {
    prog,
    url,
    port,
    kubeconfig,
    dir,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await prog.stop();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs kubectl against the sandbox (its kubeconfig, a private cache dir). Never throws on a non-zero exit. */
export function kubectl(api: Pick<SandboxApi, 'kubeconfig' | 'dir'>, args: string[], opts: { timeoutMs?: number } = {}): Promise<KubectlResult> {
  const full = [`--kubeconfig=${api.kubeconfig}`, `--cache-dir=${path.join(api.dir, 'kubectl-cache')}`, ...args];
  return new Promise((resolve, reject) => {
    execFile(
      KUBECTL,
      full,
      { timeout: opts.timeoutMs ?? 30000, env: { ...process.env, HOME: api.dir, KUBECONFIG: api.kubeconfig } },
      (err, stdout, stderr) => {
        if (err && (typeof (err as NodeJS.ErrnoException).code === 'string' || err.killed)) {
          reject(new Error(`kubectl ${args.join(' ')}: ${err.killed ? 'timed out' : err.message}\n${stderr}`));
          return;
        }
        const code = err ? ((err as { code?: number }).code ?? 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** fetch() against the server, returning status, headers and parsed JSON (or text). */
export async function request(
  url: string,
  init: { method?: string; body?: unknown; contentType?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Headers; body: unknown; text: string }> {
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  let body: string | undefined;
  if (init.body !== undefined) {
    body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
    headers['Content-Type'] = init.contentType ?? 'application/json';
  }
  const res = await fetch(url, { method: init.method ?? 'GET', headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text) as unknown;
  } catch {
    // not JSON
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

export interface WatchEvent {
  type: string;
  object: { kind?: string; metadata?: { name?: string; namespace?: string; resourceVersion?: string; annotations?: Record<string, string> }; [k: string]: unknown };
}

export interface WatchStream {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Every event received so far, in order. */
  events: WatchEvent[];
  /** Raw chunks as they arrived. */
  raw: string[];
  /** Resolves once `pred` holds for the events received (polls every 20 ms). */
  waitFor(pred: (events: WatchEvent[]) => boolean, timeoutMs?: number, what?: string): Promise<void>;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  close(): void;
}

/** Opens a raw watch (GET url) and collects its newline-delimited events. */
export async function openWatch(url: string, headers: Record<string, string> = {}): Promise<WatchStream> {
  const http = await import('node:http');
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers }, (res) => {
      const events: WatchEvent[] = [];
      const raw: string[] = [];
      let buf = '';
      let endResolve: () => void = () => undefined;
      const ended = new Promise<void>((r) => (endResolve = r));
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        raw.push(chunk);
        buf += chunk;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line.trim()) events.push(JSON.parse(line) as WatchEvent);
        }
      });
      res.on('end', endResolve);
      res.on('close', endResolve);
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        events,
        raw,
        ended,
        close: () => req.destroy(),
        waitFor: async (pred, timeoutMs = 5000, what = 'watch events') => {
          const deadline = Date.now() + timeoutMs;
          while (!pred(events)) {
            if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}; got ${JSON.stringify(events.map((e) => [e.type, e.object.metadata?.name, e.object.metadata?.resourceVersion]))}`);
            await new Promise((r) => setTimeout(r, 20));
          }
        },
      });
    });
    req.on('error', reject);
  });
}
