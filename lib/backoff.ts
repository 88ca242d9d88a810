/**
 * The one retry delay of the project: doubling from a first delay up to a
 * ceiling, starting over after a success — cockatiel's exponential backoff
 * without jitter (the etcd client's watch backoff in lib/etcd/client.ts is
 * cockatiel's too). Each retrying loop holds one of these.
 */
import { ExponentialBackoff, IBackoff, noJitterGenerator } from 'cockatiel';

export class Backoff {
  private readonly factory: ExponentialBackoff<number>;
  private state: IBackoff<unknown>;

  constructor(initialMs: number, maxMs: number) {
    this.factory = new ExponentialBackoff({ initialDelay: initialMs, maxDelay: maxMs, generator: noJitterGenerator });
    this.state = this.factory.next();
  }

  /** The delay to wait before this retry; the one after is twice as long, up to the ceiling. */
  next(): number {
    const ms = this.state.duration;
    this.state = this.state.next(undefined);
    return ms;
  }

  /** Back to the first delay (after a success). */
  reset(): void {
    this.state = this.factory.next();
  }
}
