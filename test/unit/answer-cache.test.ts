// The encoded-answer cache (lib/skydns/caches.ts): keys come straight from the
// request bytes; a hit must be exactly the same question (name bytes up to ASCII
// case, type, class, fitted size, EDNS/DO), never merely the same hash.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AnswerCache, AnswerCacheOptions, FrequencySketch, AnswerValue, CachedAnswer, DO_FLAG, EDNS_FLAG, MAX_WILDCARD_ENTRIES, ReplyChunks, replyOf } from '../../lib/skydns/caches.js';
import { Deps, ENTRY, EXISTS, SUBTREE, SUBTREE_PLAIN } from '../../lib/skydns/deps.js';

interface Q {
  raw: Buffer;
  questionEnd: number;
}

/** A query packet for `name` (labels written out) and where its question ends. */
function query(name: string, qtype = 1, qclass = 1, id = 1): Q {
  const parts = [Buffer.from([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0])];
  for (const label of name.split('.').filter((l) => l !== '')) parts.push(Buffer.from([label.length]), Buffer.from(label, 'latin1'));
  parts.push(Buffer.from([0, qtype >> 8, qtype & 0xff, qclass >> 8, qclass & 0xff]));
  const raw = Buffer.concat(parts);
  return { raw, questionEnd: raw.length };
}

/** A reply to q (its header and question, then one byte standing for the answer records). */
function reply(q: Q, tag: number, deps: Deps | null = null): AnswerValue {
  const buf = Buffer.concat([q.raw, Buffer.from([tag])]);
  buf[2] |= 0x80;
  return { buf, until: 1e15, shuffle: null, system: 'auth', cause: null, deps };
}

const tagOf = (c: CachedAnswer | undefined) => (c === undefined ? undefined : replyOf(c)[c.len - 1]);
/** A cache that stores every offer (admission has its own tests). */
const cache = (capacity: number, opts: AnswerCacheOptions = {}) => new AnswerCache(capacity, { admission: false, ...opts });
const put = (c: AnswerCache, q: Q, tag: number, bufsize = 512, flags = 0) => c.set(q.raw, q.questionEnd, bufsize, flags, reply(q, tag));
const get = (c: AnswerCache, q: Q, bufsize = 512, flags = 0) => c.get(q.raw, q.questionEnd, bufsize, flags);

