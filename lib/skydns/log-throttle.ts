/**
 * A log line that clients can cause at will (a slow TCP client, a datagram
 * from port 0) must not flood the log, and the logger's own limit only holds
 * back lines that are identical, while these name a different client each
 * time. So: the first line at once, then at most one per interval, each
 * saying how many like it were held back since the previous one.
 */
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
