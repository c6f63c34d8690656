import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';

import type { Command } from 'commander';

import { ShipError, didYouMean, redact } from '../../core/index.js';
import {
  drillHistory,
  findDrillRun,
  humanDuration,
  readDrillRuns,
  renderDrillHtml,
  renderDrillMarkdown,
  type DrillHistoryRow,
  type DrillRun,
} from '../../drill/index.js';
import {
  examples,
  positiveInt,
  withCommonOptions,
  withEvidence,
  withServerOption,
  withSpecOption,
  type Cli,
} from '../cli.js';
import { err, out, outJson } from '../io.js';
import { renderTable, type Column } from '../table.js';

const REPORT_FORMATS = ['md', 'html', 'json'] as const;
type ReportFormat = (typeof REPORT_FORMATS)[number];

interface ReportOptions {
  json: boolean;
  spec?: string;
  server?: string;
  format?: string;
  output?: string;
}

interface HistoryOptions {
  json: boolean;
  spec?: string;
  server?: string;
  datastore?: string;
  limit?: string;
}

function reportFormat(options: ReportOptions): ReportFormat {
  const format = options.format ?? (options.json ? 'json' : 'md');
  if (!(REPORT_FORMATS as readonly string[]).includes(format)) {
    throw ShipError.usage(
      'SHIP_CLI_BAD_FLAG',
      `--format must be one of ${REPORT_FORMATS.join(', ')}, got "${format}"`,
      { hint: 'pass --format md, --format html or --format json' },
    );
  }
  if (options.json && format !== 'json') {
    throw ShipError.usage('SHIP_CLI_BAD_FLAG', `--json and --format ${format} cannot be combined`, {
      hint: 'drop --json, or use --format json',
    });
  }
  return format as ReportFormat;
}

/** The report of one run in the asked format (json: `{ledger: {seq, hash, …}, result}`). */
function renderReport(run: DrillRun, format: ReportFormat): string {
  switch (format) {
    case 'md':
      return renderDrillMarkdown(run);
    case 'html':
      return renderDrillHtml(run);
    case 'json':
      return `${JSON.stringify({ ledger: run.ledger, result: run.result }, null, 2)}\n`;
  }
}

function warnSkipped(cli: Cli, warnings: readonly string[]): void {
  for (const warning of warnings) err(cli.io, `warning: ${warning}`);
}

function yesNo(value: boolean | null): string {
  if (value === null) return '-';
  return value ? 'met' : 'MISSED';
}

function verdict(row: DrillHistoryRow): string {
  return `${row.verdict}${row.interrupted ? ' (interrupted)' : ''}${row.simulated ? ' *' : ''}`;
}

function duration(ms: number | null): string {
  return ms === null ? '-' : humanDuration(ms);
}

/**
 * Renders `drill history` rows as a table: when, run, verdict, RTO, RPO, objectives met; with
 * `datastore`, that store's RTO, RPO and objectives too.
 */
export function renderHistoryTable(rows: readonly DrillHistoryRow[], datastore?: string): string {
  const columns: Column<DrillHistoryRow>[] = [
    { header: 'WHEN', value: (r) => r.time.replace(/\.\d{3}Z$/, 'Z') },
    { header: 'RUN', value: (r) => r.runId },
    { header: 'VERDICT', value: verdict },
    { header: 'RTO', value: (r) => duration(r.rtoMs), align: 'right' },
    { header: 'RPO', value: (r) => duration(r.rpoMs), align: 'right' },
    { header: 'OBJECTIVES', value: (r) => yesNo(r.objectivesMet) },
  ];
  if (datastore !== undefined) {
    const store = (r: DrillHistoryRow) => r.datastores.find((d) => d.name === datastore);
    const name = datastore.toUpperCase();
    columns.push(
      { header: `${name} RTO`, value: (r) => duration(store(r)?.rtoMs ?? null), align: 'right' },
      { header: `${name} RPO`, value: (r) => duration(store(r)?.rpoMs ?? null), align: 'right' },
      { header: `${name} OBJECTIVES`, value: (r) => yesNo(store(r)?.objectivesMet ?? null) },
    );
  }
  return renderTable(rows, columns);
}

