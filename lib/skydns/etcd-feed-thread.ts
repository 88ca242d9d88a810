/**
 * The thread skydns reads etcd on (a worker_threads Worker started by
 * EtcdStore.onThread, etcd-store.ts): its own etcd client, built from the same
 * options as the main thread's, and an EtcdFeed whose messages go to the main
 * thread as they come. The main thread sends 'stop' to end it; the thread then
 * cancels its watch, closes its client and lets its event loop run out.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createEtcdClient, etcdErrorText, type EtcdClientOptions } from '../etcd/client.js';
import { EtcdFeed, type FeedMessage } from './etcd-feed.js';

export interface FeedThreadData {
  client: EtcdClientOptions;
  prefix: string;
}

const port = parentPort;
if (!port) throw new Error('etcd-feed-thread.js runs as a worker thread (EtcdStore.onThread)');
const data = workerData as FeedThreadData;
const client = createEtcdClient(data.client);
const feed = new EtcdFeed(client, data.prefix, (m: FeedMessage) => port.postMessage(m));
port.on('message', (m: unknown) => {
  if (m !== 'stop') return;
  void feed.stop().finally(() => {
    client.close();
    port.close();
  });
});
feed.start().catch((err: unknown) => port.postMessage({ t: 'log', level: 'warn', text: `etcd: ${etcdErrorText(err)}` } satisfies FeedMessage));
