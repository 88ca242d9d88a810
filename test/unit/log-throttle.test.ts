// LogThrottle: lines a client can cause at will, at most one per interval, each
// counting the ones held back since the previous line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LogThrottle } from '../../lib/skydns/log-throttle.js';

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
