// LogThrottle: lines a client can cause at will, at most one per interval, each
// counting the ones held back since the previous line. RateLimitedLine: a count
// reported at once, then summed per period by a timer, also after the events stop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LogThrottle, RateLimitedLine } from '../../lib/skydns/log-throttle.js';
import { sleep, waitUntil } from '../harness/proc.js';

test('the first line at once, then one per interval with the count held back', () => {
  const t = new LogThrottle(10_000);
  assert.equal(t.take(1_000), 0);
  assert.equal(t.take(1_001), -1);
  assert.equal(t.take(10_999), -1);
  assert.equal(t.take(11_000), 2);
  assert.equal(t.moreText(2), ' (and 2 more since the previous line of this kind)');
  assert.equal(t.moreText(0), '');
  assert.equal(t.take(11_001), -1);
  // Long after: written at once, with the one held back since.
  assert.equal(t.take(100_000), 1);
  assert.equal(t.take(110_000), 0);
});

test('RateLimitedLine: the first event at once, the rest summed by the timer, nothing once quiet', async () => {
  const lines: [number, boolean][] = [];
  const r = new RateLimitedLine(40, (count, _seconds, first) => lines.push([count, first]));
  r.note();
  assert.deepEqual(lines, [[1, true]]);
  r.note();
  r.note();
  assert.equal(lines.length, 1, 'held until the period ends');
  // The two that followed, in one line written by the timer although no event came after them.
  await waitUntil(() => lines.length === 2, 5000, 'the timer\'s line');
  assert.deepEqual(lines, [[1, true], [2, false]]);
  // A quiet period ends the timer: the next event is a first line again.
  await waitUntil(() => (r as unknown as { timer: unknown }).timer === null, 5000, 'the timer to end after a quiet period');
  r.note();
  assert.deepEqual(lines[lines.length - 1], [1, true]);
  r.note();
  r.close();
  await sleep(100);
  assert.deepEqual(lines, [[1, true], [2, false], [1, true]], 'close() drops what was held and stops the timer');
});
