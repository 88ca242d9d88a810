/**
 * Pod defaulting, and a stand-in for the scheduler + kubelet: a pod created
 * without `status.podIP` gets a node, an address from the pod CIDR, phase
 * Running and Ready=True (unless its status says otherwise).
 */
import { internalError } from './errors.js';
import { Cidr, IpAllocator } from './ipalloc.js';
import { NO_RESERVATION, type Reservation } from './services.js';
import type { Container, Pod, PodCondition } from './types.js';

export interface KubeletOptions {
  /** Simulate scheduling + kubelet for pods without status.podIP. */
  enabled: boolean;
  /** spec.nodeName given to pods that have none. */
  nodeName: string;
  /** status.hostIP of those pods (and podIP of hostNetwork pods). */
  hostIP: string;
}

function defaultContainer(c: Container): Container {
  const image = typeof c.image === 'string' ? c.image : '';
  const latest = !/:[^/]+$/.test(image.replace(/@.*$/, '')) || image.endsWith(':latest');
  return {
    ...c,
    ...(c.ports ? { ports: c.ports.map((p) => ({ ...p, protocol: p.protocol || 'TCP' })) } : {}),
    terminationMessagePath: c.terminationMessagePath ?? '/dev/termination-log',
    terminationMessagePolicy: c.terminationMessagePolicy ?? 'File',
    imagePullPolicy: c.imagePullPolicy ?? (latest ? 'Always' : 'IfNotPresent'),
  };
}

/** The real server's defaults for the fields a Pod most often omits (mutates `pod`). */
export function defaultPod(pod: Pod): void {
  const spec = (pod.spec ??= {});
  if (spec.containers) spec.containers = spec.containers.map(defaultContainer);
  if (spec.initContainers) spec.initContainers = spec.initContainers.map(defaultContainer);
  spec.restartPolicy ??= 'Always';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.securityContext ??= {};
  spec.schedulerName ??= 'default-scheduler';
  spec.enableServiceLinks ??= true;
}

function condition(type: string, status: string, now: string): PodCondition {
  return { type, status, lastProbeTime: null, lastTransitionTime: now };
}

export class PodIpam {
  private readonly alloc: IpAllocator;
  /** uid → address this allocator handed to the pod */
  private readonly owned = new Map<string, string>();

  constructor(cidr: string) {
    this.alloc = new IpAllocator(Cidr.parse(cidr));
  }

  get cidr(): string {
    return this.alloc.cidr.toString();
  }

  get allocatedCount(): number {
    return this.alloc.allocatedCount;
  }

  /**
   * Runs the simulated kubelet on a pod being created (mutates it).
   * `now` is an RFC 3339 timestamp.
   */
  reserve(pod: Pod, opts: KubeletOptions, now: string): Reservation {
    const status = pod.status;
    if (!opts.enabled || (status?.podIP ?? '') !== '') {
      if (!status) pod.status = { phase: 'Pending', qosClass: 'BestEffort' };
      return NO_RESERVATION;
    }
    const spec = (pod.spec ??= {});
    spec.nodeName ||= opts.nodeName;
    let ip: string;
    let owned = false;
    if (spec.hostNetwork) ip = opts.hostIP;
    else {
      const got = this.alloc.allocateNext();
      if (got === null) throw internalError(`failed to allocate a pod IP: range ${this.alloc.cidr.toString()} is full`);
      ip = got;
      owned = true;
    }
    const given = status ?? {};
    const conditions = given.conditions ?? [
      condition('PodReadyToStartContainers', 'True', now),
      condition('Initialized', 'True', now),
      condition('Ready', 'True', now),
      condition('ContainersReady', 'True', now),
      condition('PodScheduled', 'True', now),
    ];
    const ready = conditions.some((c) => c.type === 'Ready' && c.status === 'True');
    pod.status = {
      ...given,
      phase: given.phase ?? 'Running',
      conditions,
      hostIP: given.hostIP ?? opts.hostIP,
      hostIPs: given.hostIPs ?? [{ ip: given.hostIP ?? opts.hostIP }],
      podIP: ip,
      podIPs: [{ ip }],
      startTime: given.startTime ?? now,
      containerStatuses:
        given.containerStatuses ??
        (spec.containers ?? []).map((c) => ({
          name: c.name,
          state: { running: { startedAt: now } },
          lastState: {},
          ready,
          restartCount: 0,
          image: c.image ?? '',
          imageID: '',
          containerID: '',
          started: true,
        })),
      qosClass: given.qosClass ?? 'BestEffort',
    };
    const uid = pod.metadata.uid ?? '';
    if (owned) this.owned.set(uid, ip);
    return {
      commit: () => undefined,
      rollback: () => {
        if (owned) {
          this.alloc.release(ip);
          this.owned.delete(uid);
        }
      },
    };
  }

  /** Frees the address of a deleted pod (if this allocator gave it). */
  release(pod: Pod): void {
    const uid = pod.metadata.uid ?? '';
    const ip = this.owned.get(uid);
    if (ip !== undefined) {
      this.alloc.release(ip);
      this.owned.delete(uid);
    }
  }
}
