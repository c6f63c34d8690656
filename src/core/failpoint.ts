/**
 * Deterministic failpoints: named places in a write path where a crash test can stop the work.
 *
 * Production code calls `failpoint('index.written')` after each step whose effects a crash must
 * not lose or corrupt. Disarmed (the normal case) a call is one boolean test. A test arms them
 * either in-process with {@link armFailpoints} or, for a child process, through the
 * `SHIPSHAPE_FAILPOINTS` environment variable, with the same syntax:
 *
 *     SHIPSHAPE_FAILPOINTS='index.written=2'        crash at the 2nd hit of index.written
 *     SHIPSHAPE_FAILPOINTS='*=17:kill'               SIGKILL this process at the 17th hit of any point
 *     SHIPSHAPE_FAILPOINTS='backend.put.synced=1:exit,pack.written=3'
 *
 * Actions: `crash` (default) throws {@link SimulatedCrash}, which nothing in Shipshape catches
 * and converts; `kill` sends SIGKILL to this process (no cleanup, no finally blocks); `exit`
 * calls `process.exit(137)`.
 *
 * Enumeration: run the operation once armed with `*=0` (count only), read
 * {@link failpointTrace}, then re-run it once per hit number `*=1 … *=N`. Every hit is
 * recorded in order, so a crash test names exactly which step it stopped after.
 */

/** What happens when an armed failpoint fires. */
export type FailpointAction = 'crash' | 'kill' | 'exit';

/** Thrown by a failpoint with the `crash` action: the process "died" right after `point`. */
export class SimulatedCrash extends Error {
  override readonly name = 'SimulatedCrash';
  constructor(
    readonly point: string,
    readonly hit: number,
  ) {
    super(`simulated crash at failpoint ${point} (hit ${hit})`);
  }
}

/** True for a {@link SimulatedCrash}; code that swallows errors must rethrow these. */
export function isSimulatedCrash(error: unknown): error is SimulatedCrash {
  return error instanceof SimulatedCrash;
}

interface Rule {
  readonly point: string;
  readonly at: number;
  readonly action: FailpointAction;
}

interface State {
  readonly rules: readonly Rule[];
  readonly counts: Map<string, number>;
  total: number;
  readonly trace: string[];
  fired: boolean;
}

/** The environment variable a child process reads its failpoints from. */
export const FAILPOINTS_ENV = 'SHIPSHAPE_FAILPOINTS';

const ANY = '*';
const POINT_NAME = /^(\*|[a-z][a-z0-9-]*(\.[a-z0-9-]+)*)$/;
const MAX_TRACE = 100_000;

let state: State | undefined;
let loadedFromEnv = false;

/**
 * Parses a failpoint specification (`point=N[:action]`, comma separated). Throws a plain
 * `Error` naming the bad part: failpoints are a test facility, not user input.
 */
export function parseFailpoints(spec: string): Rule[] {
  const rules: Rule[] = [];
  for (const part of spec.split(',')) {
    const text = part.trim();
    if (text === '') continue;
    const match = /^([^=]+)=(\d+)(?::(crash|kill|exit))?$/.exec(text);
    const point = match?.[1]?.trim();
    if (match === null || point === undefined || !POINT_NAME.test(point)) {
      throw new Error(
        `${FAILPOINTS_ENV}: cannot parse "${text}"; expected point=N[:crash|kill|exit], e.g. index.written=2`,
      );
    }
    rules.push({
      point,
      at: Number(match[2]),
      action: (match[3] ?? 'crash') as FailpointAction,
    });
  }
  return rules;
}

/** Arms failpoints in this process (replacing any armed before) and resets the trace. */
export function armFailpoints(spec: string): void {
  loadedFromEnv = true;
  state = { rules: parseFailpoints(spec), counts: new Map(), total: 0, trace: [], fired: false };
}

/** Disarms every failpoint (the environment variable is not read again). */
export function disarmFailpoints(): void {
  loadedFromEnv = true;
  state = undefined;
}

/** The points hit since arming, in order (`*=0` arms counting without ever firing). */
export function failpointTrace(): readonly string[] {
  return state?.trace ?? [];
}

function armed(): State | undefined {
  if (!loadedFromEnv) {
    loadedFromEnv = true;
    const spec = process.env[FAILPOINTS_ENV];
    if (spec !== undefined && spec !== '') armFailpoints(spec);
  }
  return state;
}

/**
 * Marks that the step named `point` has just completed. Fires the first armed rule whose count
 * is reached (once per arming). Names are dotted lower-case: `<area>.<step>`, for example
 * `backend.put.synced`, `index.written`, `prune.pack.deleted`.
 */
export function failpoint(point: string): void {
  const current = loadedFromEnv ? state : armed();
  if (current === undefined || current.fired) return;
  const count = (current.counts.get(point) ?? 0) + 1;
  current.counts.set(point, count);
  current.total++;
  if (current.trace.length < MAX_TRACE) current.trace.push(point);
  for (const rule of current.rules) {
    const hit = rule.point === ANY ? current.total : rule.point === point ? count : 0;
    if (rule.at === 0 || hit !== rule.at) continue;
    current.fired = true;
    if (rule.action === 'kill') process.kill(process.pid, 'SIGKILL');
    if (rule.action === 'exit') process.exit(137);
    throw new SimulatedCrash(point, hit);
  }
}
