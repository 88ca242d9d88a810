/**
 * LIST pagination (limit / continue). The first page of a paginated list
 * keeps a snapshot of the full result, so every page comes from the same
 * resourceVersion, as with the real server; tokens expire after a while
 * (410 Expired, like a compacted continue token).
 */
import { randomBytes } from 'node:crypto';
import { badRequest, expired } from './errors.js';
import type { KubeObject } from './types.js';

interface Snapshot {
  items: readonly KubeObject[];
  resourceVersion: string;
  key: string;
  expires: number;
}

export interface Page {
  items: readonly KubeObject[];
  resourceVersion: string;
  continue?: string;
  remainingItemCount?: number;
}

const EXPIRED_MESSAGE =
  'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.';

export class Paginator {
  private readonly snapshots = new Map<string, Snapshot>();

  constructor(
    private readonly ttlMs = 5 * 60_000,
    private readonly maxSnapshots = 200,
  ) {}

  /** First page (no continue token). `limit` ≤ 0 means everything. */
  first(items: readonly KubeObject[], resourceVersion: string, limit: number, key: string): Page {
    if (limit <= 0 || items.length <= limit) return { items, resourceVersion };
    const id = randomBytes(9).toString('base64url');
    this.prune();
    this.snapshots.set(id, { items, resourceVersion, key, expires: Date.now() + this.ttlMs });
    return this.page(id, 0, limit);
  }

  /** A later page; `key` must match the list the token came from. */
  next(token: string, limit: number, key: string): Page {
    let decoded: { id?: unknown; offset?: unknown };
    try {
      decoded = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { id?: unknown; offset?: unknown };
    } catch {
      throw badRequest(`continue key is not valid: ${token}`);
    }
    if (typeof decoded.id !== 'string' || typeof decoded.offset !== 'number') throw badRequest(`continue key is not valid: ${token}`);
    const snap = this.snapshots.get(decoded.id);
    if (!snap || snap.expires < Date.now()) {
      this.snapshots.delete(decoded.id);
      throw expired(EXPIRED_MESSAGE);
    }
    if (snap.key !== key) throw badRequest('continue key is not valid: the token belongs to another list');
    return this.page(decoded.id, decoded.offset, limit);
  }

  private page(id: string, offset: number, limit: number): Page {
    const snap = this.snapshots.get(id) as Snapshot;
    const n = limit > 0 ? limit : snap.items.length;
    const items = snap.items.slice(offset, offset + n);
    const end = offset + items.length;
    if (end >= snap.items.length) {
      this.snapshots.delete(id);
      return { items, resourceVersion: snap.resourceVersion };
    }
    snap.expires = Date.now() + this.ttlMs;
    return {
      items,
      resourceVersion: snap.resourceVersion,
      continue: Buffer.from(JSON.stringify({ id, offset: end })).toString('base64url'),
      remainingItemCount: snap.items.length - end,
    };
  }

  private prune(): void {
    const now = Date.now();
    for (const [id, s] of this.snapshots) if (s.expires < now) this.snapshots.delete(id);
    while (this.snapshots.size >= this.maxSnapshots) {
      const oldest = this.snapshots.keys().next().value;
      if (oldest === undefined) break;
      this.snapshots.delete(oldest);
    }
  }
}
