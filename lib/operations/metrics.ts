/**
 * Prometheus metrics of a cluster, through prom-client, in a registry of
 * their own (never prom-client's global one). Every value is read on scrape
 * from shared memory: the table's counters (`table.stats()`), the shared
 * counter block (`counters.ts`) and the ticket key ring's stats, so the
 * numbers are totals across every worker thread without asking any of them.
 *
 * Names start with `tls_session_cache_`; label values come only from fixed
 * sets (protocol versions, methods, reasons), never from data: no metric
 * carries a session ID, a ticket or a key.
 *
 * @module
 */
import { Counter, Gauge, Registry, type Metric } from 'prom-client';
import { SESSION_AGE_BUCKETS_S, sessionAgeCounts, type CounterName, type SharedCounters } from './counters.ts';
import type { SessionTable } from '../table/session-table.ts';
import type { TicketKeyRing } from '../tickets/key-ring.ts';
import { MISSES } from '../tls/resumption-misses.ts';
import { CAPABILITIES, knownNodeCapabilities, type NodeCapabilities } from '../tls/known-capabilities.ts';

/** Where {@link createMetrics} reads its values. */
export interface MetricsSources {
  table: SessionTable;
  counters: SharedCounters;
  /** The ticket key ring; `undefined` when tickets are off. */
  ticketKeys: TicketKeyRing | undefined;
  /** Workers (threads, or node:cluster processes) configured and listening now. @defaultValue not reported */
  workers?: () => { configured: number; listening: number };
  /** Reloads of the workers by outcome (`reloads_total`). @defaultValue not reported */
  reloads?: () => Record<'succeeded' | 'failed' | 'aborted', number>;
  /** With Redis: hosts of the deployment seen serving another certificate (`fleet_hosts_other_certificate`). @defaultValue not reported */
  hostsWithOtherCertificate?: () => number;
  /** With Redis: other hosts of the deployment seen announcing through Redis (`fleet_other_hosts`). @defaultValue not reported */
  otherHosts?: () => number;
  /** The clock the ring's times are on. @defaultValue `Date.now` */
  clock?: () => number;
  /** What this Node supports (`node_capability`). @defaultValue this process's check, once it ran */
  capabilities?: () => NodeCapabilities | undefined;
}

/** A cluster's metrics. */
export interface CacheMetrics {
  /** The registry holding them (a registry of its own). */
  readonly registry: Registry;
  /** The Prometheus text exposition of every metric, read now. */
  metrics(): Promise<string>;
  /** The Content-Type of {@link CacheMetrics.metrics}. */
  readonly contentType: string;
}

const PREFIX = 'tls_session_cache_';

/** Label values of the table's eviction reasons (`TableStats.evictions`). */
const EVICTION_REASONS = { expired: 'expired', capacity: 'capacity', overflow: 'overflow', repair: 'repair', cleared: 'cleared' } as const;
/** Label values of the table's refusal reasons (`TableStats.refusals`). */
const REFUSAL_REASONS = { sessionId: 'session_id', session: 'session', tooLarge: 'too_large', busy: 'busy' } as const;
const PROTOCOLS = [
  ['Tls12', 'TLSv1.2'],
  ['Tls13', 'TLSv1.3'],
  ['Other', 'other'],
] as const;

/** Sets a counter to an absolute total read from shared memory. */
function setTotal<T extends string>(counter: Counter<T>, value: number, labels?: Partial<Record<T, string>>): void {
  if (labels === undefined) counter.inc(value);
  else counter.inc(labels, value);
}

/**
 * `resumed_session_age_seconds`: how old each session was (from its full
 * handshake) when it resumed, by method, as a Prometheus histogram read on
 * scrape from the shared counters' buckets (prom-client's own Histogram
 * only observes; this one's totals live in shared memory). Registered as
 * a metric object of prom-client's registry (`get()`, `reset()`).
 */
