/**
 * The detached daemon's log (`lib/owner/daemon-log.ts`) does not grow
 * without bound: a large one is copied to `<socket>.log.1` and emptied, at
 * a daemon's start and while it runs, on real files; a file that is not the
 * socket's log is left alone.
 */
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, writeSync, closeSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { logPathOf, MAX_LOG_BYTES, openDaemonLog, trimDaemonLog } from '../lib/owner/daemon-log.ts';

const dir = mkdtempSync(join(tmpdir(), 'daemon-log-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const socket = join(dir, 'app.sock');
const log = logPathOf(socket);

t.test('a daemon started over a large log starts a new one, the old one kept as .log.1', async (t) => {
  t.equal(log, `${socket}.log`);
  writeFileSync(log, 'old line\n'.repeat(200), { mode: 0o600 });
  const small = openDaemonLog(socket, 10_000);
  closeSync(small);
  t.equal(statSync(log).size, 1800, 'under the bound: kept as it is');
  appendFileSync(log, 'x'.repeat(10_000));
  const fd = openDaemonLog(socket, 10_000);
  t.teardown(() => closeSync(fd));
  t.equal(statSync(log).size, 0, 'over the bound: emptied');
  t.equal(statSync(`${log}.1`).size, 11_800, 'its content kept in .log.1');
  t.equal(statSync(`${log}.1`).mode & 0o777, 0o600, '.log.1 is private too');
  writeSync(fd, 'new line\n');
  t.equal(readFileSync(log, 'utf8'), 'new line\n', 'the daemon writes at the start of the emptied log (append mode)');
  t.ok(MAX_LOG_BYTES >= 1024 * 1024, `the default bound is ${MAX_LOG_BYTES} bytes`);
});

t.test('a running daemon: its log rotated in place when large; appends go on', async (t) => {
  const fd = openSync(log, 'a', 0o600);
  t.teardown(() => closeSync(fd));
  writeSync(fd, 'y'.repeat(5000));
  t.notOk(trimDaemonLog(socket, fd, 10_000), 'under the bound: nothing done');
  writeSync(fd, 'z'.repeat(6000));
  const before = statSync(log).size;
  t.ok(trimDaemonLog(socket, fd, 10_000), 'over the bound: rotated');
  t.equal(statSync(`${log}.1`).size, before, '.log.1 holds what the log held (the older .log.1 replaced)');
  t.equal(statSync(log).size, 0);
  writeSync(fd, 'after\n');
  t.equal(readFileSync(log, 'utf8'), 'after\n');
});

t.test('output that is not the socket\'s log is left alone', async (t) => {
  const other = join(dir, 'operator.log');
  writeFileSync(other, 'q'.repeat(20_000));
  const fd = openSync(other, 'a');
  t.teardown(() => closeSync(fd));
  t.notOk(trimDaemonLog(socket, fd, 10_000), 'another file: not touched');
  t.equal(statSync(other).size, 20_000);
  t.notOk(trimDaemonLog(join(dir, 'gone.sock'), fd, 10_000), 'no log for that socket: nothing done, nothing thrown');
});
