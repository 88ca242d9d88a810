// Exercises the test harness itself against a real etcd: start, put/get with
// etcdctl, kill -9, restart on the same ports/data dir, data survives, stop.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { startEtcd, etcdPut, etcdGetPrefix, etcdDel, etcdGet } from '../harness/etcd.js';
import { pidAlive, waitUntil } from '../harness/proc.js';
import { freePort, freeTcpPort, freeUdpPort } from '../harness/ports.js';
import { parseDigOutput, dig, digShort, nslookup } from '../harness/dig.js';
import dgram from 'node:dgram';

test('etcd harness: put/get, kill, restart keeps data, stop cleans up', async () => {
  const etcd = await startEtcd({ name: 'harness-test' });
  try {
    assert.match(etcd.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(etcd.url, `http://127.0.0.1:${etcd.port}`);
    assert.ok(pidAlive(etcd.pid), 'etcd pid should be alive');

    await etcdPut(etcd.url, '/skydns/local/cluster/svc/default/kubernetes', '{"host":"10.0.0.1","port":443}');
    await etcdPut(etcd.url, '/skydns/local/cluster/svc/default/dash', '-starts-with-dash');
    await etcdPut(etcd.url, '/skydns/local/cluster/svc/default/empty', '');
    await etcdPut(etcd.url, '/other/key', 'x');

    assert.deepEqual(await etcdGetPrefix(etcd.url, '/skydns/'), [
      { key: '/skydns/local/cluster/svc/default/dash', value: '-starts-with-dash' },
      { key: '/skydns/local/cluster/svc/default/empty', value: '' },
      { key: '/skydns/local/cluster/svc/default/kubernetes', value: '{"host":"10.0.0.1","port":443}' },
    ]);
    assert.deepEqual(await etcdGetPrefix(etcd.url, '/nothing/'), []);
    assert.equal(await etcdGet(etcd.url, '/other/key'), 'x');
    assert.equal(await etcdGet(etcd.url, '/missing'), undefined);
    assert.equal(await etcdDel(etcd.url, '/other/key'), 1);
    assert.equal(await etcdDel(etcd.url, '/other/key'), 0);

    const { port, dataDir } = etcd;
    const firstPid = etcd.pid;
    await etcd.kill();
    assert.equal(pidAlive(firstPid), false, 'killed etcd pid should be gone');
    await fs.access(dataDir); // data dir kept after kill()

    await etcd.restart();
    assert.notEqual(etcd.pid, firstPid);
    assert.equal(etcd.port, port);
    assert.equal(etcd.dataDir, dataDir);
    assert.deepEqual(await etcdGetPrefix(etcd.url, '/skydns/local/cluster/svc/default/kubernetes'), [
      { key: '/skydns/local/cluster/svc/default/kubernetes', value: '{"host":"10.0.0.1","port":443}' },
    ]);
    assert.equal(await etcdDel(etcd.url, '/skydns/', { prefix: true }), 3);
    assert.deepEqual(await etcdGetPrefix(etcd.url, ''), []);

    const pid = etcd.pid;
    await etcd.stop();
    assert.equal(pidAlive(pid), false, 'stopped etcd pid should be gone');
    await assert.rejects(fs.access(dataDir), 'data dir removed after stop()');
  } finally {
    await etcd.stop();
  }
});

test('ports: loopback ports are returned', async () => {
  for (const p of [await freePort(), await freeTcpPort(), await freeUdpPort()]) {
    assert.ok(Number.isInteger(p) && p > 0 && p < 65536, `bad port ${p}`);
  }
});

test('waitUntil times out with a descriptive message', async () => {
  await assert.rejects(waitUntil(() => false, 120, 'nothing'), /^Error: timed out after 120ms waiting for nothing$/);
});

test('dig output parser', () => {
  const raw = [
    '',
    '; <<>> DiG 9.18.49-1~deb12u3-Debian <<>> @127.0.0.1 -p 5353 kubernetes.default.svc.cluster.local A',
    '; (1 server found)',
    ';; global options: +cmd',
    ';; Got answer:',
    ';; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 4242',
    ';; flags: qr aa rd ra; QUERY: 1, ANSWER: 1, AUTHORITY: 0, ADDITIONAL: 1',
    '',
    ';; OPT PSEUDOSECTION:',
    '; EDNS: version: 0, flags:; udp: 4096',
    ';; QUESTION SECTION:',
    ';kubernetes.default.svc.cluster.local. IN A',
    '',
    ';; ANSWER SECTION:',
    'kubernetes.default.svc.cluster.local. 30 IN A\t10.0.0.1',
    '',
    ';; ADDITIONAL SECTION:',
    'x.cluster.local.\t30\tIN\tTXT\t"a  b"   "c"',
    '',
    ';; Query time: 0 msec',
    ';; SERVER: 127.0.0.1#5353(127.0.0.1) (UDP)',
    '',
  ].join('\n');
  const r = parseDigOutput(raw);
  assert.equal(r.status, 'NOERROR');
  assert.equal(r.id, 4242);
  assert.deepEqual(r.flags, ['qr', 'aa', 'rd', 'ra']);
  assert.deepEqual(r.question, [{ name: 'kubernetes.default.svc.cluster.local.', class: 'IN', type: 'A' }]);
  assert.deepEqual(r.answer, [
    { name: 'kubernetes.default.svc.cluster.local.', ttl: 30, class: 'IN', type: 'A', data: '10.0.0.1' },
  ]);
  assert.deepEqual(r.authority, []);
  assert.deepEqual(r.additional, [{ name: 'x.cluster.local.', ttl: 30, class: 'IN', type: 'TXT', data: '"a  b" "c"' }]);

  const t = parseDigOutput(';; communications error to 127.0.0.1#1: timed out\n;; no servers could be reached\n');
  assert.equal(t.status, 'TIMEOUT');
});

/**
 * Minimal UDP DNS responder for checking the dig/nslookup wrappers against the
 * real tools: A queries get 10.0.0.1 (TTL 30, aa set); names starting with
 * "nx." get NXDOMAIN.
 */
async function tinyDnsServer(port: number): Promise<dgram.Socket> {
  const sock = dgram.createSocket('udp4');
  sock.on('message', (msg, rinfo) => {
    let off = 12;
    const labels: string[] = [];
    while (off < msg.length && msg[off] !== 0) {
      const len = msg[off] as number;
      labels.push(msg.subarray(off + 1, off + 1 + len).toString('ascii'));
      off += 1 + len;
    }
    const qEnd = off + 1 + 4; // root label + qtype + qclass
    const qtype = msg.readUInt16BE(off + 1);
    const nx = labels[0] === 'nx';
    const answer = !nx && qtype === 1;
    const header = Buffer.alloc(12);
    header.writeUInt16BE(msg.readUInt16BE(0), 0);
    header.writeUInt16BE(0x8400 | (msg.readUInt16BE(2) & 0x0100) | (nx ? 3 : 0), 2); // QR AA [RD] rcode
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answer ? 1 : 0, 6);
    const parts = [header, msg.subarray(12, qEnd)];
    if (answer) parts.push(Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 10, 0, 0, 1]));
    sock.send(Buffer.concat(parts), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => sock.bind(port, '127.0.0.1', () => resolve()));
  return sock;
}

