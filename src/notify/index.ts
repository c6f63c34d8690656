export type {
  ChannelContext,
  ChannelFactories,
  ChannelFactory,
  DeliveryAttempt,
  DeliveryError,
  DeliveryResult,
  DeliveryStatus,
  Notification,
  NotificationChannel,
} from './channel.js';
export { backoffDelay, DEFAULT_BACKOFF, parseRetryAfter, type BackoffPolicy } from './backoff.js';
export type { Delivery } from './deliveries.js';
export {
  NoopNotifier,
  noopNotifier,
  Notifier,
  silentLogger,
  type DeliveryQuery,
  type NotificationDispatcher,
  type NotifierOptions,
  type NotifyLogger,
  type NotifyOptions,
  type NotifyReport,
} from './dispatcher.js';
export { channelsFromSpec, notifierFromSpec, type NotifierFromSpecOptions } from './from-spec.js';
export { channelKinds } from './kinds.js';
export {
  createNotification,
  NotificationPayloadSchema,
  PAYLOAD_VERSION,
  payloadOf,
  type NewNotification,
  type NotificationPayload,
} from './notification.js';
export {
  DEFAULT_TOLERANCE_SECONDS,
  SIGNATURE_SCHEME,
  signWebhook,
  verifyWebhookSignature,
  WebhookHeader,
  WebhookVerifyFailure,
  type VerifyWebhookOptions,
  type WebhookHeaders,
  type WebhookVerification,
  type WebhookVerifyFailureValue,
} from './signature.js';
export { USER_AGENT } from '../core/index.js';
export {
  webhook,
  WebhookChannel,
  WebhookErrorCode,
  type WebhookChannelOptions,
} from './webhook.js';
