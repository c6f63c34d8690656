import { z } from 'zod';
import type { NotificationDeliveryRow } from '../store/index.js';
import type { DeliveryAttempt, DeliveryError, DeliveryStatus } from './channel.js';

/** A recorded delivery: one notification handed to one channel, with every attempt. */
export interface Delivery {
  id: string;
  notificationId: string;
  channel: string;
  /** Notification type as recorded (a newer version may have recorded a type this one lacks). */
  type: string;
  subject: string;
  status: DeliveryStatus;
  attempts: DeliveryAttempt[];
  /** Why it failed; absent when delivered. */
  error?: DeliveryError;
  /** ISO-8601 UTC, when delivery started. */
  createdAt: string;
  /** ISO-8601 UTC. */
  finishedAt: string;
}

const AttemptSchema = z.object({
  at: z.string(),
  httpStatus: z.number().int().optional(),
  error: z.string().optional(),
  durationMs: z.number(),
});

const ErrorSchema = z.object({
  code: z.string(),
  message: z.string(),
  hint: z.string().optional(),
});

const RowSchema = z.object({
  status: z.enum(['delivered', 'failed']),
  attempts: z.array(AttemptSchema),
  error: ErrorSchema.nullable(),
});

function parseJson(text: string | null): unknown {
  return text === null ? null : JSON.parse(text);
}

/** The row a delivery is stored as. */
export function deliveryToRow(delivery: Delivery): NotificationDeliveryRow {
  return {
    id: delivery.id,
    notification_id: delivery.notificationId,
    channel: delivery.channel,
    type: delivery.type,
    subject: delivery.subject,
    status: delivery.status,
    attempts: JSON.stringify(delivery.attempts),
    error: delivery.error === undefined ? null : JSON.stringify(delivery.error),
    created_at: delivery.createdAt,
    finished_at: delivery.finishedAt,
  };
}

/** A stored row back as a delivery; its JSON columns are checked, not trusted. */
export function rowToDelivery(row: NotificationDeliveryRow): Delivery {
  const parsed = RowSchema.parse({
    status: row.status,
    attempts: parseJson(row.attempts),
    error: parseJson(row.error),
  });
  return {
    id: row.id,
    notificationId: row.notification_id,
    channel: row.channel,
    type: row.type,
    subject: row.subject,
    status: parsed.status,
    attempts: parsed.attempts.map((a): DeliveryAttempt => ({
      at: a.at,
      ...(a.httpStatus === undefined ? {} : { httpStatus: a.httpStatus }),
      ...(a.error === undefined ? {} : { error: a.error }),
      durationMs: a.durationMs,
    })),
    ...(parsed.error === null
      ? {}
      : {
          error: {
            code: parsed.error.code,
            message: parsed.error.message,
            ...(parsed.error.hint === undefined ? {} : { hint: parsed.error.hint }),
          },
        }),
    createdAt: row.created_at,
    finishedAt: row.finished_at,
  };
}