test('dig/nslookup wrappers against a tiny UDP DNS responder', async () => {
  const port = await freePort();
  const sock = await tinyDnsServer(port);
  try {
    const r = await dig({ port, name: 'kubernetes.default.svc.cluster.local' });
    assert.equal(r.status, 'NOERROR');
    assert.deepEqual(r.flags, ['qr', 'aa', 'rd']);
    assert.deepEqual(r.answer, [
      { name: 'kubernetes.default.svc.cluster.local.', ttl: 30, class: 'IN', type: 'A', data: '10.0.0.1' },
    ]);
    assert.deepEqual(r.authority, []);
    assert.deepEqual(r.additional, []);

    const nx = await dig({ port, name: 'nx.cluster.local', type: 'A', extra: ['+norecurse'] });
    assert.equal(nx.status, 'NXDOMAIN');
    assert.deepEqual(nx.flags, ['qr', 'aa']);
    assert.deepEqual(nx.answer, []);

    assert.deepEqual(await digShort({ port, name: 'a.cluster.local' }), ['10.0.0.1']);

    const ns = await nslookup('kubernetes.default.svc.cluster.local', '127.0.0.1', port);
    assert.equal(ns.code, 0);
    assert.match(ns.output, /Address: 10\.0\.0\.1/);
  } finally {
    await new Promise<void>((resolve) => sock.close(() => resolve()));
  }
  // nothing listens any more: dig must resolve (not throw) with TIMEOUT
  const gone = await dig({ port, name: 'kubernetes.default.svc.cluster.local' });
  assert.equal(gone.status, 'TIMEOUT');
  assert.deepEqual(gone.answer, []);
});
