/**
 * How many CPUs this process may really use, for `-workers=auto`: the CFS
 * quota of its cgroup (v2 `cpu.max`, else v1 `cpu.cfs_quota_us` /
 * `cpu.cfs_period_us`), rounded up, and never more than the CPUs the kernel
 * lets it run on (os.availableParallelism()). A container limited to 1.5 CPUs
 * gets 2 workers; one without a limit on a 2-core node gets 2.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface CpuBudget {
  count: number;
  /** Where the count came from, for the start-up log line. */
  source: string;
}

function read(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

/**
 * The CFS quota in CPUs (quota / period), or null when there is none. Reads
 * the files under `root` (tests point it at a directory of their own).
 */
export function cgroupQuota(root = '/sys/fs/cgroup'): { cpus: number; file: string } | null {
  const v2 = read(`${root}/cpu.max`);
  if (v2 !== null) {
    const [quota, period] = v2.split(/\s+/);
    if (quota === 'max') return null;
    const q = Number(quota);
    const p = Number(period ?? '100000');
    return q > 0 && p > 0 ? { cpus: q / p, file: `${root}/cpu.max` } : null;
  }
  for (const dir of [`${root}/cpu`, `${root}/cpu,cpuacct`]) {
    const q = Number(read(`${dir}/cpu.cfs_quota_us`) ?? 'NaN');
    const p = Number(read(`${dir}/cpu.cfs_period_us`) ?? 'NaN');
    if (Number.isFinite(q) && Number.isFinite(p)) return q > 0 && p > 0 ? { cpus: q / p, file: `${dir}/cpu.cfs_quota_us` } : null;
  }
  return null;
}

export function cpuBudget(root = '/sys/fs/cgroup', online = os.availableParallelism()): CpuBudget {
  const quota = cgroupQuota(root);
  if (quota === null) return { count: Math.max(1, online), source: `${online} CPUs, no cgroup CPU quota` };
  const count = Math.max(1, Math.min(online, Math.ceil(quota.cpus - 1e-9)));
  return { count, source: `cgroup CPU quota ${+quota.cpus.toFixed(3)} (${quota.file}) of ${online} CPUs` };
}
