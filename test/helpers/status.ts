/**
 * `tls-resumption status` for the tests: runs the command (the sources'
 * `lib/cli/bin.ts` on this Node), and compares what it says with the
 * owner's Prometheus metrics scraped right after.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { OwnerStatus } from '../../lib/runtime/owner-status.ts';
import { COMPILE_CACHE } from '../fixtures/process.ts';
import { SESSION_AGE_BUCKETS_S } from '../../lib/operations/counters.ts';

export const BIN = fileURLToPath(new URL('../../lib/cli/bin.ts', import.meta.url));

export interface StatusRun {
  code: number | string;
  stdout: string;
  stderr: string;
}

/** Runs `tls-resumption status ...args` in a clean environment plus `env`. */
export function runStatus(args: string[], env: Record<string, string>): Promise<StatusRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'status', ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/', NODE_COMPILE_CACHE: COMPILE_CACHE, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('exit', (code, signal) => resolve({ code: code ?? signal ?? 'unknown', stdout, stderr }));
  });
}

/** The owners `status --json` reports. */
export async function statusJson(env: Record<string, string>): Promise<OwnerStatus[]> {
  const { code, stdout, stderr } = await runStatus(['--json'], env);
  if (code !== 0) throw new Error(`status --json exited with ${code}: ${stderr}`);
  return (JSON.parse(stdout) as { owners: OwnerStatus[] }).owners;
}

/** Every sample of a metrics endpoint, by name and sorted labels (`name{a="1",b="2"}`). */
export async function scrape(port: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null) continue;
    const labels = (match[2] ?? '').split(',').filter(Boolean).sort().join(',');
    samples.set(labels === '' ? match[1] : `${match[1]}{${labels}}`, Number(match[3]));
  }
  return samples;
}

/** A sample's name as {@link scrape} keys it. */
export function key(name: string, labels: Record<string, string> = {}): string {
  const text = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .sort()
    .join(',');
  return `tls_session_cache_${name}${text === '' ? '' : `{${text}}`}`;
}

/**
 * Every figure of `owner` next to the metric it must equal: `[what, from
 * status, from /metrics]`. The key's age is compared to the second (read
 * a moment apart).
 */
export function figures(owner: OwnerStatus, metrics: Map<string, number>): Array<[string, number, number | undefined]> {
  const out: Array<[string, number, number | undefined]> = [];
  const m = (name: string, labels?: Record<string, string>): number | undefined => metrics.get(key(name, labels));
  out.push(['workers', owner.workers.configured, m('workers')]);
  out.push(['workers listening', owner.workers.listening, m('workers_listening')]);
  out.push(['entries', owner.table.entries, m('entries')]);
  out.push(['capacity entries', owner.table.capacityEntries, m('capacity_entries')]);
  out.push(['bytes in use', owner.table.bytesInUse, m('bytes_in_use')]);
  out.push(['capacity bytes', owner.table.capacityBytes, m('capacity_bytes')]);
  for (const result of ['full', 'resumed'] as const) {
    for (const [protocol, value] of Object.entries(owner.sinceStart.handshakes[result])) {
      out.push([`handshakes ${result} ${protocol}`, value, m('handshakes_total', { result, protocol })]);
    }
  }
  for (const method of ['session_id', 'ticket'] as const) {
    for (const [reason, value] of Object.entries(owner.sinceStart.misses[method])) {
      out.push([`misses ${method} ${reason}`, value, m('resumption_misses_total', { method, reason })]);
    }
  }
  for (const [reason, value] of Object.entries(owner.sinceStart.evictions)) out.push([`evictions ${reason}`, value, m('evictions_total', { reason })]);
  // The session ages: each cumulative bucket of the histogram, and its count.
  for (const method of ['session_id', 'ticket'] as const) {
    const ages = owner.sinceStart.sessionAges[method];
    let cumulative = 0;
    SESSION_AGE_BUCKETS_S.forEach((le, i) => {
      cumulative += ages[i];
      out.push([`session age ${method} le ${le}`, cumulative, m('resumed_session_age_seconds_bucket', { method, le: String(le) })]);
    });
    out.push([`session ages ${method}`, cumulative + ages[SESSION_AGE_BUCKETS_S.length], m('resumed_session_age_seconds_count', { method })]);
  }
  if (owner.tickets !== null) {
    out.push(['ticket keys', owner.tickets.keys, m('ticket_keys')]);
    const age = m('ticket_key_age_seconds');
    out.push(['ticket key age (s)', Math.round(owner.tickets.currentKeyAgeSeconds), age === undefined ? undefined : Math.round(age)]);
  }
  if (owner.redis !== null) {
    out.push(['other hosts', owner.redis.otherHosts, m('fleet_other_hosts')]);
    out.push(['hosts with another certificate', owner.redis.hostsWithOtherCertificate, m('fleet_hosts_other_certificate')]);
  }
  return out;
}
