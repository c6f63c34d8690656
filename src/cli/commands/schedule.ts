import type { Command } from 'commander';

import { ShipError, formatDuration, parseDuration, redact } from '../../core/index.js';
import {
  Scheduler,
  specJobs,
  type AttemptResult,
  type CatchUp,
  type RunReport,
  type ScheduleEvent,
} from '../../schedule/index.js';
import { examples, withCommonOptions, withSpecOption, withWorkspace, type Cli } from '../cli.js';
import { err, out, outJson } from '../io.js';

interface RunOptions {
  json: boolean;
  spec?: string;
  env?: string;
  once: boolean;
  dryRun: boolean;
  catchUp: string;
  pruneEvery: string;
  retries: string;
  retryBackoff: string;
  lease: string;
}

function durationFlag(value: string, flag: string, minMs: number): number {
  const ms = parseDuration(value);
  if (ms < minMs) {
    throw ShipError.usage(
      'SHIP_CLI_BAD_FLAG',
      `${flag} must be at least ${formatDuration(minMs)}, got ${value}`,
      { hint: `pass e.g. ${flag} ${formatDuration(minMs * 10)}` },
    );
  }
  return ms;
}

function catchUpFlag(value: string): CatchUp {
  if (value === 'once' || value === 'skip') return value;
  throw ShipError.usage('SHIP_CLI_BAD_FLAG', `--catch-up must be once or skip, got "${value}"`, {
    hint: '`--catch-up once` (the default) runs a missed run once at start; `skip` never does',
  });
}

function retriesFlag(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 10) {
    throw ShipError.usage('SHIP_CLI_BAD_FLAG', `--retries must be 0 to 10, got "${value}"`, {
      hint: 'pass e.g. --retries 2 (three attempts in all)',
    });
  }
  return n;
}

function attemptJson(result: AttemptResult) {
  return result.ok
    ? { ok: true, summary: result.summary, ...(result.details ?? {}) }
    : { ok: false, error: result.error.toJSON(), ...(result.details ?? {}) };
}

function reportJson(report: RunReport) {
  const { last, ...rest } = report;
  return { ...rest, result: attemptJson(last) };
}

function eventJson(event: ScheduleEvent) {
  return event.type === 'attempt' ? { ...event, result: attemptJson(event.result) } : event;
}

function describeEvent(event: ScheduleEvent): { text: string; error: boolean } | undefined {
  const what = `${event.job}${'environment' in event && event.environment !== '' ? ` (${event.environment})` : ''}`;
  switch (event.type) {
    case 'attempt':
      return event.result.ok
        ? { text: `✓ ${what} due ${event.dueAt}: ${event.result.summary}`, error: false }
        : {
            text:
              `✗ ${what} due ${event.dueAt}, attempt ${event.attempt}: ` +
              `error ${event.result.error.code}: ${event.result.error.message}`,
            error: true,
          };
    case 'retry':
      return {
        text: `  retrying ${what} (attempt ${event.attempt}) in ${formatDuration(event.inMs)}`,
        error: true,
      };
    case 'skipped':
      return { text: `- ${what} due ${event.dueAt}: ${event.reason}`, error: false };
    case 'lease-lost':
      return {
        text: `! ${event.job} due ${event.dueAt}: the lease was taken over while running`,
        error: true,
      };
    case 'finished':
      return undefined;
  }
}

