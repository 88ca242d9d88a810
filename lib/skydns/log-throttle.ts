/**
 * Lines that clients or upstreams can cause at will must not flood the log,
 * and the logger's own limit (lib/log.ts) only holds back lines that are
 * identical. Two ways, for two kinds of line:
 *
 * - LogThrottle, for a line about one event that names its client (a slow
 *   TCP client, a datagram from port 0): the first at once, then at most one
 *   per interval, each saying how many like it were held back. Nothing is
 *   written when the events stop: the next line carries the count.
 * - RateLimitedLine, for a count that must be reported even when the events
 *   stop (forwards refused at -max-forwards, stray upstream datagrams): the
 *   first at once, then one line per period summing what came in it, written
 *   by a timer.
 */

/** At most one line per interval about events that each name a client; the count held back rides on the next. */
export class LogThrottle {
  private quietUntil = 0;
  private held = 0;

  constructor(private readonly intervalMs = 10_000) {}

  /**
   * -1: hold this line back (it is counted for the next one); else the
   * number held back since the last line written, and the caller writes
   * this one (with moreText of that number).
   */
  take(now = Date.now()): number {
    if (now < this.quietUntil) {
      this.held++;
      return -1;
    }
    const held = this.held;
    this.held = 0;
    this.quietUntil = now + this.intervalMs;
    return held;
  }

  /** The tail of a line written after `held` were held back: "" or " (and 12 more since the previous line of this kind)". */
  moreText(held: number): string {
    return held > 0 ? ` (and ${held} more since the previous line of this kind)` : '';
  }
}

/**
 * Counts events and reports them in at most one line every `everyMs`: the
 * first at once, those that follow summed when the period ends.
 */
export class RateLimitedLine {
  private count = 0;
  private since = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly everyMs: number, private readonly write: (count: number, seconds: number, first: boolean) => void) {}

  note(): void {
    this.count++;
    if (this.timer === null) this.flush(true);
  }

  private flush(first: boolean): void {
    if (this.count === 0) {
      this.timer = null;
      return;
    }
    const now = Date.now();
    this.write(this.count, (now - this.since) / 1000, first);
    this.count = 0;
    this.since = now;
    this.timer = setTimeout(() => this.flush(false), this.everyMs).unref();
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.count = 0;
  }
}
