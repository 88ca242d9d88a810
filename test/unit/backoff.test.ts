// lib/backoff: the doubling retry delay every retrying loop uses (cockatiel's, no jitter).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff } from '../../lib/backoff.js';

test('doubles from the first delay up to the ceiling, and starts over on reset', () => {
  const b = new Backoff(200, 5000);
  assert.deepEqual(Array.from({ length: 8 }, () => b.next()), [200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
  b.reset();
  assert.deepEqual([b.next(), b.next()], [200, 400]);
  const w = new Backoff(500, 10_000);
  assert.deepEqual(Array.from({ length: 7 }, () => w.next()), [500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
});
