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
  return pino(
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
      hooks: {
        logMethod(args, method) {
          // An Error first would make pino use its (unredacted) message as `msg`: wrap it so
          // it goes through formatters.log like any other object.
          const redacted = args.map((arg, index) =>
            typeof arg === 'string'
              ? redact(arg)
              : index === 0 && arg instanceof Error
                ? { err: arg }
                : arg,
          ) as Parameters<typeof method>;
          method.apply(this, redacted);
        },
      },
    },
    destination,
  );
}
