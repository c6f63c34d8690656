/**
 * Time as the scheduler sees it. Production uses the system clock; tests use {@link FakeClock}
 * so that no test waits for real time to pass.
 */
export interface Clock {
  now(): Date;
  /** Resolves after `ms` of this clock's time, or at once when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The real clock: `Date` and `setTimeout`. */
export const systemClock: Clock = {
  now: () => new Date(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal?.aborted === true) {
        resolve();
        return;
      }
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signal?.addEventListener('abort', done, { once: true });
    }),
};

interface Timer {
  readonly at: number;
  readonly resolve: () => void;
}

/**
 * A clock that moves only when told to. `sleep` resolves when {@link advanceTo} (or
 * {@link advance}) passes its wake-up time, in wake-up order.
 */
export class FakeClock implements Clock {
  #now: number;
  #timers: Timer[] = [];

  constructor(start: Date | string) {
    this.#now = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.#now);
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted === true) {
        resolve();
        return;
      }
      const timer: Timer = {
        at: this.#now + Math.max(0, ms),
        resolve: () => {
          this.#timers = this.#timers.filter((t) => t !== timer);
          signal?.removeEventListener('abort', timer.resolve);
          resolve();
        },
      };
      this.#timers.push(timer);
      signal?.addEventListener('abort', timer.resolve, { once: true });
    });
  }

  /** Sleeps not yet woken. */
  get pending(): number {
    return this.#timers.length;
  }

  /** The earliest wake-up time of a pending sleep. */
  nextWake(): Date | undefined {
    if (this.#timers.length === 0) return undefined;
    return new Date(Math.min(...this.#timers.map((t) => t.at)));
  }

  /** Moves the clock to `to` (never backwards), waking each sleep that falls due on the way. */
  advanceTo(to: Date | string): void {
    const target = new Date(to).getTime();
    for (;;) {
      const due = this.#timers.filter((t) => t.at <= target).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      this.#now = Math.max(this.#now, due.at);
      due.resolve();
    }
    this.#now = Math.max(this.#now, target);
  }

  advance(ms: number): void {
    this.advanceTo(new Date(this.#now + ms));
  }
}
