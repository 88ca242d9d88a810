// The encoded-answer cache (lib/skydns/answers.ts): keys come straight from the
// request bytes; a hit must be exactly the same question (name bytes up to ASCII
// case, type, class, fitted size, EDNS/DO), never merely the same hash.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AnswerCache, AnswerValue, DO_FLAG, EDNS_FLAG } from '../../lib/skydns/answers.js';

/** A query packet for `name` (labels written out) and where its name ends. */
function query(name: string, id = 1): { raw: Buffer; nameEnd: number } {
  const parts = [Buffer.from([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0])];
  for (const label of name.split('.').filter((l) => l !== '')) parts.push(Buffer.from([label.length]), Buffer.from(label, 'latin1'));
  parts.push(Buffer.from([0, 0, 1, 0, 1]));
  const raw = Buffer.concat(parts);
  return { raw, nameEnd: raw.length - 4 };
}

function value(tag: number): AnswerValue {
  return { buf: Buffer.from([tag]), gen: 1, until: 1e15, shuffle: null, system: 'auth', cause: null };
}

const tagOf = (c: { buf: Buffer } | undefined) => (c === undefined ? undefined : c.buf[0]);

describe('AnswerCache', () => {
  test('a hit needs the same name (any ASCII case), type, class, size and flags', () => {
    const c = new AnswerCache(100);
    const k = query('svc1.ns1.svc.cluster.local');
    c.set(k.raw, k.nameEnd, 1, 1, 512, 0, value(7));
    const upper = query('SVC1.Ns1.svc.CLUSTER.local');
    assert.equal(tagOf(c.get(upper.raw, upper.nameEnd, 1, 1, 512, 0)), 7);
    assert.equal(tagOf(c.get(k.raw, k.nameEnd, 1, 1, 512, 0)), 7);
    assert.equal(c.get(k.raw, k.nameEnd, 28, 1, 512, 0), undefined, 'other qtype');
    assert.equal(c.get(k.raw, k.nameEnd, 1, 3, 512, 0), undefined, 'other qclass');
    assert.equal(c.get(k.raw, k.nameEnd, 1, 1, 1232, EDNS_FLAG), undefined, 'other size and EDNS');
    assert.equal(c.get(k.raw, k.nameEnd, 1, 1, 512, EDNS_FLAG | DO_FLAG), undefined, 'DO bit');
    for (const other of ['svc2.ns1.svc.cluster.local', 'svc1.ns1.svc.cluster.loca', 'svc1.ns1.svc.cluster.local.x', 'svc1x.ns1.svc.cluster.local']) {
      const o = query(other);
      assert.equal(c.get(o.raw, o.nameEnd, 1, 1, 512, 0), undefined, other);
    }
  });

  test('only ASCII letters fold: @ and ` and bytes above 0x7f are distinct', () => {
    const c = new AnswerCache(100);
    const at = query('a@b.cluster.local');
    const tick = query('a`b.cluster.local');
    c.set(at.raw, at.nameEnd, 1, 1, 512, 0, value(1));
    assert.equal(c.get(tick.raw, tick.nameEnd, 1, 1, 512, 0), undefined);
    c.set(tick.raw, tick.nameEnd, 1, 1, 512, 0, value(2));
    // Same hash slot (the hash folds bit 5): the newer question took it, the older one misses.
    assert.equal(tagOf(c.get(tick.raw, tick.nameEnd, 1, 1, 512, 0)), 2);
    assert.equal(c.get(at.raw, at.nameEnd, 1, 1, 512, 0), undefined);
    const hi = query('\u00c9t\u00e9.cluster.local');
    const lo = query('\u00e9t\u00e9.cluster.local');
    c.set(hi.raw, hi.nameEnd, 1, 1, 512, 0, value(3));
    assert.equal(c.get(lo.raw, lo.nameEnd, 1, 1, 512, 0), undefined);
    assert.equal(tagOf(c.get(hi.raw, hi.nameEnd, 1, 1, 512, 0)), 3);
  });

  test('two different names in one hash slot never answer for each other', () => {
    // Find a real collision of the 30-bit slot among generated names (birthday bound: ~2^15 names).
    const c = new AnswerCache(1 << 20);
    const names: string[] = [];
    let pair: [string, string] | null = null;
    for (let i = 0; i < 400_000 && !pair; i++) {
      const name = `n${i}.cluster.local`;
      const q = query(name);
      const before = c.size;
      c.set(q.raw, q.nameEnd, 1, 1, 512, 0, value(i & 0xff));
      if (c.size === before) {
        // The slot was taken: by which earlier name?
        for (const prev of names) {
          const p = query(prev);
          if (c.get(p.raw, p.nameEnd, 1, 1, 512, 0) === undefined) {
            pair = [prev, name];
            break;
          }
        }
      }
      names.push(name);
    }
    assert.ok(pair, 'no slot collision found among 400,000 names');
    const [older, newer] = pair;
    const o = query(older);
    const n = query(newer);
    assert.equal(c.get(o.raw, o.nameEnd, 1, 1, 512, 0), undefined);
    assert.ok(c.get(n.raw, n.nameEnd, 1, 1, 512, 0));
  });

  test('full: the oldest tenth is dropped; capacity 0 keeps nothing', () => {
    const c = new AnswerCache(20);
    const qs = Array.from({ length: 21 }, (_, i) => query(`svc${i}.cluster.local`));
    qs.slice(0, 20).forEach((q, i) => c.set(q.raw, q.nameEnd, 1, 1, 512, 0, value(i)));
    assert.equal(c.size, 20);
    c.set(qs[20].raw, qs[20].nameEnd, 1, 1, 512, 0, value(20));
    assert.equal(c.size, 19);
    assert.equal(c.get(qs[0].raw, qs[0].nameEnd, 1, 1, 512, 0), undefined);
    assert.equal(c.get(qs[1].raw, qs[1].nameEnd, 1, 1, 512, 0), undefined);
    assert.equal(tagOf(c.get(qs[2].raw, qs[2].nameEnd, 1, 1, 512, 0)), 2);
    assert.equal(tagOf(c.get(qs[20].raw, qs[20].nameEnd, 1, 1, 512, 0)), 20);
    // Replacing an entry that is already there does not evict anything.
    c.set(qs[2].raw, qs[2].nameEnd, 1, 1, 512, 0, value(99));
    assert.equal(c.size, 19);
    assert.equal(tagOf(c.get(qs[2].raw, qs[2].nameEnd, 1, 1, 512, 0)), 99);

    const off = new AnswerCache(0);
    off.set(qs[0].raw, qs[0].nameEnd, 1, 1, 512, 0, value(1));
    assert.equal(off.size, 0);
    assert.equal(off.get(qs[0].raw, qs[0].nameEnd, 1, 1, 512, 0), undefined);
  });

  test('delete removes that entry only, clear removes all', () => {
    const c = new AnswerCache(10);
    const a = query('a.cluster.local');
    const b = query('b.cluster.local');
    c.set(a.raw, a.nameEnd, 1, 1, 512, 0, value(1));
    const stale = c.get(a.raw, a.nameEnd, 1, 1, 512, 0)!;
    c.set(a.raw, a.nameEnd, 1, 1, 512, 0, value(2));
    c.delete(stale); // already replaced: the newer entry stays
    assert.equal(tagOf(c.get(a.raw, a.nameEnd, 1, 1, 512, 0)), 2);
    c.set(b.raw, b.nameEnd, 1, 1, 512, 0, value(3));
    c.delete(c.get(a.raw, a.nameEnd, 1, 1, 512, 0)!);
    assert.equal(c.get(a.raw, a.nameEnd, 1, 1, 512, 0), undefined);
    assert.equal(tagOf(c.get(b.raw, b.nameEnd, 1, 1, 512, 0)), 3);
    c.clear();
    assert.equal(c.size, 0);
  });
});
