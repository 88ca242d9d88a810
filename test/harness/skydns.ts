// Starts the real skydns program (dist/cmd/skydns.js) on free loopback ports.
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { freePort, freeTcpPort } from './ports.js';
import { Program, spawnProgram, waitUntil } from './proc.js';
import { SKYDNS_NODE_FLAGS } from '../../lib/skydns/node-flags.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const SKYDNS_BIN = path.join(root, 'dist/cmd/skydns.js');

export interface SkyDnsProcess {
  prog: Program;
  port: number;
  metricsPort: number;
  httpGet(p: string): Promise<{ status: number; body: string }>;
  stop(): Promise<void>;
}

export async function startSkyDns(etcdUrl: string, extra: string[] = [], opts: { waitReady?: boolean; env?: NodeJS.ProcessEnv; nodeArgs?: string[] } = {}): Promise<SkyDnsProcess> {
  const port = await freePort();
  const metricsPort = await freeTcpPort();
  // As the image starts it (lib/skydns/node-flags.ts); opts.nodeArgs come after, so a test's own setting wins.
  const args = [...SKYDNS_NODE_FLAGS, ...(opts.nodeArgs ?? []), SKYDNS_BIN, `-machines=${etcdUrl}`, `-addr=127.0.0.1:${port}`, '-ns-rotate=false', '-domain=cluster.local.', `-metrics-addr=127.0.0.1:${metricsPort}`, ...extra];
  const prog = spawnProgram(process.execPath, args, { name: 'skydns', env: opts.env });
  const httpGet = async (p: string) => {
    const res = await fetch(`http://127.0.0.1:${metricsPort}${p}`);
    return { status: res.status, body: await res.text() };
  };
  await prog.waitFor(/ready for queries/, 15000);
  if (opts.waitReady ?? true) {
    await waitUntil(async () => {
      try {
        return (await httpGet('/readyz')).status === 200;
      } catch {
        return false;
      }
    }, 15000, 'skydns /readyz');
  }
  return {
    prog,
    port,
    metricsPort,
    httpGet,
    stop: async () => {
      await prog.stop();
    },
  };
}
