/**
 * `tls-resumption status [--json]`: what every owner of the cache of this
 * user says of itself (`owner/status-client.ts`), for a person, or as JSON
 * for scripts (`{ "owners": [OwnerStatus, ...] }`, see
 * `runtime/owner-status.ts`).
 *
 * Exit status: 0 when at least one owner answered; 3
 * (`ERR_TLS_CACHE_NOT_RUNNING`) when none did; 1 for a bad `TLS_CACHE_*`
 * variable or a socket directory that is not private to this user
 * (`ERR_TLS_CACHE_SOCKET`).
 *
 * @module
 */
import { NotRunningError } from '../errors.ts';
import { askStatus, findOwnerSockets, type StatusAnswer } from '../owner/status-client.ts';
import { PROTOCOLS, sessionAgeQuantile, type OwnerStatus, type StatusCounts } from '../runtime/owner-status.ts';

/** Exit status when nothing answers (as LSB init scripts' `status`: "not running"). */
export const NOT_RUNNING_EXIT = 3;

/** Where {@link status} writes. */
export interface StatusIo {
  env: NodeJS.ProcessEnv;
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

/**
 * Runs `tls-resumption status`; resolves to the exit status.
 * @throws InvalidEnvironmentError, SocketError as {@link findOwnerSockets} does (the caller prints them).
 */
export async function status(json: boolean, io: StatusIo): Promise<number> {
  const { deployment, directory, sockets } = findOwnerSockets(io.env);
  const answers: StatusAnswer[] = await Promise.all(sockets.map((socket) => askStatus(socket)));
  const owners = answers.flatMap((answer) => ('status' in answer ? [answer.status] : []));
  if (owners.length === 0) {
    const error = new NotRunningError(
      `nothing answers: no cache daemon at ${deployment}, and no node:cluster primary or thread runtime of this user in ${directory}` +
        (sockets.length > 0 ? ` (${answers.map((a) => `${a.socket}: ${'error' in a ? a.error : 'answered'}`).join('; ')})` : ''),
    );
    io.stderr.write(`tls-resumption status: ${error.code}: ${error.message}\n`);
    return NOT_RUNNING_EXIT;
  }
  if (json) io.stdout.write(`${JSON.stringify({ owners }, null, 2)}\n`);
  else io.stdout.write(owners.map((owner) => describeOwner(owner)).join('\n'));
  return 0;
}

const KINDS: Record<OwnerStatus['kind'], string> = {
  daemon: 'cache daemon',
  primary: 'node:cluster primary',
  threads: 'thread runtime',
};

/** An owner's status for a person: one paragraph. */
function describeOwner(owner: OwnerStatus): string {
  const lines = [`${KINDS[owner.kind]} pid ${owner.pid}, up ${duration((owner.now - owner.startedAt) / 1000)} (Node ${owner.node}), socket ${owner.socket}`];
  const { configured, listening } = owner.workers;
  if (owner.kind === 'threads') {
    const threads = owner.attached.map((w) => `${w.workerId}${w.listening === true ? '' : ' (not listening)'}`).join(', ');
    lines.push(`  workers: ${listening} of ${configured} threads listening${threads === '' ? '' : ` (workers ${threads})`}`);
  } else {
    const pids = owner.attached.map((w) => w.pid).join(', ');
    const what = owner.kind === 'daemon' ? 'processes attached' : `worker processes attached (${configured} forked, ${listening} listening)`;
    lines.push(`  ${what}: ${owner.kind === 'daemon' ? listening : owner.attached.length}${pids === '' ? '' : ` (pids ${pids})`}`);
  }
  lines.push(`  ports: ${ports(owner)}`);
  const t = owner.table;
  lines.push(
    `  table: ${t.entries} of ${t.capacityEntries} entries (${percent(t.entries, t.capacityEntries)}), ${bytes(t.bytesInUse)} of ${bytes(t.capacityBytes)}`,
  );
  lines.push(`  since start: ${counts(owner.sinceStart)}`);
  lines.push(`  last ${owner.lastMinute.seconds} s: ${counts(owner.lastMinute)}`);
  const k = owner.tickets;
  if (k === null) lines.push('  ticket keys: tickets off');
  else {
    const next = k.nextRotationSeconds === null ? 'no scheduled rotation (keys from files)' : `next rotation in ${duration(k.nextRotationSeconds)}`;
    lines.push(`  ticket keys: ${k.keys} decrypting (${k.source}), current key ${duration(k.currentKeyAgeSeconds)} old, ${next}`);
  }
  const r = owner.redis;
  if (r === null) lines.push('  redis: not configured');
  else {
    lines.push(
      `  redis: ${r.mode} ${r.url}, ${r.connected ? 'connected' : 'NOT CONNECTED'}, namespace ${r.namespace}; ` +
        `${r.otherHosts} other hosts seen, ${r.hostsWithOtherCertificate} serving another certificate`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** The ports its servers listen on, as {@link OwnerStatus.ports} gives them. */
function ports(owner: OwnerStatus): string {
  if (owner.ports === undefined) return 'not said (an older version)';
  return owner.ports.length === 0 ? 'none listening' : [...owner.ports].sort((a, b) => a - b).join(', ');
}

/** Handshakes, resumptions, misses by reason and evictions of a span. */
function counts(c: StatusCounts): string {
  const full = PROTOCOLS.reduce((sum, p) => sum + c.handshakes.full[p], 0);
  const resumed = PROTOCOLS.reduce((sum, p) => sum + c.handshakes.resumed[p], 0);
  const byProtocol = PROTOCOLS.filter((p) => c.handshakes.full[p] + c.handshakes.resumed[p] > 0)
    .map((p) => `${p} ${c.handshakes.resumed[p]}/${c.handshakes.full[p] + c.handshakes.resumed[p]}`)
    .join(', ');
  const misses = (['session_id', 'ticket'] as const)
    .flatMap((method) => Object.entries(c.misses[method]).filter(([, n]) => n > 0).map(([reason, n]) => `${method} ${reason} ${n}`))
    .join(', ');
  const evictions = Object.entries(c.evictions).filter(([, n]) => n > 0).map(([reason, n]) => `${reason} ${n}`).join(', ');
  const ages = (['session_id', 'ticket'] as const)
    .map((method) => {
      const median = sessionAgeQuantile(c.sessionAges[method], 0.5);
      const p99 = sessionAgeQuantile(c.sessionAges[method], 0.99);
      return median === null || p99 === null ? undefined : `${method} median ${duration(median)}, p99 ${duration(p99)}`;
    })
    .filter((line) => line !== undefined)
    .join('; ');
  return (
    `${full + resumed} handshakes, ${resumed} resumed (${percent(resumed, full + resumed)})${byProtocol === '' ? '' : ` [${byProtocol}]`}; ` +
    `misses: ${misses === '' ? 'none' : misses}; evictions: ${evictions === '' ? 'none' : evictions}; ` +
    `session age at resumption: ${ages === '' ? 'none resumed' : ages}`
  );
}

function percent(part: number, whole: number): string {
  return whole === 0 ? '-' : `${((part / whole) * 100).toFixed(1)}%`;
}

function bytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

/** Seconds as a person reads them: `45s`, `12m 3s`, `2h 5m`, `3d 4h`. */
function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}
