import type { ChildProcessByStdio } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';

import type { ProcessLog } from './log.js';

/** How a process ended: an exit code, or the signal that killed it. */
export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** What a stop did: nothing (`exited` by itself), SIGTERM sufficed, or SIGKILL was needed. */
export interface StopOutcome {
  readonly how: 'exited' | 'terminated' | 'killed';
  readonly durationMs: number;
}

/** A child spawned with `detached: true` (so it leads its own process group) and piped output. */
export type GroupLeader = ChildProcessByStdio<null, Readable, Readable>;

/**
 * After the group was killed, how long its output pipes may stay open: a process that moved
 * to another process group can hold them forever, and must not hang the runner.
 */
const DRAIN_TIMEOUT_MS = 2000;

/** Process groups still running, killed if Shipshape itself exits first (no orphans). */
const liveGroups = new Set<number>();
let exitHookInstalled = false;

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is gone already.
  }
}

/** Resolves true when `promise` settles within `ms`, false otherwise; never leaves a timer behind. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => {
      resolve(false);
    }, ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Watches a spawned group leader and stops its whole process group. The group counts as ended
 * when the leader has exited and its output pipes have closed (every process that inherited
 * them has ended); zombies awaiting their reaper do not hold pipes, so they do not delay it.
 */
export class ProcessGroup {
  readonly pid: number;
  /** Resolves when the leader has exited. */
  readonly exitEvent: Promise<ProcessExit>;
  /** Resolves when the group has ended and the output is complete (the log file closed). */
  readonly exited: Promise<ProcessExit>;
  readonly #stopTimeoutMs: number;
  readonly #groupDone: Promise<void>;
  #groupEnded!: () => void;
  #exitStatus: ProcessExit | undefined;
  #stopRequested = false;
  #stopping: Promise<StopOutcome> | undefined;

  constructor(child: GroupLeader, log: ProcessLog, stopTimeoutMs: number) {
    if (child.pid === undefined) throw new Error('a spawned child has no pid');
    const pid = child.pid;
    this.pid = pid;
    this.#stopTimeoutMs = stopTimeoutMs;
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.on('exit', () => {
        for (const group of liveGroups) signalGroup(group, 'SIGKILL');
      });
    }
    liveGroups.add(pid);
    this.#groupDone = new Promise<void>((resolve) => {
      this.#groupEnded = resolve;
    });
    child.once('close', this.#groupEnded);
    this.exitEvent = new Promise<ProcessExit>((resolve) => {
      child.once('exit', (code, signal) => {
        const status = { code, signal };
        this.#exitStatus = status;
        if (!this.#stopRequested) {
          // The leader is gone: whatever it left behind in its group is an orphan.
          signalGroup(pid, 'SIGKILL');
          setTimeout(this.#groupEnded, DRAIN_TIMEOUT_MS).unref();
        }
        resolve(status);
      });
    });
    this.exited = Promise.all([this.exitEvent, this.#groupDone]).then(async ([status]) => {
      child.stdout.destroy();
      child.stderr.destroy();
      liveGroups.delete(pid);
      await log.close();
      return status;
    });
  }

  /**
   * SIGTERM to the group, up to `stopTimeoutMs` for it to end, then SIGKILL to the group.
   * Idempotent: every call returns the same outcome.
   */
  stop(): Promise<StopOutcome> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<StopOutcome> {
    const began = performance.now();
    if (this.#exitStatus !== undefined) {
      await this.exited;
      return { how: 'exited', durationMs: performance.now() - began };
    }
    this.#stopRequested = true;
    signalGroup(this.pid, 'SIGTERM');
    let how: StopOutcome['how'] = 'terminated';
    if (!(await within(this.#groupDone, this.#stopTimeoutMs))) {
      how = 'killed';
      signalGroup(this.pid, 'SIGKILL');
      if (!(await within(this.#groupDone, DRAIN_TIMEOUT_MS))) this.#groupEnded();
    }
    // Anything still in the group had let go of the output pipes; it goes too.
    signalGroup(this.pid, 'SIGKILL');
    await this.exited;
    return { how, durationMs: performance.now() - began };
  }
}
