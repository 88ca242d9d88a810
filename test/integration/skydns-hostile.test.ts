// skydns under hostile clients (issue #16), end to end: the real skydns
// program, a real etcd, dig and raw sockets on loopback. TCP clients that hold
// connections open (idle, or trickling a message a byte at a time) must not
// lock others out; a message has a deadline from its first byte; pipelined
// queries still work; datagrams from source port 0 are dropped and counted;
// SIGTERM with forwards in flight exits cleanly.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { EtcdProcess, etcdPut, startEtcd } from '../harness/etcd.js';
import { dig } from '../harness/dig.js';
import { SkyDnsProcess, startSkyDns } from '../harness/skydns.js';
import { sleep, waitUntil } from '../harness/proc.js';
import { rawUdpSender } from '../harness/rawudp.js';
import { TYPE, decodeMessage, encodeQuery } from '../../lib/skydns/wire.js';
import { loadUdpIo } from '../../lib/skydns/udp-batch.js';

const D = '/skydns/local/cluster';
const NAME = 'kubernetes.default.svc.cluster.local.';
const native = loadUdpIo();
const UDP_MODES = native.io === null ? (['dgram'] as const) : (['dgram', 'batch'] as const);

const framed = (msg: Buffer): Buffer => {
  const b = Buffer.alloc(2 + msg.length);
  b.writeUInt16BE(msg.length, 0);
  msg.copy(b, 2);
  return b;
};

/** A raw TCP client: sends what it is told, collects framed answers, notes when the server closes it. */
class RawTcp {
  readonly sock: net.Socket;
  readonly answers: Buffer[] = [];
  readonly connected: Promise<void>;
  closedAt = 0;
  private buf = Buffer.alloc(0);

  constructor(port: number) {
    this.sock = net.connect(port, '127.0.0.1');
    this.sock.on('error', () => undefined);
    this.sock.on('close', () => (this.closedAt = Date.now()));
    this.sock.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      while (this.buf.length >= 2 && this.buf.length >= 2 + this.buf.readUInt16BE(0)) {
        this.answers.push(this.buf.subarray(2, 2 + this.buf.readUInt16BE(0)));
        this.buf = this.buf.subarray(2 + this.buf.readUInt16BE(0));
      }
    });
    this.connected = new Promise((resolve) => {
      this.sock.once('connect', () => resolve());
      this.sock.once('close', () => resolve());
    });
  }

  get closed(): boolean {
    return this.closedAt !== 0;
  }

  write(b: Buffer): void {
    if (!this.closed) this.sock.write(b);
  }

  async waitAnswers(n: number, ms = 5000): Promise<void> {
    await waitUntil(() => this.answers.length >= n || this.closed, ms, `${n} answers over TCP`);
    assert.ok(this.answers.length >= n, `${this.answers.length} of ${n} answers before the connection closed`);
  }

  destroy(): void {
    this.sock.destroy();
  }
}

/** One query over a fresh TCP connection: the answer's A record, or the reason there is none. */
async function rawTcpQuery(port: number, id: number): Promise<string> {
  const c = new RawTcp(port);
  try {
    await c.connected;
    c.write(framed(encodeQuery(NAME, TYPE.A, id)));
    await waitUntil(() => c.answers.length > 0 || c.closed, 5000, 'a TCP answer');
    if (c.answers.length === 0) return 'closed without an answer';
    const m = decodeMessage(c.answers[0]);
    assert.equal(m.header.id, id);
    return [...Buffer.from((m.answer[0].data as { octets: string }).octets, 'latin1')].join('.');
  } catch (err) {
    return (err as Error).message;
  } finally {
    c.destroy();
  }
}

