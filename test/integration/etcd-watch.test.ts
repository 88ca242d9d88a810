// skydns's own etcd watch (lib/etcd/watch.ts) against a real etcd: events in order and exactly
// once, as etcd3 reads the same keys (lease IDs included); a transaction's events in one
// response; a compacted start revision cancels the watch and says so; a lost connection resumes
// after the last event applied, with the changes made meanwhile (a loopback TCP relay in front of
// etcd is cut and refused for a while); endpoints tried in turn; close() ends every call; skydns's
// store, its watch resumed from a revision compacted meanwhile, re-reads and matches etcd. And a
// hostile HTTP/2 server on loopback: a broken message is an error and a retry, not a crash.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Etcd3 } from 'etcd3';
import { createEtcdClient, etcdConnection, prefixEnd } from '../../lib/etcd/client.js';
import { EtcdWatch, WatchHandler } from '../../lib/etcd/watch.js';
import { createLogger } from '../../lib/log.js';
import { EtcdStore } from '../../lib/skydns/etcd-store.js';
import { EtcdProcess, startEtcd } from '../harness/etcd.js';
import { freeTcpPort } from '../harness/ports.js';
import { sleep, waitUntil } from '../harness/proc.js';

/** Every call the watch makes, as text, in order. */
class Recorder implements WatchHandler {
  readonly calls: string[] = [];
  event(put: boolean, key: string, value: string, lease: string, modRevision: number): void {
    this.calls.push(put ? `put ${key}=${value} lease ${lease} @${modRevision}` : `delete ${key} @${modRevision}`);
  }
  response(revision: string, events: number): void {
    this.calls.push(`response ${events} @${revision}`);
  }
  connected(): void {
    this.calls.push('connected');
  }
  disconnected(reason: string): void {
    this.calls.push(`disconnected ${reason}`);
  }
  cancelled(reason: string): void {
    this.calls.push(`cancelled ${reason}`);
  }
  events(): string[] {
    return this.calls.filter((c) => c.startsWith('put ') || c.startsWith('delete '));
  }
}

const P = '/w/';

async function revisionOf(client: Etcd3): Promise<number> {
  return Number((await client.kv.range({ key: Buffer.from(P), range_end: prefixEnd(P) })).header.revision);
}

