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
 * collections on one thread").
 */
export const SKYDNS_NODE_FLAGS: readonly string[] = ['--min-semi-space-size=16'];

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
  if (nodeFlagGiven(execArgv, 'min-semi-space-size')) return null;
  return `node was started without ${SKYDNS_NODE_FLAGS.join(' ')}: after a quiet spell V8 may shrink the young generation and then collect it several times as often until it has grown back; the image's skydns command passes it (docs/deploy.md)`;
}
