/**
 * The thread skydns reads etcd on (a worker_threads Worker started by
 * EtcdStore.onThread, etcd-store.ts): its own etcd client, built from the same
 * options as the main thread's, and an EtcdFeed whose messages go to the main
 * thread as they come. The main thread sends 'stop' to end it; the thread then
 * cancels its watch, closes its client and lets its event loop run out.
 */
import fs from 'node:fs';
import os from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { createEtcdClient, etcdErrorText, type EtcdClientOptions } from '../etcd/client.js';
import { EtcdFeed, type FeedMessage } from './etcd-feed.js';

export interface FeedThreadData {
  client: EtcdClientOptions;
  prefix: string;
}

/**
 * How much lower this thread's priority is than the process's (nice steps).
 * When it and the query thread want the same CPU, the query thread comes
 * first: on this project's 2-vCPU VM, with the query thread kept to one CPU,
 * the thread at the process's own priority took that CPU from it 31–40 times
 * in 5 s under 1,000 changes a second, against 7–9 times for all of node's
 * other threads before it existed. It needs little CPU (about 40 µs a
 * change), so it still keeps up when the CPUs are busy.
 */
const NICER = 5;

/** The thread's name in `top -H`, `ps -L` and scheduler traces. */
const THREAD_NAME = 'etcd-feed';

/** Names this thread and lowers its priority (Linux: /proc/thread-self, setpriority on the thread's id); elsewhere it stays as it is. */
function settle(): void {
  try {
    fs.writeFileSync('/proc/thread-self/comm', THREAD_NAME);
  } catch {
    // No /proc: the thread keeps node's name.
  }
  try {
    const tid = Number(fs.readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) os.setPriority(tid, Math.min(19, os.getPriority(tid) + NICER));
  } catch {
    // No /proc, or not allowed: the thread runs at the process's priority.
  }
}

const port = parentPort;
if (!port) throw new Error('etcd-feed-thread.js runs as a worker thread (EtcdStore.onThread)');
const data = workerData as FeedThreadData;
settle();
const client = createEtcdClient(data.client);
/** The gc() of --expose-gc, which EtcdStore sets before it starts this thread. */
const gc = (globalThis as { gc?: () => void }).gc;
const feed = new EtcdFeed(client, data.prefix, (m: FeedMessage) => {
  port.postMessage(m);
  // A full read leaves its garbage in this heap, and the thread allocates too little afterwards
  // for V8 to come and collect it (about 15 MB at 100,000 services): collected once it is sent.
  if (m.t === 'reset' && gc) setImmediate(gc);
});
port.on('message', (m: unknown) => {
  if (m !== 'stop') return;
  void feed.stop().finally(() => {
    client.close();
    port.close();
  });
});
feed.start().catch((err: unknown) => port.postMessage({ t: 'log', level: 'warn', text: `etcd: ${etcdErrorText(err)}` } satisfies FeedMessage));
