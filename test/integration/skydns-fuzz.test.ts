// A seeded fuzzer against the real skydns program (issue #16): junk datagrams and framed TCP junk
// (random bytes, bit flips and cuts of valid queries, huge counts, compression loops, bad labels,
// bad EDNS0), with valid queries in between whose answers are checked exactly. Nothing may crash,
// no answer may be wrong, and the log must have no uncaught or unhandled line.
// `npm test` sends FUZZ_PACKETS (default 100,000); e.g. FUZZ_PACKETS=1000000 FUZZ_SEED=7 for more.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { EtcdProcess, etcdPut, startEtcd } from '../harness/etcd.js';
import { SkyDnsProcess, startSkyDns } from '../harness/skydns.js';
import { rng } from '../harness/random.js';
import { TYPE, decodeMessage, encodeQuery } from '../../lib/skydns/wire.js';
import { octetsText } from '../../lib/msg/path.js';

const D = '/skydns/local/cluster';
const PACKETS = Math.max(1000, Number(process.env.FUZZ_PACKETS ?? 100_000));
const SEED = Number(process.env.FUZZ_SEED ?? 1);
/** Junk datagrams between two checked queries (sent without waiting). */
const BURST = 250;

const NAMES = ['web.default.svc.cluster.local.', 'db.default.svc.cluster.local.', 'x.cluster.local.', 'svc.cluster.local.', 'nothere.cluster.local.', 'example.org.'];

/** One junk message made from the seeded generator. */
function junk(next: () => number): Buffer {
  const int = (n: number) => Math.floor(next() * n);
  const valid = () => encodeQuery(NAMES[int(NAMES.length)], [TYPE.A, TYPE.AAAA, TYPE.SRV, TYPE.TXT, TYPE.PTR, TYPE.ANY][int(6)], int(65536), int(3) === 0 ? 0 : 512 + int(4000));
  const kind = int(9);
  switch (kind) {
    case 0: {
      // Random bytes.
      const b = Buffer.alloc(int(600));
      for (let i = 0; i < b.length; i++) b[i] = int(256);
      return b;
    }
    case 1: {
      // Bit flips in a valid query.
      const b = valid();
      for (let k = 1 + int(8); k > 0; k--) b[int(b.length)] ^= 1 << int(8);
      return b;
    }
    case 2:
      // A valid query cut short.
      return valid().subarray(0, int(40));
    case 3: {
      // Huge section counts.
      const b = valid();
      for (const o of [4, 6, 8, 10]) if (int(2)) b.writeUInt16BE(int(65536), o);
      return b;
    }
    case 4: {
      // A compression pointer to itself, or forward, as the question name.
      const b = Buffer.alloc(12 + 2 + 4);
      b.writeUInt16BE(int(65536), 0);
      b.writeUInt16BE(1, 4);
      b.writeUInt16BE(0xc000 | (int(2) ? 12 : 12 + int(30)), 12);
      b.writeUInt16BE(1, 14);
      b.writeUInt16BE(1, 16);
      return b;
    }
    case 5: {
      // Bad labels: a length over 63, control bytes, dots and backslashes inside a label.
      const label = Buffer.alloc(1 + int(80));
      label[0] = int(2) ? 64 + int(192) : label.length - 1;
      for (let i = 1; i < label.length; i++) label[i] = [0, 0x2e, 0x5c, 0x7f, 0x20, 0x41 + int(26)][int(6)];
      const head = Buffer.alloc(12);
      head.writeUInt16BE(int(65536), 0);
      head.writeUInt16BE(1, 4);
      return Buffer.concat([head, label, Buffer.from([0, 0, 1, 0, 1])]);
    }
    case 6: {
      // Bad EDNS0: options running past the record, a second OPT, a non-root owner, version 1+.
      const q = encodeQuery(NAMES[int(NAMES.length)], TYPE.A, int(65536), 1232);
      const v = int(4);
      if (v === 0) {
        const opt = Buffer.from([0, 10, 0, 40, 1, 2, 3]);
        const b = Buffer.concat([q, opt]);
        b.writeUInt16BE(opt.length, q.length - 2);
        return b;
      }
      if (v === 1) {
        const b = Buffer.concat([q, q.subarray(q.length - 11)]);
        b.writeUInt16BE(2, 10);
        return b;
      }
      const b = Buffer.from(q);
      if (v === 2) b[q.length - 11] = 1;
      else b[q.length - 5] = 1 + int(255);
      return b;
    }
    case 7: {
      // A response (QR set), or an opcode other than QUERY.
      const b = valid();
      b[2] |= int(2) ? 0x80 : 0x08 * (1 + int(15));
      return b;
    }
    default:
      // Random bytes after a valid question.
      return Buffer.concat([valid(), Buffer.from(Array.from({ length: int(100) }, () => int(256)))]);
  }
}