function unknownDatastore(name: string, runs: readonly DrillRun[]): ShipError {
  const known = new Set(runs.flatMap((run) => run.result.datastores.map((d) => d.name)));
  const suggestion = didYouMean(name, known);
  return ShipError.usage(
    'SHIP_DRILL_UNKNOWN_DATASTORE',
    `no recorded DR drill restored a data store named "${name}"`,
    {
      hint:
        suggestion !== undefined
          ? `did you mean --datastore ${suggestion}?`
          : known.size === 0
            ? 'no drill is recorded yet: run one with `shipshape drill run`'
            : `drilled data stores: ${[...known].sort().join(', ')}`,
      details: { datastore: name },
    },
  );
}

/** Adds `drill report` and `drill history` to the `drill` command. */
export function registerDrillReportCommands(drill: Command, cli: Cli): void {
  withServerOption(withSpecOption(withCommonOptions(drill.command('report'))))
    .description('show the report of a recorded drill: a document a reviewer can sign')
    .argument('<run>', 'run id, a unique prefix of it, or `latest`')
    .option('-f, --format <format>', 'md, html or json (default: md; json with --json)')
    .option('-o, --output <file>', 'write the report to FILE instead of stdout')
    .addHelpText(
      'after',
      examples(
        'shipshape drill report latest',
        'shipshape drill report 20261122T130500Z --format html --output drill.html',
        'shipshape drill report 20261122T130500Z-3fa4c2 --json',
      ) +
        '\n\nThe report is rebuilt from the dr-drill evidence in the ledger (json: {ledger, result}).' +
        '\nExit codes: 0 shown · 2 bad flag, no such run, ambiguous prefix.',
    )
    .action(async (ref: string, options: ReportOptions) => {
      const format = reportFormat(options);
      await withEvidence(cli, options, async (evidence) => {
        const { runs, warnings } = await readDrillRuns(evidence);
        warnSkipped(cli, warnings);
        const run = findDrillRun(runs, ref);
        const text = redact(renderReport(run, format));
        if (options.output === undefined) {
          cli.io.stdout.write(text);
          return;
        }
        const file = resolve(cli.io.cwd, options.output);
        await writeFile(file, text).catch((error: unknown) => {
          throw ShipError.usage(
            'SHIP_CLI_BAD_FLAG',
            `--output ${options.output ?? ''} cannot be written: ${(error as Error).message}`,
            { hint: 'pass a path in a directory that exists and you may write to' },
          );
        });
        err(cli.io, `wrote the ${format} report of ${run.result.plan.id} to ${file}`);
      });
    });

  withServerOption(withSpecOption(withCommonOptions(drill.command('history'))))
    .description('show recorded drills over time: verdict, RTO and RPO, objectives')
    .option('-d, --datastore <name>', 'only drills that restored this data store, with its figures')
    .option('-n, --limit <n>', 'only the newest N drills')
    .addHelpText(
      'after',
      examples(
        'shipshape drill history',
        'shipshape drill history --datastore orders --limit 20',
        'shipshape drill history --json',
      ) +
        '\n\nOldest first. `*` marks a simulated disaster time (--at). Exit codes: 0 shown · 2 bad flag,' +
        '\nunknown data store.',
    )
    .action(async (options: HistoryOptions) => {
      const limit = options.limit === undefined ? undefined : positiveInt(options.limit, '--limit');
      await withEvidence(cli, options, async (evidence) => {
        const { runs, warnings } = await readDrillRuns(evidence);
        warnSkipped(cli, warnings);
        const rows = drillHistory(runs, {
          ...(options.datastore === undefined ? {} : { datastore: options.datastore }),
          ...(limit === undefined ? {} : { limit }),
        });
        if (options.datastore !== undefined && rows.length === 0 && runs.length > 0) {
          throw unknownDatastore(options.datastore, runs);
        }
        if (options.json) {
          outJson(cli.io, { runs: rows, skipped: warnings });
          return;
        }
        if (rows.length === 0) {
          out(cli.io, 'no DR drills recorded yet: run one with `shipshape drill run`');
          return;
        }
        out(cli.io, renderHistoryTable(rows, options.datastore));
      });
    });
}
