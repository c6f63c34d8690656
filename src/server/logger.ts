import { pino, type DestinationStream, type Logger } from 'pino';
import { isShipError, redact, redactDeep } from '../core/index.js';

/** The server's structured logger (pino: one JSON object per line). */
export type ServerLogger = Logger;

export interface ServerLoggerOptions {
  /**
   * Where lines go. Tests pass an object collecting them.
   * @default standard error, written synchronously (no line is lost when the process exits)
   */
  destination?: DestinationStream;
  /** @default 'info' */
  level?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

/** How deep a cause chain is followed in a logged error. */
const MAX_CAUSES = 5;

/**
 * An Error as plain data: type, message, stack, the ShipError fields and the cause chain.
 * Done here (not by pino's serializer) so that the result passes through the redactor.
 */
export function serializeError(error: unknown, depth = 0): Record<string, unknown> {
  if (!(error instanceof Error)) return { message: String(error) };
  const out: Record<string, unknown> = {
    type: error.name,
    message: error.message,
    ...(error.stack === undefined ? {} : { stack: error.stack }),
  };
  if (isShipError(error)) {
    out.code = error.code;
    out.exitCode = error.exitCode;
    if (Object.keys(error.details).length > 0) out.details = error.details;
  }
  // AuthFailure carries why a token was refused; worth having in the log, never in the answer.
  for (const key of ['reason', 'tokenId', 'code'] as const) {
    const value = (error as unknown as Record<string, unknown>)[key];
    if (out[key] === undefined && (typeof value === 'string' || typeof value === 'number')) {
      out[key] = value;
    }
  }
  if (error.cause !== undefined && depth < MAX_CAUSES) {
    out.cause = serializeError(error.cause, depth + 1);
  }
  return out;
}

/**
 * The arguments of a log call, redacted. An Error (first, or as `err`) with no message would
 * make pino use the error's unredacted message as `msg`: give it the redacted one instead.
 */
function redactArgs(args: unknown[]): unknown[] {
  const [first, ...rest] = args;
  const tail = rest.map((arg) => (typeof arg === 'string' ? redact(arg) : arg));
  if (typeof first === 'string') return [redact(first), ...tail];
  const error = errorIn(first);
  const head = first instanceof Error ? { err: first } : first;
  const hasMessage = typeof tail[0] === 'string';
  return error === undefined || hasMessage
    ? [head, ...tail]
    : [head, redact(error.message), ...tail];
}

function errorIn(value: unknown): Error | undefined {
  if (value instanceof Error) return value;
  if (typeof value === 'object' && value !== null && 'err' in value && value.err instanceof Error) {
    return value.err;
  }
  return undefined;
}

function plain(value: unknown): unknown {
  return value instanceof Error ? serializeError(value) : value;
}

/**
 * Creates the server logger. Every line passes through the process-wide redactor: the logged
 * object (errors serialized first, so their messages and stacks are redacted too), the child
 * bindings, and the message with its format arguments. A secret resolved from the spec, a
 * password in a URL or a bearer token therefore never reaches the log, whatever path it took.
 *
 * @example
 * const lines: string[] = [];
 * const logger = createServerLogger({ destination: { write: (line) => lines.push(line) } });
 */
export function createServerLogger(options: ServerLoggerOptions = {}): ServerLogger {
  const destination = options.destination ?? pino.destination({ dest: 2, sync: true });
  const logger = pino(
    {
      level: options.level ?? 'info',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        bindings: (bindings) => redactDeep(bindings),
        log: (object) =>
          redactDeep(
            Object.fromEntries(Object.entries(object).map(([key, value]) => [key, plain(value)])),
          ),
      },
      // Errors are serialized (and redacted) by formatters.log already.
      serializers: { err: (value: unknown) => value },
      hooks: {
        logMethod(args, method) {
          method.apply(this, redactArgs(args) as Parameters<typeof method>);
        },
      },
    },
    destination,
  );
  // pino writes child bindings (and a message prefix) without formatters.bindings: redact them
  // on the way in. Children inherit this method, so grandchildren are covered too.
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called with each logger's own `this` below
  const child = logger.child;
  const redactingChild = function (
    this: ServerLogger,
    bindings: Record<string, unknown>,
    childOptions?: { msgPrefix?: string },
  ) {
    const safeOptions =
      childOptions?.msgPrefix === undefined
        ? childOptions
        : { ...childOptions, msgPrefix: redact(childOptions.msgPrefix) };
    return child.call(this, redactDeep(bindings), safeOptions);
  } as unknown as typeof logger.child;
  logger.child = redactingChild;
  return logger;
}
