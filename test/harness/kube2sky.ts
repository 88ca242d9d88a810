// Starts the real kube2sky program (dist/cmd/kube2sky.js) against an etcd and an API server.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freeTcpPort } from './ports.js';
import { Program, spawnProgram, waitUntil } from './proc.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const KUBE2SKY_BIN = path.join(root, 'dist/cmd/kube2sky.js');

export interface Kube2SkyProcess {
  prog: Program;
  port: number;
  get(p: string): Promise<{ status: number; body: string }>;
  stop(): Promise<void>;
}

export async function startKube2Sky(etcdUrl: string, apiUrl: string, extra: string[] = [], opts: { waitReady?: boolean } = {}): Promise<Kube2SkyProcess> {
  const port = await freeTcpPort();
  const prog = spawnProgram(process.execPath, [KUBE2SKY_BIN, `--etcd-server=${etcdUrl}`, `--kube-master-url=${apiUrl}`, `--healthz-port=${port}`, '--healthz-address=127.0.0.1', '--domain=cluster.local', ...extra], { name: 'kube2sky' });
  const get = async (p: string) => {
    const r = await fetch(`http://127.0.0.1:${port}${p}`);
    return { status: r.status, body: await r.text() };
  };
  if (opts.waitReady ?? true) {
    await waitUntil(async () => {
      try {
        return (await get('/readiness')).status === 200;
      } catch {
        return false;
      }
    }, 30000, 'kube2sky /readiness');
  }
  return { prog, port, get, stop: async () => void (await prog.stop()) };
}
