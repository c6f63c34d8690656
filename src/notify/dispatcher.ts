import { randomUUID } from 'node:crypto';
import { didYouMean, redact, redactDeep, ShipError } from '../core/index.js';
import type { Store } from '../store/index.js';
import type { DeliveryResult, Notification, NotificationChannel } from './channel.js';
import { deliveryToRow, rowToDelivery, type Delivery } from './deliveries.js';

/** Where the notifier reports deliveries; pino's `logger.info(obj, msg)` fits. */
export interface NotifyLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

/** The default logger: says nothing (the deliveries table is the record). */
export const silentLogger: NotifyLogger = {
  info: () => undefined,
  warn: () => undefined,
};

export interface NotifyOptions {
  /** Only these channels, by name (their `events` filters still apply). @default all */
  channels?: readonly string[];
  /** Cancels deliveries in progress; they are recorded as failed. */
  signal?: AbortSignal;
}

/** What `notify` did: one delivery per channel that takes the notification's type. */
export interface NotifyReport {
  /** True when every delivery arrived (and when no channel took the notification). */
  ok: boolean;
  notification: Notification;
  deliveries: Delivery[];
}

export interface DeliveryQuery {
  /** @default 50, at most 1000 */
  limit?: number;
  notificationId?: string;
  channel?: string;
}

/**
 * What callers that send notifications depend on: a `Notifier`, or `noopNotifier` when there
 * is nowhere to send to, so that no caller needs an `if (notifier)`.
 */
export interface NotificationDispatcher {
  /** Channel names, in spec order. */
  readonly channelNames: readonly string[];
  notify(notification: Notification, options?: NotifyOptions): Promise<NotifyReport>;
  deliveries(query?: DeliveryQuery): Promise<Delivery[]>;
}

export interface NotifierOptions {
  store: Store;
  channels: readonly NotificationChannel[];
  /** @default silentLogger */
  logger?: NotifyLogger;
  /** For tests. @default () => new Date() */
  now?: () => Date;
}

const MAX_LIMIT = 1000;

/** Whether `channel` takes notifications of `type`. `test` goes everywhere: it tests the path. */
function accepts(channel: NotificationChannel, type: Notification['type']): boolean {
  return type === 'test' || channel.events === undefined || channel.events.includes(type);
}

/**
 * Sends notifications to every channel whose `events` filter takes them, concurrently, and
 * records each delivery in the `notification_deliveries` table. A failing channel never stops
 * the others, and `notify` does not throw for a failed delivery: it reports it.
 *
 * @example
 * const notifier = new Notifier({ store, channels: [new WebhookChannel({ … })] });
 * const report = await notifier.notify(createNotification({ type: 'test', subject: 'orders', summary: 'hello' }));
 */
export class Notifier implements NotificationDispatcher {
  readonly #store: Store;
  readonly #channels: readonly NotificationChannel[];
  readonly #logger: NotifyLogger;
  readonly #now: () => Date;

  constructor(options: NotifierOptions) {
    const names = options.channels.map((channel) => channel.name);
    const duplicate = names.find((name, index) => names.indexOf(name) !== index);
    if (duplicate !== undefined) throw new Error(`two notification channels named ${duplicate}`);
    this.#store = options.store;
    this.#channels = options.channels;
    this.#logger = options.logger ?? silentLogger;
    this.#now = options.now ?? (() => new Date());
  }

  get channelNames(): readonly string[] {
    return this.#channels.map((channel) => channel.name);
  }

