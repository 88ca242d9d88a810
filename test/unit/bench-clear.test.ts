// The traffic benchmark's "clear" latency (bench/cpu-split.ts): which answers a hold of the
// server's CPU by another task can have delayed, and how far a hold's queue reaches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { analyseTrace, clearOfHolds, cpuStalls, drainFactor, lateWakes } from '../../bench/cpu-split.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'unit', 'fixtures');

/** Answers sent every ms, half a ms into each (no send on a hold's edge), for `n` ms, each taking `ms` (or what `slow` says for its index). */
function answers(n: number, ms: number, slow: (i: number) => number | undefined = () => undefined): { ms: Float64Array; sentS: Float64Array } {
  const lat = new Float64Array(n);
  const sent = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    sent[i] = (i + 0.5) / 1000;
    lat[i] = slow(i) ?? ms;
  }
  return { ms: lat, sentS: sent };
}

test('with no hold every answer is clear', () => {
  const a = answers(100, 0.1);
  assert.equal(clearOfHolds(a.ms, a.sentS, []).length, 100);
});

test('an answer that a hold overlapped, or that went out in its shadow, is left out', () => {
  // A hold from 50 to 60 ms. Answers at 0.1 ms: those sent at 50.5..59.5 overlap it; with the
  // half-load shadow (one hold length) those sent at 60.5..69.5 are left out too.
  const a = answers(200, 0.1);
  const hold = [{ from: 0.05, to: 0.06 }];
  const kept = clearOfHolds(a.ms, a.sentS, hold);
  assert.equal(kept.length, 200 - 20);
  // An answer sent before the hold that came back after it started was delayed by it.
  const b = answers(200, 0.1, (i) => (i === 45 ? 6 : undefined));
  assert.equal(clearOfHolds(b.ms, b.sentS, hold).length, 200 - 21);
});

test('a busier server drains a hold\'s queue for longer: the shadow grows with ρ/(1-ρ)', () => {
  const a = answers(300, 0.1);
  const hold = [{ from: 0.05, to: 0.06 }];
  // ρ = 0.75: the queue drains for 3 hold lengths after the hold, to 90 ms.
  const drain = drainFactor(0.75);
  assert.ok(Math.abs(drain - 3) < 1e-9);
  assert.equal(clearOfHolds(a.ms, a.sentS, hold, drain).length, 300 - 40); // sent at 50.5..89.5 ms
  // A slow answer well after the shadow stays counted: it is the server's own.
  const b = answers(300, 0.1, (i) => (i === 200 ? 9 : undefined));
  const kept = clearOfHolds(b.ms, b.sentS, hold, drain);
  assert.ok(kept.includes(9));
});

test('drainFactor: at least the half-load figure, bounded near saturation, 1 when unknown', () => {
  assert.equal(drainFactor(0.2), 1);
  assert.equal(drainFactor(0.5), 1);
  assert.ok(Math.abs(drainFactor(0.9) - 9) < 1e-9);
  assert.ok(Math.abs(drainFactor(1.4) - 19) < 1e-9);
  assert.equal(drainFactor(NaN), 1);
});

// A scheduler trace as SchedTrace records it (ftrace text, sched_switch and sched_wakeup on both
// CPUs). Its first lines are from a real run on this project's 2-vCPU VM, where skydns's query
// thread (25785) slept 100 ms on an idle CPU 0 while the client (25808, CPU 1) kept sending it
// queries; the rest add a preemption by kdamond and a sleep ended by one of skydns's own threads.
test('analyseTrace: holds, waits for a CPU and sleeps of the query thread, by whose doing', async () => {
  const input = fs.createReadStream(path.join(FIXTURES, 'sched-trace.txt'));
  const who = { own: new Set([25785, 25790]), helpers: new Set([25790]), mains: new Set([25785]) };
  const f = await analyseTrace(input, who, [0], 2);
  assert.deepEqual(
    f.holds.map((h) => [h.task, h.count, Math.round(h.maxMs * 100) / 100]),
    [['kdamond.0', 1, 7.41]],
  );
  // Preempted at .472090, back at .479520: kept waiting by another task (kdamond), on CPU 0.
  assert.deepEqual(f.queryThread.waits.map((w) => [w.cpu, w.count, Math.round(w.maxMs * 100) / 100]), [[0, 1, 7.43]]);
  assert.equal(f.queryThread.foreign, 1);
  // Both the hold and the wait are spans the clear figure leaves out.
  assert.equal(f.spans.length, 2);
  // Slept 100.2 ms (woken from an interrupt on the idle CPU) and 3 ms (woken by its own thread 25790); the 0.16 ms sleep is not kept.
  assert.deepEqual(
    f.queryThread.sleeps.map((z) => [Math.round((z.to - z.from) * 10000) / 10, z.byOwn]),
    [[100.2, false], [3, true]],
  );
  assert.ok(Math.abs(f.queryThread.ranMs[0] - (0.598 + 25.469 + 0.48)) < 0.01);

  // The client sent a query every 250 µs: the first sleep held up the ones sent during it; the
  // second was the server's own.
  const sent = Float64Array.from({ length: 600 }, (_, i) => 9589.34 + i * 0.00025);
  const late = lateWakes(f.queryThread.sleeps, sent);
  assert.equal(late.spans.length, 1);
  assert.equal(late.byOwn, 1);
  assert.ok(Math.abs(late.spans[0].from - 9589.3465) < 1e-9, String(late.spans[0].from));
  assert.equal(late.spans[0].to, 9589.446519);
  // With no query sent during a sleep, it held nothing up.
  assert.equal(lateWakes(f.queryThread.sleeps, Float64Array.of(9589.2, 9589.5)).spans.length, 0);
});

