/**
 * What this thread knows of Node's capabilities, and how they are told:
 * the list, each one's check as found by `node-capabilities.ts` (which
 * runs the checks and hands them here) or adopted from the thread runtime's
 * primary, and the start-up report. The modules that use a capability ask
 * {@link knownCapability} here; only the runtimes start the checks.
 *
 * @module
 */
import type { Logger } from 'pino';

/** Every capability, in the order they are reported. */
export const CAPABILITIES = [
  'ticket_key_callback',
  'ticket_renewal',
  'ticket_miss_reasons',
  'session_names',
  'certificate_binding',
  'sni_detection',
  'server_options',
  'session_der',
] as const;

/** One of {@link CAPABILITIES}. */
export type Capability = (typeof CAPABILITIES)[number];

/** What the check of one capability found. */
export interface CapabilityCheck {
  /** Whether it works on this Node. */
  on: boolean;
  /** When on, what is used where it matters (e.g. the method wrapped); when off, what the check saw. */
  detail: string;
  /** Off only because this other capability is: its warning says so, this one adds none. */
  needs?: Capability;
  /** `session_names` only: on, but the name is known only after the session lookup (see {@link sessionNamesLate}). */
  late?: true;
}

/** What this Node supports: every capability's check. */
export type NodeCapabilities = Readonly<Record<Capability, CapabilityCheck>>;

/** What an operator should know when a capability is off: the consequence, then what to do. */
const WHEN_OFF: Record<Capability, string> = {
  ticket_key_callback:
    "tickets use one key at a time (Node's setTicketKeys): after each rotation every ticket under the previous key costs a full handshake, TLS 1.3 tickets are not renewed (ticket_renewal), missed ticket resumptions are not counted by reason (ticket_miss_reasons), sessions are not bound to the name they were made for (session_names: a session made for one server name can resume under another), and sessions end by OpenSSL's lifetime only",
  ticket_renewal: 'TLS 1.3 tickets are not renewed on resumption: clients that use each ticket once (browsers, curl) resume every other time',
  ticket_miss_reasons:
    'missed resumptions by ticket are not counted by reason in resumption_misses_total (session IDs still are), and sessions are not bound to the name they were made for (session_names: a session made for one server name can resume under another)',
  session_names:
    "sessions are not bound to the name they were made for: a session made for one server name (SNI) can resume under another name of the same server, and skip that name's client-certificate check; a server with one name is not affected. Serve names that need their own client-certificate settings from separate servers or ports, or run Node 22 or 24",
  certificate_binding: 'sessions are not bound to the certificate: those made under an old certificate resume under a new one until they expire (TLS_CACHE_SESSION_TIMEOUT)',
  sni_detection: 'a server serving several names (SNICallback, addContext) is not recognised as one',
  server_options: "the checks that each server was created with the deployment's sessionTimeout, sessionIdContext and tickets setting are skipped: create servers from the runtime's server options",
  session_der: "sessions are read without their protocol version and lifetime: TLS 1.3 sessions are stored too, and a process's local copies are kept for the full timeout",
};

const WHAT_TO_DO = 'run a Node version the package is tested on (docs/package.md), and report this Node with this line';

let known: NodeCapabilities | undefined;

/**
 * Takes capabilities checked elsewhere in this process (a thread runtime's
 * primary checks once for every server thread: same Node, same OpenSSL).
 */
export function adoptNodeCapabilities(capabilities: NodeCapabilities): void {
  known = capabilities;
}

/**
 * Whether `capability` works here, once checked in this thread (or
 * adopted); `undefined` before: callers then use what is present, as
 * before the check existed.
 */
export function knownCapability(capability: Capability): boolean | undefined {
  return known?.[capability].on;
}

/** The capabilities as checked in this thread, if they were. */
export function knownNodeCapabilities(): NodeCapabilities | undefined {
  return known;
}

let reported = false;

/**
 * Logs the capabilities once per process: one info line with each on or
 * off, then one warning per capability off, naming the consequence and
 * what to do. Later calls do nothing.
 */
export function reportNodeCapabilities(logger: Logger, capabilities: NodeCapabilities): void {
  if (reported) return;
  reported = true;
  const summary = Object.fromEntries(CAPABILITIES.map((name) => [name, capabilities[name].on ? 'on' : 'off']));
  logger.info({ node: process.version, openssl: process.versions.openssl, capabilities: summary }, 'node capabilities');
  for (const name of CAPABILITIES) {
    const { on, detail, needs } = capabilities[name];
    if (!on && (needs === undefined || capabilities[needs].on)) logger.warn({ capability: name, node: process.version, found: detail }, capabilityOffWarning(name));
  }
}

/**
 * Whether `session_names` works here only late (Node 26: the name a
 * ClientHello asks for is known after its session lookup, see
 * `session-names.ts`): then no TLS 1.2 session resumes on a server with
 * several names.
 */
export function sessionNamesLate(capabilities: NodeCapabilities | undefined): boolean {
  return capabilities?.session_names.on === true && capabilities.session_names.late === true;
}

/** The warning logged once where {@link sessionNamesLate} holds and a server has several names (`SNICallback`, `addContext()`). */
export const NAMES_LATE_WARNING =
  "this Node (26) tells the name a ClientHello asks for only after its session is looked up: on a server with several names (SNICallback, addContext) " +
  "TLS 1.2 sessions do not resume (a full handshake each), so that none resumes under another name; TLS 1.3 tickets resume, their names checked at the handshake's end";

/** The warning text for a capability that is off (also in `docs/operations.md`). */
function capabilityOffWarning(capability: Capability): string {
  return `${capability} is off on this Node: ${WHEN_OFF[capability]}; ${WHAT_TO_DO}`;
}
