// The response cache of forwarded and stub-zone answers (lib/skydns/caches.ts ResponseCache):
// keyed by the question as asked, the DO bit and the transport; -rcache-ttl seconds of life;
// SERVFAIL and truncated replies never kept; the oldest entry goes when full.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ResponseCache } from '../../lib/skydns/caches.js';
import { RCODE, TYPE, encodeQuery, errorReply, setTC } from '../../lib/skydns/wire.js';

/** A reply to `name` A with the given rcode (a header and the question is all the cache looks at). */
const reply = (name: string, rcode: number = RCODE.NOERROR) => errorReply(encodeQuery(name, TYPE.A, 1), rcode, 12 + name.length + 1 + 4);

test('off (capacity 0): no key, nothing kept', () => {
  const c = new ResponseCache(0, 60);
  assert.equal(c.key('a.example.', TYPE.A, 1, false, false), '');
  c.set('x', reply('a.example.'));
  assert.equal(c.size, 0);
});

test('the key tells questions, DO bit and transport apart; name case counts', () => {
  const c = new ResponseCache(10, 60);
  const keys = new Set([
    c.key('a.example.', TYPE.A, 1, false, false),
    c.key('A.example.', TYPE.A, 1, false, false),
    c.key('a.example.', TYPE.AAAA, 1, false, false),
    c.key('a.example.', TYPE.A, 3, false, false),
    c.key('a.example.', TYPE.A, 1, true, false),
    c.key('a.example.', TYPE.A, 1, false, true),
  ]);
  assert.equal(keys.size, 6);
});

test('a kept reply is a copy, lives ttl seconds, and is dropped once expired', () => {
  const c = new ResponseCache(10, 60);
  const r = reply('a.example.');
  c.set('k', r, 1_000);
  r[0] = 0xff;
  const got = c.get('k', 1_000 + 59_999);
  assert.ok(got);
  assert.equal(got[0], 0, 'stored bytes are the cache\'s own');
  got[1] = 0xff;
  assert.equal(c.get('k', 1_001)![1], 1, 'each get is a copy');
  assert.equal(c.get('k', 61_000), null);
  assert.equal(c.size, 0, 'expired entry removed');
});

test('SERVFAIL and truncated replies are not kept; a held key is not replaced', () => {
  const c = new ResponseCache(10, 60);
  c.set('s', reply('a.example.', RCODE.SERVFAIL));
  const tc = reply('b.example.');
  setTC(tc);
  c.set('t', tc);
  assert.equal(c.size, 0);
  c.set('k', reply('a.example.', RCODE.NXDOMAIN), 0);
  c.set('k', reply('a.example.', RCODE.NOERROR), 0);
  assert.equal(c.get('k', 1)![3] & 0x0f, RCODE.NXDOMAIN);
});

test('full: the oldest entry makes room; clear() empties it', () => {
  const c = new ResponseCache(2, 60);
  c.set('1', reply('a.example.'), 0);
  c.set('2', reply('b.example.'), 0);
  c.set('3', reply('c.example.'), 0);
  assert.equal(c.size, 2);
  assert.equal(c.get('1', 1), null);
  assert.ok(c.get('2', 1) && c.get('3', 1));
  c.clear();
  assert.equal(c.size, 0);
});
