/**
 * The flags node itself is started with for skydns. They size V8's heap, which
 * is done before any of skydns's code runs, so they cannot be set from inside
 * the program: every place that starts skydns passes them (the image's
 * `skydns` command, the local stack, the test harness, the benchmarks).
 *
 * `--min-semi-space-size=16`: the young generation never shrinks below the
 * 32 MiB (two 16 MiB halves) V8 grows it to under load. Without it, V8 halves
 * it down to its start size when a collection finds little being allocated —
 * skydns idle but for record changes — and grows it back only as objects
 * survive, which in a DNS server few do. On this project's VM, after knot's
 * rounds had left skydns idle, a run at 100,000 services found a young
 * generation of 4 → 8 MiB, 48 collections a second instead of 8, and 31.7 ms
 * a second of pauses instead of 10–18 (bench/README.md, "Young-generation
 * collections on one thread"). The flag keeps the capacity, not the memory:
 * after a collection that finds under ~1 MB a second being allocated, V8
 * uncommits the idle half all the same, and it is faulted back in a page at a
 * time when load returns (1,700–2,900 faults, measured harmless to latency in
 * bench/README.md, "skydns's own etcd watch").
 *
 * `--no-memory-reducer`: V8's memory reducer gives memory back after a quiet
 * spell with a full collection that compacts, after incremental marking
 * steps on the query thread. In each of five runs of the traffic bench at
 * 5,000 services (`BENCH_NODE_ARGS=--trace-gc`, 05:59–06:19 UTC) one such
 * "Mark-Compact (reduce)" came ~105 s after start, while knot's rounds left
 * skydns idle but for record changes: 32–60 ms of stop, after 95–240 ms of
 * marking steps. In one sequence (05:52, without the trace) a full collection
 * at that point fell into skydns's own latency run and made its p99 24 ms.
 * With the flag: none, in two runs. V8 reads it when it makes the heap (set
 * from inside the program it changed nothing: a reduce collection in each of
 * two runs). What the reducer gives back is garbage of record changes, which
 * the ordinary full collections clear as the old generation grows; an idle
 * skydns at 5,000 services keeps ~87 MB of heap committed instead of ~60.
 */
export const SKYDNS_NODE_FLAGS: readonly string[] = ['--min-semi-space-size=16', '--no-memory-reducer'];

/**
 * Whether node's command line sets one of the V8 flags `names` (written with
 * dashes), in any of the forms V8 takes: `--name`, `--no-name`, `--name=value`,
 * with dashes or underscores. skydns leaves such a setting to stand.
 */
export function nodeFlagGiven(execArgv: readonly string[], ...names: string[]): boolean {
  return execArgv.some((a) => {
    const m = /^--(?:no[-_])?([a-z0-9_-]+)(?:=|$)/.exec(a);
    return m !== null && names.includes(m[1].replace(/_/g, '-'));
  });
}

/** A line for the log when node was started without them (null when it was, or with its own setting). */
export function nodeFlagsNotice(execArgv: readonly string[] = process.execArgv): string | null {
  const missing: string[] = [];
  if (!nodeFlagGiven(execArgv, 'min-semi-space-size')) missing.push('--min-semi-space-size=16 (after a quiet spell V8 may shrink the young generation and then collect it several times as often until it has grown back)');
  if (!nodeFlagGiven(execArgv, 'memory-reducer')) missing.push('--no-memory-reducer (V8 may stop the query thread tens of milliseconds to give memory back while skydns answers)');
  if (missing.length === 0) return null;
  return `node was started without ${missing.join(' or ')}; the image's skydns command passes ${SKYDNS_NODE_FLAGS.join(' ')} (docs/deploy.md)`;
}
