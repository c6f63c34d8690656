/**
 * The webhook channel against a real HTTP receiver that verifies every signature. Waits between
 * attempts go through an injected sleep that records them: nothing here waits for a backoff.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createNotification,
  USER_AGENT,
  WebhookChannel,
  WebhookHeader,
  type Notification,
  type WebhookChannelOptions,
} from '../../src/notify/index.js';
import { replayHeaders, startReceiver, type Receiver } from './receiver.js';

const SECRET = 'whsec_test_2b1f0c9e8d7a6b5c4d3e2f1a';

let receiver: Receiver;
let clock: number;
let sleeps: number[];

beforeEach(async () => {
  receiver = await startReceiver({ secret: SECRET });
  clock = Date.now();
  sleeps = [];
});

afterEach(async () => {
  await receiver.close();
});

function channel(overrides: Partial<WebhookChannelOptions> = {}): WebhookChannel {
  return new WebhookChannel({
    name: 'ops',
    url: `${receiver.origin}/hooks/shipshape`,
    secret: SECRET,
    // A clock that moves 7s per reading shows each attempt gets a fresh timestamp.
    now: () => (clock += 7000),
    random: () => 0.5,
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
    ...overrides,
  });
}

function notification(): Notification {
  return createNotification({
    type: 'gate-failed',
    subject: 'orders',
    summary: 'backup of orders failed',
    details: { gate: 'backup', datastore: 'orders' },
  });
}

describe('webhook channel', () => {
  it('delivers on the first try a body the receiver verifies and parses', async () => {
    const n = notification();
    const result = await channel().send(n);

    expect(result.status).toBe('delivered');
    expect(result.attempts).toHaveLength(1);
    expect(result.attempts[0]).toMatchObject({ httpStatus: 200 });
    expect(sleeps).toEqual([]);
    const [request] = receiver.requests;
    expect(request?.verification.ok).toBe(true);
    expect(request?.method).toBe('POST');
    expect(request?.path).toBe('/hooks/shipshape');
    expect(request?.headers['content-type']).toBe('application/json');
    expect(request?.headers['user-agent']).toBe(USER_AGENT);
    expect(USER_AGENT).toMatch(/^shipshape\/\d+\.\d+\.\d+/);
    expect(request?.headers[WebhookHeader.id.toLowerCase()]).toBe(n.id);
    expect(request?.payload).toEqual({ version: 1, ...n });
  });

  it('retries 500, 500 then delivers, waiting the computed full-jitter backoff', async () => {
    receiver.reply({ status: 500 }, { status: 500 }, { status: 200 });
    const n = notification();
    const result = await channel().send(n);

    expect(result.status).toBe('delivered');
    expect(result.attempts.map((a) => a.httpStatus)).toEqual([500, 500, 200]);
    expect(result.attempts[0]?.error).toContain('HTTP 500');
    // random() = 0.5 of min(60s, 1s·2^(retry-1)).
    expect(sleeps).toEqual([500, 1000]);
    // Same id and body each time, a fresh timestamp and signature each time.
    const requests = receiver.requests;
    expect(requests.every((r) => r.verification.ok)).toBe(true);
    expect(new Set(requests.map((r) => r.headers['shipshape-webhook-id']))).toEqual(
      new Set([n.id]),
    );
    expect(new Set(requests.map((r) => r.body)).size).toBe(1);
    expect(new Set(requests.map((r) => r.headers['shipshape-webhook-timestamp'])).size).toBe(3);
    expect(new Set(requests.map((r) => r.headers['shipshape-webhook-signature'])).size).toBe(3);
  });

  it('gives up after `retries` retries and reports the last failure', async () => {
    receiver.reply({ status: 503 }, { status: 502 }, { status: 500 }, { status: 504 });
    const result = await channel({ retries: 2 }).send(notification());

    expect(result.status).toBe('failed');
    expect(result.attempts.map((a) => a.httpStatus)).toEqual([503, 502, 500]);
    expect(sleeps).toEqual([500, 1000]);
    if (result.status !== 'failed') throw new Error('unreachable');
    expect(result.error).toMatchObject({ code: 'SHIP_NOTIFY_HTTP_STATUS' });
    expect(result.error.message).toContain('HTTP 500');
  });

  it('honours Retry-After on a 429 instead of its own backoff', async () => {
    receiver.reply({ status: 429, headers: { 'retry-after': '3' } }, { status: 200 });
    const result = await channel().send(notification());

    expect(result.status).toBe('delivered');
    expect(result.attempts.map((a) => a.httpStatus)).toEqual([429, 200]);
    expect(sleeps).toEqual([3000]);
  });

  it('stops when Retry-After asks for longer than the 60s cap', async () => {
    receiver.reply({ status: 429, headers: { 'retry-after': '3600' } });
    const result = await channel().send(notification());

    expect(result).toMatchObject({
      status: 'failed',
      error: { code: 'SHIP_NOTIFY_RETRY_AFTER_TOO_LONG' },
    });
    expect(result.attempts).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it.each([400, 404, 410, 422])('fails on %i at once, without retrying', async (status) => {
    receiver.reply({ status, body: 'no such hook' });
    const result = await channel().send(notification());

    expect(result.status).toBe('failed');
    expect(result.attempts).toHaveLength(1);
    expect(result.attempts[0]?.error).toContain(`HTTP ${status}`);
    expect(result.attempts[0]?.error).toContain('no such hook');
    expect(sleeps).toEqual([]);
  });

  it('retries 408', async () => {
    receiver.reply({ status: 408 }, { status: 200 });
    const result = await channel().send(notification());
    expect(result.attempts.map((a) => a.httpStatus)).toEqual([408, 200]);
  });

  it('does not follow a redirect with the signed body', async () => {
    receiver.reply({ status: 302, headers: { location: 'https://elsewhere.example/x' } });
    const result = await channel().send(notification());

    expect(result).toMatchObject({ status: 'failed' });
    expect(result.attempts).toHaveLength(1);
    expect(result.attempts[0]?.error).toContain('redirects are not followed');
  });

  it('retries an attempt that timed out (the timeout fires once the receiver holds it)', async () => {
    receiver.reply({ hang: true }, { status: 200 });
    const timeouts: AbortController[] = [];
    const sending = channel({
      timeoutSignal: () => {
        const controller = new AbortController();
        timeouts.push(controller);
        return controller.signal;
      },
    }).send(notification());
    await receiver.received(1);
    timeouts[0]?.abort(new DOMException('timed out', 'TimeoutError'));
    const result = await sending;

    expect(result.status).toBe('delivered');
    expect(result.attempts).toHaveLength(2);
    expect(result.attempts[0]).toMatchObject({ error: 'no answer within 10s' });
    expect(result.attempts[0]?.httpStatus).toBeUndefined();
    expect(sleeps).toEqual([500]);
  });

  it('times out with the real timer too', async () => {
    receiver.reply({ hang: true });
    const result = await channel({ timeoutMs: 200, retries: 0 }).send(notification());
    expect(result).toMatchObject({ status: 'failed', error: { code: 'SHIP_NOTIFY_TIMEOUT' } });
  });

  it('retries network errors', async () => {
    const closed = await startReceiver({ secret: SECRET });
    const origin = closed.origin;
    await closed.close();
    const result = await channel({ url: `${origin}/hook`, retries: 1 }).send(notification());

    expect(result).toMatchObject({ status: 'failed', error: { code: 'SHIP_NOTIFY_NETWORK' } });
    expect(result.attempts).toHaveLength(2);
    expect(result.attempts[0]?.error).toContain('ECONNREFUSED');
    expect(sleeps).toEqual([500]);
  });

  it('stops when the caller aborts, between attempts', async () => {
    receiver.reply({ status: 500 }, { status: 200 });
    const controller = new AbortController();
    const result = await channel({
      sleep: (_ms, signal) => {
        controller.abort();
        return Promise.reject(signal?.reason as Error);
      },
    }).send(notification(), controller.signal);

    expect(result).toMatchObject({ status: 'failed', error: { code: 'SHIP_NOTIFY_ABORTED' } });
    expect(result.attempts).toHaveLength(1);
  });

  it('fails a URL that resolves to plain http off this machine, sending nothing', async () => {
    const result = await channel({ url: () => 'http://hooks.example.com/x' }).send(notification());
    expect(result).toMatchObject({ status: 'failed', error: { code: 'SHIP_NOTIFY_BAD_URL' } });
    expect(result.attempts).toEqual([]);
  });

  it('redacts secrets from the payload and from errors', async () => {
    receiver.reply({ status: 400, body: `bad request for key ${SECRET}` });
    const n = createNotification({
      type: 'gate-failed',
      subject: 'orders',
      summary: 'restore failed',
      details: { error: `pg_restore: connect postgres://app:hunter22@db/orders with ${SECRET}` },
    });
    const result = await channel().send(n);

    const sent = receiver.requests[0]?.body ?? '';
    expect(sent).not.toContain(SECRET);
    expect(sent).not.toContain('hunter22');
    expect(sent).toContain('[REDACTED]');
    expect(JSON.stringify(result)).not.toContain(SECRET);
    expect(JSON.stringify(result)).toContain('[REDACTED]');
  });
});

describe('receiver-side verification of what was sent', () => {
  async function genuine() {
    await channel().send(notification());
    const request = receiver.requests[0];
    if (!request) throw new Error('nothing received');
    return request;
  }

  it('rejects a tampered body', async () => {
    const request = await genuine();
    const tampered = request.body.replace('backup of orders failed', 'all good');
    expect(await receiver.post('/hook', replayHeaders(request), tampered)).toBe(401);
    expect(receiver.requests[1]?.verification).toMatchObject({ reason: 'signature-mismatch' });
  });

  it('rejects a request signed with the wrong secret, and the sender does not retry it', async () => {
    const result = await channel({ secret: 'whsec_wrong' }).send(notification());
    expect(result.status).toBe('failed');
    expect(result.attempts).toEqual([expect.objectContaining({ httpStatus: 401 }) as unknown]);
    expect(result.attempts[0]?.error).toContain('signature-mismatch');
    expect(receiver.requests[0]?.verification).toMatchObject({ reason: 'signature-mismatch' });
  });

  it('rejects a stale timestamp (the sender clock 10 minutes behind)', async () => {
    const result = await channel({ now: () => Date.now() - 600_000 }).send(notification());
    expect(result.status).toBe('failed');
    expect(receiver.requests[0]?.verification).toMatchObject({
      reason: 'timestamp-outside-window',
    });
  });

  it('drops a replay inside the window by id, and rejects one outside it', async () => {
    let receiverClock = Date.now();
    const strict = await startReceiver({ secret: SECRET, now: () => receiverClock });
    try {
      await channel({ url: `${strict.origin}/hook`, now: () => receiverClock }).send(
        notification(),
      );
      const original = strict.requests[0];
      if (!original) throw new Error('nothing received');
      expect(original.duplicate).toBe(false);

      receiverClock += 60_000;
      expect(await strict.post('/hook', replayHeaders(original), original.body)).toBe(200);
      expect(strict.requests[1]).toMatchObject({ duplicate: true });

      receiverClock += 300_000;
      expect(await strict.post('/hook', replayHeaders(original), original.body)).toBe(401);
      expect(strict.requests[2]?.verification).toMatchObject({
        reason: 'timestamp-outside-window',
      });
    } finally {
      await strict.close();
    }
  });
});
