// The node flags skydns is started with (lib/skydns/node-flags.ts), and the log line for a start without them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SKYDNS_NODE_FLAGS, nodeFlagGiven, nodeFlagsNotice } from '../../lib/skydns/node-flags.js';

test('a start with the young generation sized and the memory reducer set, ours or the operator\'s own, says nothing; one without either says what is missing', () => {
  assert.equal(nodeFlagsNotice([...SKYDNS_NODE_FLAGS]), null);
  assert.equal(nodeFlagsNotice(['--min-semi-space-size=4', '--memory-reducer']), null);
  assert.equal(nodeFlagsNotice(['--inspect', '--min_semi_space_size=8', '--no_memory_reducer']), null);
  const young = nodeFlagsNotice(['--max-semi-space-size=16', '--no-memory-reducer']);
  assert.ok(young !== null && young.includes('--min-semi-space-size=16') && !young.includes('without --no-memory-reducer'), String(young));
  const reducer = nodeFlagsNotice(['--min-semi-space-size=16']);
  assert.ok(reducer !== null && reducer.includes('without --no-memory-reducer') && !reducer.includes('without --min-semi'), String(reducer));
  assert.ok(nodeFlagsNotice([])!.includes(' or '), 'both named');
});

test('a V8 flag counts as given in every form node takes, and only that flag', () => {
  for (const a of ['--parallel-scavenge', '--no-parallel-scavenge', '--parallel_scavenge', '--no_parallel_scavenge', '--parallel-scavenge=false']) {
    assert.equal(nodeFlagGiven([a], 'parallel-scavenge'), true, a);
  }
  assert.equal(nodeFlagGiven(['--single-threaded-gc'], 'parallel-scavenge', 'single-threaded-gc'), true);
  for (const a of ['--parallel-scavenge-tasks=2', '--concurrent-scavenge', 'parallel-scavenge', '-parallel-scavenge']) {
    assert.equal(nodeFlagGiven([a], 'parallel-scavenge'), false, a);
  }
  assert.equal(nodeFlagGiven([], 'allocation-site-pretenuring'), false);
});
