import { setTimeout as delay } from 'node:timers/promises';
import { isShipError, redact, registerSecret, ShipError } from '../core/index.js';
import { resolveSecretString, webhookUrlProblem, type NotificationType } from '../spec/index.js';
import { backoffDelay, DEFAULT_BACKOFF, parseRetryAfter, type BackoffPolicy } from './backoff.js';
import type {
  ChannelFactory,
  DeliveryAttempt,
  DeliveryError,
  DeliveryResult,
  Notification,
  NotificationChannel,
} from './channel.js';
import { payloadOf } from './notification.js';
import { signWebhook, WebhookHeader } from './signature.js';
import { USER_AGENT } from '../core/index.js';

/** Codes of the ways a webhook delivery fails. */
export const WebhookErrorCode = {
  /** The receiver answered with a status that is not 2xx (the last one, after any retries). */
  httpStatus: 'SHIP_NOTIFY_HTTP_STATUS',
  /** No answer within `timeout`. */
  timeout: 'SHIP_NOTIFY_TIMEOUT',
  /** Connection refused or reset, DNS failure, TLS error… */
  network: 'SHIP_NOTIFY_NETWORK',
  /** The receiver asked (`Retry-After`) for a longer wait than the backoff cap. */
  retryAfterTooLong: 'SHIP_NOTIFY_RETRY_AFTER_TOO_LONG',
  /** The caller cancelled the delivery. */
  aborted: 'SHIP_NOTIFY_ABORTED',
  /** The URL (after resolving its references) is not https, or http to a non-loopback host. */
  badUrl: 'SHIP_NOTIFY_BAD_URL',
  /** The secret resolved to an empty string. */
  emptySecret: 'SHIP_NOTIFY_EMPTY_SECRET',
} as const;

export interface WebhookChannelOptions {
  name: string;
  /** Target URL, or a function resolving it at send time (when it embeds secret references). */
  url: string | (() => string);
  /** Signing secret, or a function resolving it at send time (so an unset one fails only then). */
  secret: string | (() => string);
  /** Per attempt. @default 10000 */
  timeoutMs?: number;
  /** Retries after a retryable failure; attempts are at most `retries + 1`. @default 5 */
  retries?: number;
  /** Notification types to deliver; undefined means all. */
  events?: readonly NotificationType[];
  /** @default { baseMs: 1000, capMs: 60000 } */
  backoff?: BackoffPolicy;
  /** @default `shipshape/<version>` */
  userAgent?: string;
  /** For tests. @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Waits between attempts; rejects when `signal` aborts. For tests. @default timers/promises setTimeout */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Wall clock in ms: signature timestamps and attempt times. For tests. @default Date.now */
  now?: () => number;
  /** Jitter source in [0, 1). For tests. @default Math.random */
  random?: () => number;
  /** A signal that aborts after `ms`, ending one attempt. For tests. @default AbortSignal.timeout */
  timeoutSignal?: (ms: number) => AbortSignal;
}

/** Statuses worth retrying: the receiver is overloaded, restarting or timed out itself. */
function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** Bytes of a failed response kept in the attempt's error: enough for "invalid signature". */
const SNIPPET_BYTES = 200;

async function responseSnippet(response: Response): Promise<string> {
  if (response.body === null) return '';
  const reader: ReadableStreamDefaultReader<Uint8Array> = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < SNIPPET_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    // Stop reading a large body; the connection is not reused for it.
    await reader.cancel().catch(() => undefined);
  }
  const text = Buffer.concat(chunks).subarray(0, SNIPPET_BYTES).toString('utf8');
  // Control characters and line breaks would garble a one-line message or a terminal.
  return text.replace(/\p{Cc}+/gu, ' ').trim();
}

function describeNetworkError(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return code === undefined || cause.message.includes(code)
      ? cause.message
      : `${code}: ${cause.message}`;
  }
  return String(cause);
}

