/** The bounded list of recent changes that watches resume from. */
import type { ResourceName } from './resources.js';
import type { KubeObject } from './types.js';

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent {
  type: EventType;
  resource: ResourceName;
  /** The object after the change (for DELETED: the last state, carrying the deletion's resourceVersion). */
  object: KubeObject;
  /** The object before the change (MODIFIED, DELETED). */
  oldObject?: KubeObject;
  resourceVersion: number;
}

export class EventHistory {
  private events: StoreEvent[] = [];
  private start = 0;
  /** Every event with a resourceVersion above this one is held. */
  private horizon = 0;

  constructor(private limit: number) {
    if (!(limit >= 1)) throw new Error(`history size must be at least 1, got ${limit}`);
  }

  get size(): number {
    return this.events.length - this.start;
  }

  get capacity(): number {
    return this.limit;
  }

  /** The oldest resourceVersion a watch may start from. */
  get oldestValid(): number {
    return this.horizon;
  }

  push(ev: StoreEvent): void {
    this.events.push(ev);
    while (this.size > this.limit) this.horizon = this.events[this.start++].resourceVersion;
    if (this.start > 4096 && this.start > this.events.length / 2) {
      this.events = this.events.slice(this.start);
      this.start = 0;
    }
  }

  setLimit(limit: number): void {
    if (!(limit >= 1)) throw new Error(`history size must be at least 1, got ${limit}`);
    this.limit = limit;
    while (this.size > this.limit) this.horizon = this.events[this.start++].resourceVersion;
  }

  /** Forgets every event: only watches from `currentRv` on remain possible. */
  compact(currentRv: number): void {
    this.events = [];
    this.start = 0;
    this.horizon = currentRv;
  }

  /** Events after `rv`, oldest first; null if some of them are no longer held. */
  since(rv: number): StoreEvent[] | null {
    if (rv < this.horizon) return null;
    let lo = this.start;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.events[mid].resourceVersion <= rv) lo = mid + 1;
      else hi = mid;
    }
    return this.events.slice(lo);
  }
}
