/**
 * The notifier against a real store, run once per backend (SQLite file, real PostgreSQL): fan-out,
 * event filters, recorded deliveries, and that no secret reaches the table's bytes.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  channelsFromSpec,
  createNotification,
  Notifier,
  WebhookChannel,
  type NotificationChannel,
  type NotifyLogger,
  type WebhookChannelOptions,
} from '../../src/notify/index.js';
import { parseSpec, type NotificationType } from '../../src/spec/index.js';
import { openStore, type Store, type StoreLocation } from '../../src/store/index.js';
import { startReceiver, type Receiver } from './receiver.js';

export interface DeliveriesBackend {
  name: string;
  create(): Promise<{
    location: StoreLocation;
    /** Every byte the store holds for `notification_deliveries`, as text to search. */
    rawText: (store: Store) => Promise<string>;
    cleanup: () => Promise<void>;
  }>;
}

const SECRET = 'whsec_deliveries_5e4d3c2b1a09f8e7';
const DB_PASSWORD = 'pw-7c1e3a9b';

export function deliveriesSuite(backend: DeliveriesBackend): void {
  describe(`notification deliveries on ${backend.name}`, () => {
    let store: Store;
    let rawText: (store: Store) => Promise<string>;
    let cleanup: () => Promise<void>;
    let ops: Receiver;
    let audit: Receiver;
    let logs: { level: string; fields: Record<string, unknown>; message: string }[];
    const logger: NotifyLogger = {
      info: (fields, message) => logs.push({ level: 'info', fields, message }),
      warn: (fields, message) => logs.push({ level: 'warn', fields, message }),
    };

    beforeAll(async () => {
      const created = await backend.create();
      ({ rawText, cleanup } = created);
      store = await openStore(created.location);
      await store.migrate();
    });

    afterAll(async () => {
      await store.close();
      await cleanup();
    });

    beforeEach(async () => {
      ops = await startReceiver({ secret: SECRET });
      audit = await startReceiver({ secret: SECRET });
      logs = [];
    });

    afterEach(async () => {
      await ops.close();
      await audit.close();
    });

    function webhook(
      name: string,
      receiver: Receiver,
      extra: Partial<WebhookChannelOptions> = {},
    ): NotificationChannel {
      return new WebhookChannel({
        name,
        url: `${receiver.origin}/${name}`,
        secret: SECRET,
        sleep: () => Promise.resolve(),
        random: () => 0,
        ...extra,
      });
    }

    function notifier(channels: NotificationChannel[]): Notifier {
      return new Notifier({ store, channels, logger });
    }

    const gateFailed = (type: NotificationType = 'gate-failed') =>
      createNotification({ type, subject: 'orders', summary: 'backup failed', details: {} });

    it('fans out concurrently to the channels whose filter takes the type, recording each', async () => {
      // ops answers only once audit has been reached: sequential delivery would never finish.
      ops.reply({ status: 200, after: audit.received(1) });
      audit.reply({ status: 503 }, { status: 200 });
      const approvals = await startReceiver({ secret: SECRET });
      try {
        const n = gateFailed();
        const report = await notifier([
          webhook('ops', ops, { events: ['gate-failed'] }),
          webhook('audit', audit),
          webhook('approvals', approvals, { events: ['approval-requested'] }),
        ]).notify(n);

        expect(report.ok).toBe(true);
        expect(report.deliveries.map((d) => [d.channel, d.status, d.attempts.length])).toEqual([
          ['ops', 'delivered', 1],
          ['audit', 'delivered', 2],
        ]);
        expect(approvals.requests).toEqual([]);

        const recorded = await notifier([]).deliveries({ notificationId: n.id });
        expect(recorded).toHaveLength(2);
        const auditRow = recorded.find((d) => d.channel === 'audit');
        expect(auditRow).toMatchObject({
          notificationId: n.id,
          type: 'gate-failed',
          subject: 'orders',
          status: 'delivered',
        });
        expect(auditRow?.attempts.map((a) => a.httpStatus)).toEqual([503, 200]);
        expect(auditRow?.attempts[0]?.error).toContain('HTTP 503');
        expect(auditRow?.error).toBeUndefined();
        expect(Date.parse(auditRow?.finishedAt ?? '')).toBeGreaterThanOrEqual(
          Date.parse(auditRow?.createdAt ?? ''),
        );
        expect(logs.map((l) => [l.level, l.fields.channel])).toEqual(
          expect.arrayContaining([
            ['info', 'ops'],
            ['info', 'audit'],
          ]),
        );
      } finally {
        await approvals.close();
      }
    });

    it('sends `test` past every filter, and records a failure with its error', async () => {
      ops.reply({ status: 400, body: 'unknown hook' });
      const n = gateFailed('test');
      const report = await notifier([
        webhook('ops', ops, { events: ['approval-requested'] }),
      ]).notify(n);

      expect(report.ok).toBe(false);
      const [row] = await notifier([]).deliveries({ notificationId: n.id });
      expect(row).toMatchObject({
        channel: 'ops',
        status: 'failed',
        error: { code: 'SHIP_NOTIFY_HTTP_STATUS' },
      });
      expect(row?.error?.message).toContain('unknown hook');
      expect(logs).toEqual([expect.objectContaining({ level: 'warn' }) as unknown]);
    });

    it('reads deliveries newest first, by channel, with a limit', async () => {
      const channels = [webhook('ops', ops), webhook('audit', audit)];
      const first = gateFailed();
      const second = gateFailed();
      await notifier(channels).notify(first);
      await notifier(channels).notify(second);

      const newest = await notifier([]).deliveries({ limit: 2 });
      expect(newest.map((d) => d.notificationId)).toEqual([second.id, second.id]);
      const opsOnly = await notifier([]).deliveries({ channel: 'ops', limit: 1000 });
      expect(opsOnly.every((d) => d.channel === 'ops')).toBe(true);
      expect(opsOnly.map((d) => d.notificationId).slice(0, 2)).toEqual([second.id, first.id]);
    });

    it('names an unknown channel with a suggestion', async () => {
      await expect(
        notifier([webhook('ops', ops)]).notify(gateFailed(), { channels: ['opps'] }),
      ).rejects.toMatchObject({
        code: 'SHIP_NOTIFY_UNKNOWN_CHANNEL',
        exitCode: 2,
        hint: 'did you mean ops?',
      });
    });

    it('records an unset secret as a failed delivery naming the variable, sending nothing', async () => {
      const { spec } = parseSpec(
        [
          'version: 1',
          'service: { name: shop }',
          'notifications:',
          '  channels:',
          '    ops:',
          '      kind: webhook',
          `      url: ${ops.origin}/ops`,
          '      secret: ${env:SHOP_OPS_WEBHOOK_SECRET}',
        ].join('\n'),
        'shipshape.yaml',
      );
      const channels = channelsFromSpec(spec, { baseDir: '/nonexistent', env: {} });
      const n = gateFailed();
      const report = await notifier(channels).notify(n);

      expect(report.deliveries[0]).toMatchObject({
        status: 'failed',
        attempts: [],
        error: { code: 'SHIP_SECRET_UNSET' },
      });
      expect(report.deliveries[0]?.error?.message).toContain('SHOP_OPS_WEBHOOK_SECRET');
      expect(report.deliveries[0]?.error?.message).toContain('notifications.channels.ops.secret');
      expect(ops.requests).toEqual([]);
      const [row] = await notifier([]).deliveries({ notificationId: n.id });
      expect(row?.error?.code).toBe('SHIP_SECRET_UNSET');
    });

    it('keeps every secret out of the table bytes and the logs', async () => {
      // The receiver echoes the secret back and the notification quotes a DSN with a password.
      ops.reply({ status: 400, body: `rejected: secret ${SECRET}` });
      audit.reply({ status: 500, body: `upstream ${SECRET}` }, { status: 200 });
      const n = createNotification({
        type: 'gate-failed',
        subject: `orders ${SECRET}`,
        summary: 'restore failed',
        details: { error: `connect postgres://app:${DB_PASSWORD}@db/orders failed (${SECRET})` },
      });
      await notifier([webhook('ops', ops), webhook('audit', audit)]).notify(n);

      expect(ops.requests[0]?.body).not.toContain(SECRET);
      expect(ops.requests[0]?.body).not.toContain(DB_PASSWORD);
      const text = await rawText(store);
      expect(text).toContain(n.id);
      expect(text).toContain('[REDACTED]');
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain(DB_PASSWORD);
      expect(JSON.stringify(logs)).not.toContain(SECRET);
    });
  });
}