// The latency client kept from its CPU: lines from a real run on this project's VM, where the
// machine's memory monitor (kdamond.0, every ~0.5 s) took CPU 1 from dnslat (12185) for 4 ms just
// as its timer woke it; it then sent the 4 ms of queries due meanwhile at once, and the answers
// to that burst waited behind each other in the server's queue.
test('analyseTrace: another task keeping the latency client from its CPU is a hold, its burst\'s answers not clear', async () => {
  const file = path.join(FIXTURES, 'sched-trace-client.txt');
  const who = { own: new Set([25785]), helpers: new Set<number>(), mains: new Set([25785]) };
  const f = await analyseTrace(fs.createReadStream(file), { ...who, clients: new Set([12185]) }, [0], 2);
  // Woken at .076011, on its CPU at .080032; the short wait at .080598 (4 µs) is no hold.
  assert.deepEqual(f.clientHolds.map((h) => [h.task, h.count, Math.round(h.maxMs * 1000) / 1000]), [['kdamond.0', 1, 4.021]]);
  assert.deepEqual(f.spans, [{ from: 26731.076011, to: 26731.080032 }]);
  // Held on the load's CPU, not the server's: no server hold.
  assert.deepEqual(f.holds, []);
  // Without the client's pid the same trace has no span.
  const blind = await analyseTrace(fs.createReadStream(file), who, [0], 2);
  assert.deepEqual([blind.spans, blind.clientHolds], [[], []]);
  // Answers to the queries sent in the burst and in its shadow are left out; those before and after stay.
  const sent = Float64Array.of(26731.0755, 26731.0801, 26731.0815, 26731.0905);
  const ms = Float64Array.of(0.1, 3.0, 2.0, 0.1);
  assert.deepEqual([...clearOfHolds(ms, sent, f.spans)], [0.1, 0.1]);
});

// The server's CPU itself not running: CPU 0's task switches and timer interrupts over 35 ms of a
// real run on this project's VM (100,000 services, 55k q/s). skydns's query thread (5746) came
// on at .242826, returned from epoll_wait at .243151, and then nothing happened on CPU 0 — no
// system call, fault or interrupt, and no reply left — until a timer tick at .249220: the tick
// due at .244 came 5.2 ms late. A running CPU takes every tick, so for those 5.2 ms it did not run.
test('analyseTrace: a server CPU that misses its timer tick while a task runs on it stalled, and that span is a hold', async () => {
  const file = path.join(FIXTURES, 'sched-trace-stall.txt');
  const who = { own: new Set([5746]), helpers: new Set<number>(), mains: new Set([5746]) };
  const f = await analyseTrace(fs.createReadStream(file), who, [0], 2);
  assert.ok(f.stalls);
  assert.equal(f.stalls.tickMs, 4);
  assert.equal(f.stalls.count, 1);
  assert.ok(Math.abs(f.stalls.maxMs - 5.14) < 0.05, String(f.stalls.maxMs));
  assert.equal(f.spans.length, 1);
  assert.ok(Math.abs(f.spans[0].from - 30363.24408) < 0.0001 && f.spans[0].to === 30363.24922, JSON.stringify(f.spans));
  // An answer asked before the stall and sent back after it is left out; one after it stays.
  const sent = Float64Array.of(30363.2435, 30363.2600);
  assert.deepEqual([...clearOfHolds(Float64Array.of(6.0, 0.1), sent, f.spans)], [0.1]);
});

test('cpuStalls: ticks on a 4 ms grid, other timers off it; a tick missed while running, or before the task left, is a stall', () => {
  type E = { cpu: number; t: number; kind: 'timer' | 'run' | 'idle' };
  const ev: E[] = [{ cpu: 0, t: 0.5, kind: 'run' }];
  // Running from 0.5 ms: ticks at 4k + 0.03 ms, one hrtimer interrupt at 9.7 ms.
  for (let k = 1; k <= 10; k++) ev.push({ cpu: 0, t: 4 * k + 0.03, kind: 'timer' });
  ev.push({ cpu: 0, t: 9.7, kind: 'timer' });
  // The tick due at 44.03 comes at 47.5; the one due at 52.03 never comes before the task leaves at 54.
  ev.push({ cpu: 0, t: 47.5, kind: 'timer' }, { cpu: 0, t: 48.03, kind: 'timer' }, { cpu: 0, t: 54, kind: 'idle' });
  // Idle from 54 to 61 with no ticks (none are due on an idle CPU), then a short run with none due.
  ev.push({ cpu: 0, t: 61, kind: 'run' }, { cpu: 0, t: 61.5, kind: 'idle' });
  ev.sort((a, b) => a.t - b.t);
  const r = cpuStalls(ev);
  assert.ok(r);
  assert.equal(r.tickMs, 4);
  assert.deepEqual(r.spans.map((s) => [Math.round(s.from * 1e6) / 1000, Math.round(s.to * 1e6) / 1000]), [[44.08, 47.5], [52.08, 54]]);
  // Too few timer interrupts to find the grid: nothing said.
  assert.equal(cpuStalls(ev.slice(0, 5)), null);
  // Interrupts on no grid (a CPU without a periodic tick): nothing said either.
  const loose: E[] = [{ cpu: 0, t: 0.5, kind: 'run' }];
  for (let k = 1; k <= 40; k++) loose.push({ cpu: 0, t: k * 7.37 + (k % 7) * 0.61, kind: 'timer' });
  assert.equal(cpuStalls(loose), null);
});
