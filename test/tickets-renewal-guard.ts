/**
 * The guard of ticket renewal: when Node's callbacks do not come in the
 * order renewal relies on (ticket-links.ts), renewal turns off in that
 * thread, once, with a reason, and tickets are accepted without a fresh one
 * from then on (as before renewal existed), while the session lifetime
 * still holds: even the ticket issued as the check fails carries its
 * session's birth (the oldest in play), never a later one. The disturbances are made by calling the linking functions
 * out of order from real connections (test/fixtures/renewal-guard.ts), each
 * scenario in a worker thread of its own.
 */
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import t from 'tap';

interface Outcome {
  before: { state: string; renewing: boolean };
  renewedBefore: number;
  after: { state: string; reason: string | undefined; renewing: boolean; resumed: boolean; tickets: number };
  late: { resumed: boolean };
  disturbed: { resumed: boolean; tickets: number; birthKept: boolean };
  reasons: string[];
  counters: { renewalOff: number; expired: number; failures: number };
}

async function run(scenario: string): Promise<Outcome> {
  const worker = new Worker(new URL('./fixtures/renewal-guard.ts', import.meta.url), { workerData: { scenario }, execArgv: [] });
  const [outcome] = (await once(worker, 'message')) as [Outcome];
  await once(worker, 'exit');
  return outcome;
}

for (const [scenario, reason] of [
  ['window-taken', /before the previous one reached newSession/],
  ['foreign-window', /outside its own connection/],
] as const) {
  t.test(`${scenario}: renewal turns off, once, with the reason; tickets still resume and still expire`, async (t) => {
    const outcome = await run(scenario);
    t.same(outcome.before, { state: 'on', renewing: true }, 'renewal was on');
    t.equal(outcome.renewedBefore, 1, 'and renewed');
    t.equal(outcome.after.state, 'off');
    t.match(outcome.after.reason, reason);
    t.notOk(outcome.after.renewing);
    t.equal(outcome.reasons.length, 1, 'reported once');
    t.match(outcome.reasons[0], reason);
    t.equal(outcome.counters.renewalOff, 1, 'counted once');
    t.ok(outcome.disturbed.resumed, 'the disturbed connection resumed');
    t.equal(outcome.disturbed.tickets, 1, 'and got its fresh ticket');
    t.ok(outcome.disturbed.birthKept, 'which still carries the session\'s birth: the oldest in play, never a later one');
    t.ok(outcome.after.resumed, 'a later resumption is accepted');
    t.equal(outcome.after.tickets, 0, 'without a fresh ticket');
    t.notOk(outcome.late.resumed, 'and refused once the session is a lifetime old');
    t.equal(outcome.counters.failures, 0);
  });
}

t.test('renewal off before the server attached: it never renews, and says so', async (t) => {
  const outcome = await run('off-before-attach');
  t.same(outcome.before, { state: 'off', renewing: false });
  t.equal(outcome.renewedBefore, 0, 'no fresh ticket, from the first resumption on');
  t.same(outcome.reasons, ['turned off by the test']);
  t.equal(outcome.counters.renewalOff, 1);
  t.notOk(outcome.late.resumed, 'the lifetime holds');
  t.equal(outcome.disturbed.tickets, 0, 'no fresh ticket');
});
