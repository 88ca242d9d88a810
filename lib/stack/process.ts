/** Stopping a child process, as the local stack and the tests stop theirs. */
import type { ChildProcess } from 'node:child_process';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * Wait for an already-spawned child to exit, sending SIGTERM first (if
 * `signal` given) and SIGKILL after `killAfterMs`. Uses ref'd timers so the
 * event loop stays alive while waiting even though the child is unref'd.
 */
export async function terminate(
  child: ChildProcess,
  exited: Promise<ExitInfo>,
  signal: NodeJS.Signals,
  killAfterMs = 5000,
): Promise<ExitInfo> {
  if (child.exitCode !== null || child.signalCode !== null) return exited;
  try {
    child.kill(signal);
  } catch {
    // ignore; exit will be observed below
  }
  let timer: NodeJS.Timeout | undefined;
  let hardTimer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      exited,
      new Promise<ExitInfo>((_resolve, reject) => {
        if (signal !== 'SIGKILL') {
          timer = setTimeout(() => {
            try {
              child.kill('SIGKILL');
            } catch {
              // ignore
            }
          }, killAfterMs);
        }
        hardTimer = setTimeout(
          () => reject(new Error(`process ${child.pid ?? '?'} did not exit after SIGKILL`)),
          killAfterMs + 10000,
        );
      }),
    ]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    if (hardTimer !== undefined) clearTimeout(hardTimer);
  }
}
