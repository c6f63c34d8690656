import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Webhook signatures (docs/notifications.md), in the style of Stripe and Standard Webhooks:
 *
 *   Shipshape-Webhook-Id:        <notification id>
 *   Shipshape-Webhook-Timestamp: <unix seconds>
 *   Shipshape-Webhook-Signature: v1=<hex HMAC-SHA-256(secret, "<timestamp>.<raw body>")>
 *
 * The timestamp is inside the signed bytes, so a captured request cannot be replayed once it
 * falls out of the receiver's window; within the window the id lets receivers drop repeats.
 */
export const WebhookHeader = {
  id: 'Shipshape-Webhook-Id',
  timestamp: 'Shipshape-Webhook-Timestamp',
  signature: 'Shipshape-Webhook-Signature',
} as const;

/** The signature scheme this version writes and reads. */
export const SIGNATURE_SCHEME = 'v1';

/** How far a timestamp may be from the receiver's clock, either way. @default 300 (5 minutes) */
export const DEFAULT_TOLERANCE_SECONDS = 300;

const HEX_SHA256 = /^[0-9a-f]{64}$/i;
const ENTRY = /^v(\d+)=(\S+)$/;
const TIMESTAMP = /^\d{1,15}$/;

function secretsOf(secret: string | readonly string[]): readonly string[] {
  const list = typeof secret === 'string' ? [secret] : secret;
  if (list.length === 0 || list.some((s) => s === '')) {
    throw new TypeError('a webhook secret must be a non-empty string');
  }
  return list;
}

function mac(secret: string, timestamp: number | string, body: string | Uint8Array): Buffer {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest();
}

/**
 * The `Shipshape-Webhook-Signature` value for `body` sent at `timestamp` (unix seconds): one
 * `v1=<hex>` per secret, space-separated (give two secrets while rotating).
 *
 * @example signWebhook('whsec_x', 1700000000, '{"id":"…"}') // 'v1=5f0c…'
 */
export function signWebhook(
  secret: string | readonly string[],
  timestamp: number,
  body: string | Uint8Array,
): string {
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new TypeError(`a webhook timestamp is whole unix seconds, got ${timestamp}`);
  }
  return secretsOf(secret)
    .map((s) => `${SIGNATURE_SCHEME}=${mac(s, timestamp, body).toString('hex')}`)
    .join(' ');
}

/** Why a request failed verification. Stable: receivers may log and count them. */
export const WebhookVerifyFailure = {
  missingHeader: 'missing-header',
  malformedHeader: 'malformed-header',
  outsideWindow: 'timestamp-outside-window',
  signatureMismatch: 'signature-mismatch',
} as const;

export type WebhookVerifyFailureValue =
  (typeof WebhookVerifyFailure)[keyof typeof WebhookVerifyFailure];

export type WebhookVerification =
  | { ok: true; id: string | undefined; timestamp: number }
  | { ok: false; reason: WebhookVerifyFailureValue; message: string };

/** Request headers as Node (`req.headers`) or fetch (`Headers`) give them. */
export type WebhookHeaders =
  | { get(name: string): string | null }
  | Readonly<Record<string, string | readonly string[] | undefined>>;

export interface VerifyWebhookOptions {
  /** The channel's secret; several while rotating (any may match). */
  secret: string | readonly string[];
  headers: WebhookHeaders;
  /** The raw body exactly as received: re-serialised JSON would not match. */
  body: string | Uint8Array;
  /** @default 300 */
  toleranceSeconds?: number;
  /** The receiver's clock. @default new Date() */
  now?: Date | number;
}

function header(headers: WebhookHeaders, name: string): string[] {
  if (typeof headers.get === 'function') {
    const value = (headers as { get(name: string): string | null }).get(name);
    return value === null || value.trim() === '' ? [] : [value];
  }
  const wanted = name.toLowerCase();
  const out: string[] = [];
  for (const [key, value] of Object.entries(headers as Record<string, unknown>)) {
    if (key.toLowerCase() !== wanted || value === undefined) continue;
    if (typeof value === 'string') out.push(value);
    else if (Array.isArray(value)) out.push(...value.filter((v) => typeof v === 'string'));
  }
  // An empty header is as good as none.
  return out.filter((value) => value.trim() !== '');
}

function fail(reason: WebhookVerifyFailureValue, message: string): WebhookVerification {
  return { ok: false, reason, message };
}

/**
 * Verifies a Shipshape webhook request: the timestamp is within `toleranceSeconds` of `now`
 * and one of the `v1=` signatures is the HMAC of `<timestamp>.<body>` under one of the secrets.
 * Compares in constant time. Never throws for a bad request; returns why it is bad.
 *
 * @example
 * const check = verifyWebhookSignature({ secret: process.env.SHIPSHAPE_WEBHOOK_SECRET!, headers: req.headers, body: raw });
 * if (!check.ok) return res.writeHead(400).end(check.reason);
 */
export function verifyWebhookSignature(options: VerifyWebhookOptions): WebhookVerification {
  const secrets = secretsOf(options.secret);
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const timestamps = header(options.headers, WebhookHeader.timestamp);
  const signatures = header(options.headers, WebhookHeader.signature);
  const ids = header(options.headers, WebhookHeader.id);
  if (timestamps.length === 0) {
    return fail('missing-header', `no ${WebhookHeader.timestamp} header`);
  }
  if (signatures.length === 0) {
    return fail('missing-header', `no ${WebhookHeader.signature} header`);
  }
  const timestampText = timestamps.length === 1 ? (timestamps[0] ?? '').trim() : '';
  if (!TIMESTAMP.test(timestampText)) {
    return fail('malformed-header', `${WebhookHeader.timestamp} is not one unix time in seconds`);
  }
  if (ids.length > 1) return fail('malformed-header', `more than one ${WebhookHeader.id} header`);

  const candidates: Buffer[] = [];
  for (const entry of signatures
    .join(' ')
    .split(/[\s,]+/)
    .filter(Boolean)) {
    const match = ENTRY.exec(entry);
    if (!match) {
      return fail('malformed-header', `${WebhookHeader.signature} has an entry that is not v<N>=…`);
    }
    // Other versions are skipped: a sender may add a newer scheme beside v1 during an upgrade.
    if (`v${match[1] ?? ''}` !== SIGNATURE_SCHEME) continue;
    const hex = match[2] ?? '';
    if (!HEX_SHA256.test(hex)) {
      return fail('malformed-header', `a v1 signature is not 64 hex digits`);
    }
    candidates.push(Buffer.from(hex, 'hex'));
  }
  if (candidates.length === 0) {
    return fail('malformed-header', `${WebhookHeader.signature} has no v1= signature`);
  }

  const timestamp = Number(timestampText);
  const nowMs = options.now === undefined ? Date.now() : Number(options.now);
  const skew = Math.floor(nowMs / 1000) - timestamp;
  if (Math.abs(skew) > tolerance) {
    return fail(
      'timestamp-outside-window',
      `the timestamp is ${Math.abs(skew)}s ${skew > 0 ? 'old' : 'in the future'}; at most ${tolerance}s is accepted`,
    );
  }
  for (const secret of secrets) {
    const expected = mac(secret, timestampText, options.body);
    if (candidates.some((candidate) => timingSafeEqual(candidate, expected))) {
      return { ok: true, id: ids[0], timestamp };
    }
  }
  return fail('signature-mismatch', 'no signature matches the body and a known secret');
}
