/**
 * What this Node lets the project do, checked once per process at start by
 * what each internal of `node-internals.ts` does, not by whether a name
 * exists: real TLS handshakes between a private server and client in memory
 * (a `duplexPair`, no port), once per process (docs/operations.md gives its time). A capability found off is
 * turned off where it is used, said once with its consequence and what to
 * do (`known-capabilities.ts`: `reportNodeCapabilities`), and shown as a metric
 * (`tls_session_cache_node_capability`); nothing throws and nothing else is
 * lost.
 *
 * | capability | checked by | when off |
 * | --- | --- | --- |
 * | `ticket_key_callback` | a ticket issued and resumed through the internal ticket key callback | one ticket key at a time (`setTicketKeys()`): a rotation costs every ticket under the old key a full handshake; no renewal, no lifetime bound of this project's |
 * | `ticket_renewal` | `tickets/renewal-self-test.ts` | TLS 1.3 tickets are not renewed: clients that use a ticket once resume every other time |
 * | `ticket_miss_reasons` | the ticket callback seeing the connection whose ClientHello is read | missed ticket resumptions are not counted by reason |
 * | `session_names` | a ClientHello's server name known before its session is looked up and its ticket decrypted; each handshake's start and end followed; a name's context found as Node finds it; what a context trusts told apart | a session made for one name can resume under another (as before this check existed): serve names with client-certificate settings of their own from separate servers |
 * | `certificate_binding` | the default certificate read back, and a session refused once its session ID context changed | sessions survive a certificate change until they expire |
 * | `sni_detection` | an `SNICallback` and an `addContext()` server told apart | a server serving several names is not recognised as one |
 * | `server_options` | `sessionTimeout`, `sessionIdContext` and `secureOptions` read back | the checks that a server was created with the deployment's options are skipped |
 * | `session_der` | a real session's protocol version, ID and lifetime read | TLS 1.3 sessions are stored and local copies are kept the full timeout |
 *
 * @module
 */
import { X509Certificate, constants } from 'node:crypto';
import { createSecureContext, createServer } from 'node:tls';
import { adoptNodeCapabilities, CAPABILITIES, knownNodeCapabilities, type Capability, type CapabilityCheck, type NodeCapabilities } from './known-capabilities.ts';
import { selfSignedCertificate } from '../tickets/self-signed.ts';
import {
  clientHelloServerName,
  clientHellosCarryNames,
  handshakeServerName,
  currentConnection,
  followClientHelloNames,
  followHandshakes,
  followTrustSettings,
  resolveServerName,
  serverOf,
  sniContextOf,
  socketOf,
  trustDigestOf,
  clientHelloConnection,
  connectionOf,
  defaultCertificate,
  followClientHellos,
  followedClientHelloMethod,
  installTicketKeyCallback,
  refuseTicket,
  serverTlsOptions,
  setSessionIdContext,
  sniInUse,
  type Connection,
} from './node-internals.ts';
import { visitInMemory } from './in-memory-handshake.ts';
import { isTls13Session, sessionExpiresAt, sessionIdOf, sessionProtocolVersion, TLS_1_2 } from './session-der.ts';

let probing: Promise<NodeCapabilities> | undefined;

/**
 * The capabilities of this Node, checked once per thread (later calls get
 * the same promise; capabilities adopted from elsewhere are not checked
 * again). Never rejects: a check that throws or stalls is off.
 */
export function probeNodeCapabilities(): Promise<NodeCapabilities> {
  const adopted = knownNodeCapabilities();
  if (adopted !== undefined) return Promise.resolve(adopted);
  probing ??= probe().then((found) => {
    adoptNodeCapabilities(found);
    return found;
  });
  return probing;
}

const NEEDS_TICKET_KEY_CALLBACK: CapabilityCheck = { on: false, detail: 'needs ticket_key_callback', needs: 'ticket_key_callback' };

/** Longest the handshakes of the check may take; a check still waiting then is off. */
const PROBE_TIMEOUT_MS = 5000;
const LIFETIME_S = 300;

