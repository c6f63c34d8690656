import { performance } from 'node:perf_hooks';

import type { DrillPhase, PhaseTiming } from './types.js';

/**
 * The drill's stopwatch: every offset is milliseconds since the drill was declared, read from a
 * monotonic clock, so a wall-clock step (NTP, DST, a VM resumed) cannot shorten or lengthen a
 * measured RTO.
 */
export class DrillClock {
  private readonly origin: number;
  readonly timeline: { atMs: number; event: string }[] = [];

  /** Starts the stopwatch: call it when the disaster is declared. */
  constructor(now: () => number = () => performance.now()) {
    this.now = now;
    this.origin = now();
    this.timeline.push({ atMs: 0, event: 'disaster declared' });
  }

  private readonly now: () => number;

  /** Milliseconds since the drill was declared, rounded to 0.1 ms. */
  elapsed(): number {
    return Math.round((this.now() - this.origin) * 10) / 10;
  }

  /** Notes a moment on the timeline. */
  mark(event: string): void {
    this.timeline.push({ atMs: this.elapsed(), event });
  }

  /**
   * Runs `work` as phase `phase`, appending its timing to `into` whether it succeeds or throws.
   * The phase is ok when `work` resolved and `passed` says its value passed (a failed check
   * completes its phase but is not ok).
   */
  async phase<T>(
    phase: DrillPhase,
    into: PhaseTiming[],
    work: () => Promise<T>,
    passed: (value: T) => boolean = () => true,
  ): Promise<T> {
    const startMs = this.elapsed();
    let ok = false;
    try {
      const value = await work();
      ok = passed(value);
      return value;
    } finally {
      const endMs = this.elapsed();
      into.push({ phase, startMs, endMs, durationMs: round(endMs - startMs), ok });
    }
  }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

/** A phase whose span encloses another's (a restore that fetches as it loads): its own share. */
export function phaseWithout(
  phase: DrillPhase,
  span: { startMs: number; endMs: number },
  enclosedMs: number,
  ok: boolean,
): PhaseTiming {
  return {
    phase,
    startMs: span.startMs,
    endMs: span.endMs,
    durationMs: round(Math.max(0, span.endMs - span.startMs - enclosedMs)),
    ok,
  };
}