function sessionAgeHistogram(counters: SharedCounters): Metric {
  const name = PREFIX + 'resumed_session_age_seconds';
  const help =
    'Age of a session when it resumed (since its full handshake), by method; choose TLS_CACHE_SESSION_TIMEOUT and the rotation period from it (docs/operations.md)';
  const methods = ['session_id', 'ticket'] as const;
  return {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    reset() {},
    async get() {
      const v = counters.values();
      const values: Array<{ metricName: string; labels: Record<string, string | number>; value: number }> = [];
      for (const method of methods) {
        const ages = sessionAgeCounts(v, method);
        let cumulative = 0;
        SESSION_AGE_BUCKETS_S.forEach((le, i) => {
          cumulative += ages[i];
          values.push({ metricName: `${name}_bucket`, labels: { method, le }, value: cumulative });
        });
        const count = cumulative + ages[SESSION_AGE_BUCKETS_S.length];
        values.push({ metricName: `${name}_bucket`, labels: { method, le: '+Inf' }, value: count });
        values.push({ metricName: `${name}_sum`, labels: { method }, value: v[method === 'ticket' ? 'ageTicketSumMs' : 'ageIdSumMs'] / 1000 });
        values.push({ metricName: `${name}_count`, labels: { method }, value: count });
      }
      return { name, help, type: 'histogram', aggregator: 'sum', values };
    },
  } as unknown as Metric;
}