describe('skydns TCP: clients holding connections', () => {
  let etcd: EtcdProcess;
  before(async () => {
    etcd = await startEtcd();
    await etcdPut(etcd.url, `${D}/svc/default/kubernetes/c88f1059`, '{"host":"10.0.0.1","ttl":30}');
  });
  after(async () => {
    await etcd?.stop();
  });

  test('1,000 idle and trickling connections do not lock out new TCP clients (-tcp-max-conns=20)', async () => {
    const sky = await startSkyDns(etcd.url, ['-nameservers=127.0.0.1:1', '-tcp-max-conns=20']);
    const holders: RawTcp[] = [];
    // Every 500 ms each trickling holder sends one more byte of a message that declares 60,000.
    const trickle = setInterval(() => {
      for (let k = 1; k < holders.length; k += 2) holders[k].write(Buffer.from([0x41]));
    }, 500);
    try {
      for (let k = 0; k < 1000; k += 100) {
        const wave = Array.from({ length: 100 }, () => new RawTcp(sky.port));
        holders.push(...wave);
        await Promise.all(wave.map((h) => h.connected));
        for (let j = 1; j < wave.length; j += 2) wave[j].write(Buffer.from([0xea, 0x60, 0x41]));
      }
      for (let i = 0; i < 5; i++) {
        const r = await dig({ port: sky.port, name: NAME, tcp: true });
        assert.equal(r.status, 'NOERROR', `dig +tcp #${i} while 1,000 connections were opened`);
        assert.equal(r.answer[0]?.data, '10.0.0.1');
        assert.equal(await rawTcpQuery(sky.port, 100 + i), '10.0.0.1', `raw TCP query #${i}`);
      }
      // The slots went to newcomers: the server closed all but at most 20 of the holders.
      await waitUntil(() => holders.filter((h) => !h.closed).length <= 20, 5000, 'holders beyond the 20 slots closed');
      assert.match(sky.prog.output(), /INFO tcp: all 20 connection slots taken \(-tcp-max-conns\): closed 127\.0\.0\.1:\d+ \((idle|reading a message) for \d+ ms\) to serve 127\.0\.0\.1:\d+/);
      // At most a line per 10 s for something any client can cause at will (980 evictions here).
      const lines = sky.prog.output().match(/connection slots taken/g)?.length ?? 0;
      assert.ok(lines >= 1 && lines <= 3, `${lines} eviction lines`);
      // UDP kept answering throughout.
      assert.equal((await dig({ port: sky.port, name: NAME })).status, 'NOERROR');
    } finally {
      clearInterval(trickle);
      for (const h of holders) h.destroy();
      await sky.stop();
    }
    assert.doesNotMatch(sky.prog.output(), /uncaught|unhandled/);
  });

  test('a message trickled a byte at a time is dropped at -tcp-io-timeout from its first byte, with one log line for many', async () => {
    const sky = await startSkyDns(etcd.url, ['-nameservers=127.0.0.1:1', '-tcp-io-timeout=1s', '-tcp-idle-timeout=10s']);
    const slow = Array.from({ length: 30 }, () => new RawTcp(sky.port));
    const started: number[] = [];
    // A byte every 100 ms: under the old rule (any byte restarts the idle timer) these never time out.
    const trickle = setInterval(() => {
      for (const s of slow) s.write(Buffer.from([0x41]));
    }, 100);
    try {
      await Promise.all(slow.map((s) => s.connected));
      for (const s of slow) {
        started.push(Date.now());
        s.write(Buffer.from([0xea, 0x60]));
      }
      await waitUntil(() => slow.every((s) => s.closed), 8000, 'trickling clients closed');
      slow.forEach((s, k) => {
        const after = s.closedAt - started[k];
        assert.ok(after >= 900 && after < 6000, `closed ${after} ms after its first byte (deadline 1000 ms)`);
      });
      const lines = sky.prog.output().match(/WARN tcp client 127\.0\.0\.1:\d+: message not complete 1000 ms after its first byte \(\d+ of its 60000 bytes\); connection closed \(-tcp-io-timeout\)/g) ?? [];
      assert.equal(lines.length, 1, 'one line for 30 dropped messages');
      // A message that arrives in pieces within the deadline is answered.
      const c = new RawTcp(sky.port);
      await c.connected;
      const q = framed(encodeQuery(NAME, TYPE.A, 7));
      for (const part of [q.subarray(0, 1), q.subarray(1, 10), q.subarray(10)]) {
        c.write(part);
        await sleep(200);
      }
      await c.waitAnswers(1);
      assert.equal(decodeMessage(c.answers[0]).header.id, 7);
      c.destroy();
    } finally {
      clearInterval(trickle);
      for (const s of slow) s.destroy();
      await sky.stop();
    }
  });

  test('pipelined queries on one connection (RFC 7766) are all answered; the idle timeout runs between messages only', async () => {
    const sky = await startSkyDns(etcd.url, ['-nameservers=127.0.0.1:1', '-tcp-io-timeout=1s', '-tcp-idle-timeout=1500ms']);
    const c = new RawTcp(sky.port);
    let empty: RawTcp | null = null;
    try {
      await c.connected;
      // Ten queries in one write, in-zone and forwarded (SERVFAIL from a closed port) mixed.
      c.write(Buffer.concat(Array.from({ length: 10 }, (_, i) => framed(encodeQuery(i % 3 === 0 ? `n${i}.example.org.` : NAME, TYPE.A, 1 + i)))));
      await c.waitAnswers(10);
      assert.deepEqual(c.answers.map((a) => a.readUInt16BE(0)).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      // Then one query a second for 4 s: longer than -tcp-idle-timeout in all, shorter between messages.
      for (let i = 0; i < 4; i++) {
        await sleep(1000);
        c.write(framed(encodeQuery(NAME, TYPE.A, 20 + i)));
        await c.waitAnswers(11 + i);
      }
      assert.equal(c.closed, false, 'open while it asks');
      const lastAnswer = Date.now();
      // Empty frames are not messages: sent every 300 ms they do not keep a connection open.
      empty = new RawTcp(sky.port);
      await empty.connected;
      const t0 = Date.now();
      for (let i = 0; i < 40 && !empty.closed; i++) {
        empty.write(Buffer.from([0, 0]));
        await sleep(300);
      }
      assert.ok(empty.closed, 'a client sending only empty frames is closed');
      assert.ok(empty.closedAt - t0 >= 1300 && empty.closedAt - t0 < 6000, `closed after ${empty.closedAt - t0} ms (idle timeout 1500 ms)`);
      await waitUntil(() => c.closed, 8000, 'the pipelining client closed once idle');
      assert.ok(c.closedAt - lastAnswer >= 1300, `closed ${c.closedAt - lastAnswer} ms after its last answer`);
    } finally {
      c.destroy();
      empty?.destroy();
      await sky.stop();
    }
  });
});

describe('skydns UDP: datagrams from source port 0', () => {
  const raw = rawUdpSender();
  let etcd: EtcdProcess;
  before(async () => {
    etcd = await startEtcd();
    await etcdPut(etcd.url, `${D}/svc/default/kubernetes/c88f1059`, '{"host":"10.0.0.1","ttl":30}');
  });
  after(async () => {
    await etcd?.stop();
  });

  for (const mode of UDP_MODES) {
    test(`-udp-io=${mode}: dropped with one log line, no uncaught error, answers go on`, { skip: typeof raw === 'string' ? raw : false }, async () => {
      const send = raw as Exclude<typeof raw, string>;
      const sky = await startSkyDns(etcd.url, ['-nameservers=127.0.0.1:1', `-udp-io=${mode}`]);
      try {
        send.send(sky.port, encodeQuery(NAME, TYPE.A, 1), 5);
        await sky.prog.waitFor(/WARN udp: datagram from 127\.0\.0\.1:0 dropped: no answer can be sent to port 0/, 5000);
        const r = await dig({ port: sky.port, name: NAME });
        assert.equal(r.status, 'NOERROR');
        send.send(sky.port, encodeQuery(NAME, TYPE.A, 2), 5);
        assert.equal((await dig({ port: sky.port, name: NAME, tcp: true })).status, 'NOERROR');
        assert.equal((await dig({ port: sky.port, name: NAME })).status, 'NOERROR');
        assert.equal(sky.prog.output().match(/datagram from 127\.0\.0\.1:0 dropped/g)?.length, 1, 'rate-limited to one line');
        assert.match((await sky.httpGet('/metrics')).body, /^skydns_skydns_malformed_requests_total\{reason="source-port-0"\} 10$/m);
        assert.doesNotMatch(sky.prog.output(), /uncaught|unhandled|ERROR/);
      } finally {
        await sky.stop();
      }
    });
  }
});

describe('skydns SIGTERM with forwards in flight', () => {
  let etcd: EtcdProcess;
  let silent: dgram.Socket;
  let silentTcp: net.Server;
  const held = new Set<net.Socket>();
  before(async () => {
    etcd = await startEtcd();
    // The upstream: a bound UDP socket that never answers, and a TCP listener on its port that reads and never answers.
    // The UDP port the kernel picks may be taken for TCP (then listen fails, with no callback): pick again.
    for (let attempt = 1; ; attempt++) {
      silent = dgram.createSocket('udp4');
      await new Promise<void>((r) => silent.bind(0, '127.0.0.1', r));
      silentTcp = net.createServer((s) => {
        held.add(s);
        s.on('error', () => undefined);
        s.on('close', () => held.delete(s));
      });
      const listening = await new Promise<boolean>((r) => {
        silentTcp.once('error', () => r(false));
        silentTcp.listen(silent.address().port, '127.0.0.1', () => r(true));
      });
      if (listening) break;
      silent.close();
      if (attempt === 5) throw new Error('no port free for both UDP and TCP after 5 tries');
    }
  });
  after(async () => {
    silent?.close();
    for (const s of held) s.destroy();
    await new Promise((r) => silentTcp?.close(r));
    await etcd?.stop();
  });

  for (const mode of UDP_MODES) {
    test(`-udp-io=${mode}: exits at once and cleanly while queries wait on a silent upstream`, async () => {
      let forwarded = 0;
      const count = () => forwarded++;
      silent.on('message', count);
      // A short -rtimeout so that forwards give up all the time, also while skydns shuts down.
      const sky = await startSkyDns(etcd.url, [`-nameservers=127.0.0.1:${silent.address().port}`, `-udp-io=${mode}`, '-rtimeout=100ms']);
      const client = dgram.createSocket('udp4');
      await new Promise<void>((r) => client.bind(0, '127.0.0.1', r));
      const tcp = new RawTcp(sky.port);
      let n = 0;
      const flow = setInterval(() => {
        n++;
        client.send(encodeQuery(`q${n}.example.org.`, TYPE.A, n & 0xffff), sky.port, '127.0.0.1');
      }, 1);
      try {
        await tcp.connected;
        tcp.write(framed(encodeQuery('over-tcp.example.org.', TYPE.A, 1)));
        await waitUntil(() => forwarded >= 200 && held.size > 0, 10000, '200 queries forwarded to the silent upstream, one over TCP');
        const t0 = Date.now();
        process.kill(sky.prog.pid, 'SIGTERM');
        const { code } = await sky.prog.exited;
        const took = Date.now() - t0;
        assert.equal(code, 0);
        assert.ok(took < 2000, `exited ${took} ms after SIGTERM`);
        const after = sky.prog.output().slice(sky.prog.output().indexOf('INFO received SIGTERM'));
        assert.match(after, /INFO received SIGTERM, shutting down/);
        assert.doesNotMatch(after, /ERROR|WARN|unhandled|uncaught/);
      } finally {
        clearInterval(flow);
        client.close();
        tcp.destroy();
        silent.off('message', count);
        await sky.stop();
      }
    });
  }
});