export function registerScheduleCommands(program: Command, cli: Cli): void {
  const schedule = program
    .command('schedule')
    .description("run backups on the data stores' schedules, with retention and prune");

  withSpecOption(withCommonOptions(schedule.command('run')))
    .argument('[datastores...]', 'data stores to schedule (default: every one with a schedule)')
    .description(
      "run each data store's backup when its `schedule.cron` falls due, then apply its retention",
    )
    .option(
      '-e, --env <environment>',
      'which connection to back up (needed when a store has several)',
    )
    .option('--once', 'run what is due now (and missed runs, see --catch-up), then exit', false)
    .option('--dry-run', 'print what would run now and next, run nothing', false)
    .option('--catch-up <mode>', 'a run missed while no scheduler ran: once|skip', 'once')
    .option('--prune-every <duration>', 'how often each repository is pruned', '24h')
    .option('--retries <n>', 'retries of a failed run, with backoff', '2')
    .option('--retry-backoff <duration>', 'wait before the first retry, doubled each time', '1m')
    .option(
      '--lease <duration>',
      'lease length; renewed every third of it while a run lasts',
      '10m',
    )
    .addHelpText(
      'after',
      examples(
        'shipshape schedule run --env production              # run until stopped (SIGINT/SIGTERM)',
        'shipshape schedule run --env production --once --json',
        'shipshape schedule run --dry-run',
        'SHIPSHAPE_DATABASE_URL=postgres://… shipshape schedule run   # several schedulers, one store',
      ) +
        '\n\nEach run is a `backup run` of one data store (a `backup` gate result in the ledger), then' +
        "\n`repo forget` with the store's retention policy; each repository is pruned every --prune-every." +
        '\nSchedulers sharing the state store take a lease per due run, so none runs twice (docs/scheduler.md).' +
        '\nExit codes: 0 ok · with --once, the exit code of the first failed run · 2 spec/usage error.',
    )
    .action(async (names: string[], options: RunOptions) => {
      const catchUp = catchUpFlag(options.catchUp);
      const pruneEveryMs = durationFlag(options.pruneEvery, '--prune-every', 60_000);
      const leaseMs = durationFlag(options.lease, '--lease', 30_000);
      const retryBackoffMs = durationFlag(options.retryBackoff, '--retry-backoff', 1_000);
      const maxAttempts = retriesFlag(options.retries) + 1;
      await withWorkspace(cli, options.spec, async (workspace) => {
        const jobs = specJobs({
          spec: workspace.spec,
          baseDir: workspace.dir,
          env: cli.io.env,
          pruneEveryMs,
          evidence: () => workspace.evidence(),
          onNote: (note) => {
            err(cli.io, redact(`note: ${note}`));
          },
          ...(options.env === undefined ? {} : { environment: options.env }),
          ...(names.length > 0 ? { datastores: names } : {}),
        });
        const streaming = options.json && !options.once && !options.dryRun;
        const scheduler = new Scheduler({
          store: await workspace.store(),
          jobs,
          catchUp,
          leaseMs,
          maxAttempts,
          retryBackoffMs,
          onEvent: (event) => {
            if (streaming) {
              cli.io.stdout.write(`${JSON.stringify(eventJson(event))}\n`);
              return;
            }
            if (options.json || options.dryRun) return;
            const line = describeEvent(event);
            if (line !== undefined) (line.error ? err : out)(cli.io, redact(line.text));
          },
        });
        if (options.dryRun) {
          const plan = await scheduler.plan();
          const rows = plan.map(({ job, dueAt, next }) => ({
            job: job.id,
            kind: job.kind,
            environment: job.environment,
            timing: job.timing.describe,
            dueNow: dueAt?.toISOString() ?? null,
            next: next?.toISOString() ?? null,
          }));
          if (options.json) {
            outJson(cli.io, { ok: true, dryRun: true, catchUp, jobs: rows });
            return;
          }
          if (rows.length === 0) out(cli.io, 'no data store has a schedule');
          for (const r of rows) {
            out(
              cli.io,
              `${r.job}${r.environment === '' ? '' : ` (${r.environment})`}: ${r.timing}; ` +
                (r.dueNow === null ? 'nothing due now' : `would run now (due ${r.dueNow})`) +
                `; next ${r.next ?? 'never'}`,
            );
          }
          return;
        }
        if (jobs.length === 0) {
          if (options.json) outJson(cli.io, { ok: true, runs: [] });
          else out(cli.io, 'no data store has a schedule: nothing to run');
          return;
        }
        if (options.once) {
          const reports = await scheduler.tick();
          const failed = reports.find((r) => !r.ok);
          if (failed !== undefined && !failed.last.ok) cli.exitCode = failed.last.error.exitCode;
          if (options.json) {
            outJson(cli.io, { ok: failed === undefined, runs: reports.map(reportJson) });
          } else if (reports.length === 0) {
            out(cli.io, 'nothing due');
          }
          return;
        }
        const stop = new AbortController();
        const onSignal = (): void => {
          stop.abort();
        };
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        if (!options.json) {
          out(
            cli.io,
            `scheduling ${jobs.map((j) => `${j.id} (${j.timing.describe})`).join(', ')} as ${scheduler.holder}`,
          );
        }
        try {
          await scheduler.run(stop.signal);
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
      });
    });
}