/** A loopback TCP relay to `port` that can cut its connections and refuse new ones for a while. */
async function relay(port: number): Promise<{ url: string; cut(): void; refuse(on: boolean): void; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let refusing = false;
  const server = net.createServer((inbound) => {
    if (refusing) return inbound.destroy();
    const outbound = net.connect(port, '127.0.0.1');
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    inbound.pipe(outbound).pipe(inbound);
    inbound.on('close', () => outbound.destroy());
    outbound.on('close', () => inbound.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    cut: () => {
      for (const s of sockets) s.destroy();
    },
    refuse: (on) => void (refusing = on),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('EtcdWatch against a real etcd', () => {
  let etcd: EtcdProcess;
  let client: Etcd3;
  const watches: EtcdWatch[] = [];
  const watch = (urls: string[], from: number, rec: Recorder, opts = {}): EtcdWatch => {
    const w = new EtcdWatch(etcdConnection({ urls }), Buffer.from(P), prefixEnd(P), from, rec, opts);
    watches.push(w);
    w.start();
    return w;
  };

  before(async () => {
    etcd = await startEtcd({ name: 'watch-test' });
    client = createEtcdClient({ urls: [etcd.url] });
  });
  after(async () => {
    for (const w of watches) w.close();
    client?.close();
    await etcd?.stop();
  });

  test('events in order and once, as etcd3 reads the keys; a transaction in one response; keys outside the range not seen', async () => {
    const rec = new Recorder();
    const from = (await revisionOf(client)) + 1;
    watch([etcd.url], from, rec);
    await waitUntil(() => rec.calls.includes('connected'), 5000, 'the watch created');
    const lease = client.lease(60, { autoKeepAlive: false });
    const id = await lease.grant();
    await client.put(`${P}a`).value('{"host":"10.0.0.1"}');
    await client.put(`${P}b`).value('é→😀').lease(id);
    await client.put('/other/x').value('no');
    await client.kv.txn({
      compare: [],
      success: [{ request_put: { key: Buffer.from(`${P}c`), value: Buffer.from('3') } }, { request_delete_range: { key: Buffer.from(`${P}a`) } }],
    });
    await client.delete().key(`${P}b`);
    const last = await revisionOf(client);
    await waitUntil(() => rec.calls.some((c) => c === `response 1 @${last}`), 5000, 'the last change');
    const seen = (await client.getAll().prefix(P).exec()).kvs; // c only, read by etcd3
    assert.deepEqual(seen.map((kv) => kv.key.toString()), [`${P}c`]);
    assert.deepEqual(rec.calls, [
      'connected',
      `put ${P}a={"host":"10.0.0.1"} lease 0 @${from}`,
      `response 1 @${from}`,
      `put ${P}b=é→😀 lease ${id} @${from + 1}`,
      `response 1 @${from + 1}`,
      // from + 2: /other/x, outside the range
      `put ${P}c=3 lease 0 @${from + 3}`,
      `delete ${P}a @${from + 3}`,
      `response 2 @${from + 3}`,
      `delete ${P}b @${from + 4}`,
      `response 1 @${from + 4}`,
    ]);
    await lease.revoke();
  });

  test('a start revision etcd has compacted: the watch is cancelled, says why, and makes no call after', async () => {
    await client.put(`${P}old`).value('1');
    const rev = await revisionOf(client);
    await client.kv.compact({ revision: rev, physical: true });
    const rec = new Recorder();
    watch([etcd.url], 1, rec);
    // etcd first says the watch is created, then cancels it.
    const told = () => rec.calls.filter((c) => c !== 'connected');
    await waitUntil(() => told().length > 0, 5000, 'the cancellation');
    assert.equal(told().length, 1, rec.calls.join('\n'));
    assert.match(told()[0], new RegExp(`^cancelled revision 1 has been compacted \\(etcd keeps revisions from ${rev}\\)$`));
    const calls = rec.calls.length;
    await client.put(`${P}after`).value('2');
    await sleep(300);
    assert.equal(rec.calls.length, calls, 'no call after');
  });

  test('a cut connection resumes after the last event applied: the changes made while it was down arrive once, in order', async () => {
    const r = await relay(etcd.port);
    try {
      const rec = new Recorder();
      const from = (await revisionOf(client)) + 1;
      const w = watch([r.url], from, rec);
      await waitUntil(() => rec.calls.includes('connected'), 5000, 'the watch created');
      for (let i = 0; i < 5; i++) await client.put(`${P}k${i}`).value(`before ${i}`);
      await waitUntil(() => rec.events().length === 5, 5000, 'the first five');
      r.refuse(true);
      r.cut();
      await waitUntil(() => rec.calls.some((c) => c.startsWith('disconnected ')), 5000, 'the loss noticed');
      for (let i = 0; i < 5; i++) await client.put(`${P}k${i}`).value(`meanwhile ${i}`);
      await client.delete().key(`${P}k0`);
      await sleep(300);
      assert.equal(rec.events().length, 5, 'nothing while cut off');
      r.refuse(false);
      await waitUntil(() => rec.events().length === 11, 10_000, 'the changes made meanwhile');
      await client.put(`${P}k9`).value('after');
      await waitUntil(() => rec.events().length === 12, 5000, 'a change after');
      const values = rec.events().map((e) => e.replace(/ lease 0 @\d+$/, '').replace(/ @\d+$/, ''));
      assert.deepEqual(values, [
        ...[0, 1, 2, 3, 4].map((i) => `put ${P}k${i}=before ${i}`),
        ...[0, 1, 2, 3, 4].map((i) => `put ${P}k${i}=meanwhile ${i}`),
        `delete ${P}k0`,
        `put ${P}k9=after`,
      ]);
      const revs = rec.events().map((e) => Number(/@(\d+)$/.exec(e)![1]));
      assert.deepEqual(revs, revs.slice().sort((a, b) => a - b), 'revisions in order');
      assert.equal(new Set(revs).size, revs.length, 'none twice');
      assert.equal(w.nextRevision, revs[revs.length - 1] + 1);
      assert.equal(rec.calls.filter((c) => c === 'connected').length, 2, rec.calls.join('\n'));
    } finally {
      await r.close();
    }
  });

  test('endpoints in turn: a closed port first, etcd next', async () => {
    const dead = await freeTcpPort();
    const rec = new Recorder();
    watch([`http://127.0.0.1:${dead}`, etcd.url], (await revisionOf(client)) + 1, rec);
    await waitUntil(() => rec.calls.includes('connected'), 5000, 'the watch created on the second endpoint');
    assert.match(rec.calls[0], new RegExp(`^disconnected http://127\\.0\\.0\\.1:${dead}: connect ECONNREFUSED`));
    await client.put(`${P}second`).value('ok');
    await waitUntil(() => rec.events().some((e) => e.startsWith(`put ${P}second=ok`)), 5000, 'an event');
  });

  test("skydns's store: its watch back after a compaction it missed is cancelled, and the store re-reads to match etcd", async () => {
    const D = '/skydns/local/cluster/svc/ns';
    await client.put(`${D}/x/1`).value('{"host":"10.0.0.1"}');
    const r = await relay(etcd.port);
    const lines: string[] = [];
    const store = new EtcdStore(client, etcdConnection({ urls: [r.url] }), 'skydns', createLogger('store', 'debug', (l) => void lines.push(l)));
    try {
      await store.start();
      assert.ok(store.tree.get(`${D}/x/1`));
      r.refuse(true);
      r.cut();
      await waitUntil(() => !store.connected, 5000, 'the loss noticed');
      await client.put(`${D}/y/1`).value('{"host":"10.0.0.2"}');
      await client.delete().key(`${D}/x/1`);
      await client.kv.compact({ revision: await revisionOf(client), physical: true });
      r.refuse(false);
      await waitUntil(() => lines.some((l) => /etcd: watch cancelled \(revision \d+ has been compacted \(etcd keeps revisions from \d+\)\); re-reading \/skydns\//.test(l)), 10_000, 'the cancellation logged');
      await waitUntil(() => store.connected && store.tree.get(`${D}/y/1`) !== null, 10_000, 'the re-read');
      assert.equal(store.tree.get(`${D}/x/1`), null, 'the key deleted meanwhile is gone');
      await client.put(`${D}/z/1`).value('{"host":"10.0.0.3"}');
      await waitUntil(() => store.tree.get(`${D}/z/1`) !== null, 5000, 'the new watch');
    } finally {
      await store.stop();
      await r.close();
    }
  });

  test("skydns's store: a watch etcd cancels each time is re-read after a growing delay, not in a loop", async () => {
    // Reads from etcd; the watch goes to a server that creates and at once cancels every watch.
    let watches = 0;
    const server = http2.createServer();
    server.on('stream', (stream) => {
      watches++;
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
      const reason = Buffer.from('etcdserver: permission denied');
      const msg = Buffer.concat([Buffer.from([(3 << 3) | 0, 1, (4 << 3) | 0, 1, (6 << 3) | 2, reason.length]), reason]);
      const head = Buffer.alloc(5);
      head.writeUInt32BE(msg.length, 1);
      stream.write(Buffer.concat([head, msg]));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const lines: string[] = [];
    const store = new EtcdStore(client, etcdConnection({ urls: [`http://127.0.0.1:${(server.address() as AddressInfo).port}`] }), 'skydns', createLogger('store', 'debug', (l) => void lines.push(l)));
    try {
      await store.start();
      await sleep(3500);
      // At once, then after 1 s and 2 s more: 3 watches in 3.5 s (a re-read loop would make hundreds).
      assert.ok(watches >= 2 && watches <= 4, `${watches} watches`);
      assert.ok(lines.some((l) => /etcd: watch cancelled \(etcdserver: permission denied\); re-reading \/skydns\/ in 1000 ms/.test(l)), lines.join('\n'));
    } finally {
      await store.stop();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  test('close(): no call after it, and its connection goes', async () => {
    const rec = new Recorder();
    const w = watch([etcd.url], (await revisionOf(client)) + 1, rec);
    await waitUntil(() => rec.calls.includes('connected'), 5000, 'the watch created');
    w.close();
    await client.put(`${P}closed`).value('x');
    await sleep(300);
    assert.deepEqual(rec.calls, ['connected']);
  });
});

/**
 * An HTTP/2 server on loopback answering each call with `onStream`, and a watch (from revision 5)
 * pointed at it; `run` gets both, and the watch and the server are closed after it.
 */
async function withHostileServer(
  onStream: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void,
  run: (ctx: { url: string; rec: Recorder; w: EtcdWatch; sessions: Set<http2.ServerHttp2Session> }) => Promise<void>,
): Promise<void> {
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => void sessions.add(s));
  server.on('stream', onStream);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const rec = new Recorder();
  const w = new EtcdWatch(etcdConnection({ urls: [url] }), Buffer.from(P), prefixEnd(P), 5, rec);
  try {
    w.start();
    await run({ url, rec, w, sessions });
  } finally {
    w.close();
    await new Promise<void>((r) => server.close(() => r()));
  }
}

describe('EtcdWatch against a hostile HTTP/2 server on loopback', () => {
  test('a progress notification moves the resume revision; an answer that is not gRPC (HTTP 404) is a failure that says so', async () => {
    let calls = 0;
    const onStream = (stream: http2.ServerHttp2Stream): void => {
      calls++;
      if (calls === 1) {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
        // created, then a progress notification: header revision 50, no events.
        stream.write(Buffer.from([0, 0, 0, 0, 2, (3 << 3) | 0, 1]));
        stream.write(Buffer.from([0, 0, 0, 0, 4, (1 << 3) | 2, 2, (3 << 3) | 0, 50]));
      } else {
        stream.respond({ ':status': 404, 'content-type': 'text/plain' });
        stream.end('not here');
      }
    };
    await withHostileServer(onStream, async ({ url, rec, w, sessions }) => {
      await waitUntil(() => rec.calls.includes('response 0 @50'), 5000, 'the progress notification');
      assert.equal(w.nextRevision, 51);
      // The server answers 404 from now on: cut the connection.
      for (const s of sessions) s.destroy();
      await waitUntil(() => rec.calls.some((c) => c.includes('HTTP status 404')), 10_000, 'the 404 reported');
      assert.ok(rec.calls.includes(`disconnected ${url}: /etcdserverpb.Watch/Watch: HTTP status 404, not a gRPC answer`), rec.calls.join('\n'));
      assert.equal(w.nextRevision, 51);
    });
  });

  test('a broken watch response: disconnected with what was wrong, retried; a gRPC error status: its message', async () => {
    let calls = 0;
    const onStream = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void => {
      calls++;
      assert.equal(headers[':path'], '/etcdserverpb.Watch/Watch');
      assert.equal(headers['content-type'], 'application/grpc');
      if (calls % 2 === 1) {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
        // A created response, then an event whose key-value runs past its message.
        stream.write(Buffer.from([0, 0, 0, 0, 2, (3 << 3) | 0, 1]));
        stream.write(Buffer.from([0, 0, 0, 0, 6, (11 << 3) | 2, 4, (2 << 3) | 2, 9, 0x0a, 1]));
      } else {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '7', 'grpc-message': 'etcdserver:%20permission%20denied' }, { endStream: true });
      }
    };
    await withHostileServer(onStream, async ({ url, rec, w }) => {
      await waitUntil(() => rec.calls.filter((c) => c.startsWith('disconnected')).length >= 3, 10_000, 'three failures');
      const lost = rec.calls.filter((c) => c.startsWith('disconnected'));
      assert.equal(lost[0], `disconnected ${url}: an unreadable watch response: a field of 9 bytes runs past its message`);
      assert.equal(lost[1], `disconnected ${url}: etcd ended the watch: etcdserver: permission denied (gRPC status 7)`);
      assert.equal(rec.events().length, 0);
      assert.equal(w.nextRevision, 5, 'nothing applied, so the retry starts where it did');
    });
  });
});
