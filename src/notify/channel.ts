import type { ChannelConfig, ChannelKind, NotificationType } from '../spec/index.js';

/** Something that happened that people should hear about. */
export interface Notification {
  /** UUID. Receivers deduplicate on it: every attempt of every channel carries the same id. */
  readonly id: string;
  readonly type: NotificationType;
  /** What it is about: a service, data store, release… */
  readonly subject: string;
  /** One line a person reads first. */
  readonly summary: string;
  /** ISO-8601 UTC. */
  readonly occurredAt: string;
  /** Type-specific JSON data. */
  readonly details: Readonly<Record<string, unknown>>;
}

/** One try to hand a notification to a channel. */
export interface DeliveryAttempt {
  /** ISO-8601 UTC, when the attempt started. */
  at: string;
  /** The receiver's HTTP status, when it answered. */
  httpStatus?: number;
  /** Why the attempt failed (redacted), absent when it succeeded. */
  error?: string;
  durationMs: number;
}

/** Why a delivery failed as a whole. */
export interface DeliveryError {
  /** Stable code, e.g. `SHIP_NOTIFY_HTTP_STATUS`, `SHIP_NOTIFY_TIMEOUT`, `SHIP_SECRET_UNSET`. */
  code: string;
  /** Redacted. */
  message: string;
  /** How to fix it, when the failure is a setting (an unset secret, a bad URL). */
  hint?: string;
}

/** The outcome of handing one notification to one channel, retries included. */
export type DeliveryResult =
  | { status: 'delivered'; attempts: DeliveryAttempt[] }
  | { status: 'failed'; attempts: DeliveryAttempt[]; error: DeliveryError };

export type DeliveryStatus = DeliveryResult['status'];

/**
 * A way to reach people: a webhook today; Slack and email later, one file each. `send` never
 * throws for a delivery problem (unreachable receiver, unset secret): it returns a failed
 * result, so that one broken channel cannot stop the others.
 */
export interface NotificationChannel {
  readonly name: string;
  readonly kind: string;
  /** Notification types this channel wants; undefined means all. `test` always passes. */
  readonly events?: readonly NotificationType[] | undefined;
  send(notification: Notification, signal?: AbortSignal): Promise<DeliveryResult>;
}

/** What every channel factory gets besides its own settings. */
export interface ChannelContext {
  /** Directory `${file:…}` references resolve against: the spec's directory. */
  baseDir: string;
  /** Environment `${env:…}` references resolve against. */
  env: NodeJS.ProcessEnv;
}

/** Builds a channel of kind `K` from its spec settings. Secrets are resolved at send time. */
export type ChannelFactory<K extends ChannelKind = ChannelKind> = (
  name: string,
  config: Extract<ChannelConfig, { kind: K }>,
  context: ChannelContext,
) => NotificationChannel;

/** A factory for every channel kind the spec accepts. */
export type ChannelFactories = { readonly [K in ChannelKind]: ChannelFactory<K> };
