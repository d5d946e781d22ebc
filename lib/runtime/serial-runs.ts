/**
 * One run at a time, and at most one more queued: what a reload (worker
 * threads) and a rolling restart (worker processes) do when asked again
 * while they run. The queued run starts once the current one ended,
 * whatever its outcome, so that files changed after the first began are
 * loaded too; further requests meanwhile join the queued one.
 *
 * @module
 */

/** Runs `start` one at a time, queuing at most one more. */
export class SerialRuns<T> {
  #running: Promise<T> | undefined;
  #queued: Promise<T> | undefined;

  /** The run in progress, if any. */
  get running(): Promise<T> | undefined {
    return this.#running;
  }

  /**
   * Starts `start()` now if nothing runs; otherwise returns the queued run,
   * queuing one (calling `onQueued` once) if there is none yet.
   */
  run(start: () => Promise<T>, onQueued: () => void): Promise<T> {
    if (this.#running === undefined) {
      const running = start().finally(() => {
        if (this.#running === running) this.#running = undefined;
      });
      this.#running = running;
      return running;
    }
    if (this.#queued === undefined) {
      onQueued();
      this.#queued = this.#running
        .catch(() => undefined)
        .then(() => {
          this.#queued = undefined;
          return this.run(start, onQueued);
        });
    }
    return this.#queued;
  }
}
