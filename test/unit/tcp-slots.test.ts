// skydns's TCP slots (lib/skydns/server.ts) with real sockets on loopback: when
// every -tcp-max-conns slot is taken, which client gives its slot to a newcomer
// (the one idle longest, else the one busy longest), and what the counters say.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { configFor } from '../../lib/skydns/config.js';
import { DnsHandler } from '../../lib/skydns/handler.js';
import { Resolver, SILENT } from '../../lib/skydns/resolver.js';
import { DnsServer } from '../../lib/skydns/server.js';
import { RecordTree } from '../../lib/skydns/tree.js';
import { TYPE, encodeQuery } from '../../lib/skydns/wire.js';
import { encodeRecord } from '../../lib/msg/record.js';
import { freePort } from '../harness/ports.js';

interface Conn {
  name: string;
  sock: net.Socket;
  closed: boolean;
  answers: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok() && Date.now() < deadline) await sleep(10);
  assert.ok(ok(), `timed out waiting for ${what}`);
}

test('a newcomer takes the slot of the client idle longest, else of the one busy longest', async () => {
  const cfg = configFor(['-domain=cluster.local.']);
  const tree = new RecordTree('skydns');
  tree.put('/skydns/local/cluster/a', encodeRecord({ host: '10.9.9.9' }));
  const handler = new DnsHandler({ cfg, tree, resolver: new Resolver(tree, cfg, null, SILENT), forwarder: null, stubs: null, metrics: null, log: SILENT, synced: () => true });
  // A port free for both: with port 0, UDP and TCP would each get a port of their own.
  const port = await freePort();
  const server = new DnsServer(handler, { host: '127.0.0.1', port, maxTcpConns: 3, tcpIdleMs: 30_000, tcpIoMs: 30_000, udpIo: 'dgram' }, SILENT);
  await server.listen();
  const conns: Conn[] = [];
  const open = async (name: string): Promise<Conn> => {
    const c: Conn = { name, sock: net.connect(port, '127.0.0.1'), closed: false, answers: 0 };
    c.sock.on('error', () => undefined);
    c.sock.on('close', () => (c.closed = true));
    c.sock.on('data', () => c.answers++);
    conns.push(c);
    await until(`${name} connected`, () => !c.sock.connecting || c.closed);
    assert.equal(c.closed, false, `${name} connected`);
    // The server has taken it once it has answered a query, or (for clients that stay silent) after a moment.
    await sleep(50);
    return c;
  };
  const query = (c: Conn, id: number) => {
    const q = encodeQuery('a.cluster.local.', TYPE.A, id);
    const b = Buffer.alloc(2 + q.length);
    b.writeUInt16BE(q.length, 0);
    q.copy(b, 2);
    c.sock.write(b);
  };
  const open_ = () => conns.filter((c) => !c.closed).map((c) => c.name).sort();
  try {
    const a = await open('a');
    const b = await open('b');
    const c = await open('c');
    b.sock.write(Buffer.from([0, 40, 1])); // b is in the middle of a message
    query(a, 1); // a asked last: c is now the one idle longest
    await until('a answered', () => a.answers > 0);
    await open('d');
    await until('c closed', () => c.closed);
    assert.deepEqual(open_(), ['a', 'b', 'd']);
    await open('e');
    await until('a closed', () => a.closed);
    assert.deepEqual(open_(), ['b', 'd', 'e']);
    // Nobody idle: d and e start messages after b did, so b is the one busy longest.
    conns.find((x) => x.name === 'd')!.sock.write(Buffer.from([0]));
    conns.find((x) => x.name === 'e')!.sock.write(Buffer.from([0]));
    await sleep(50);
    await open('f');
    await until('b closed', () => b.closed);
    assert.deepEqual(open_(), ['d', 'e', 'f']);
    assert.deepEqual(server.stats(), { tcpEvicted: 3, tcpIoTimeouts: 0, udpFromPortZero: 0 });
  } finally {
    for (const c of conns) c.sock.destroy();
    await server.close();
  }
});