  /**
   * Delivers `notification` and records every delivery.
   *
   * @throws ShipError `SHIP_NOTIFY_UNKNOWN_CHANNEL` (exit 2) when `options.channels` names a
   *   channel the spec does not define; a store error when a delivery cannot be recorded.
   */
  async notify(notification: Notification, options: NotifyOptions = {}): Promise<NotifyReport> {
    const chosen = this.#select(options.channels).filter((channel) =>
      accepts(channel, notification.type),
    );
    const settled = await Promise.allSettled(
      chosen.map((channel) => this.#deliver(channel, notification, options.signal)),
    );
    const deliveries: Delivery[] = [];
    for (const result of settled) {
      // Every delivery ran to the end first; only then is a recording failure reported.
      if (result.status === 'rejected') throw result.reason;
      deliveries.push(result.value);
    }
    return {
      ok: deliveries.every((delivery) => delivery.status === 'delivered'),
      notification,
      deliveries,
    };
  }

  /** Recorded deliveries, newest first. */
  async deliveries(query: DeliveryQuery = {}): Promise<Delivery[]> {
    const limit = Math.min(Math.max(1, query.limit ?? 50), MAX_LIMIT);
    let select = this.#store.db.selectFrom('notification_deliveries').selectAll();
    if (query.notificationId !== undefined) {
      select = select.where('notification_id', '=', query.notificationId);
    }
    if (query.channel !== undefined) select = select.where('channel', '=', query.channel);
    const rows = await select
      .orderBy('created_at', 'desc')
      .orderBy('finished_at', 'desc')
      .limit(limit)
      .execute();
    return rows.map(rowToDelivery);
  }

  #select(names: readonly string[] | undefined): readonly NotificationChannel[] {
    if (names === undefined) return this.#channels;
    const known = this.channelNames;
    return names.map((name) => {
      const channel = this.#channels.find((c) => c.name === name);
      if (channel !== undefined) return channel;
      const suggestion = didYouMean(name, known);
      throw ShipError.usage(
        'SHIP_NOTIFY_UNKNOWN_CHANNEL',
        `no notification channel named ${name}` +
          (known.length === 0 ? ': the spec defines none' : `; defined: ${known.join(', ')}`),
        {
          hint:
            suggestion === undefined
              ? 'channels are defined under `notifications.channels` in the spec (docs/notifications.md)'
              : `did you mean ${suggestion}?`,
          details: { channel: name, channels: [...known] },
        },
      );
    });
  }

  async #deliver(
    channel: NotificationChannel,
    notification: Notification,
    signal: AbortSignal | undefined,
  ): Promise<Delivery> {
    const createdAt = this.#now().toISOString();
    const result: DeliveryResult = await channel.send(notification, signal);
    // Redacted again here: a channel of a later kind may forget, and this is what is kept.
    const delivery: Delivery = redactDeep({
      id: randomUUID(),
      notificationId: notification.id,
      channel: channel.name,
      type: notification.type,
      subject: redact(notification.subject),
      status: result.status,
      attempts: result.attempts,
      ...(result.status === 'failed' ? { error: result.error } : {}),
      createdAt,
      finishedAt: this.#now().toISOString(),
    });
    await this.#store.db
      .insertInto('notification_deliveries')
      .values(deliveryToRow(delivery))
      .execute();
    const last = delivery.attempts.at(-1);
    const fields = {
      notificationId: delivery.notificationId,
      type: delivery.type,
      channel: delivery.channel,
      status: delivery.status,
      attempts: delivery.attempts.length,
      ...(last?.httpStatus === undefined ? {} : { httpStatus: last.httpStatus }),
      ...(delivery.error === undefined ? {} : { error: delivery.error }),
    };
    if (delivery.status === 'delivered') this.#logger.info(fields, 'notification delivered');
    else this.#logger.warn(fields, 'notification delivery failed');
    return delivery;
  }
}

/** A dispatcher with no channels: sends nothing, records nothing, always ok. */
export class NoopNotifier implements NotificationDispatcher {
  readonly channelNames: readonly string[] = [];

  notify(notification: Notification): Promise<NotifyReport> {
    return Promise.resolve({ ok: true, notification, deliveries: [] });
  }

  deliveries(): Promise<Delivery[]> {
    return Promise.resolve([]);
  }
}

/** The shared no-op dispatcher, the default for callers given none. */
export const noopNotifier: NotificationDispatcher = new NoopNotifier();
