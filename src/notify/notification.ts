import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { redactDeep } from '../core/index.js';
import type { NotificationType } from '../spec/index.js';
import type { Notification } from './channel.js';

/** Version of the JSON body channels send; bumped only for an incompatible change. */
export const PAYLOAD_VERSION = 1;

/**
 * The JSON body of a webhook (docs/notifications.md). Receivers should accept types they do not
 * know yet: new ones are added without a version bump.
 */
export const NotificationPayloadSchema = z.strictObject({
  version: z.literal(PAYLOAD_VERSION),
  id: z.uuid(),
  type: z.string().min(1),
  subject: z.string(),
  summary: z.string(),
  occurredAt: z.iso.datetime(),
  details: z.record(z.string(), z.unknown()),
});

export type NotificationPayload = z.infer<typeof NotificationPayloadSchema>;

export interface NewNotification {
  type: NotificationType;
  subject: string;
  summary: string;
  details?: Record<string, unknown>;
  /** @default randomUUID() */
  id?: string;
  /** @default new Date() */
  occurredAt?: Date;
}

/**
 * A notification with a fresh id and timestamp.
 *
 * @example createNotification({ type: 'gate-failed', subject: 'orders', summary: 'backup failed' })
 */
export function createNotification(input: NewNotification): Notification {
  return {
    id: input.id ?? randomUUID(),
    type: input.type,
    subject: input.subject,
    summary: input.summary,
    occurredAt: (input.occurredAt ?? new Date()).toISOString(),
    details: input.details ?? {},
  };
}

/**
 * The exact bytes a channel sends: the notification as JSON, with every registered secret and
 * credential-shaped text redacted (details may quote an error that quoted a DSN).
 */
export function payloadOf(notification: Notification): string {
  const payload: NotificationPayload = {
    version: PAYLOAD_VERSION,
    id: notification.id,
    type: notification.type,
    subject: notification.subject,
    summary: notification.summary,
    occurredAt: notification.occurredAt,
    details: { ...notification.details },
  };
  return JSON.stringify(redactDeep(payload));
}
