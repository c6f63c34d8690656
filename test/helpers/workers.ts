/**
 * Child processes that start work at the same instant. Each worker script prints `ready` once it
 * is set up, waits for a line on stdin, does its work, prints one JSON line and exits. The parent
 * releases all workers only after every one is ready — a latch, not a sleep — so the work truly
 * overlaps.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface WorkerResult {
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Every stdout line after `ready`. */
  lines: string[];
  stderr: string;
}

interface Running {
  child: ChildProcessByStdio<Writable, Readable, Readable>;
  ready: Promise<void>;
  done: Promise<WorkerResult>;
}

function start(script: string, args: string[]): Running {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: REPO_ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const lines: string[] = [];
  let signalReady: () => void = () => undefined;
  let readySeen = false;
  const ready = new Promise<void>((resolve) => (signalReady = resolve));
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (!readySeen && line === 'ready') {
      readySeen = true;
      signalReady();
    } else {
      lines.push(line);
    }
  });
  const done = (async (): Promise<WorkerResult> => {
    const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
    return { pid: child.pid ?? -1, code, signal, lines, stderr };
  })();
  return {
    child,
    // A worker that dies before `ready` must not leave the latch waiting forever.
    ready: Promise.race([
      ready,
      done.then((result) => {
        if (!readySeen) {
          throw new Error(
            `worker ${script} exited (${String(result.code)}) before ready:\n${result.stderr}`,
          );
        }
      }),
    ]),
    done,
  };
}

/**
 * Starts one worker per entry of `argsPerWorker` (a repo-relative script run with tsx), waits
 * until all are ready, releases them together and resolves with every worker's result.
 */
export async function runTogether(
  script: string,
  argsPerWorker: string[][],
): Promise<WorkerResult[]> {
  const workers = argsPerWorker.map((args) => start(script, args));
  try {
    await Promise.all(workers.map((w) => w.ready));
  } catch (error) {
    for (const w of workers) w.child.kill();
    throw error;
  }
  for (const w of workers) w.child.stdin.end('go\n');
  return Promise.all(workers.map((w) => w.done));
}

/** Waits for the start signal in a worker (after it has printed `ready`). */
export async function awaitStartSignal(): Promise<void> {
  const input = createInterface({ input: process.stdin });
  process.stdout.write('ready\n');
  await once(input, 'line');
  input.close();
}
