/**
 * A worker process's counts, shipped to the owner as deltas since the
 * last shipment ({@link CountsReport}): every second when any changed,
 * and whenever the owner asks (for a fresh total: metrics, status).
 *
 * @module
 */
import { COUNTER_NAMES, type SharedCounters } from '../operations/counters.ts';
import { W_COUNTS, type ToOwner } from '../owner/messages.ts';

/** How often this process's counts go to the owner, in ms (and whenever the owner asks). */
const COUNTS_INTERVAL_MS = 1000;

/** See the module's documentation. */
export class CountsReport {
  readonly #counters: SharedCounters;
  readonly #send: (message: ToOwner) => boolean;
  #shipped: number[] = COUNTER_NAMES.map(() => 0);
  readonly #timer: NodeJS.Timeout;

  /** Ships `counters` with `send` (false: not sent, the deltas wait for the next shipment). */
  constructor(counters: SharedCounters, send: (message: ToOwner) => boolean) {
    this.#counters = counters;
    this.#send = send;
    this.#timer = setInterval(() => this.ship(0), COUNTS_INTERVAL_MS);
    this.#timer.unref();
  }

  /** Sends the counts since the last shipment: when any changed, or always when the owner asked (`request`, not 0). */
  ship(request: number): void {
    const values = this.#counters.values();
    const now = COUNTER_NAMES.map((name) => values[name]);
    const deltas = now.map((value, i) => value - this.#shipped[i]);
    if (request === 0 && deltas.every((d) => d === 0)) return;
    if (this.#send({ op: W_COUNTS, request, deltas })) this.#shipped = now;
  }

  /** Stops the shipments every second. */
  stop(): void {
    clearInterval(this.#timer);
  }
}
