/**
 * {@link runThreadCluster}: the worker-thread runtime as a program's main, with
 * its signals.
 *
 * @module
 */
import { startThreadCluster, type ThreadCluster, type ThreadClusterOptions } from './cluster.ts';
import { originOf } from './messages.ts';
import { summarize, type ErrorSummary } from '../describe.ts';
import { WorkerStartError } from '../errors.ts';

/**
 * Runs a cluster as a program's main: {@link startThreadCluster}, then signals:
 *
 * - SIGTERM or SIGINT stop it gracefully ({@link ThreadCluster.stop}) and exit
 *   with code 0; a second one kills the process at once (Node's default).
 * - SIGHUP reloads every worker, one at a time ({@link ThreadCluster.reload}):
 *   new code and certificate files, sessions and ticket keys kept. The
 *   outcome is logged; a failed reload leaves the workers serving. One
 *   received while starting reloads once the cluster listens.
 * - SIGUSR1 rotates the ticket keys now ({@link ThreadCluster.rotateTicketKeys});
 *   SIGUSR2 flushes every session and ticket key ({@link ThreadCluster.flush}).
 *
 * If starting fails, the error (its code and message) goes to standard
 * error and the exit code is 1; the returned promise then resolves to
 * `undefined`.
 */
export async function runThreadCluster(options: ThreadClusterOptions): Promise<ThreadCluster | undefined> {
  // Taken from the start: SIGHUP's default action would end the process.
  let hangupWhileStarting = false;
  const onEarlyHangup = (): void => {
    hangupWhileStarting = true;
  };
  process.on('SIGHUP', onEarlyHangup);
  let cluster: ThreadCluster;
  try {
    cluster = await startThreadCluster(options);
  } catch (error) {
    const { code, message } = summarize(error);
    // A thread's failure carries the application's own stack (a server module that threw): show where.
    const origin = error instanceof WorkerStartError ? originOf(error.cause as ErrorSummary | undefined) : undefined;
    const where = origin === undefined ? '' : `${origin.replace(/^/gm, '    ')}\n`;
    process.stderr.write(`tls-resumption: could not start: ${code ? `${code}: ` : ''}${message}\n${where}`);
    process.exitCode = 1;
    return undefined;
  } finally {
    process.off('SIGHUP', onEarlyHangup);
  }
  const onSignal = (signal: NodeJS.Signals): void => {
    cluster.logger.info({ signal }, 'signal received');
    cluster.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        cluster.logger.error({ err: summarize(error) }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  const onOperatorSignal = (signal: NodeJS.Signals): void => {
    cluster.logger.info({ signal }, 'signal received');
    try {
      if (signal === 'SIGUSR1') cluster.rotateTicketKeys();
      else cluster.flush();
    } catch (error) {
      cluster.logger.error({ err: summarize(error), signal }, signal === 'SIGUSR1' ? 'rotation failed' : 'flush failed');
    }
  };
  process.on('SIGUSR1', onOperatorSignal);
  process.on('SIGUSR2', onOperatorSignal);
  const onHangup = (): void => {
    cluster.logger.info({ signal: 'SIGHUP' }, 'signal received');
    // The reload logs its outcome (one line per worker and a summary, or why it failed).
    cluster.reload().catch(() => undefined);
  };
  process.on('SIGHUP', onHangup);
  if (hangupWhileStarting) onHangup();
  return cluster;
}
