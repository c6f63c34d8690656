/**
 * `repo forget`, `repo prune` and `repo repair index`: the commands that remove or rewrite
 * what a repository stores. Registered under `repo` by repo.ts, which passes its helpers in
 * (so this file does not import repo.ts back).
 */
import type { Command } from 'commander';
import { ShipError, formatSize, parseDuration } from '../../core/index.js';
import {
  DEFAULT_MAX_UNUSED_PERCENT,
  GROUP_BY_VALUES,
  type ForgetResult,
  type GroupBy,
  type PruneOptions,
  type PruneResult,
  type RepairIndexResult,
  type Repository,
  type RetentionPolicy,
} from '../../repo/index.js';
import { examples, positiveInt, type Cli } from '../cli.js';
import { out, outJson } from '../io.js';
import { renderTable } from '../table.js';

/** The repository flags every `repo` command takes (parsed by `withRepoOptions`). */
export interface RepoCliOptions {
  json: boolean;
  repo?: string;
  passwordFile?: string;
  spec?: string;
}

/** What repo.ts lends these commands. */
export interface RepoMaintenanceHelpers {
  readonly withRepoOptions: (command: Command) => Command;
  readonly withRepository: <T>(
    cli: Cli,
    options: RepoCliOptions,
    fn: (repo: Repository, location: string) => Promise<T>,
    /** Records a failure inside a workspace as a `repo-run-failed` event (repo-run.ts). */
    operation?: string,
  ) => Promise<T>;
}

interface PruneFlags {
  dryRun: boolean;
  grace?: string;
  maxUnused?: string;
}

interface ForgetFlags extends PruneFlags {
  keepLast?: number;
  keepHourly?: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
  keepYearly?: number;
  keepWithin?: string;
  keepTag: string[];
  source?: string;
  groupBy: string;
  timeZone: string;
  prune: boolean;
}

const count = (flag: string) => (value: string) => positiveInt(value, flag);