type AttemptOutcome =
  | { kind: 'delivered'; attempt: DeliveryAttempt }
  | { kind: 'aborted'; attempt: DeliveryAttempt }
  | {
      kind: 'failed';
      attempt: DeliveryAttempt;
      error: DeliveryError;
      retryable: boolean;
      retryAfterMs?: number;
    };

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/**
 * A JSON webhook: POSTs each notification, signed with HMAC-SHA-256 over `<timestamp>.<body>`
 * (see `signature.ts`), retrying network errors, timeouts, 408, 429 and 5xx with exponential
 * backoff and full jitter, honouring `Retry-After`. Every attempt is signed afresh with a new
 * timestamp; the body and the webhook id stay the same, so receivers can deduplicate.
 */
export class WebhookChannel implements NotificationChannel {
  readonly name: string;
  readonly kind = 'webhook';
  readonly events: readonly NotificationType[] | undefined;
  readonly #url: () => string;
  readonly #secret: () => string;
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #backoff: BackoffPolicy;
  readonly #userAgent: string;
  readonly #fetch: typeof fetch;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #timeoutSignal: (ms: number) => AbortSignal;

  constructor(options: WebhookChannelOptions) {
    const { url, secret } = options;
    this.name = options.name;
    this.events = options.events;
    this.#url = typeof url === 'string' ? () => url : url;
    this.#secret = typeof secret === 'string' ? () => secret : secret;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#retries = options.retries ?? 5;
    this.#backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.#userAgent = options.userAgent ?? USER_AGENT;
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#sleep = options.sleep ?? ((ms, signal) => delay(ms, undefined, { signal }));
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
    this.#timeoutSignal = options.timeoutSignal ?? ((ms) => AbortSignal.timeout(ms));
  }

