// The forwarder under load (issue #16 finding 4): at most -max-forwards upstream exchanges are
// outstanding, beyond them REFUSED at once while in-zone answers keep flowing; UDP exchanges share
// a few connected sockets per upstream under random IDs (a reply must match ID and question), the
// sockets are replaced now and then; stopping skydns settles the forwards in flight. Real etcd,
// the real skydns program, Knot DNS as the upstream, and UDP sockets of this process as a silent
// or a lying upstream, all on loopback.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import fs from 'node:fs';
import { EtcdProcess, etcdPut, startEtcd } from '../harness/etcd.js';
import { SkyDnsProcess, startSkyDns } from '../harness/skydns.js';
import { KnotProcess, startKnot } from '../harness/knot.js';
import { dig } from '../harness/dig.js';
import { freeUdpPort } from '../harness/ports.js';
import { silentUpstream } from '../harness/udp.js';
import { sleep, socketInodes, waitUntil } from '../harness/proc.js';
import { CLASS, RCODE, TYPE, decodeMessage, encodeMessage, encodeQuery } from '../../lib/skydns/wire.js';
import { octetsText } from '../../lib/msg/path.js';

const KUBERNETES = 'kubernetes.default.svc.cluster.local.';

interface Reply {
  rcode: number;
  ms: number;
  buf: Buffer;
}

/** One UDP client socket: questions under distinct IDs, each reply kept with its time from the question. */
async function client(port: number) {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  const sentAt = new Map<number, number>();
  const replies = new Map<number, Reply>();
  sock.on('message', (m) => {
    if (m.length < 12) return;
    const id = m.readUInt16BE(0);
    const t = sentAt.get(id);
    if (t !== undefined && !replies.has(id)) replies.set(id, { rcode: m[3] & 0x0f, ms: performance.now() - t, buf: m });
  });
  return {
    replies,
    ask(id: number, name: string, qtype = TYPE.A) {
      sentAt.set(id, performance.now());
      sock.send(encodeQuery(name, qtype, id), port, '127.0.0.1');
    },
    close: () => sock.close(),
  };
}

/** The IPv4 address of the last answer record (an A reply of one record). */
function lastA(buf: Buffer): string {
  const m = decodeMessage(buf);
  const rr = m.answer[m.answer.length - 1];
  return rr && rr.data.t === 'ip' ? octetsText(rr.data.octets) : `(no A: ${m.answer.length} records, rcode ${m.header.rcode})`;
}