describe('AnswerCache', () => {
  test('a hit needs the same name (any ASCII case), type, class, size and flags', () => {
    const c = cache(100);
    const k = query('Svc1.ns1.svc.cluster.local');
    assert.equal(put(c, k, 7), true);
    assert.equal(tagOf(get(c, query('SVC1.Ns1.svc.CLUSTER.local'))), 7);
    assert.equal(tagOf(get(c, query('svc1.ns1.svc.cluster.local'))), 7);
    assert.equal(tagOf(get(c, k)), 7);
    assert.equal(get(c, query('svc1.ns1.svc.cluster.local', 28)), undefined, 'other qtype');
    assert.equal(get(c, query('svc1.ns1.svc.cluster.local', 1, 3)), undefined, 'other qclass');
    assert.equal(get(c, k, 1232, EDNS_FLAG), undefined, 'other size and EDNS');
    assert.equal(get(c, k, 512, EDNS_FLAG | DO_FLAG), undefined, 'DO bit');
    for (const other of ['svc2.ns1.svc.cluster.local', 'svc1.ns1.svc.cluster.loca', 'svc1.ns1.svc.cluster.local.x', 'svc1x.ns1.svc.cluster.local']) {
      assert.equal(get(c, query(other)), undefined, other);
    }
    // The stored reply keeps its question in lower case (patched to the asker's case on the way out).
    assert.equal(replyOf(get(c, k)!).subarray(12, k.questionEnd - 4).toString('latin1'), '\x04svc1\x03ns1\x03svc\x07cluster\x05local\x00');
  });

  test('only ASCII letters fold: @ and ` and bytes above 0x7f are distinct', () => {
    const c = cache(100);
    const at = query('a@b.cluster.local');
    const tick = query('a`b.cluster.local');
    put(c, at, 1);
    assert.equal(get(c, tick), undefined);
    put(c, tick, 2);
    // Same hash slot (the hash folds bit 5): the newer question took it, the older one misses.
    assert.equal(tagOf(get(c, tick)), 2);
    assert.equal(get(c, at), undefined);
    const hi = query('\u00c9t\u00e9.cluster.local');
    const lo = query('\u00e9t\u00e9.cluster.local');
    put(c, hi, 3);
    assert.equal(get(c, lo), undefined);
    assert.equal(tagOf(get(c, hi)), 3);
  });

  test('a reply whose question is not the request\'s is refused', () => {
    const c = cache(100);
    const a = query('a.cluster.local');
    const b = query('b.cluster.local');
    assert.equal(c.set(a.raw, a.questionEnd, 512, 0, reply(b, 1)), false);
    assert.equal(c.set(a.raw, a.questionEnd, 512, 0, { ...reply(a, 1), buf: a.raw.subarray(0, a.questionEnd - 1) }), false, 'too short');
    assert.equal(c.size, 0);
  });

  test('two different names in one hash slot never answer for each other', () => {
    // Find a real collision of the 30-bit slot among generated names (birthday bound: ~2^15 names).
    const c = cache(1 << 20);
    const names: string[] = [];
    let pair: [string, string] | null = null;
    for (let i = 0; i < 400_000 && !pair; i++) {
      const name = `n${i}.cluster.local`;
      const before = c.size;
      put(c, query(name), i & 0xff);
      if (c.size === before) {
        // The slot was taken: by which earlier name?
        const prev = names.find((p) => get(c, query(p)) === undefined);
        if (prev !== undefined) pair = [prev, name];
      }
      names.push(name);
    }
    assert.ok(pair, 'no slot collision found among 400,000 names');
    const [older, newer] = pair;
    assert.equal(get(c, query(older)), undefined);
    assert.ok(get(c, query(newer)));
  });

  test('full: the oldest tenth is dropped; capacity 0 keeps nothing', () => {
    const c = cache(20);
    const qs = Array.from({ length: 21 }, (_, i) => query(`svc${i}.cluster.local`));
    qs.slice(0, 20).forEach((q, i) => put(c, q, i));
    assert.equal(c.size, 20);
    put(c, qs[20], 20);
    assert.equal(c.size, 19);
    assert.equal(get(c, qs[0]), undefined);
    assert.equal(get(c, qs[1]), undefined);
    assert.equal(tagOf(get(c, qs[2])), 2);
    assert.equal(tagOf(get(c, qs[20])), 20);
    // Replacing an entry that is already there does not evict anything.
    put(c, qs[2], 99);
    assert.equal(c.size, 19);
    assert.equal(tagOf(get(c, qs[2])), 99);

    const off = cache(0);
    assert.equal(put(off, qs[0], 1), false);
    assert.equal(off.size, 0);
    assert.equal(get(off, qs[0]), undefined);
  });

  test('delete removes that entry only, clear removes all', () => {
    const c = cache(10);
    const a = query('a.cluster.local');
    const b = query('b.cluster.local');
    put(c, a, 1);
    const stale = get(c, a)!;
    put(c, a, 2);
    c.delete(stale); // already replaced: the newer entry stays
    assert.equal(tagOf(get(c, a)), 2);
    put(c, b, 3);
    c.delete(get(c, a)!);
    assert.equal(get(c, a), undefined);
    assert.equal(tagOf(get(c, b)), 3);
    c.clear();
    assert.equal(c.size, 0);
  });

  test('a change drops the entries whose answers read the changed path, and no others', () => {
    const c = cache(100);
    const deps = (path: string, kind: number) => {
      const d = new Deps();
      d.add(path === '' ? [] : path.split('/'), kind);
      return d;
    };
    const entries: [string, string, number][] = [
      ['a', 'local/cluster/svc/ns1/a', SUBTREE_PLAIN],
      ['b', 'local/cluster/svc/ns1/b', SUBTREE_PLAIN],
      ['ns1', 'local/cluster/svc/ns1', SUBTREE],
      ['miss', 'local/cluster/svc/ns2/a', EXISTS],
      ['cname', 'local/cluster/svc/ns1/a', ENTRY],
    ];
    for (const [name, path, kind] of entries) {
      const q = query(`${name}.cluster.local`);
      assert.equal(c.set(q.raw, q.questionEnd, 512, 0, reply(q, 1, deps(path, kind))), true);
    }
    const apex = query('cluster.local', 6);
    c.set(apex.raw, apex.questionEnd, 512, 0, reply(apex, 1));
    const alive = () => ['a', 'b', 'ns1', 'miss', 'cname'].filter((n) => get(c, query(`${n}.cluster.local`)) !== undefined);
    // A new leaf below an existing a: a's address answer and the ns1 subtree; a's CNAME and existence stay.
    c.changed({ segs: ['local', 'cluster', 'svc', 'ns1', 'a', 'x1'], flipped: 6 });
    assert.deepEqual(alive(), ['b', 'miss', 'cname']);
    assert.equal(c.invalidated, 2);
    // An SRV leaf below b's attribute labels: not part of b's address answer.
    c.changed({ segs: ['local', 'cluster', 'svc', 'ns1', 'b', '_tcp', '_http', 'x2'], flipped: 6 });
    assert.deepEqual(alive(), ['b', 'miss', 'cname']);
    // The first key below ns2/a: the NXDOMAIN goes.
    c.changed({ segs: ['local', 'cluster', 'svc', 'ns2', 'a', 'x3'], flipped: 4 });
    assert.deepEqual(alive(), ['b', 'cname']);
    // The value at exactly ns1/a: the CNAME answer goes.
    c.changed({ segs: ['local', 'cluster', 'svc', 'ns1', 'a'], flipped: 6 });
    assert.deepEqual(alive(), ['b']);
    assert.ok(get(c, apex), 'an answer that read nothing stays');
    c.changed(null);
    assert.equal(c.size, 0);
  });

  test('the doorkeeper: a question is kept the second time it is offered; one asked once never takes a place', () => {
    const c = new AnswerCache(100);
    const a = query('a.cluster.local');
    assert.equal(put(c, a, 1), false, 'first offer');
    assert.equal(get(c, a), undefined);
    assert.equal(put(c, a, 2), true, 'second offer');
    assert.equal(tagOf(get(c, a)), 2);
    assert.equal(put(c, a, 3), true, 'a replacement needs no second look');
    // A thousand names asked once each leave the cache as it was.
    for (let i = 0; i < 1000; i++) put(c, query(`once${i}.cluster.local`), 9);
    assert.equal(c.size, 1);
    assert.equal(tagOf(get(c, a)), 3);
    // Off with capacity 0.
    assert.equal(new AnswerCache(0).set(a.raw, a.questionEnd, 512, 0, reply(a, 1)), false);
  });

  test('full: a newcomer replaces the oldest entry only if it was asked more often', () => {
    const c = new AnswerCache(10);
    const qs = Array.from({ length: 10 }, (_, i) => query(`hot${i}.cluster.local`));
    for (const q of qs) {
      put(c, q, 1);
      put(c, q, 1);
    }
    assert.equal(c.size, 10);
    // Asked three times each (the hits count too).
    for (const q of qs) get(c, q);
    // A flood of names offered twice each (once past the doorkeeper) never gets in.
    for (let i = 0; i < 200; i++) {
      const q = query(`flood${i}.cluster.local`);
      put(c, q, 2);
      assert.equal(put(c, q, 2), false, `flood${i}`);
    }
    assert.equal(c.size, 10);
    for (const q of qs) assert.ok(get(c, q), 'the hot entries stayed');
    // A name asked often enough takes the oldest entry's place.
    const popular = query('popular.cluster.local');
    let stored = false;
    for (let k = 0; k < 12 && !stored; k++) stored = put(c, popular, 3);
    assert.equal(stored, true);
    assert.equal(tagOf(get(c, popular)), 3);
    assert.equal(c.size, 10);
    assert.equal(get(c, qs[0]), undefined, 'the oldest went');
  });

  test('the frequency sketch counts, saturates at 15 and fades', () => {
    const s = new FrequencySketch(100);
    for (let i = 0; i < 5; i++) s.increment(42);
    assert.equal(s.estimate(42), 5);
    assert.equal(s.estimate(43), 0);
    for (let i = 0; i < 30; i++) s.increment(7);
    assert.equal(s.estimate(7), 15);
    // After ten capacities' worth (at least 1,000) of counts every counter is halved.
    for (let i = 0; i < 1000 - 35; i++) s.increment(99_999);
    assert.equal(s.estimate(7), 7);
    assert.equal(s.estimate(42), 2);
  });

  test('the doorkeeper forgets when the sketch ages: an offer after that counts as a first again', () => {
    const s = new FrequencySketch(100); // ages every 1,000 counts
    assert.equal(s.period, 1000);
    assert.equal(s.offeredBefore(42), false);
    assert.equal(s.offeredBefore(42), true);
    for (let i = 0; i < 999; i++) s.increment(7);
    assert.equal(s.offeredBefore(42), true, 'not aged yet');
    s.increment(7);
    assert.equal(s.offeredBefore(42), false, 'forgotten at the 1,000th count');
    assert.equal(s.estimate(7), 7, 'and the counters halved (15 → 7)');
    // A short period (the warm-up's cache) ages as often as asked.
    const quick = new FrequencySketch(100, 10);
    quick.offeredBefore(1);
    for (let i = 0; i < 10; i++) quick.increment(2);
    assert.equal(quick.offeredBefore(1), false);
  });

  test('an answer that read one path keeps it inline; several reads keep their Deps', () => {
    const c = cache(100);
    const one = new Deps();
    one.add(['local', 'cluster', 'a'], SUBTREE_PLAIN);
    const a = query('a.cluster.local');
    put(c, a, 1);
    c.set(a.raw, a.questionEnd, 512, 0, reply(a, 1, one));
    assert.equal(get(c, a)!.dep, 'local/cluster/a');
    assert.equal(get(c, a)!.depKind, SUBTREE_PLAIN);
    const two = new Deps();
    two.add(['local', 'cluster', 'b'], SUBTREE_PLAIN);
    two.add(['local', 'cluster', 'c'], SUBTREE_PLAIN);
    const b = query('b.cluster.local');
    c.set(b.raw, b.questionEnd, 512, 0, reply(b, 1, two));
    assert.equal(get(c, b)!.dep, two);
    c.changed({ segs: ['local', 'cluster', 'c', 'x'], flipped: 4 });
    assert.equal(get(c, b), undefined, 'dropped through its second read');
    assert.ok(get(c, a));
  });

  test('wildcard answers are bounded in number', () => {
    const c = cache(10 * MAX_WILDCARD_ENTRIES);
    const wild = new Deps();
    wild.add(['local', 'cluster', 'svc', '*'], SUBTREE_PLAIN);
    for (let i = 0; i < MAX_WILDCARD_ENTRIES; i++) {
      const q = query(`w${i}.cluster.local`);
      assert.equal(c.set(q.raw, q.questionEnd, 512, 0, reply(q, 1, wild)), true);
    }
    const one = query('one-more.cluster.local');
    assert.equal(c.set(one.raw, one.questionEnd, 512, 0, reply(one, 1, wild)), false);
    assert.equal(c.set(one.raw, one.questionEnd, 512, 0, reply(one, 1)), true, 'answers without a wildcard read are still kept');
  });

  test('chunks are compacted when dropped entries leave them mostly empty', () => {
    const c = cache(100_000);
    const keep = query('keep.cluster.local');
    const d = new Deps();
    d.add(['local', 'cluster', 'keep'], SUBTREE);
    c.set(keep.raw, keep.questionEnd, 512, 0, reply(keep, 42, d));
    const first = get(c, keep)!.chunk.buffer;
    // Many short-lived entries, each dropped by a change: the chunk `keep` sits in would stay pinned.
    for (let i = 0; i < 20_000; i++) {
      const q = query(`t${i}.cluster.local`);
      const dep = new Deps();
      dep.add(['local', 'cluster', `t${i}`], SUBTREE);
      c.set(q.raw, q.questionEnd, 512, 0, reply(q, 1, dep));
      c.changed({ segs: ['local', 'cluster', `t${i}`], flipped: 4 });
    }
    assert.equal(c.size, 1);
    const e = get(c, keep)!;
    assert.equal(tagOf(e), 42);
    assert.notEqual(e.chunk.buffer, first, 'moved to a fresh chunk');
  });

  test('entries are copies in chunks of their own, not slices of Node\'s shared buffer pool', () => {
    const c = cache(1000);
    const a = query('a.cluster.local');
    const v = reply(a, 1);
    put(c, a, 0); // the same question again below replaces it
    c.set(a.raw, a.questionEnd, 512, 0, v);
    v.buf[v.buf.length - 1] = 9; // the caller's buffer is its own again
    const e = get(c, a)!;
    assert.equal(tagOf(e), 1);
    assert.notEqual(e.chunk.buffer, v.buf.buffer);
    assert.equal(e.chunk.buffer.byteLength, ReplyChunks.CHUNK);
    assert.equal(ReplyChunks.CHUNK, 16 * 1024);
    const pooled = Buffer.from(v.buf);
    assert.notEqual(e.chunk.buffer, pooled.buffer, 'not in the pool');
    // Small entries share a chunk; one too large for it gets its own memory.
    const b = query('b.cluster.local');
    put(c, b, 2);
    assert.equal(get(c, b)!.chunk.buffer, e.chunk.buffer);
    const big = query('big.cluster.local');
    c.set(big.raw, big.questionEnd, 512, 0, { ...reply(big, 0), buf: Buffer.concat([reply(big, 0).buf, Buffer.alloc(5000, 7)]) });
    assert.equal(get(c, big)!.chunk.buffer.byteLength, big.questionEnd + 1 + 5000);
  });

  test('its tables are made for the full capacity: filling it copies neither (presize: false grows them as it fills)', () => {
    // The entries' table and the dependency index's, as the cache holds them.
    const tables = (c: AnswerCache) => {
      const inside = c as unknown as { map: { items: unknown[] }; index: { byPath: { keys: unknown[] } } };
      return [inside.map.items, inside.index.byPath.keys];
    };
    for (const presize of [true, false]) {
      const c = cache(2000, { presize });
      const before = tables(c);
      for (let i = 0; i < 2000; i++) {
        const q = query(`svc${i}.ns${i % 7}.svc.cluster.local`);
        const d = new Deps();
        d.add(['local', 'cluster', 'svc', `ns${i % 7}`, `svc${i}`], SUBTREE_PLAIN);
        c.set(q.raw, q.questionEnd, 512, 0, reply(q, 1, d));
      }
      assert.equal(c.size, 2000);
      const after = tables(c);
      if (presize) assert.ok(before.every((t, i) => t === after[i]), 'a table was replaced');
      else assert.ok(before.every((t, i) => t !== after[i] && after[i].length > t.length), 'the tables grew');
    }
  });
});

