/**
 * The lifetime check with real waits: a client that comes back every
 * `intervalMs`, offering only the newest session it has (under TLS 1.3 each
 * ticket once: every resumption brings a fresh one; under TLS 1.2 the same
 * ticket again: none comes), must resume while its session is younger than
 * the timeout, counted from the session's full handshake, and never after:
 * then it makes a full handshake, which starts a new session.
 *
 * OpenSSL keeps a session's time in whole seconds: its own
 * check may end a session up to 1 s before the timeout (a TLS 1.2 ticket,
 * or a TLS 1.3 ticket never renewed). So the interval must keep every visit
 * clear of `[timeout - 1 s, timeout]`, with a margin for scheduling: a 5 s
 * timeout and a visit every 1.8 s give ages 1.8, 3.6 and 5.4 s.
 */
import type { Test } from 'tap';

export interface ChainVisit {
  reused: boolean;
  /** The newest session after this visit. */
  session: Buffer | undefined;
  /** Who served (a worker, a process, a host), for the report. */
  servedBy: string | number;
}

export interface ChainStep {
  /** When this visit started, ms after the first one. */
  at: number;
  /** Age of the session offered: ms since the start of its full handshake (-1 for the first visit). */
  age: number;
  reused: boolean;
  servedBy: string | number;
}

/** Visits `count` times, one every `intervalMs` (from the first's start), each offering the newest session. */
export async function lifetimeChain(visit: (session: Buffer | undefined, step: number) => Promise<ChainVisit>, intervalMs: number, count: number): Promise<ChainStep[]> {
  const steps: ChainStep[] = [];
  const start = performance.now();
  let session: Buffer | undefined;
  let born = -1;
  for (let i = 0; i < count; i++) {
    const due = start + i * intervalMs;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - performance.now())));
    const at = performance.now() - start;
    const result = await visit(session, i);
    steps.push({ at, age: session === undefined ? -1 : at - born, reused: result.reused, servedBy: result.servedBy });
    if (!result.reused) born = at;
    session = result.session;
  }
  return steps;
}

/**
 * Asserts that every visit younger than `timeoutMs - 1 s` resumed and none
 * older than `timeoutMs` did (visits within `marginMs` of that second are
 * reported, not judged, and the interval must leave none there), and that
 * the chain reached the bound.
 */
export function checkLifetime(t: Test, label: string, steps: ChainStep[], timeoutMs: number, marginMs = 250): void {
  const line = steps.map((s) => `${(s.at / 1000).toFixed(1)}s:${s.reused ? 'R' : 'F'}${s.age >= 0 ? `(age ${(s.age / 1000).toFixed(1)})` : ''}@${s.servedBy}`).join(' ');
  t.comment(`${label}: ${line}`);
  t.notOk(steps[0].reused, `${label}: the first visit is a full handshake`);
  let judged = 0;
  for (const step of steps.slice(1)) {
    if (step.age > timeoutMs - 1000 - marginMs && step.age < timeoutMs + marginMs) continue;
    judged++;
    if (step.age < timeoutMs) t.ok(step.reused, `${label}: resumed at age ${(step.age / 1000).toFixed(2)} s, within the ${timeoutMs / 1000} s lifetime`);
    else t.notOk(step.reused, `${label}: not resumed at age ${(step.age / 1000).toFixed(2)} s, past the ${timeoutMs / 1000} s lifetime`);
  }
  t.equal(judged, steps.length - 1, `${label}: every visit was clear of the bound`);
  t.ok(steps.filter((s) => s.age > timeoutMs).length >= 1, `${label}: the chain reached the bound at least once`);
}
