import { describe, expect, it } from 'vitest';
import { signWebhook, verifyWebhookSignature, WebhookHeader } from './signature.js';

// Computed independently with:
//   printf '%s' '1700000000.{"hello":"world"}' | openssl dgst -sha256 -hmac "$SECRET" -hex
// (the same vector is in docs/notifications.md).
const SECRET = 'whsec_5WbX5kEWLlfzsGNjH64I8lOOqUB6e8FH';
const TIMESTAMP = 1_700_000_000;
const BODY = '{"hello":"world"}';
const EXPECTED = '410090cf529be23360f6a4dd91fc314912ac7e121130a1e5d8062b46e2410de6';
const NOW = new Date(TIMESTAMP * 1000 + 30_000);

function headers(signature: string, timestamp: string | number = TIMESTAMP) {
  return {
    [WebhookHeader.id.toLowerCase()]: '6f7d0c1e-3c55-4a4e-9a2b-2f4f1f0b9d11',
    [WebhookHeader.timestamp.toLowerCase()]: String(timestamp),
    [WebhookHeader.signature.toLowerCase()]: signature,
  };
}

describe('signWebhook', () => {
  it('is HMAC-SHA-256 over "<timestamp>.<body>", hex, as openssl computes it', () => {
    expect(signWebhook(SECRET, TIMESTAMP, BODY)).toBe(`v1=${EXPECTED}`);
    expect(signWebhook(SECRET, TIMESTAMP, Buffer.from(BODY))).toBe(`v1=${EXPECTED}`);
  });

  it('writes one v1= per secret while rotating', () => {
    const both = signWebhook(['old-secret', SECRET], TIMESTAMP, BODY);
    expect(both.split(' ')).toHaveLength(2);
    expect(both.endsWith(`v1=${EXPECTED}`)).toBe(true);
  });

  it('refuses an empty secret and a timestamp that is not whole seconds', () => {
    expect(() => signWebhook('', TIMESTAMP, BODY)).toThrow(TypeError);
    expect(() => signWebhook(SECRET, 1.5, BODY)).toThrow(TypeError);
  });
});

describe('verifyWebhookSignature', () => {
  const good = headers(`v1=${EXPECTED}`);
  const verify = (over: Partial<Parameters<typeof verifyWebhookSignature>[0]> = {}) =>
    verifyWebhookSignature({ secret: SECRET, headers: good, body: BODY, now: NOW, ...over });

  it('accepts a genuine request and returns its id and timestamp', () => {
    expect(verify()).toEqual({
      ok: true,
      id: '6f7d0c1e-3c55-4a4e-9a2b-2f4f1f0b9d11',
      timestamp: TIMESTAMP,
    });
  });

  it('reads fetch Headers and header names in any case', () => {
    const fetchHeaders = new Headers({
      'SHIPSHAPE-WEBHOOK-TIMESTAMP': String(TIMESTAMP),
      'shipshape-webhook-signature': `v1=${EXPECTED}`,
    });
    expect(verify({ headers: fetchHeaders }).ok).toBe(true);
    expect(
      verify({
        headers: {
          'Shipshape-Webhook-Timestamp': String(TIMESTAMP),
          'Shipshape-Webhook-Signature': `v1=${EXPECTED}`,
        },
      }).ok,
    ).toBe(true);
  });

  it('rejects a tampered body', () => {
    expect(verify({ body: '{"hello":"world!"}' })).toMatchObject({
      ok: false,
      reason: 'signature-mismatch',
    });
  });

  it('rejects the wrong secret', () => {
    expect(verify({ secret: 'whsec_other' })).toMatchObject({
      ok: false,
      reason: 'signature-mismatch',
    });
  });

  it('rejects a timestamp changed after signing (it is inside the signed bytes)', () => {
    const moved = headers(`v1=${EXPECTED}`, TIMESTAMP + 10);
    expect(verify({ headers: moved })).toMatchObject({ reason: 'signature-mismatch' });
  });

  it('rejects stale and future timestamps outside the window, at its edge exactly accepts', () => {
    const at = (seconds: number) => new Date((TIMESTAMP + seconds) * 1000);
    expect(verify({ now: at(300) }).ok).toBe(true);
    expect(verify({ now: at(-300) }).ok).toBe(true);
    expect(verify({ now: at(301) })).toMatchObject({
      ok: false,
      reason: 'timestamp-outside-window',
      message: expect.stringContaining('301s old') as unknown,
    });
    expect(verify({ now: at(-301) })).toMatchObject({
      reason: 'timestamp-outside-window',
      message: expect.stringContaining('in the future') as unknown,
    });
    expect(verify({ now: at(3600), toleranceSeconds: 7200 }).ok).toBe(true);
  });

  it('accepts any of several v1 signatures and any of several secrets (rotation)', () => {
    const several = headers(`v1=${'0'.repeat(64)}, v1=${EXPECTED}`);
    expect(verify({ headers: several }).ok).toBe(true);
    expect(verify({ secret: ['whsec_new', SECRET] }).ok).toBe(true);
    const bothSigned = headers(signWebhook(['whsec_new', SECRET], TIMESTAMP, BODY));
    expect(verify({ headers: bothSigned, secret: 'whsec_new' }).ok).toBe(true);
  });

  it('skips signatures of other versions', () => {
    expect(verify({ headers: headers(`v2=abc v1=${EXPECTED}`) }).ok).toBe(true);
    expect(verify({ headers: headers('v2=abc') })).toMatchObject({
      reason: 'malformed-header',
    });
  });

  it.each([
    ['no timestamp', { 'shipshape-webhook-signature': `v1=${EXPECTED}` }, 'missing-header'],
    ['no signature', { 'shipshape-webhook-timestamp': String(TIMESTAMP) }, 'missing-header'],
    ['a non-numeric timestamp', headers(`v1=${EXPECTED}`, '17e8'), 'malformed-header'],
    ['a negative timestamp', headers(`v1=${EXPECTED}`, '-1'), 'malformed-header'],
    [
      'two timestamps',
      { ...headers(`v1=${EXPECTED}`), 'shipshape-webhook-timestamp': ['1', '2'] },
      'malformed-header',
    ],
    ['a bare hex signature', headers(EXPECTED), 'malformed-header'],
    ['a short signature', headers(`v1=${EXPECTED.slice(2)}`), 'malformed-header'],
    ['a non-hex signature', headers(`v1=${'z'.repeat(64)}`), 'malformed-header'],
    ['an empty signature', headers(''), 'missing-header'],
  ] as const)('rejects %s', (_name, hdrs, reason) => {
    const result = verifyWebhookSignature({ secret: SECRET, headers: hdrs, body: BODY, now: NOW });
    expect(result).toMatchObject({ ok: false, reason });
  });
});
