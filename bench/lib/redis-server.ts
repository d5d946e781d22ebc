/**
 * A private, real `redis-server` on a loopback port, without persistence:
 * started, and waited for until it answers PING. The load benchmark's
 * `redis` mode and the Redis tests both start theirs here.
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { connect } from 'node:net';
import { connect as connectTls } from 'node:tls';

/** Options of {@link spawnRedisServer}. */
export interface RedisServerOptions {
  /** The port to listen on (the TLS port with `tls`). */
  port: number;
  /** A directory of its own, for its log (nothing is persisted). */
  dir: string;
  /** @defaultValue `redis-server` */
  binary?: string;
  /** Clients must AUTH with it. */
  password?: string;
  /** Listen only for TLS (`rediss://`, no plain port), with this certificate (PEM files, and the PEM itself to check it by). */
  tls?: { certFile: string; keyFile: string; cert: string };
  /** How long it may take to answer PING. @defaultValue 10 s */
  timeoutMs?: number;
}

/**
 * Starts a redis-server and resolves once it answers PING. When it cannot
 * start, exits, or stays silent past `timeoutMs`, it is killed and the
 * promise rejects with what happened.
 */
export async function spawnRedisServer(options: RedisServerOptions): Promise<ChildProcess> {
  const { port, dir, password, tls } = options;
  const binary = options.binary ?? 'redis-server';
  const timeoutMs = options.timeoutMs ?? 10_000;
  const child = spawn(
    binary,
    [
      ...(tls === undefined
        ? ['--port', String(port)]
        : ['--port', '0', '--tls-port', String(port), '--tls-cert-file', tls.certFile, '--tls-key-file', tls.keyFile,
            '--tls-ca-cert-file', tls.certFile, '--tls-auth-clients', 'no']),
      '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--logfile', join(dir, 'redis.log'),
      ...(password === undefined ? [] : ['--requirepass', password]),
    ],
    { stdio: 'ignore' },
  );
  let failed: Error | undefined;
  child.once('error', (error) => (failed = error));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let problem: string | undefined;
    if (failed) problem = `cannot start ${binary}: ${failed.message}`;
    else if (child.exitCode !== null) problem = `${binary} exited with code ${child.exitCode}`;
    else if (await pingRedis(port, { password, ca: tls?.cert })) return child;
    else if (Date.now() > deadline) problem = `${binary} did not answer PING on port ${port} within ${timeoutMs / 1000} s`;
    if (problem !== undefined) {
      child.kill('SIGKILL');
      throw new Error(problem);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Sends PING over a raw socket (TLS when `ca` is given, after AUTH with `password`); resolves true on +PONG. */
export function pingRedis(port: number, options: { password?: string; ca?: string } = {}): Promise<boolean> {
  const { password, ca } = options;
  return new Promise((resolve) => {
    const socket = ca === undefined ? connect({ host: '127.0.0.1', port }) : connectTls({ host: '127.0.0.1', port, ca });
    let text = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once(ca === undefined ? 'connect' : 'secureConnect', () => socket.write(password === undefined ? 'PING\r\n' : `AUTH ${password}\r\nPING\r\n`));
    socket.on('data', (chunk) => {
      text += chunk.toString();
      if (text.endsWith('\r\n') && text.includes('PONG')) done(true);
      else if (text.startsWith('-')) done(false);
    });
  });
}