async function probe(): Promise<NodeCapabilities> {
  const { cert, key } = selfSignedCertificate();
  const results: Partial<Record<Capability, CapabilityCheck>> = {};
  const run = async (names: Capability[], check: () => Promise<Partial<Record<Capability, CapabilityCheck>>> | Partial<Record<Capability, CapabilityCheck>>): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    try {
      const stalled = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS);
      });
      Object.assign(results, await Promise.race([check(), stalled]));
    } catch (error) {
      for (const name of names) results[name] ??= { on: false, detail: `the check failed: ${(error as Error)?.message ?? String(error)}` };
    } finally {
      clearTimeout(timer);
    }
  };
  await run(['server_options'], () => ({ server_options: checkServerOptions(cert, key) }));
  await run(['sni_detection'], () => ({ sni_detection: checkSniDetection(cert, key) }));
  await run(['certificate_binding'], () => checkCertificateBinding(cert, key));
  await run(['session_der'], () => checkSessionDer(cert, key));
  await run(['ticket_key_callback', 'ticket_miss_reasons'], () => checkTicketCallback(cert, key));
  await run(['session_names'], () => checkSessionNames(cert, key, results.ticket_miss_reasons?.on === true));
  await run(['ticket_renewal'], async () => {
    if (results.ticket_key_callback?.on !== true) return { ticket_renewal: NEEDS_TICKET_KEY_CALLBACK };
    const { renewalSelfTest } = await import('../tickets/renewal-self-test.ts');
    const { renewalState } = await import('../tickets/ticket-links.ts');
    await renewalSelfTest();
    const { state, reason } = renewalState();
    return { ticket_renewal: state === 'on' ? { on: true, detail: 'self-test passed' } : { on: false, detail: reason ?? state } };
  });
  return Object.freeze(Object.fromEntries(CAPABILITIES.map((name) => [name, results[name] ?? { on: false, detail: 'not checked' }]))) as NodeCapabilities;
}

function checkServerOptions(cert: string, key: string): CapabilityCheck {
  const server = createServer({ cert, key, sessionTimeout: 77, sessionIdContext: 'probe-context', secureOptions: constants.SSL_OP_NO_TICKET });
  const kept = serverTlsOptions(server);
  const wrong = [
    kept.sessionTimeout === 77 ? undefined : 'sessionTimeout',
    kept.sessionIdContext === 'probe-context' ? undefined : 'sessionIdContext',
    typeof kept.secureOptions === 'number' && (kept.secureOptions & constants.SSL_OP_NO_TICKET) !== 0 ? undefined : 'secureOptions',
  ].filter((name) => name !== undefined);
  return wrong.length === 0 ? { on: true, detail: 'read back' } : { on: false, detail: `not kept on the server: ${wrong.join(', ')}` };
}

function checkSniDetection(cert: string, key: string): CapabilityCheck {
  const plain = sniInUse(createServer({ cert, key }));
  const callback = sniInUse(createServer({ cert, key, SNICallback: (_name, done) => done(null, undefined) }));
  const withContext = createServer({ cert, key });
  withContext.addContext('probe.invalid', createSecureContext({ cert, key }));
  const added = sniInUse(withContext);
  return plain === undefined && callback === 'SNICallback' && added === 'addContext'
    ? { on: true, detail: 'SNICallback and addContext told apart' }
    : { on: false, detail: `read ${String(plain)}, ${String(callback)}, ${String(added)} for none, SNICallback, addContext` };
}

async function checkCertificateBinding(cert: string, key: string): Promise<Partial<Record<Capability, CapabilityCheck>>> {
  const server = createServer({ cert, key, sessionTimeout: LIFETIME_S, sessionIdContext: 'probe-a', minVersion: 'TLSv1.3' });
  server.on('tlsClientError', () => {});
  const der = defaultCertificate(server);
  if (der === undefined) return { certificate_binding: { on: false, detail: "the server's context has no getCertificate()" } };
  if (der === null || !Buffer.from(der).equals(new X509Certificate(cert).raw)) {
    return { certificate_binding: { on: false, detail: "getCertificate() did not answer the server's certificate" } };
  }
  const first = await visitInMemory(server, { version: 'TLSv1.3' });
  const ticket = first.tickets.at(-1);
  if (ticket === undefined) return { certificate_binding: { on: false, detail: 'no ticket to check with' } };
  if (!setSessionIdContext(server, 'probe-b')) return { certificate_binding: { on: false, detail: "the server's context has no setSessionIdContext()" } };
  const other = await visitInMemory(server, { version: 'TLSv1.3', session: ticket });
  setSessionIdContext(server, 'probe-a');
  const same = await visitInMemory(server, { version: 'TLSv1.3', session: ticket });
  if (other.reused || !same.reused) {
    return { certificate_binding: { on: false, detail: `setSessionIdContext() had no effect (resumed under another context: ${other.reused}, under its own: ${same.reused})` } };
  }
  return { certificate_binding: { on: true, detail: 'certificate read, session ID context applied' } };
}

