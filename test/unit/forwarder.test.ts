// The forwarder (docs/skydns.md §4) against scripted UDP upstreams on loopback: the client's ID
// put back, replies taken only when ID and question match, SERVFAIL retried once on the same
// server, a closed port or a silent server leading to the next one, truncated replies relayed,
// identical questions in flight sharing one exchange, the bound on outstanding walks, and the
// internal lookups made for CNAME targets.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BUSY, Forwarder } from '../../lib/skydns/forwarder.js';
import { SILENT } from '../../lib/skydns/resolver.js';
import { RCODE, TYPE, decodeMessage, encodeQuery } from '../../lib/skydns/wire.js';
import { closedPort, startScriptedUpstream } from '../harness/upstream.js';

const addr = (reply: Buffer) => [...Buffer.from((decodeMessage(reply).answer[0]?.data as { octets?: string }).octets ?? '', 'latin1')].join('.');

describe('Forwarder', () => {
  const closers: (() => void)[] = [];
  after(() => closers.forEach((c) => c()));
  const make = (ports: number[], over: { timeoutMs?: number; maxOutstanding?: number } = {}) => {
    const f = new Forwarder({ servers: ports.map((port) => ({ host: '127.0.0.1', port })), timeoutMs: over.timeoutMs ?? 1000, nsRotate: false, log: SILENT, maxOutstanding: over.maxOutstanding });
    closers.push(() => f.close());
    return f;
  };

  test('the client\'s ID comes back, whatever ID went upstream', async () => {
    const up = await startScriptedUpstream(1);
    closers.push(up.close);
    const f = make([up.port]);
    const reply = await f.forward(encodeQuery('a.example.', TYPE.A, 4242), false, 'a.example.|1');
    assert.ok(Buffer.isBuffer(reply));
    assert.equal(reply.readUInt16BE(0), 4242);
    assert.equal(addr(reply), '192.0.2.1');
    assert.equal(up.asked.length, 1);
  });

  test('a reply with the right ID but another question is not taken', async () => {
    const up = await startScriptedUpstream(1, () => ({ also: 'wrong-question-first' }));
    closers.push(up.close);
    const reply = await make([up.port]).forward(encodeQuery('b.example.', TYPE.A, 7), false, 'b');
    assert.ok(Buffer.isBuffer(reply));
    assert.equal(decodeMessage(reply).question[0].name, 'b.example.');
  });

  test('SERVFAIL is asked again once of the same server, then relayed', async () => {
    const failOnce = await startScriptedUpstream(1, (_q, n) => (n === 1 ? { rcode: RCODE.SERVFAIL } : {}));
    const failAlways = await startScriptedUpstream(2, () => ({ rcode: RCODE.SERVFAIL }));
    closers.push(failOnce.close, failAlways.close);
    const r1 = await make([failOnce.port]).forward(encodeQuery('c.example.', TYPE.A, 1), false, 'c');
    assert.ok(Buffer.isBuffer(r1));
    assert.equal(addr(r1), '192.0.2.1');
    assert.equal(failOnce.asked.length, 2);
    const r2 = await make([failAlways.port]).forward(encodeQuery('d.example.', TYPE.A, 1), false, 'd');
    assert.ok(Buffer.isBuffer(r2));
    assert.equal(r2[3] & 0x0f, RCODE.SERVFAIL);
    assert.equal(failAlways.asked.length, 2);
  });

  test('a closed port moves on to the next server at once; a silent one after -rtimeout', async () => {
    const good = await startScriptedUpstream(2);
    const silent = await startScriptedUpstream(3, () => ({ silent: true }));
    closers.push(good.close, silent.close);
    let t0 = Date.now();
    const r1 = await make([await closedPort(), good.port], { timeoutMs: 2000 }).forward(encodeQuery('e.example.', TYPE.A, 1), false, 'e');
    assert.ok(Buffer.isBuffer(r1));
    assert.equal(addr(r1), '192.0.2.2');
    assert.ok(Date.now() - t0 < 1000, `closed port: ${Date.now() - t0} ms`);
    t0 = Date.now();
    const r2 = await make([silent.port, good.port], { timeoutMs: 300 }).forward(encodeQuery('f.example.', TYPE.A, 1), false, 'f');
    assert.ok(Buffer.isBuffer(r2));
    assert.equal(addr(r2), '192.0.2.2');
    assert.ok(Date.now() - t0 >= 250, `silent server waited for: ${Date.now() - t0} ms`);
  });

  test('every server failing gives null; a truncated reply is relayed with TC', async () => {
    const f = make([await closedPort(), await closedPort()], { timeoutMs: 300 });
    assert.equal(await f.forward(encodeQuery('g.example.', TYPE.A, 1), false, 'g'), null);
    const tc = await startScriptedUpstream(4, () => ({ tc: true }));
    closers.push(tc.close);
    const r = await make([tc.port]).forward(encodeQuery('h.example.', TYPE.A, 1), false, 'h');
    assert.ok(Buffer.isBuffer(r));
    assert.equal(decodeMessage(r).header.tc, true);
  });

  test('identical questions in flight share one exchange; each client gets its own ID', async () => {
    const slow = await startScriptedUpstream(5, () => ({}));
    closers.push(slow.close);
    const f = make([slow.port]);
    const replies = await Promise.all([101, 102, 103].map((id) => f.forward(encodeQuery('i.example.', TYPE.A, id), false, 'i.example.|1')));
    assert.deepEqual(replies.map((r) => (Buffer.isBuffer(r) ? r.readUInt16BE(0) : r)), [101, 102, 103]);
    assert.equal(slow.asked.length, 1);
  });

  test('beyond maxOutstanding walks a question is refused at once (BUSY)', async () => {
    const silent = await startScriptedUpstream(6, () => ({ silent: true }));
    closers.push(silent.close);
    const f = make([silent.port], { timeoutMs: 500, maxOutstanding: 2 });
    const waiting = [1, 2].map((n) => f.forward(encodeQuery(`j${n}.example.`, TYPE.A, n), false, `j${n}`));
    const t0 = Date.now();
    assert.equal(await f.forward(encodeQuery('j3.example.', TYPE.A, 3), false, 'j3'), BUSY);
    assert.ok(Date.now() - t0 < 100);
    assert.deepEqual(await Promise.all(waiting), [null, null]);
  });

  test('lookup(): a fresh query with EDNS0 and the DO bit asked for; the answer records, or null', async () => {
    const up = await startScriptedUpstream(7);
    const nx = await startScriptedUpstream(8, () => ({ rcode: RCODE.NXDOMAIN }));
    closers.push(up.close, nx.close);
    const rrs = await make([up.port]).lookup('k.example.', TYPE.A, { do: true, bufsize: 1232 });
    assert.deepEqual(rrs?.map((r) => `${r.name} ${r.type}`), ['k.example. 1']);
    assert.equal(up.asked[0].edns?.do, true);
    assert.equal(up.asked[0].header.rd, true);
    assert.equal(await make([nx.port]).lookup('k.example.', TYPE.A, { do: false, bufsize: 512 }), null);
  });
});
