// The answer cache's hash tables (lib/skydns/tables.ts) against Map, over random operations
// that collide, wrap around the table's end and delete from the middle of probe runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HASH_SEED, PathTable, SlotTable, hashFinal, hashMore, pathHash } from '../../lib/skydns/tables.js';
import { rng } from '../harness/random.js';

interface Item {
  readonly slot: number;
  readonly n: number;
}

test('SlotTable holds what a Map keyed by slot holds, through 200,000 random sets and deletes (many slots sharing a home)', () => {
  const r = rng(11);
  const t = new SlotTable<Item>(4);
  const m = new Map<number, Item>();
  for (let op = 0; op < 200_000; op++) {
    // Slots that differ only above the table's mask share a home: long runs, and runs that wrap.
    const slot = (Math.floor(r() * 64) << 16) | (r() < 0.5 ? 0xfff0 + Math.floor(r() * 16) : Math.floor(r() * 40));
    if (r() < 0.55) {
      const it = { slot, n: op };
      t.set(it);
      m.set(slot, it);
    } else assert.equal(t.delete(slot), m.delete(slot));
    if (op % 997 === 0) {
      assert.equal(t.size, m.size);
      for (const [s, it] of m) assert.equal(t.get(s), it);
      assert.deepEqual([...t.values()].sort((a, b) => a.slot - b.slot), [...m.values()].sort((a, b) => a.slot - b.slot));
    }
    assert.equal(t.get(slot), m.get(slot));
  }
  t.clear();
  assert.equal(t.size, 0);
  assert.equal(t.get([...m.keys()][0]), undefined);
});

test('PathTable holds what a Map keyed by path holds, and finds a prefix of a longer path by its carried hash', () => {
  const r = rng(12);
  const t = new PathTable<number>(2);
  const m = new Map<string, number>();
  const segs = ['', 'local', 'cluster', 'svc', 'ns1', 'a', '_tcp', 'x'];
  const path = () => Array.from({ length: Math.floor(r() * 5) }, () => segs[Math.floor(r() * segs.length)]).join('/');
  for (let op = 0; op < 100_000; op++) {
    const p = path();
    if (r() < 0.55) {
      t.set(p, op);
      m.set(p, op);
    } else assert.equal(t.delete(p), m.delete(p));
    assert.equal(t.get(p), m.get(p));
    if (op % 499 === 0) {
      assert.equal(t.size, m.size);
      for (const [k, v] of m) assert.equal(t.get(k), v);
    }
  }
  // Every prefix of a path ending at a '/' (and the whole), hashed on from the shorter one.
  for (let k = 0; k < 2_000; k++) {
    const full = path();
    let state = HASH_SEED;
    let from = 0;
    const cuts = [0];
    for (let i = 0; i < full.length; i++) if (full[i] === '/') cuts.push(i);
    cuts.push(full.length);
    for (const end of cuts) {
      state = hashMore(state, full, from, end);
      from = end;
      assert.equal(hashFinal(state), pathHash(full.slice(0, end)));
      assert.equal(t.getPrefix(full, end, hashFinal(state)), m.get(full.slice(0, end)), JSON.stringify([full, end]));
    }
  }
});
