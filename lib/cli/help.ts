/**
 * What `tls-resumption --help` and `--version` print.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { SETTINGS } from '../config/settings.ts';

/** The port when neither `--port` nor `PORT` is given. */
export const DEFAULT_PORT = 8443;

const WIDTH = 80;

/** The help text: usage, options, every variable with its default, signals. */
export function helpText(): string {
  const lines = [
    'Usage: tls-resumption [options] <server-module>',
    '       tls-resumption daemon [--detach | --stop]',
    '       tls-resumption status [--json]',
    '',
    ...wrap(
      'Runs <server-module> in every worker thread of this process, all serving one port (reusePort) and ' +
        'one TLS session cache: session IDs, tickets and their keys are shared, so any worker resumes any ' +
        "other's sessions. The module's default export is called in each thread with a context and returns " +
        'a tls.Server (tls, https or http2 secure server) that is not listening yet, e.g.',
      0,
    ),
    '',
    '  export default ({ serverOptions }) =>',
    '    https.createServer({ key, cert, ...serverOptions }, app);',
    '',
    ...wrap(
      'tls-resumption daemon runs the cache daemon: the owner of the session table and ticket keys for processes ' +
        'with no primary of their own (PM2 cluster mode, systemd units), on the Unix socket TLS_CACHE_SOCKET. ' +
        'Such processes start it themselves when none answers; run it yourself to manage it (systemd, its own PM2 app). ' +
        '--detach starts it in the background and returns; its log goes to <socket>.log. --stop stops the running ' +
        'daemon and waits until it is gone (exit 3 when none runs).',
      0,
    ),
    '',
    ...wrap(
      'tls-resumption status asks every owner of the cache of this user (the daemon at TLS_CACHE_SOCKET, node:cluster ' +
        'primaries and thread runtimes beside it) how it is doing: what is attached, the table, resumptions and misses ' +
        'since start and over the last minute, ticket keys, Redis. --json prints it for scripts. Exit 3 when nothing answers.',
      0,
    ),
    '',
    'Options:',
    ...option('-p, --port <n>', `port to listen on; 0 picks a free one (default: $PORT, else ${DEFAULT_PORT})`),
    ...option('--host <address>', 'address to listen on (default: every address)'),
    ...option('--pid-file <path>', 'write the pid to this file, removed at exit, for signals: kill -HUP "$(cat <path>)" (default: $TLS_CACHE_PID_FILE, else none)'),
    ...option('--detach', 'daemon: start in the background and return'),
    ...option('--stop', 'daemon: stop the running daemon'),
    ...option('--json', 'status: print JSON'),
    ...option('-h, --help', 'print this help'),
    ...option('-v, --version', 'print the version'),
    '',
    'Environment variables [default]:',
    ...variable('PORT', String(DEFAULT_PORT), 'port to listen on, when --port is not given.'),
    ...variable('TLS_CACHE_PID_FILE', 'none', 'file to write the pid to, when --pid-file is not given.'),
    ...SETTINGS.flatMap((setting) => variable(setting.env, setting.default, setting.description)),
    '',
    'Signals: SIGTERM or SIGINT stop gracefully (open connections get TLS_CACHE_SHUTDOWN_TIMEOUT); ' +
      'SIGHUP reloads: every worker is replaced, one at a time, by a thread that loads <server-module> again ' +
      '(new code, new certificate files), keeping every session and ticket key; a module that fails leaves ' +
      'the workers serving; SIGUSR1 rotates the ticket keys; SIGUSR2 flushes every session and ticket key.',
    '',
  ];
  return lines.flatMap((line) => (line.length > WIDTH && !line.startsWith('  ') ? wrap(line, 0) : [line])).join('\n');
}

function option(flags: string, text: string): string[] {
  const [first = '', ...rest] = wrap(text, 20);
  return [`  ${flags.padEnd(18)}${first.trimStart()}`, ...rest];
}

function variable(name: string, fallback: string, description: string): string[] {
  return [`  ${name} [${fallback}]`, ...wrap(description, 6)];
}

/** Words of `text` in lines of at most {@link WIDTH} columns, indented by `indent`. */
function wrap(text: string, indent: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line !== '' && indent + line.length + 1 + word.length > WIDTH) {
      lines.push(' '.repeat(indent) + line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(' '.repeat(indent) + line);
  return lines;
}

/**
 * This package's version, from the nearest `package.json` named
 * `tls-resumption` above this module (two levels up in the sources,
 * three in the built `dist/`).
 */
export function packageVersion(): string {
  for (const up of ['../../package.json', '../../../package.json']) {
    try {
      const manifest = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { name?: unknown; version?: unknown };
      if (manifest.name === 'tls-resumption' && typeof manifest.version === 'string') return manifest.version;
    } catch {
      // Not there: try the next level.
    }
  }
  return 'unknown';
}
