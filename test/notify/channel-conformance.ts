/**
 * What every notification channel kind must do, run by each kind against its real target
 * (`webhook-conformance.test.ts`; Slack and email add theirs). A kind that cannot validate a
 * case against a real target lists it in `skip` with the reason.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  channelKinds,
  createNotification,
  type NotificationChannel,
} from '../../src/notify/index.js';
import type { ChannelKind } from '../../src/spec/index.js';

export interface ChannelHarness {
  /** A channel whose target accepts every notification. */
  working(): NotificationChannel;
  /** A channel whose target refuses every notification for good (no retry can help). */
  refusing(): NotificationChannel;
  /** Ids of the notifications the target accepted, in order. */
  accepted(): string[];
  /** Secret values the channels hold: never in a result. */
  secrets: readonly string[];
  close(): Promise<void>;
}

export function describeChannelConformance(
  kind: ChannelKind,
  setup: () => Promise<ChannelHarness>,
): void {
  describe(`notification channel conformance: ${kind}`, () => {
    let harness: ChannelHarness;
    beforeEach(async () => {
      harness = await setup();
    });
    afterEach(async () => {
      await harness.close();
    });

    const sample = () =>
      createNotification({
        type: 'test',
        subject: 'orders',
        summary: 'conformance check',
        details: { n: 1 },
      });

    it('is registered under its kind', () => {
      expect(Object.keys(channelKinds)).toContain(kind);
      expect(harness.working().kind).toBe(kind);
    });

    it('delivers: the target gets the notification once, the result lists the attempt', async () => {
      const n = sample();
      const result = await harness.working().send(n);
      expect(result.status).toBe('delivered');
      expect(result.attempts.length).toBeGreaterThanOrEqual(1);
      for (const attempt of result.attempts) {
        expect(new Date(attempt.at).toISOString()).toBe(attempt.at);
        expect(attempt.durationMs).toBeGreaterThanOrEqual(0);
      }
      expect(harness.accepted()).toEqual([n.id]);
    });

    it('reports a refused delivery as a failed result with a code, without throwing', async () => {
      const result = await harness.refusing().send(sample());
      expect(result.status).toBe('failed');
      if (result.status !== 'failed') return;
      expect(result.error.code).toMatch(/^SHIP_[A-Z_]+$/);
      expect(result.error.message).not.toBe('');
      expect(harness.accepted()).toEqual([]);
    });

    it('sends nothing when the caller has already cancelled', async () => {
      const controller = new AbortController();
      controller.abort();
      const result = await harness.working().send(sample(), controller.signal);
      expect(result).toMatchObject({ status: 'failed', error: { code: 'SHIP_NOTIFY_ABORTED' } });
      expect(harness.accepted()).toEqual([]);
    });

    it('never puts a secret in a result', async () => {
      const results = [
        await harness.working().send(sample()),
        await harness.refusing().send(sample()),
      ];
      const text = JSON.stringify(results);
      for (const secret of harness.secrets) expect(text).not.toContain(secret);
    });
  });
}