async function checkSessionDer(cert: string, key: string): Promise<Partial<Record<Capability, CapabilityCheck>>> {
  const server = createServer({ cert, key, sessionTimeout: LIFETIME_S, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', secureOptions: constants.SSL_OP_NO_TICKET });
  server.on('tlsClientError', () => {});
  let stored: { id: Buffer; session: Buffer } | undefined;
  server.on('newSession', (id: Buffer, session: Buffer, done: () => void) => {
    stored = { id, session };
    done();
  });
  const before = Date.now();
  await visitInMemory(server, { version: 'TLSv1.2' });
  if (stored === undefined) return { session_der: { on: false, detail: 'no TLS 1.2 session was handed to newSession' } };
  const { id, session } = stored;
  const expires = sessionExpiresAt(session);
  const wrong = [
    sessionProtocolVersion(session) === TLS_1_2 && !isTls13Session(session) ? undefined : 'protocol version',
    sessionIdOf(session)?.equals(id) === true ? undefined : 'session ID',
    expires !== undefined && expires >= Math.floor(before / 1000) * 1000 + LIFETIME_S * 1000 && expires <= Date.now() + LIFETIME_S * 1000 + 1000 ? undefined : 'lifetime',
  ].filter((name) => name !== undefined);
  return { session_der: wrong.length === 0 ? { on: true, detail: 'read' } : { on: false, detail: `misread: ${wrong.join(', ')}` } };
}

async function checkTicketCallback(cert: string, key: string): Promise<Partial<Record<Capability, CapabilityCheck>>> {
  const server = createServer({ cert, key, sessionTimeout: LIFETIME_S, minVersion: 'TLSv1.3' });
  server.on('tlsClientError', () => {});
  // The renewal and miss code answers resumeSession in the connection's scope: a listener makes Node parse ClientHellos.
  server.on('resumeSession', (_id: Buffer, done: (error: null, session: null) => void) => done(null, null));
  const hmac = Buffer.alloc(16, 1);
  const aes = Buffer.alloc(16, 2);
  const name = Buffer.alloc(16, 3);
  let encrypted = 0;
  let decrypted = 0;
  let readConnection: Connection | undefined;
  const installed = installTicketKeyCallback(server, (offered, _iv, encrypt) => {
    if (encrypt) {
      encrypted++;
      return [1, hmac, aes, name, Buffer.alloc(16, 4)];
    }
    decrypted++;
    readConnection = clientHelloConnection();
    return offered.equals(name) ? [1, hmac, aes] : refuseTicket();
  });
  if (installed === undefined) {
    return { ticket_key_callback: { on: false, detail: "the server's context has no enableTicketKeyCallback()" }, ticket_miss_reasons: NEEDS_TICKET_KEY_CALLBACK };
  }
  try {
    const following = followClientHellos();
    const first = await visitInMemory(server, { version: 'TLSv1.3' });
    const ticket = first.tickets.at(-1);
    const again = ticket === undefined ? undefined : await visitInMemory(server, { version: 'TLSv1.3', session: ticket });
    const callbackOn = encrypted > 0 && decrypted > 0 && again?.reused === true;
    const callback: CapabilityCheck = callbackOn
      ? { on: true, detail: 'issued and resumed' }
      : { on: false, detail: `asked to encrypt ${encrypted}, to decrypt ${decrypted} times; resumed: ${again?.reused === true}` };
    const tied = again !== undefined && readConnection !== undefined && readConnection === connectionOf(again.server);
    const misses: CapabilityCheck = !callbackOn
      ? NEEDS_TICKET_KEY_CALLBACK
      : !following
        ? { on: false, detail: 'no TLSWrap method hands the ClientHello to OpenSSL (looked for clientHelloDone, endParser)' }
        : tied
          ? { on: true, detail: `TLSWrap.${followedClientHelloMethod()}` }
          : { on: false, detail: `TLSWrap.${followedClientHelloMethod()} did not run around the ticket's decryption` };
    return { ticket_key_callback: callback, ticket_miss_reasons: misses };
  } finally {
    installed.uninstall();
  }
}

async function checkSessionNames(cert: string, key: string, followed: boolean): Promise<Partial<Record<Capability, CapabilityCheck>>> {
  const off = (detail: string): Partial<Record<Capability, CapabilityCheck>> => ({ session_names: { on: false, detail } });
  if (!followed) return { session_names: { on: false, detail: 'needs ticket_miss_reasons (the ClientHello hand-over followed)', needs: 'ticket_miss_reasons' } };
  if (!followTrustSettings()) return off("a native context's addCACert, addRootCerts or addCRL cannot be followed");
  const other = selfSignedCertificate('probe-other.invalid');
  if (trustDigestOf(createSecureContext({ ca: other.cert }).context) === trustDigestOf(createSecureContext({ ca: cert }).context)) {
    return off('contexts trusting different CAs were not told apart');
  }
  if (!followClientHelloNames()) return off('no accessor could be put on the TLSWrap prototype for onclienthello');
  let started = 0;
  let done = 0;
  // Probing only: counts, and lets every handshake through. (The binding module installs its own listener later.)
  const stopFollowing = followHandshakes({ started: () => void started++, done: () => (done++, true) });
  if (stopFollowing === undefined) return off('onhandshakestart and onhandshakedone cannot be followed');
  const named = createSecureContext({ cert: other.cert, key: other.key });
  let sniCalls = 0;
  const server = createServer({
    cert,
    key,
    sessionTimeout: LIFETIME_S,
    minVersion: 'TLSv1.3',
    SNICallback: (name, choose) => {
      sniCalls++;
      choose(null, name === 'probe-other.invalid' ? named : undefined);
    },
  });
  server.on('tlsClientError', () => {});
  let seenInLookup: string | undefined;
  server.on('resumeSession', (_id: Buffer, answer: (error: null, session: null) => void) => {
    seenInLookup = clientHelloServerName(currentConnection());
    answer(null, null);
  });
  let seenInTicket: string | undefined;
  let readInTicket: Connection | undefined;
  const installed = installTicketKeyCallback(server, (offered, _iv, encrypt) => {
    if (encrypt) return [1, Buffer.alloc(16, 1), Buffer.alloc(16, 2), Buffer.alloc(16, 3), Buffer.alloc(16, 4)];
    readInTicket = clientHelloConnection();
    seenInTicket = readInTicket === undefined ? undefined : clientHelloServerName(readInTicket);
    return [1, Buffer.alloc(16, 1), Buffer.alloc(16, 2)];
  });
  if (installed === undefined) return off('needs the ticket key callback');
  try {
    const first = await visitInMemory(server, { version: 'TLSv1.3', servername: 'probe-other.invalid' });
    const callsForOne = sniCalls;
    // Node 26 hands no name over before the lookup: names are then checked at the handshake's end (session-names.ts).
    const late = seenInLookup === undefined && clientHellosCarryNames() === false;
    if (seenInLookup !== 'probe-other.invalid' && !late) return off(`the ClientHello's server name was not known at the lookup (read ${JSON.stringify(seenInLookup)})`);
    const chosen = connectionOf(first.server);
    if (late && (chosen === undefined || handshakeServerName(chosen) !== 'probe-other.invalid')) {
      return off("the server name was known neither at the lookup nor at the handshake's end");
    }
    const resolved = await new Promise<object | null>((resolve) => resolveServerName(server, 'probe-other.invalid', (_error, context) => resolve(context)));
    if (chosen === undefined || sniContextOf(chosen) !== named.context || resolved !== named.context) {
      return off("a name's secure context was not found as Node's certificate callback chose it");
    }
    if (serverOf(chosen) !== server || socketOf(chosen) !== first.server) return off("a connection's socket and server were not found from its handle");
    if (callsForOne !== 1) return off(`the SNICallback ran ${callsForOne} times for one connection, expected once`);
    const ticket = first.tickets.at(-1);
    if (ticket === undefined) return off('no ticket to check with');
    const again = await visitInMemory(server, { version: 'TLSv1.3', servername: 'probe-other.invalid', session: ticket });
    if (late) {
      const resumed = connectionOf(again.server);
      if (!again.reused || resumed === undefined || readInTicket !== resumed || handshakeServerName(resumed) !== 'probe-other.invalid') {
        return off(`a TLS 1.3 resumption's connection and name were not known (resumed: ${again.reused}, connection known when its ticket was decrypted: ${readInTicket !== undefined})`);
      }
    } else if (seenInTicket !== 'probe-other.invalid') return off(`the ClientHello's server name was not known when its ticket was decrypted (read ${JSON.stringify(seenInTicket)})`);
    if (started < 2 || done < 2) return off(`handshakes followed: ${started} started, ${done} done, of 2`);
    return {
      session_names: late
        ? {
            on: true,
            late: true,
            detail: "this Node names a ClientHello only after its lookup: TLS 1.3 names checked at the handshake's end; TLS 1.2 sessions resume only on servers with one secure context",
          }
        : { on: true, detail: "server name read from Node's ClientHello parse" },
    };
  } finally {
    installed.uninstall();
    stopFollowing();
  }
}
