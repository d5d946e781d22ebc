/**
 * The cache daemon's process entry (`daemon.ts`): what `tls-resumption
 * daemon` runs, and what a process that found no daemon starts (through
 * `daemon-detach.ts`). Settings come from the environment. A failure to
 * start is written to standard error with its code, exit status 1; a
 * daemon that finds another one answering exits with status 0.
 *
 * @module
 */
import { handleDaemonSignals, runDaemon } from './daemon.ts';
import { watchDaemonLog } from './daemon-log.ts';

try {
  const daemon = await runDaemon();
  if (daemon === undefined) process.exitCode = 0;
  else {
    handleDaemonSignals(daemon, daemon.primary.logger);
    // Started detached, its output is <socket>.log: kept from growing without bound.
    watchDaemonLog(daemon.socketPath);
  }
} catch (error) {
  const { code, message } = error as { code?: string; message?: string };
  process.stderr.write(`tls-resumption daemon: could not start: ${code ? `${code}: ` : ''}${message ?? String(error)}\n`);
  process.exitCode = 1;
}