  /** Delivers `notification`, retrying as configured. Never throws for a delivery problem. */
  async send(notification: Notification, signal?: AbortSignal): Promise<DeliveryResult> {
    const attempts: DeliveryAttempt[] = [];
    const failed = (error: DeliveryError): DeliveryResult => ({
      status: 'failed',
      attempts,
      error: {
        code: error.code,
        message: redact(error.message),
        ...(error.hint === undefined ? {} : { hint: redact(error.hint) }),
      },
    });
    let target: { url: string; secret: string };
    try {
      target = this.#resolve();
    } catch (error) {
      if (!isShipError(error)) throw error;
      return failed({
        code: error.code,
        message: error.message,
        ...(error.hint === undefined ? {} : { hint: error.hint }),
      });
    }
    const body = payloadOf(notification);
    for (let attempt = 1; ; attempt += 1) {
      if (signal?.aborted) return failed(this.#abortedError());
      const outcome = await this.#attempt(target, notification.id, body, signal);
      attempts.push(outcome.attempt);
      if (outcome.kind === 'delivered') return { status: 'delivered', attempts };
      if (outcome.kind === 'aborted') return failed(this.#abortedError());
      if (!outcome.retryable || attempt > this.#retries) return failed(outcome.error);
      let wait = backoffDelay(attempt, this.#backoff, this.#random);
      if (outcome.retryAfterMs !== undefined) {
        if (outcome.retryAfterMs > this.#backoff.capMs) {
          return failed({
            code: WebhookErrorCode.retryAfterTooLong,
            message: `${outcome.error.message}; the receiver asked to retry after ${seconds(outcome.retryAfterMs)}, longer than the ${seconds(this.#backoff.capMs)} cap`,
          });
        }
        wait = outcome.retryAfterMs;
      }
      try {
        await this.#sleep(wait, signal);
      } catch (error) {
        if (signal?.aborted) return failed(this.#abortedError());
        throw error;
      }
    }
  }

  #abortedError(): DeliveryError {
    return { code: WebhookErrorCode.aborted, message: 'the delivery was cancelled' };
  }

  #resolve(): { url: string; secret: string } {
    const url = this.#url();
    const problem = webhookUrlProblem(url);
    if (problem !== undefined) {
      throw ShipError.usage(
        WebhookErrorCode.badUrl,
        `channel ${this.name}: the URL is not usable: ${problem.message}`,
        problem.hint === undefined ? {} : { hint: problem.hint },
      );
    }
    const secret = this.#secret();
    if (secret === '') {
      throw ShipError.usage(
        WebhookErrorCode.emptySecret,
        `channel ${this.name}: the signing secret is empty`,
        { hint: 'put the secret in the variable or file `secret` references' },
      );
    }
    // Registered even when given directly (not from the spec): it must never be printed.
    registerSecret(secret);
    return { url, secret };
  }

  async #attempt(
    target: { url: string; secret: string },
    id: string,
    body: string,
    signal: AbortSignal | undefined,
  ): Promise<AttemptOutcome> {
    const startedAt = this.#now();
    const timestamp = Math.floor(startedAt / 1000);
    const timeout = this.#timeoutSignal(this.#timeoutMs);
    const started = performance.now();
    const attempt = (extra: Partial<DeliveryAttempt>): DeliveryAttempt => ({
      at: new Date(startedAt).toISOString(),
      ...extra,
      durationMs: Math.max(0, Math.round(performance.now() - started)),
    });
    try {
      const response = await this.#fetch(target.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': this.#userAgent,
          [WebhookHeader.id]: id,
          [WebhookHeader.timestamp]: String(timestamp),
          [WebhookHeader.signature]: signWebhook(target.secret, timestamp, body),
        },
        body,
        // A redirect is answered, not followed: following it would send the signed body to an
        // address nobody configured.
        redirect: 'manual',
        signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]),
      });
      const status = response.status;
      if (status >= 200 && status < 300) {
        await response.body?.cancel().catch(() => undefined);
        return { kind: 'delivered', attempt: attempt({ httpStatus: status }) };
      }
      const snippet = await responseSnippet(response);
      const reason = status >= 300 && status < 400 ? ' (redirects are not followed)' : '';
      const message = redact(
        `HTTP ${status}${response.statusText ? ` ${response.statusText}` : ''}${reason}${snippet ? `: ${snippet}` : ''}`,
      );
      const retryAfterMs = isRetryableStatus(status)
        ? parseRetryAfter(response.headers.get('retry-after'), this.#now())
        : undefined;
      return {
        kind: 'failed',
        attempt: attempt({ httpStatus: status, error: message }),
        error: { code: WebhookErrorCode.httpStatus, message },
        retryable: isRetryableStatus(status),
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      };
    } catch (error) {
      if (signal?.aborted) return { kind: 'aborted', attempt: attempt({ error: 'cancelled' }) };
      const timedOut = timeout.aborted;
      const message = redact(
        timedOut
          ? `no answer within ${seconds(this.#timeoutMs)}`
          : `request failed: ${describeNetworkError(error)}`,
      );
      return {
        kind: 'failed',
        attempt: attempt({ error: message }),
        error: {
          code: timedOut ? WebhookErrorCode.timeout : WebhookErrorCode.network,
          message,
        },
        retryable: true,
      };
    }
  }
}

/**
 * Builds a webhook channel from its spec settings. The URL's and the secret's references are
 * resolved at each send, so an unset variable fails the delivery (naming the variable), not
 * the loading of the spec.
 */
export const webhook: ChannelFactory = (name, config, context) => {
  const resolve = (value: string, key: string) =>
    resolveSecretString(value, {
      baseDir: context.baseDir,
      env: context.env,
      field: `notifications.channels.${name}.${key}`,
    });
  return new WebhookChannel({
    name,
    url: () => resolve(config.url, 'url'),
    secret: () => resolve(config.secret, 'secret'),
    timeoutMs: config.timeout,
    retries: config.retries,
    ...(config.events === undefined ? {} : { events: config.events }),
  });
};