/** Open file descriptors of a process. */
function fdCount(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

/** Local ports of the process's UDP sockets connected to 127.0.0.1:`remotePort` (/proc/net/udp matched by socket inode). */
function connectedUdpPorts(pid: number, remotePort: number): number[] {
  const inodes = socketInodes(pid);
  const remote = `0100007F:${remotePort.toString(16).toUpperCase().padStart(4, '0')}`;
  const ports: number[] = [];
  for (const line of fs.readFileSync(`/proc/${pid}/net/udp`, 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length > 9 && f[2] === remote && inodes.has(f[9])) ports.push(parseInt(f[1].split(':')[1], 16));
  }
  return ports;
}

const metric = (body: string, name: string) => {
  const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(body);
  return m ? Number(m[1]) : -1;
};

describe('skydns forwarding under load', () => {
  let etcd: EtcdProcess;
  let knot: KnotProcess;

  before(async () => {
    etcd = await startEtcd();
    await etcdPut(etcd.url, '/skydns/local/cluster/svc/default/kubernetes/c88f1059', '{"host":"10.0.0.1","priority":10,"weight":10,"ttl":30,"targetstrip":0}');
    knot = await startKnot('example.com.', ['foo A 192.0.2.10', '*.w A 192.0.2.11']);
  });
  after(async () => {
    await knot?.stop();
    await etcd?.stop();
  });

  for (const udpIo of ['auto', 'dgram'] as const) {
    test(`a silent upstream (-udp-io=${udpIo}): at most -max-forwards outstanding, REFUSED at once beyond, in-zone answers all correct, few descriptors; stop settles the rest`, async (t) => {
      const silent = await silentUpstream();
      const sky = await startSkyDns(etcd.url, [`-nameservers=127.0.0.1:${silent.port}`, '-max-forwards=50', '-rtimeout=8s', `-udp-io=${udpIo}`]);
      const c = await client(sky.port);
      try {
        const fdsBefore = fdCount(sky.prog.pid);
        let fdsPeak = fdsBefore;
        const OUTSIDE = 2000;
        const INZONE = 200;
        const t0 = performance.now();
        // 20 rounds of 100 distinct outside names and 10 in-zone questions, ~5k q/s.
        for (let round = 0; round < 20; round++) {
          for (let i = 0; i < 100; i++) c.ask(round * 100 + i, `q${round * 100 + i}.blackhole.example.`);
          for (let i = 0; i < 10; i++) c.ask(OUTSIDE + round * 10 + i, KUBERNETES);
          await sleep(20);
          fdsPeak = Math.max(fdsPeak, fdCount(sky.prog.pid));
        }
        await waitUntil(() => c.replies.size >= OUTSIDE - 50 + INZONE, 5000, 'every refused and in-zone question answered');
        const burstMs = performance.now() - t0;
        assert.ok(burstMs < 7000, `the burst and its answers took ${burstMs.toFixed(0)} ms, longer than -rtimeout allows to judge`);

        // In-zone questions asked meanwhile: every one answered, correctly.
        for (let i = 0; i < INZONE; i++) {
          const r = c.replies.get(OUTSIDE + i);
          assert.ok(r, `in-zone question ${i} unanswered`);
          assert.equal(r.rcode, RCODE.NOERROR);
          assert.equal(lastA(r.buf), '10.0.0.1');
        }
        // Beyond the bound: REFUSED, at once (well before -rtimeout), with RA.
        const outside = [...Array(OUTSIDE).keys()].map((id) => c.replies.get(id)).filter((r): r is Reply => r !== undefined);
        assert.equal(outside.length, OUTSIDE - 50, 'all but the 50 outstanding answered already');
        for (const r of outside) {
          assert.equal(r.rcode, RCODE.REFUSED);
          assert.ok((r.buf[3] & 0x80) !== 0, 'RA set');
        }
        const slowest = Math.max(...outside.map((r) => r.ms));
        assert.ok(slowest < 4000, `slowest REFUSED took ${slowest.toFixed(0)} ms (-rtimeout is 8 s)`);

        // The upstream saw exactly the bound, under distinct (port, ID), from a few sockets.
        assert.equal(silent.seen.length, 50, 'queries the silent upstream received');
        assert.equal(new Set(silent.seen.map((s) => `${s.port}/${s.id}`)).size, 50, 'no two outstanding exchanges share a port and ID');
        const ports = new Set(silent.seen.map((s) => s.port)).size;
        assert.ok(ports >= 1 && ports <= 8, `source ports used: ${ports}`);
        assert.ok(fdsPeak - fdsBefore <= 20, `descriptors grew from ${fdsBefore} to ${fdsPeak}`);
        t.diagnostic(`burst ${burstMs.toFixed(0)} ms; slowest REFUSED ${slowest.toFixed(1)} ms; upstream source ports ${ports}; descriptors ${fdsBefore} → ${fdsPeak}`);

        // Counted and reported: the metric, and a first line at once (more lines at most one per 5 s).
        const body = (await sky.httpGet('/metrics')).body;
        assert.equal(metric(body, 'skydns_skydns_forward_refused_total'), OUTSIDE - 50);
        assert.match(body, /^skydns_skydns_dns_error_count_total\{system="recursive",cause="refused"\} 1950$/m);
        const lines = sky.prog.output().split('\n').filter((l) => / WARN forward: /.test(l));
        assert.match(lines[0] ?? '', /forward: 50 upstream exchanges outstanding \(-max-forwards\): new forwards get REFUSED/);
        assert.ok(lines.length <= 1 + Math.ceil(burstMs / 5000), `${lines.length} lines in ${burstMs.toFixed(0)} ms:\n${lines.join('\n')}`);
        await waitUntil(() => / WARN forward: refused \d+ more forwards? in the last \d+\.\d s: 50 upstream exchanges outstanding/.test(sky.prog.output()), 8000, 'the summing line');

        // Stop with 50 forwards in flight: each settles (SERVFAIL) at once, nothing is logged as an error.
        const stopped = performance.now();
        assert.equal(await sky.prog.stop(), 0);
        await waitUntil(() => c.replies.size === OUTSIDE + INZONE, 2000, 'the 50 outstanding forwards answered at stop');
        for (let id = 0; id < OUTSIDE; id++) if (c.replies.get(id)!.rcode !== RCODE.REFUSED) assert.equal(c.replies.get(id)!.rcode, RCODE.SERVFAIL);
        assert.ok(performance.now() - stopped < 3000, 'stopped well before -rtimeout');
        assert.doesNotMatch(sky.prog.output(), / ERROR |unhandled|ERR_SOCKET/);
      } finally {
        c.close();
        await sky.stop();
        silent.close();
      }
    });
  }

  test('through Knot: many questions in parallel answered exactly, the sockets reused and replaced (source ports change)', async (t) => {
    const sky = await startSkyDns(etcd.url, [`-nameservers=127.0.0.1:${knot.port}`, '-max-forwards=100']);
    const c = await client(sky.port);
    const ports = new Set<number>();
    let most = 0;
    try {
      const N = 1000;
      for (let round = 0; round < 10; round++) {
        for (let i = 0; i < 100; i++) c.ask(round * 100 + i, `n${round * 100 + i}.w.example.com.`);
        await waitUntil(() => c.replies.size >= (round + 1) * 100, 5000, `round ${round} answered`);
        const now = connectedUdpPorts(sky.prog.pid, knot.port);
        for (const p of now) ports.add(p);
        most = Math.max(most, now.length);
      }
      for (let id = 0; id < N; id++) {
        const r = c.replies.get(id)!;
        const m = decodeMessage(r.buf);
        assert.equal(m.header.id, id);
        assert.equal(m.header.rcode, RCODE.NOERROR, `n${id}`);
        assert.deepEqual(m.question.map((q) => q.name), [`n${id}.w.example.com.`]);
        assert.deepEqual([m.answer.length, lastA(r.buf)], [1, '192.0.2.11'], `n${id}`);
      }
      // 1000 exchanges over sockets that take at most 100 each: several ports over time, never many at once.
      assert.ok(ports.size >= 2, `source ports seen: ${[...ports].join(',')}`);
      assert.ok(most <= 8, `at most ${most} sockets to the upstream at once`);
      t.diagnostic(`${N} exchanges: ${ports.size} source ports seen, at most ${most} sockets at once`);
      const r = await dig({ port: sky.port, name: 'foo.example.com' });
      assert.deepEqual(r.answer.map((a) => `${a.name} ${a.ttl} ${a.type} ${a.data}`), ['foo.example.com. 300 A 192.0.2.10']);
    } finally {
      c.close();
      await sky.stop();
    }
  });

  test('the first upstream closed: a burst sharing its sockets fails over to Knot at once', async () => {
    const closed = await freeUdpPort();
    const sky = await startSkyDns(etcd.url, [`-nameservers=127.0.0.1:${closed},127.0.0.1:${knot.port}`, '-rtimeout=5s']);
    const c = await client(sky.port);
    try {
      for (let i = 0; i < 200; i++) c.ask(i, `c${i}.w.example.com.`);
      await waitUntil(() => c.replies.size === 200, 4000, 'all 200 answered (well before -rtimeout)');
      for (let i = 0; i < 200; i++) assert.equal(lastA(c.replies.get(i)!.buf), '192.0.2.11', `c${i}`);
    } finally {
      c.close();
      await sky.stop();
    }
  });

  test('a reply with the right ID but another question is not taken', async () => {
    // An upstream that first answers with the asked ID for another name, then truly.
    const liar = dgram.createSocket('udp4');
    await new Promise<void>((r) => liar.bind(0, '127.0.0.1', r));
    liar.on('message', (m, rinfo) => {
      const q = decodeMessage(m);
      const answer = (name: string, ip: number[]) =>
        encodeMessage({
          header: { id: q.header.id, qr: true, opcode: 0, aa: false, tc: false, rd: true, ra: true, ad: false, cd: false, rcode: 0 },
          question: [{ name, type: TYPE.A, class: CLASS.IN }],
          answer: [{ name, type: TYPE.A, class: CLASS.IN, ttl: 60, data: { t: 'ip', octets: String.fromCharCode(...ip) } }],
          authority: [],
          additional: [],
          edns: null,
        })!.buf;
      liar.send(answer('other.example.org.', [6, 6, 6, 6]), rinfo.port, rinfo.address);
      setTimeout(() => liar.send(answer(q.question[0].name, [192, 0, 2, 99]), rinfo.port, rinfo.address), 20);
    });
    const sky = await startSkyDns(etcd.url, [`-nameservers=127.0.0.1:${liar.address().port}`]);
    try {
      const r = await dig({ port: sky.port, name: 'asked.example.org' });
      assert.equal(r.status, 'NOERROR');
      assert.deepEqual(r.answer.map((a) => `${a.name} ${a.data}`), ['asked.example.org. 192.0.2.99']);
      await waitUntil(() => /WARN forward: dropped 1 datagram that matched no outstanding query \(last: a reply whose question is not the one asked from 127\.0\.0\.1:\d+\)/.test(sky.prog.output()), 2000, 'the mismatch line');
    } finally {
      await sky.stop();
      liar.close();
    }
  });
});
