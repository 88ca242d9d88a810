// skydns's batched UDP listener (lib/skydns/udp-batch.ts on native/udpio.c) with real
// sockets on loopback and a real handler over an in-memory record tree: bursts larger than
// one batch, several clients, replies that wait for an upstream while later batches reuse
// the receive area, replies larger than a slot, datagrams larger than a slot, IPv6, close.
// The same checks run against Node's dgram listener, so the two paths answer alike.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { configFor } from '../../lib/skydns/config.js';
import { Forwarder, parseServers } from '../../lib/skydns/forwarder.js';
import { DnsHandler } from '../../lib/skydns/handler.js';
import { Resolver, SILENT } from '../../lib/skydns/resolver.js';
import { DnsServer } from '../../lib/skydns/server.js';
import { RecordTree } from '../../lib/skydns/tree.js';
import { CLASS, RCODE, TYPE, decodeMessage, encodeMessage, encodeQuery } from '../../lib/skydns/wire.js';
import { formatSockaddr, loadUdpIo } from '../../lib/skydns/udp-batch.js';
import { encodeRecord } from '../../lib/msg/record.js';
import { rawUdpSender } from '../harness/rawudp.js';

const native = loadUdpIo();

/** A slow upstream: answers every question ext<n>.… with 192.0.2.<n & 255> after `delayMs` (the forwarder asks under IDs of its own). */
async function slowUpstream(delayMs: number): Promise<{ port: number; close(): Promise<void> }> {
  const sock = dgram.createSocket('udp4');
  sock.on('message', (msg, rinfo) => {
    const q = decodeMessage(msg);
    const enc = encodeMessage({
      header: { ...q.header, qr: true, ra: true, rcode: 0 },
      question: q.question,
      answer: [{ name: q.question[0].name, type: TYPE.A, class: CLASS.IN, ttl: 60, data: { t: 'ip', octets: String.fromCharCode(192, 0, 2, Number(/^ext(\d+)\./.exec(q.question[0].name)?.[1] ?? 0) & 255) } }],
      authority: [],
      additional: [],
      edns: null,
    })!;
    setTimeout(() => sock.send(enc.buf, rinfo.port, rinfo.address), delayMs);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  return { port: sock.address().port, close: () => new Promise((r) => sock.close(() => r())) };
}

/** A client socket that sends queries and collects replies by ID. */
async function client(family: 'udp4' | 'udp6' = 'udp4'): Promise<{ send(b: Buffer, port: number): void; replies: Map<number, Buffer>; wait(n: number, ms?: number): Promise<void>; close(): void }> {
  // A receive buffer large enough for a whole burst of replies (the default holds ~270 small datagrams).
  const sock = dgram.createSocket({ type: family, recvBufferSize: 4 << 20 });
  const replies = new Map<number, Buffer>();
  sock.on('message', (m) => replies.set(m.readUInt16BE(0), m));
  await new Promise<void>((r) => sock.bind(0, family === 'udp4' ? '127.0.0.1' : '::1', r));
  return {
    send: (b, port) => sock.send(b, port, family === 'udp4' ? '127.0.0.1' : '::1'),
    replies,
    wait: async (n, ms = 5000) => {
      const deadline = Date.now() + ms;
      while (replies.size < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    },
    close: () => sock.close(),
  };
}

for (const mode of ['batch', 'dgram'] as const) {
  describe(`UDP listener: ${mode}`, { skip: mode === 'batch' && native.io === null ? `native module not available: ${native.why}` : false }, () => {
    let server: DnsServer;
    let upstream: { port: number; close(): Promise<void> };
    before(async () => {
      upstream = await slowUpstream(40);
      // -udp-max-payload raised so that a reply can outgrow a receive slot (4096 bytes).
      const cfg = configFor(['-domain=cluster.local.', `-nameservers=127.0.0.1:${upstream.port}`, '-round-robin=false', '-answer-cache=1000', '-udp-max-payload=8192']);
      const tree = new RecordTree('skydns');
      for (let i = 0; i < 300; i++) tree.put(`/skydns/local/cluster/svc/ns/s${i}/a`, encodeRecord({ host: `10.1.${i >> 8}.${i & 255}`, ttl: 30 }));
      tree.put('/skydns/local/cluster/big/t', encodeRecord({ text: 'x'.repeat(6000) }));
      const forwarder = new Forwarder({ servers: parseServers(cfg.nameservers), timeoutMs: 2000, nsRotate: false, log: SILENT });
      const resolver = new Resolver(tree, cfg, forwarder, SILENT);
      const handler = new DnsHandler({ cfg, tree, resolver, forwarder, stubs: null, metrics: null, log: SILENT, synced: () => true, answerCacheSize: 1000 });
      server = new DnsServer(handler, { host: '127.0.0.1', port: 0, maxTcpConns: 10, tcpIdleMs: 1000, tcpIoMs: 1000, udpIo: mode }, SILENT);
      await server.listen();
      assert.equal(server.udpMode.mode, mode);
    });
    after(async () => {
      await server.close();
      await upstream.close();
    });

    test('a burst of 600 queries from two clients (many batches) is answered, each to its sender', async () => {
      const a = await client();
      const b = await client();
      for (let k = 0; k < 300; k++) {
        a.send(encodeQuery(`s${k}.ns.svc.cluster.local.`, TYPE.A, k + 1), server.port);
        b.send(encodeQuery(`s${299 - k}.ns.svc.cluster.local.`, TYPE.A, k + 1), server.port);
      }
      await a.wait(300);
      await b.wait(300);
      a.close();
      b.close();
      assert.equal(a.replies.size, 300);
      assert.equal(b.replies.size, 300);
      for (let k = 0; k < 300; k++) {
        const ra = decodeMessage(a.replies.get(k + 1)!);
        const rb = decodeMessage(b.replies.get(k + 1)!);
        assert.equal(ra.question[0].name, `s${k}.ns.svc.cluster.local.`);
        assert.deepEqual([...Buffer.from((ra.answer[0].data as { octets: string }).octets, 'latin1')], [10, 1, k >> 8, k & 255]);
        assert.equal(rb.question[0].name, `s${299 - k}.ns.svc.cluster.local.`);
      }
    });

    test('replies that wait for the upstream go to the right client with the right question while later batches run', async () => {
      const c = await client();
      // Out-of-zone names (forwarded, 40 ms) interleaved with in-zone ones (answered at once).
      for (let k = 0; k < 200; k++) {
        c.send(encodeQuery(`ext${k}.example.org.`, TYPE.A, 1000 + k), server.port);
        c.send(encodeQuery(`s${k}.ns.svc.cluster.local.`, TYPE.A, 2000 + k), server.port);
      }
      await c.wait(400);
      c.close();
      assert.equal(c.replies.size, 400);
      for (let k = 0; k < 200; k++) {
        const fwd = decodeMessage(c.replies.get(1000 + k)!);
        assert.equal(fwd.header.rcode, RCODE.NOERROR);
        assert.equal(fwd.question[0].name, `ext${k}.example.org.`);
        assert.deepEqual([...Buffer.from((fwd.answer[0].data as { octets: string }).octets, 'latin1')], [192, 0, 2, k & 255]);
        assert.equal(decodeMessage(c.replies.get(2000 + k)!).question[0].name, `s${k}.ns.svc.cluster.local.`);
      }
    });

    test('a reply larger than a slot (6 kB TXT, EDNS 8192) arrives whole; at 512 bytes it is truncated', async () => {
      const c = await client();
      c.send(encodeQuery('t.big.cluster.local.', TYPE.TXT, 7, 8192), server.port);
      c.send(encodeQuery('t.big.cluster.local.', TYPE.TXT, 8), server.port);
      await c.wait(2);
      c.close();
      const big = decodeMessage(c.replies.get(7)!);
      assert.equal(big.header.tc, false);
      assert.equal(Buffer.concat((big.answer[0].data as { strings: Buffer[] }).strings).length, 6000);
      assert.ok(c.replies.get(7)!.length > 4096);
      assert.equal(decodeMessage(c.replies.get(8)!).header.tc, true);
    });

    test('a datagram larger than a slot is dropped; the listener goes on', async () => {
      const c = await client();
      const huge = Buffer.concat([encodeQuery('s1.ns.svc.cluster.local.', TYPE.A, 9), Buffer.alloc(5000)]);
      c.send(huge, server.port);
      c.send(encodeQuery('s1.ns.svc.cluster.local.', TYPE.A, 10), server.port);
      await c.wait(mode === 'batch' ? 1 : 2);
      c.close();
      assert.ok(c.replies.has(10));
      if (mode === 'batch') assert.equal(c.replies.has(9), false, 'the oversized datagram got no reply');
    });
  });
}

for (const mode of ['batch', 'dgram'] as const) {
  describe(`UDP listener: ${mode}, hostile senders and close`, { skip: mode === 'batch' && native.io === null ? `native module not available: ${native.why}` : false }, () => {
    /** A listener whose forwarder waits on `upstreamPort` for 150 ms (twice: the retry walk's second attempt). */
    async function listener(upstreamPort: number): Promise<DnsServer> {
      const cfg = configFor(['-domain=cluster.local.', `-nameservers=127.0.0.1:${upstreamPort}`]);
      const tree = new RecordTree('skydns');
      tree.put('/skydns/local/cluster/a', encodeRecord({ host: '10.9.9.9' }));
      const forwarder = new Forwarder({ servers: parseServers(cfg.nameservers), timeoutMs: 150, nsRotate: false, log: SILENT });
      const handler = new DnsHandler({ cfg, tree, resolver: new Resolver(tree, cfg, forwarder, SILENT), forwarder, stubs: null, metrics: null, log: SILENT, synced: () => true });
      const server = new DnsServer(handler, { host: '127.0.0.1', port: 0, maxTcpConns: 10, tcpIdleMs: 1000, tcpIoMs: 1000, udpIo: mode }, SILENT);
      await server.listen();
      return server;
    }

    const raw = rawUdpSender();
    test('datagrams from source port 0 are dropped and counted; the listener goes on', { skip: typeof raw === 'string' ? raw : false }, async () => {
      const server = await listener(1);
      const c = await client();
      try {
        (raw as Exclude<typeof raw, string>).send(server.port, encodeQuery('a.cluster.local.', TYPE.A, 1), 3);
        const deadline = Date.now() + 5000;
        while (server.stats().udpFromPortZero < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
        assert.equal(server.stats().udpFromPortZero, 3);
        c.send(encodeQuery('a.cluster.local.', TYPE.A, 2), server.port);
        await c.wait(1);
        assert.ok(c.replies.has(2));
      } finally {
        c.close();
        await server.close();
      }
    });

    test('close() with forwards in flight: their answers, ready after it, are dropped without an error', async () => {
      const silent = dgram.createSocket('udp4');
      let forwarded = 0;
      silent.on('message', () => forwarded++);
      await new Promise<void>((r) => silent.bind(0, '127.0.0.1', r));
      const errors: unknown[] = [];
      const onError = (err: unknown) => errors.push(err);
      process.on('unhandledRejection', onError);
      process.on('uncaughtException', onError);
      const server = await listener(silent.address().port);
      const c = await client();
      try {
        for (let k = 0; k < 20; k++) c.send(encodeQuery(`x${k}.example.org.`, TYPE.A, k), server.port);
        const deadline = Date.now() + 5000;
        while (forwarded < 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
        assert.equal(forwarded, 20);
        await server.close();
        // Both attempts of every forward give up (2 × 150 ms): each SERVFAIL is ready after the close.
        await new Promise((r) => setTimeout(r, 600));
        assert.deepEqual(errors, []);
        assert.equal(c.replies.size, 0);
      } finally {
        process.off('unhandledRejection', onError);
        process.off('uncaughtException', onError);
        c.close();
        silent.close();
      }
    });
  });
}

describe('UDP listener: batch details', { skip: native.io === null ? `native module not available: ${native.why}` : false }, () => {
  test('IPv6: ::1 clients get their replies', async () => {
    const cfg = configFor(['-domain=cluster.local.', '-nameservers=127.0.0.1:1']);
    const tree = new RecordTree('skydns');
    tree.put('/skydns/local/cluster/a', encodeRecord({ host: '10.9.9.9' }));
    const resolver = new Resolver(tree, cfg, null, SILENT);
    const handler = new DnsHandler({ cfg, tree, resolver, forwarder: null, stubs: null, metrics: null, log: SILENT, synced: () => true });
    const server = new DnsServer(handler, { host: '::1', port: 0, maxTcpConns: 10, tcpIdleMs: 1000, tcpIoMs: 1000, udpIo: 'batch' }, SILENT);
    await server.listen();
    const c = await client('udp6');
    c.send(encodeQuery('a.cluster.local.', TYPE.A, 77), server.port);
    await c.wait(1);
    c.close();
    await server.close();
    assert.deepEqual([...Buffer.from((decodeMessage(c.replies.get(77)!).answer[0].data as { octets: string }).octets, 'latin1')], [10, 9, 9, 9]);
  });

  test('a port taken by another socket is refused (no silent sharing without workers)', async () => {
    const other = dgram.createSocket('udp4');
    await new Promise<void>((r) => other.bind(0, '127.0.0.1', r));
    const cfg = configFor(['-domain=cluster.local.']);
    const tree = new RecordTree('skydns');
    const handler = new DnsHandler({ cfg, tree, resolver: new Resolver(tree, cfg, null, SILENT), forwarder: null, stubs: null, metrics: null, log: SILENT, synced: () => true });
    const server = new DnsServer(handler, { host: '127.0.0.1', port: other.address().port, maxTcpConns: 10, tcpIdleMs: 1000, tcpIoMs: 1000, udpIo: 'batch' }, SILENT);
    await assert.rejects(server.listen(), /bind: Address already in use/);
    other.close();
  });

  test('sender addresses print as ip:port', () => {
    const v4 = Buffer.alloc(28);
    v4.writeUInt16LE(2, 0);
    v4.writeUInt16BE(5353, 2);
    v4.set([127, 0, 0, 1], 4);
    assert.equal(formatSockaddr(v4, 0), '127.0.0.1:5353');
    const v6 = Buffer.alloc(28);
    v6.writeUInt16LE(10, 0);
    v6.writeUInt16BE(53, 2);
    v6[23] = 1;
    assert.equal(formatSockaddr(v6, 0), '[::1]:53');
    v6.set([0x20, 0x01, 0x0d, 0xb8], 8);
    assert.equal(formatSockaddr(v6, 0), '[2001:db8::1]:53');
  });
});