/** The checked query and what its answer must be. */
const CHECKS: { name: string; type: number; rcode: number; answer: string[] }[] = [
  { name: 'web.default.svc.cluster.local.', type: TYPE.A, rcode: 0, answer: ['10.3.0.1'] },
  { name: 'db.default.svc.cluster.local.', type: TYPE.A, rcode: 0, answer: ['10.3.0.2', '10.3.0.3'] },
  { name: 'nothere.cluster.local.', type: TYPE.A, rcode: 3, answer: [] },
  { name: 'web.default.svc.cluster.local.', type: TYPE.AAAA, rcode: 0, answer: [] },
];

function addresses(reply: Buffer): string[] {
  return decodeMessage(reply)
    .answer.map((rr) => (rr.data.t === 'ip' ? octetsText(rr.data.octets) : ''))
    .sort();
}

describe(`skydns under a seeded fuzzer (${PACKETS} junk messages, seed ${SEED})`, () => {
  let etcd: EtcdProcess;
  let sky: SkyDnsProcess;

  before(async () => {
    etcd = await startEtcd();
    await etcdPut(etcd.url, `${D}/svc/default/web/1`, '{"host":"10.3.0.1","ttl":30}');
    await etcdPut(etcd.url, `${D}/svc/default/db/1`, '{"host":"10.3.0.2","ttl":30}');
    await etcdPut(etcd.url, `${D}/svc/default/db/2`, '{"host":"10.3.0.3","ttl":30}');
    await etcdPut(etcd.url, `${D}/svc/default/db/_tcp/_pg/1`, '{"host":"db.default.svc.cluster.local.","port":5432}');
    await etcdPut(etcd.url, `${D}/x/1`, '{"host":"www.example.org"}');
    sky = await startSkyDns(etcd.url, ['-nameservers=127.0.0.1:1', '-rtimeout=100ms']);
  });
  after(async () => {
    await sky?.stop();
    await etcd?.stop();
  });

  test('UDP: junk in bursts, every checked query answered exactly', async () => {
    const next = rng(SEED);
    const sock = dgram.createSocket('udp4');
    const waiting = new Map<number, (b: Buffer) => void>();
    sock.on('message', (m) => {
      if (m.length >= 2) waiting.get(m.readUInt16BE(0))?.(m);
    });
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    const junkSock = dgram.createSocket('udp4');
    let checked = 0;
    try {
      for (let sent = 0; sent < PACKETS; sent += BURST) {
        for (let i = 0; i < BURST; i++) junkSock.send(junk(next), sky.port, '127.0.0.1');
        const c = CHECKS[checked % CHECKS.length];
        const id = 40000 + (checked % 20000);
        // Asked until answered: a burst may fill the socket buffer, and a dropped datagram is not an error.
        let reply: Buffer | null = null;
        for (let attempt = 0; attempt < 5 && !reply; attempt++) {
          reply = await new Promise<Buffer | null>((resolve) => {
            const timer = setTimeout(() => resolve(null), 1000);
            waiting.set(id, (b) => {
              clearTimeout(timer);
              resolve(b);
            });
            sock.send(encodeQuery(c.name, c.type, id, 1232), sky.port, '127.0.0.1');
          });
        }
        waiting.delete(id);
        assert.ok(reply, `no answer to ${c.name} after ${sent} junk datagrams`);
        assert.equal(reply[3] & 0x0f, c.rcode, `${c.name} after ${sent} junk datagrams`);
        assert.deepEqual(addresses(reply), c.answer, `${c.name} after ${sent} junk datagrams`);
        checked++;
      }
    } finally {
      sock.close();
      junkSock.close();
    }
    assert.ok(checked >= PACKETS / BURST);
  });

  test('TCP: framed junk on many connections, a checked query on each, every one answered exactly', async () => {
    const next = rng(SEED + 1);
    const conns = Math.max(20, Math.floor(PACKETS / 2000));
    for (let k = 0; k < conns; k++) {
      const sock = net.connect(sky.port, '127.0.0.1');
      sock.on('error', () => undefined);
      const c = CHECKS[k % CHECKS.length];
      const want = 30000 + k;
      const reply = await new Promise<Buffer | null>((resolve) => {
        let buf = Buffer.alloc(0);
        const timer = setTimeout(() => resolve(null), 3000);
        sock.on('data', (d) => {
          buf = Buffer.concat([buf, d]);
          while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
            const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
            buf = buf.subarray(2 + msg.length);
            if (msg.length >= 2 && msg.readUInt16BE(0) === want) {
              clearTimeout(timer);
              resolve(msg);
            }
          }
        });
        sock.on('close', () => {
          clearTimeout(timer);
          resolve(null);
        });
        sock.on('connect', () => {
          const frames: Buffer[] = [];
          for (let i = 0; i < 30; i++) {
            const m = junk(next);
            const len = Buffer.alloc(2);
            len.writeUInt16BE(m.length);
            frames.push(len, m);
          }
          const q = encodeQuery(c.name, c.type, want, 1232);
          const len = Buffer.alloc(2);
          len.writeUInt16BE(q.length);
          frames.push(len, q);
          sock.write(Buffer.concat(frames));
        });
      });
      sock.destroy();
      // A frame the server cannot parse at all may end the connection (RFC 7766): then ask again on a clean one.
      const answer = reply ?? (await cleanTcp(sky.port, encodeQuery(c.name, c.type, want, 1232)));
      assert.ok(answer, `connection ${k}: no answer`);
      assert.equal(answer[3] & 0x0f, c.rcode, `connection ${k}: ${c.name}`);
      assert.deepEqual(addresses(answer), c.answer, `connection ${k}: ${c.name}`);
    }
  });

  test('still running, the junk reached it, and no uncaught or unhandled line in its log', async () => {
    assert.ok(sky.prog.running());
    const metrics = (await sky.httpGet('/metrics')).body;
    const malformed = [...metrics.matchAll(/^skydns_skydns_malformed_requests_total\{[^}]*\} (\d+)/gm)].reduce((a, m) => a + Number(m[1]), 0);
    assert.ok(malformed > PACKETS / 10, `malformed requests counted: ${malformed}`);
    assert.doesNotMatch(sky.prog.output(), /uncaught|unhandled|internal error/i);
  });
});

async function cleanTcp(port: number, q: Buffer): Promise<Buffer | null> {
  const sock = net.connect(port, '127.0.0.1');
  try {
    return await new Promise<Buffer | null>((resolve) => {
      let buf = Buffer.alloc(0);
      const timer = setTimeout(() => resolve(null), 3000);
      sock.on('error', () => resolve(null));
      sock.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          clearTimeout(timer);
          resolve(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        }
      });
      sock.on('connect', () => {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(q.length);
        sock.write(Buffer.concat([len, q]));
      });
    });
  } finally {
    sock.destroy();
  }
}
