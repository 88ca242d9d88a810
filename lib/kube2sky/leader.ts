/**
 * One writer among many kube2sky replicas (--leader-elect): an election held
 * in etcd itself, with etcd3's Election (a key per candidate under
 * `election/<name>/`, bound to the candidate's lease; the oldest key leads).
 *
 * Leading is not enough to write safely: a leader that stops for longer than
 * its lease (a long GC pause, SIGSTOP, a partition) wakes up still believing
 * it leads while another replica already does. So every write kube2sky makes
 * while leading carries a fence: the transaction only applies if the leader's
 * election key still exists with the create revision it had when it won. Once
 * the lease has expired the key is gone, etcd refuses the write, and the old
 * leader learns it lost (and stops) from that refusal or from its lease.
 */
import { hostname } from 'node:os';
import type { Etcd3, ICompare } from 'etcd3';
import { etcdErrorText } from '../etcd/client.js';
import type { Log } from '../log.js';

/** etcd3's Campaign (the package does not export the class's type). */
type Campaign = ReturnType<ReturnType<Etcd3['election']>['campaign']>;

export interface LeaderOptions {
  /** Election name: the keys are `election/<name>/<lease id>`. */
  name: string;
  /** Lease TTL in seconds: how long a silent leader keeps leading. */
  ttlSeconds: number;
  /** What this candidate announces (default: host name and PID). */
  identity?: string;
  log: Log;
}

export class LeaderElection {
  readonly identity: string;
  private campaign: Campaign | null = null;
  private compare: ICompare[] | null = null;
  private stopped = false;
  private cancelWait: (() => void) | null = null;
  /** The election key and its create revision while leading. */
  key = '';
  revision = '';
  leading = false;
  private lostHandlers: Array<(why: string) => void> = [];

  constructor(private readonly etcd: Etcd3, private readonly opts: LeaderOptions) {
    this.identity = opts.identity ?? `${hostname()}/${process.pid}`;
  }

  /** Called once if leadership is lost after it was won (lease lost, or a fenced write refused). */
  onLost(fn: (why: string) => void): void {
    this.lostHandlers.push(fn);
  }

  /** The compare every write carries while leading (empty before). */
  fence(): ICompare[] {
    return this.compare ?? [];
  }

  /**
   * Campaigns until elected (resolves true) or stopped (false). A campaign that fails
   * before winning (etcd unreachable, the lease lost) is started again after a pause.
   */
  async lead(): Promise<boolean> {
    const { log, name, ttlSeconds } = this.opts;
    let pause = 1000;
    while (!this.stopped) {
      const campaign = this.etcd.election(name, ttlSeconds).campaign(this.identity);
      this.campaign = campaign;
      const outcome = await new Promise<'elected' | Error | 'stopped'>((resolve) => {
        campaign.once('elected', () => resolve('elected'));
        campaign.once('error', (err: Error) => resolve(err));
        this.cancelWait = () => resolve('stopped');
      });
      this.cancelWait = null;
      if (this.stopped || outcome === 'stopped') return false;
      if (outcome === 'elected') {
        try {
          this.key = await campaign.getCampaignKey();
          const got = await this.etcd.get(this.key).exec();
          const kv = got.kvs[0];
          if (!kv) throw new Error(`the election key ${this.key} vanished as it was won`);
          this.revision = kv.create_revision;
          this.compare = [{ key: Buffer.from(this.key), result: 'Equal', target: 'Create', create_revision: this.revision }];
          this.leading = true;
          // From now on a failed campaign means the lease is gone: leadership lost.
          campaign.on('error', (err: Error) => this.lost(`lease lost (${etcdErrorText(err)})`));
          log.info(`leader election: leading as ${this.identity} (key ${this.key}, revision ${this.revision}, lease ${ttlSeconds}s)`);
          return true;
        } catch (err) {
          log.warn(`leader election: won, but could not read the election key (${etcdErrorText(err)}); campaigning again`);
          await campaign.resign().catch(() => undefined);
        }
      } else {
        log.warn(`leader election: campaign failed (${etcdErrorText(outcome)}); campaigning again in ${pause} ms`);
        await campaign.resign().catch(() => undefined);
      }
      await new Promise((r) => setTimeout(r, pause));
      pause = Math.min(pause * 2, 10_000);
    }
    return false;
  }

  /** A fenced write was refused: leadership is gone. */
  fenced(): void {
    this.lost('etcd refused a fenced write: this replica no longer holds the leader key (its lease ended and another replica may lead)');
  }

  private lost(why: string): void {
    if (!this.leading) return;
    this.leading = false;
    this.compare = [{ key: Buffer.from(this.key), result: 'Equal', target: 'Create', create_revision: '-1' }];
    this.opts.log.error(`leader election: no longer leading: ${why}`);
    for (const fn of this.lostHandlers) fn(why);
  }

  /** Stops campaigning; a leader gives the key up at once so that a standby takes over without waiting for the lease. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.leading = false;
    this.cancelWait?.();
    const c = this.campaign;
    this.campaign = null;
    if (c) await c.resign().catch(() => undefined);
  }
}