/** Registers `repo forget`, `repo prune` and `repo repair index` under `repo`. */
export function registerRepoMaintenanceCommands(
  repo: Command,
  cli: Cli,
  helpers: RepoMaintenanceHelpers,
): void {
  const { withRepoOptions, withRepository } = helpers;

  withPruneOptions(withRepoOptions(repo.command('forget')))
    .description(
      'remove snapshots: the ones named, or the ones a --keep-* policy does not keep (data goes with `repo prune`)',
    )
    .argument('[snapshots...]', 'snapshot ids (or unique prefixes, or "latest") to remove')
    .option('--keep-last <n>', 'keep the n newest snapshots', count('--keep-last'))
    .option(
      '--keep-hourly <n>',
      'keep the newest snapshot of each of the last n hours',
      count('--keep-hourly'),
    )
    .option(
      '--keep-daily <n>',
      'keep the newest snapshot of each of the last n days',
      count('--keep-daily'),
    )
    .option(
      '--keep-weekly <n>',
      'keep the newest snapshot of each of the last n ISO weeks',
      count('--keep-weekly'),
    )
    .option(
      '--keep-monthly <n>',
      'keep the newest snapshot of each of the last n months',
      count('--keep-monthly'),
    )
    .option(
      '--keep-yearly <n>',
      'keep the newest snapshot of each of the last n years',
      count('--keep-yearly'),
    )
    .option(
      '--keep-within <duration>',
      'keep snapshots up to this much older than the newest (e.g. 30d)',
    )
    .option(
      '--keep-tag <tag>',
      'keep snapshots with this tag (repeat for several)',
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option('--source <name>', 'only consider snapshots of this source')
    .option(
      '--group-by <mode>',
      `apply the policy per group: ${GROUP_BY_VALUES.join(' | ')}`,
      'source',
    )
    .option(
      '--time-zone <zone>',
      'IANA time zone the hour/day/week/month/year buckets are cut in',
      'UTC',
    )
    .option('--dry-run', 'show what would be removed and why; change nothing', false)
    .option('--prune', 'run `repo prune` afterwards', false)
    .addHelpText(
      'after',
      examples(
        'shipshape repo forget --repo local --keep-daily 7 --keep-weekly 4 --keep-monthly 12 --dry-run',
        'shipshape repo forget --repo local --source orders --keep-last 3 --prune',
        'shipshape repo forget --repo local 3f2a9c81 --json',
      ) +
        '\n\nRemoves snapshot manifests only; the data they referenced is deleted by `repo prune`.' +
        '\nExit codes: 0 ok · 2 empty policy or bad flag · 11 a snapshot cannot be read · 13 lock held · 19 append-only',
    )
    .action(async (ids: string[], options: RepoCliOptions & ForgetFlags) => {
      const policy = policyOf(options);
      if (ids.length === 0 && policy === undefined) {
        throw ShipError.usage(
          'SHIP_REPO_EMPTY_POLICY',
          'nothing to forget: name snapshots or give at least one --keep-* rule',
          { hint: 'e.g. `repo forget --keep-daily 7 --keep-weekly 4`, or `repo forget ID…`' },
        );
      }
      if (!(GROUP_BY_VALUES as readonly string[]).includes(options.groupBy)) {
        throw ShipError.usage(
          'SHIP_CLI_BAD_FLAG',
          `--group-by ${options.groupBy} is not one of ${GROUP_BY_VALUES.join(', ')}`,
          { hint: '--group-by source (the default) applies the policy to each source on its own' },
        );
      }
      const pruneOptions = options.prune ? pruneOptionsOf(options) : undefined;
      await withRepository(
        cli,
        options,
        async (repository) => {
          const result = await repository.forget({
            ...(ids.length > 0 ? { ids } : {}),
            ...(policy === undefined ? {} : { policy }),
            ...(options.source === undefined ? {} : { source: options.source }),
            groupBy: options.groupBy as GroupBy,
            timeZone: options.timeZone,
            dryRun: options.dryRun,
          });
          const pruned =
            pruneOptions === undefined ? undefined : await repository.prune(pruneOptions);
          if (options.json) {
            outJson(cli.io, {
              ok: true,
              ...result,
              ...(pruned === undefined ? {} : { prune: pruned }),
            });
            return;
          }
          printForget(cli, result);
          if (pruned !== undefined) printPrune(cli, pruned);
        },
        'forget',
      );
    });

  withPruneOptions(withRepoOptions(repo.command('prune')))
    .description(
      'delete data no snapshot needs, in two phases: a run marks unused packs, a later run (after --grace) deletes them',
    )
    .option('--dry-run', 'show what would be repacked, marked and deleted; change nothing', false)
    .addHelpText(
      'after',
      examples(
        'shipshape repo prune --repo local --dry-run',
        'shipshape repo prune --repo local',
        'shipshape repo prune --repo local --grace 0 --json   # delete what any earlier run marked',
      ) +
        '\n\nEvery run first deletes packs an earlier run marked at least --grace ago that are still unused, then' +
        '\nmarks newly unused packs. It holds the exclusive lock: backups wait for it (exit 13 if they overlap).' +
        '\nExit codes: 0 ok · 11 a snapshot cannot be read completely (nothing deleted) · 13 lock held · 19 append-only',
    )
    .action(async (options: RepoCliOptions & PruneFlags) => {
      const pruneOptions = pruneOptionsOf(options);
      await withRepository(
        cli,
        options,
        async (repository) => {
          const result = await repository.prune(pruneOptions);
          if (options.json) {
            outJson(cli.io, { ok: true, ...result });
            return;
          }
          printPrune(cli, result);
        },
        'prune',
      );
    });

  const repair = repo.command('repair').description('repair parts of a repository');
  withRepoOptions(repair.command('index'))
    .description(
      'rebuild the index from every pack’s table of contents, then delete the old index files',
    )
    .addHelpText(
      'after',
      examples(
        'shipshape repo repair index --repo local',
        'shipshape repo repair index --repo local --json',
      ) +
        '\n\nPacks whose table of contents cannot be read are named and left in place.' +
        '\nExit codes: 0 ok · 13 lock held · 19 append-only',
    )
    .action(async (options: RepoCliOptions) => {
      await withRepository(
        cli,
        options,
        async (repository) => {
          const result = await repository.repairIndex();
          if (options.json) {
            outJson(cli.io, { ok: true, ...result });
            return;
          }
          printRepair(cli, result);
        },
        'repair-index',
      );
    });
}

function withPruneOptions(command: Command): Command {
  return command
    .option(
      '--grace <duration>',
      'how long a pack stays marked before a later run deletes it (0 = any later run)',
      '1h',
    )
    .option(
      '--max-unused <percent>',
      'repack a pack when more than this share of its bytes is unused (100 = never repack)',
      `${DEFAULT_MAX_UNUSED_PERCENT}%`,
    );
}

function policyOf(options: ForgetFlags): RetentionPolicy | undefined {
  const policy: RetentionPolicy = {
    ...(options.keepLast === undefined ? {} : { keepLast: options.keepLast }),
    ...(options.keepHourly === undefined ? {} : { keepHourly: options.keepHourly }),
    ...(options.keepDaily === undefined ? {} : { keepDaily: options.keepDaily }),
    ...(options.keepWeekly === undefined ? {} : { keepWeekly: options.keepWeekly }),
    ...(options.keepMonthly === undefined ? {} : { keepMonthly: options.keepMonthly }),
    ...(options.keepYearly === undefined ? {} : { keepYearly: options.keepYearly }),
    ...(options.keepWithin === undefined
      ? {}
      : { keepWithinMs: parseDuration(options.keepWithin) }),
    ...(options.keepTag.length === 0 ? {} : { keepTags: options.keepTag }),
  };
  return Object.keys(policy).length === 0 ? undefined : policy;
}

function pruneOptionsOf(options: PruneFlags): PruneOptions {
  const grace = options.grace ?? '1h';
  const graceMs = grace.trim() === '0' ? 0 : parseDuration(grace);
  const text = (options.maxUnused ?? `${DEFAULT_MAX_UNUSED_PERCENT}`).trim().replace(/%$/, '');
  const maxUnused = Number(text);
  if (text === '' || !Number.isFinite(maxUnused) || maxUnused < 0 || maxUnused > 100) {
    throw ShipError.usage(
      'SHIP_CLI_BAD_FLAG',
      `--max-unused ${options.maxUnused ?? ''} is not a percentage from 0 to 100`,
      { hint: 'e.g. --max-unused 10% repacks packs more than a tenth unused; 100% never repacks' },
    );
  }
  return { dryRun: options.dryRun, graceMs, maxUnusedPercent: maxUnused };
}

function printForget(cli: Cli, result: ForgetResult): void {
  if (result.plan.length === 0) {
    out(cli.io, 'no snapshots to consider');
    return;
  }
  out(
    cli.io,
    renderTable(result.plan, [
      { header: 'SNAPSHOT', value: (d) => d.id.slice(0, 12) },
      { header: 'TIME', value: (d) => d.time },
      { header: 'SOURCE', value: (d) => d.source, max: 32 },
      { header: 'ACTION', value: (d) => (d.keep ? 'KEEP' : 'REMOVE') },
      { header: 'REASONS', value: (d) => d.reasons.join(', '), max: 80 },
    ]),
  );
  const removing = result.plan.filter((d) => !d.keep).length;
  const kept = result.plan.length - removing;
  if (result.dryRun) {
    out(
      cli.io,
      `dry run: would remove ${removing} snapshot${removing === 1 ? '' : 's'}, keep ${kept}`,
    );
  } else {
    const n = result.removed.length;
    out(
      cli.io,
      `✓ removed ${n} snapshot${n === 1 ? '' : 's'}, kept ${kept}; run \`repo prune\` to delete their data`,
    );
  }
}

function printPrune(cli: Cli, result: PruneResult): void {
  const sum = (packs: readonly { bytes: number }[]) =>
    formatSize(packs.reduce((total, pack) => total + pack.bytes, 0));
  const line = (did: string, would: string) => (result.dryRun ? `would ${would}` : did);
  out(
    cli.io,
    `${result.dryRun ? 'dry run: ' : '✓ '}${result.snapshots} snapshot${result.snapshots === 1 ? '' : 's'}, ${result.usedBlobs} blobs in use, ${result.packs} pack${result.packs === 1 ? '' : 's'}`,
  );
  out(
    cli.io,
    `  ${line('deleted', 'delete')} ${result.deleted.length} pack(s), ${sum(result.deleted)} (marked by an earlier run, still unused)`,
  );
  out(
    cli.io,
    `  ${line('repacked', 'repack')} ${result.repacked.length} pack(s) (${formatSize(result.repacked.reduce((t, p) => t + p.usedBytes, 0))} in use copied, ${formatSize(result.repacked.reduce((t, p) => t + p.unusedBytes, 0))} unused)`,
  );
  out(cli.io, `  ${line('marked', 'mark')} ${result.marked.length} pack(s), ${sum(result.marked)}`);
  if (result.unmarked.length > 0) {
    out(cli.io, `  ${line('un-marked', 'un-mark')} ${result.unmarked.length} pack(s) used again`);
  }
  out(
    cli.io,
    `  ${line('freed', 'free')} ${formatSize(result.bytesFreed)}; ${formatSize(result.bytesMarked)} in ${result.stillMarked.length} marked pack(s) ${result.dryRun ? 'would ' : ''}await deletion`,
  );
  const next = result.stillMarked
    .map((p) => p.deletableAt)
    .sort()
    .at(0);
  if (next !== undefined)
    out(cli.io, `  the next run at or after ${next} deletes marked packs still unused`);
  for (const pack of result.retained) out(cli.io, `  retained: ${pack.message}`);
  for (const pack of result.unreadablePacks) {
    out(cli.io, `  left in place (unreadable): ${pack.message}`);
  }
  for (const mark of result.unreadableMarks) out(cli.io, `  ignored: ${mark.message}`);
}

function printRepair(cli: Cli, result: RepairIndexResult): void {
  out(
    cli.io,
    `✓ indexed ${result.packs} pack(s), ${result.blobs} blobs: wrote ${result.indexFiles.written} index file(s), deleted ${result.indexFiles.deleted} old one(s)`,
  );
  for (const pack of result.unreadablePacks) {
    out(
      cli.io,
      `  unreadable pack (left in place${result.carriedOver.includes(pack.pack) ? ', old index entries kept' : ''}): ${pack.message}`,
    );
  }
  for (const file of result.unreadableIndexFiles) {
    out(cli.io, `  replaced unreadable index file: ${file.message}`);
  }
}
