import type { Command } from 'commander';
import { ExitCode, ShipError } from '../../core/index.js';
import { createNotification, type Delivery, type NotifyReport } from '../../notify/index.js';
import {
  examples,
  positiveInt,
  withCommonOptions,
  withSpecOption,
  withWorkspace,
  type Cli,
} from '../cli.js';
import { out, outJson } from '../io.js';
import { renderTable } from '../table.js';

interface TestOptions {
  json: boolean;
  spec?: string;
}

interface DeliveriesOptions {
  json: boolean;
  spec?: string;
  limit: string;
  channel?: string;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function lastStatus(delivery: Delivery): string {
  const status = delivery.attempts.at(-1)?.httpStatus;
  return status === undefined ? '-' : String(status);
}

function printDeliveries(cli: Cli, deliveries: readonly Delivery[]): void {
  out(
    cli.io,
    renderTable(deliveries, [
      { header: 'CHANNEL', value: (d) => d.channel, max: 24 },
      { header: 'STATUS', value: (d) => (d.status === 'delivered' ? '✓ delivered' : '✗ failed') },
      { header: 'ATTEMPTS', value: (d) => d.attempts.length, align: 'right' },
      { header: 'HTTP', value: lastStatus, align: 'right' },
      { header: 'ERROR', value: (d) => d.error?.code ?? '' },
    ]),
  );
  for (const d of deliveries) {
    if (d.error === undefined) continue;
    out(cli.io, `  ${d.channel}: ${d.error.message}`);
    if (d.error.hint !== undefined) out(cli.io, `    fix: ${d.error.hint}`);
  }
}

function printReport(cli: Cli, report: NotifyReport): void {
  const delivered = report.deliveries.filter((d) => d.status === 'delivered').length;
  printDeliveries(cli, report.deliveries);
  out(cli.io);
  out(
    cli.io,
    `${report.ok ? '✓' : '✗'} test notification ${report.notification.id}: ` +
      `${delivered} of ${plural(report.deliveries.length, 'channel')} delivered`,
  );
}

export function registerNotifyCommands(program: Command, cli: Cli): void {
  const notify = program
    .command('notify')
    .description('send and inspect notifications (signed webhooks; see docs/notifications.md)');

  withSpecOption(withCommonOptions(notify.command('test')))
    .description('send a `test` notification to one channel, or to all, and show each delivery')
    .argument('[channel]', 'a channel under `notifications.channels` (default: all)')
    .addHelpText(
      'after',
      examples('shipshape notify test', 'shipshape notify test ops --json') +
        '\n\nExit codes: 0 every delivery arrived · 3 at least one failed (each is listed)',
    )
    .action(async (channel: string | undefined, options: TestOptions) => {
      await withWorkspace(cli, options.spec, async (ws) => {
        const notifier = await ws.notifier();
        if (notifier.channelNames.length === 0) {
          throw ShipError.usage(
            'SHIP_NOTIFY_NO_CHANNELS',
            'the spec defines no notification channels',
            { hint: 'add one under `notifications.channels` (see docs/notifications.md)' },
          );
        }
        const service = ws.spec.service.name;
        const actor = ws.actor.person ?? ws.actor.osUser ?? ws.actor.kind;
        const report = await notifier.notify(
          createNotification({
            type: 'test',
            subject: service,
            summary: `Test notification for ${service}, sent by ${actor} with \`shipshape notify test\``,
            details: { service, sentBy: actor },
          }),
          channel === undefined ? {} : { channels: [channel] },
        );
        cli.exitCode = report.ok ? ExitCode.ok : ExitCode.runtime;
        if (options.json) outJson(cli.io, report);
        else printReport(cli, report);
      });
    });

  withSpecOption(withCommonOptions(notify.command('deliveries')))
    .description('list recorded deliveries, newest first')
    .option('-n, --limit <n>', 'how many deliveries', '20')
    .option('--channel <name>', 'only deliveries to this channel')
    .addHelpText(
      'after',
      examples('shipshape notify deliveries', 'shipshape notify deliveries --channel ops --json'),
    )
    .action(async (options: DeliveriesOptions) => {
      const limit = positiveInt(options.limit, '--limit');
      await withWorkspace(cli, options.spec, async (ws) => {
        const deliveries = await (
          await ws.notifier()
        ).deliveries({
          limit,
          ...(options.channel === undefined ? {} : { channel: options.channel }),
        });
        if (options.json) {
          outJson(cli.io, { deliveries });
          return;
        }
        if (deliveries.length === 0) {
          out(cli.io, 'no deliveries yet');
          return;
        }
        out(
          cli.io,
          renderTable(deliveries, [
            { header: 'CREATED', value: (d) => d.createdAt },
            { header: 'CHANNEL', value: (d) => d.channel, max: 24 },
            { header: 'TYPE', value: (d) => d.type },
            { header: 'STATUS', value: (d) => d.status },
            { header: 'ATTEMPTS', value: (d) => d.attempts.length, align: 'right' },
            { header: 'HTTP', value: lastStatus, align: 'right' },
            { header: 'SUBJECT', value: (d) => d.subject, max: 24 },
            { header: 'ERROR', value: (d) => d.error?.message ?? '', max: 60 },
          ]),
        );
      });
    });
}
