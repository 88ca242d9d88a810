/** How the sandbox API server program runs once its flags are parsed: start, say where, stop on a signal. */
import type { Log } from '../log.js';
import { type ApiServerOptions, startApiServer } from './index.js';

export async function runApiServer(opts: ApiServerOptions, log: Log): Promise<void> {
  let server;
  try {
    server = await startApiServer(opts, log);
  } catch (err) {
    log.error(`cannot start: ${(err as Error).message}`);
    process.exit(1);
  }
  process.stdout.write(`apiserver listening on ${server.url}\n`);
  let stopping = false;
  const stop = (sig: string): void => {
    if (stopping) return;
    stopping = true;
    log.info(`received ${sig}, shutting down`);
    const hard = setTimeout(() => process.exit(0), 3000);
    hard.unref();
    server.close().then(
      () => process.exit(0),
      () => process.exit(0),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