/** Makes the metrics of a cluster's table, counters and ring. */
export function createMetrics(sources: MetricsSources): CacheMetrics {
  const { table, counters, ticketKeys, workers, reloads, hostsWithOtherCertificate, otherHosts, clock = Date.now, capabilities = knownNodeCapabilities } = sources;
  const registry = new Registry();
  const registers = [registry];

  /** A counter whose totals are set on every scrape by `fill`. */
  const counter = <T extends string>(name: string, help: string, labelNames: readonly T[], fill: (c: Counter<T>) => void): void => {
    new Counter<T>({
      name: PREFIX + name,
      help,
      labelNames,
      registers,
      collect() {
        this.reset();
        fill(this);
      },
    });
  };
  const gauge = (name: string, help: string, read: () => number): void => {
    new Gauge({
      name: PREFIX + name,
      help,
      registers,
      collect() {
        this.set(read());
      },
    });
  };

  new Gauge({
    name: PREFIX + 'node_capability',
    help: "What this Node supports, checked at start by what each internal does (1 on, 0 off; see docs/operations.md#node-capabilities); none until checked",
    labelNames: ['capability'],
    registers,
    collect() {
      this.reset();
      const found = capabilities();
      if (found === undefined) return;
      for (const name of CAPABILITIES) this.set({ capability: name }, found[name].on ? 1 : 0);
    },
  });
  counter('handshakes_total', 'TLS handshakes completed, full or resumed, by protocol version', ['result', 'protocol'], (c) => {
    const v = counters.values();
    for (const [suffix, protocol] of PROTOCOLS) {
      setTotal(c, v[`full${suffix}`], { result: 'full', protocol });
      setTotal(c, v[`resumed${suffix}`], { result: 'resumed', protocol });
    }
  });
  counter(
    'resumption_lookups_total',
    'Resumption attempts by method: session_id (session hook lookups: hit or miss) and ticket (ticket key found: hit, unknown key: miss)',
    ['method', 'result'],
    (c) => {
      const v = counters.values();
      setTotal(c, v.lookupHits, { method: 'session_id', result: 'hit' });
      setTotal(c, v.missed, { method: 'session_id', result: 'miss' });
      setTotal(c, v.decrypted, { method: 'ticket', result: 'hit' });
      setTotal(c, v.unknownKey, { method: 'ticket', result: 'miss' });
    },
  );
  counter(
    'resumption_misses_total',
    'Completed handshakes that offered a session (a TLS 1.2 session ID looked up, or a ticket) and did not resume, each under one reason (see docs/operations.md)',
    ['method', 'reason'],
    (c) => {
      const v = counters.values();
      for (const { method, reason, counter: name } of MISSES) setTotal(c, v[name], { method, reason });
    },
  );
  registry.registerMetric(sessionAgeHistogram(counters));
  counter('sessions_stored_total', 'Sessions the session hooks stored in the shared table', [], (c) => setTotal(c, counters.get('stored')));
  counter('sessions_refused_total', 'Sessions the session hooks could not store (see refusals_total for why)', [], (c) =>
    setTotal(c, counters.get('refused')),
  );
  counter('tls13_sessions_skipped_total', 'TLS 1.3 sessions not stored (they resume only by ticket)', [], (c) =>
    setTotal(c, counters.get('skippedTls13')),
  );
  counter('sessions_ended_total', 'TLS 1.2 sessions removed from every store because their connection ended in a fatal alert', [], (c) =>
    setTotal(c, counters.get('endedByAlert')),
  );

  gauge('entries', 'Sessions in the shared table now (expired ones until swept or evicted)', () => table.stats().entries);
  gauge('bytes_in_use', 'Bytes of the shared table holding sessions now', () => table.stats().bytesInUse);
  gauge('capacity_bytes', 'Bytes of the shared table available for sessions', () => table.stats().capacityBytes);
  gauge('capacity_entries', 'Most sessions the shared table admits at once', () => table.stats().capacityEntries);
  counter('table_lookups_total', 'Lookups in the shared table', ['result'], (c) => {
    const stats = table.stats();
    setTotal(c, stats.hits, { result: 'hit' });
    setTotal(c, stats.misses, { result: 'miss' });
  });
  counter('evictions_total', 'Sessions removed from the shared table, by reason', ['reason'], (c) => {
    const { evictions } = table.stats();
    for (const [key, reason] of Object.entries(EVICTION_REASONS)) setTotal(c, evictions[key as keyof typeof EVICTION_REASONS], { reason });
  });
  counter('refusals_total', 'Writes the shared table refused, by reason', ['reason'], (c) => {
    const { refusals } = table.stats();
    for (const [key, reason] of Object.entries(REFUSAL_REASONS)) setTotal(c, refusals[key as keyof typeof REFUSAL_REASONS], { reason });
  });
  counter('read_retries_total', 'Table lookups that raced a writer and read again', [], (c) => setTotal(c, table.stats().readRetries));

  counter('tickets_issued_total', 'Session tickets encrypted under the shared ring', [], (c) => setTotal(c, counters.get('issued')));
  counter('ticket_failures_total', 'Times a ticket key could not be read or the ticket callback failed (a full handshake followed)', [], (c) =>
    setTotal(c, counters.get('failures')),
  );
  counter('tickets_renewed_total', 'TLS 1.3 resumptions given a fresh ticket carrying their session\'s birth (renewal)', [], (c) =>
    setTotal(c, counters.get('renewed')),
  );
  counter('tickets_expired_total', 'Tickets refused because their session was TLS_CACHE_SESSION_TIMEOUT old (a full handshake followed)', [], (c) =>
    setTotal(c, counters.get('expired')),
  );
  counter('ticket_renewal_off_total', 'Workers that stopped renewing TLS 1.3 tickets (their self-test or a check of Node\'s callback order failed)', [], (c) =>
    setTotal(c, counters.get('renewalOff')),
  );
  counter('ticket_key_updates_total', 'Times a worker set the current key again (fallback mode only)', [], (c) =>
    setTotal(c, counters.get('keyUpdates')),
  );
  counter('ticket_key_rotations_total', 'Ticket key rotations (scheduled, SIGUSR1 or rotateTicketKeys())', [], (c) =>
    setTotal(c, counters.get('ticketKeyRotations')),
  );
  gauge('ticket_keys', 'Ticket keys that still decrypt (0 when tickets are off)', () => ticketKeys?.stats().keys ?? 0);
  gauge('ticket_key_age_seconds', 'Age of the key encrypting new tickets (0 when tickets are off)', () => {
    const since = ticketKeys?.stats().currentSince ?? 0;
    return since > 0 ? Math.max(0, clock() - since) / 1000 : 0;
  });

  counter('worker_restarts_total', 'Worker threads restarted after a crash', [], (c) => setTotal(c, counters.get('workerRestarts')));

  // Redis, the second level across hosts (TLS_CACHE_REDIS_URL); all zero without it.
  counter('redis_lookups_total', 'Lookups that missed the local table and asked Redis', [], (c) => setTotal(c, counters.get('redisLookups')));
  counter('redis_hits_total', 'Redis lookups answered with a session (then copied into the local table)', [], (c) =>
    setTotal(c, counters.get('redisHits')),
  );
  counter('redis_timeouts_total', 'Redis lookups not answered within TLS_CACHE_REDIS_TIMEOUT (the handshake went on as a miss)', [], (c) =>
    setTotal(c, counters.get('redisTimeouts')),
  );
  counter('redis_errors_total', 'Redis lookups, writes and fleet syncs that failed or were skipped because Redis was unavailable', [], (c) =>
    setTotal(c, counters.get('redisErrors')),
  );
  counter('redis_rejected_total', 'Entries read from Redis that did not authenticate (altered, or sealed under another secret or namespace)', [], (c) =>
    setTotal(c, counters.get('redisRejected')),
  );
  counter('redis_writes_total', 'Sessions written to Redis', [], (c) => setTotal(c, counters.get('redisWrites')));
  counter('redis_deferred_total', 'Session writes and ends that found Redis unavailable, kept to be sent once it is back', [], (c) =>
    setTotal(c, counters.get('redisDeferred')),
  );
  counter('redis_deferred_dropped_total', 'Deferred writes and ends dropped: no room left, or the session expired or ended before Redis was back', [], (c) =>
    setTotal(c, counters.get('redisDeferredDropped')),
  );

  // Worker processes (node:cluster, PM2, plain processes) and the table's owner; all zero otherwise. Shipped by the workers, up to a second behind.
  const owner = {
    lookups: ['ownerLookups', 'Lookups a worker process sent to the owner of the table over its socket (its local copy missed)'],
    hits: ['ownerHits', "Lookups the owner answered with a session (then kept in the worker's local copy)"],
    timeouts: ['ownerTimeouts', 'Lookups the owner did not answer within TLS_CACHE_OWNER_TIMEOUT (the handshake went on as a miss)'],
    malformed: ['ownerMalformed', 'Messages of this library between worker processes and the owner that failed validation, in either (dropped)'],
    skipped: [
      'ownerSkipped',
      "Lookups a worker process answered as misses without asking: the owner's table never stored that session ID (every TLS 1.3 ClientHello's made-up legacy ID)",
    ],
  } as const satisfies Record<string, readonly [CounterName, string]>;
  for (const [suffix, [name, help]] of Object.entries(owner)) {
    counter(`owner_${suffix}_total`, help, [], (c) => setTotal(c, counters.get(name)));
  }
  // Their names before 0.2 (ipc_*), the same values, until 0.3: a metric cannot warn, its help says so (docs/operations.md).
  for (const [suffix, [name]] of Object.entries(owner)) {
    counter(`ipc_${suffix}_total`, `Deprecated: use ${PREFIX}owner_${suffix}_total, the same value; this name goes in 0.3`, [], (c) =>
      setTotal(c, counters.get(name)),
    );
  }
  counter('local_hits_total', "Lookups a worker process answered from its own local copy, without asking the owner", [], (c) =>
    setTotal(c, counters.get('localHits')),
  );
  if (reloads !== undefined) {
    counter('reloads_total', 'Rolling reloads of the workers (SIGHUP, reload(), restartWorkers()) by how they ended', ['result'], (c) => {
      for (const [result, value] of Object.entries(reloads())) setTotal(c, value, { result });
    });
  }
  if (workers !== undefined) {
    gauge('workers', 'Workers configured (threads, or node:cluster processes)', () => workers().configured);
    gauge('workers_listening', 'Workers (threads, or node:cluster processes) listening now', () => workers().listening);
  }
  if (hostsWithOtherCertificate !== undefined) {
    gauge(
      'fleet_hosts_other_certificate',
      'Other hosts of the deployment (through Redis) serving another certificate than this host: their sessions and ours do not resume across',
      hostsWithOtherCertificate,
    );
  }
  if (otherHosts !== undefined) {
    gauge('fleet_other_hosts', 'Other hosts of the deployment seen announcing their certificates through Redis in the last 15 s', otherHosts);
  }

  return {
    registry,
    metrics: () => registry.metrics(),
    get contentType() {
      return registry.contentType;
    },
  };
}
