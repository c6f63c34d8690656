import { readFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import type { Command } from 'commander';
import { ExitCode, ShipError, formatSize, registerSecret } from '../../core/index.js';
import {
  KeyRole,
  Repository,
  describeLock,
  isS3Location,
  openRepositoryBackend,
  type Backend,
  type BackupResult,
  type OpenBackendOptions,
  type StoredSnapshot,
} from '../../repo/index.js';
import { findSpecFile, loadSpec } from '../../spec/index.js';
import { specRepositoryTarget, type SpecRepositoryTarget } from '../../workspace/index.js';
import { recordingFailedRun } from './repo-run.js';
import { registerRepoMaintenanceCommands } from './repo-maintenance.js';
import { examples, withCommonOptions, type Cli } from '../cli.js';
import { err, out, outJson, showProgress } from '../io.js';
import { stdinSource } from '../stdin.js';
import { renderTable } from '../table.js';

export interface RepoOptions {
  json: boolean;
  repo?: string;
  passwordFile?: string;
  spec?: string;
  appendOnly?: boolean;
  s3Endpoint?: string;
}

interface ResolvedRepo {
  /** The spec's name for the repository, or its location. */
  name: string;
  /** Absolute directory or `s3://bucket/prefix`. */
  location: string;
  password: string;
  backendOptions: OpenBackendOptions;
  appendOnly: boolean;
  packTargetBytes?: number;
}

export function withRepoOptions(command: Command): Command {
  return withCommonOptions(command)
    .option(
      '-r, --repo <path|url|name>',
      'repository directory, s3://bucket/prefix, or the name of a repository in the spec (default: $SHIPSHAPE_REPO)',
    )
    .option('--password-file <file>', 'read the repository password from a file')
    .option('-s, --spec <file>', 'stack spec to take a named repository from')
    .option(
      '--append-only',
      'open for adding only: forget, prune, key removal and unlock --force are refused',
      false,
    )
    .option(
      '--s3-endpoint <url>',
      'S3-compatible endpoint for an s3:// --repo (default: $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL, else AWS)',
    );
}

/**
 * Where the repository is and its password: `--repo` as a path or `s3://bucket/prefix`, or as
 * the name of one of the spec's `repositories` (its `url`, `s3` options, `append_only` and `key`
 * reference); the password from `--password-file`, `SHIPSHAPE_REPO_PASSWORD`, or the spec's
 * key reference — never from a flag value. S3 credentials come only by reference: the spec's
 * secret references, or the AWS SDK's default chain (AWS_* variables, profile, role).
 */
async function resolveRepo(cli: Cli, options: RepoOptions): Promise<ResolvedRepo> {
  const ref = options.repo ?? cli.io.env.SHIPSHAPE_REPO;
  if (ref === undefined || ref === '') {
    throw ShipError.usage('SHIP_CLI_BAD_FLAG', 'no repository given', {
      hint: 'pass --repo PATH, --repo s3://bucket/prefix (or the name of a repository in shipshape.yaml), or set SHIPSHAPE_REPO',
    });
  }
  const appendOnly = options.appendOnly === true;
  if (/^[a-z][a-z0-9-]*$/.test(ref) || options.spec !== undefined) {
    const specFile = (() => {
      try {
        return findSpecFile(cli.io.cwd, options.spec);
      } catch (error) {
        if (options.spec !== undefined) throw error;
        return undefined;
      }
    })();
    const spec = specFile ? (await loadSpec(specFile)).spec : undefined;
    if (specFile && spec?.repositories[ref] !== undefined) {
      const target = specRepositoryTarget(spec, ref, {
        baseDir: resolve(specFile, '..'),
        env: cli.io.env,
        appendOnly,
      });
      return {
        name: ref,
        location: target.location,
        password: await resolvePassword(cli, options, target),
        backendOptions: target.backendOptions,
        appendOnly: target.appendOnly,
        ...(target.packTargetBytes === undefined
          ? {}
          : { packTargetBytes: target.packTargetBytes }),
      };
    }
  }
  if (isS3Location(ref)) {
    const env = cli.io.env;
    const endpoint =
      options.s3Endpoint ?? nonEmpty(env.AWS_ENDPOINT_URL_S3) ?? nonEmpty(env.AWS_ENDPOINT_URL);
    return {
      name: ref,
      location: ref,
      password: await resolvePassword(cli, options, undefined),
      backendOptions: {
        appendOnly,
        s3: {
          ...(endpoint === undefined ? {} : { endpoint }),
          ...(nonEmpty(env.AWS_REGION) === undefined ? {} : { region: env.AWS_REGION }),
        },
      },
      appendOnly,
    };
  }
  const location = resolve(cli.io.cwd, ref);
  return {
    name: location,
    location,
    password: await resolvePassword(cli, options, undefined),
    backendOptions: { appendOnly },
    appendOnly,
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

async function resolvePassword(
  cli: Cli,
  options: RepoOptions,
  spec: SpecRepositoryTarget | undefined,
): Promise<string> {
  if (options.passwordFile !== undefined) {
    const text = await readFile(resolve(cli.io.cwd, options.passwordFile), 'utf8').catch(
      (error: unknown) => {
        throw ShipError.usage(
          'SHIP_CLI_BAD_FLAG',
          `--password-file ${options.passwordFile ?? ''} cannot be read: ${(error as Error).message}`,
          { hint: 'pass a file holding the repository password on its first line' },
        );
      },
    );
    return text.replace(/\r?\n$/, '');
  }
  const fromEnv = cli.io.env.SHIPSHAPE_REPO_PASSWORD;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if (spec) return spec.password();
  throw ShipError.usage('SHIP_REPO_NO_PASSWORD', 'no repository password given', {
    hint: 'set SHIPSHAPE_REPO_PASSWORD, pass --password-file FILE, or name a repository from the spec with --repo',
  });
}

/** Opens the backend of a resolved repository (the AWS SDK is loaded only for s3://). */
function openBackend(cli: Cli, resolved: ResolvedRepo): Promise<Backend> {
  if (isS3Location(resolved.location)) {
    // The SDK's default chain reads these itself: registered so that no message can echo them.
    for (const name of ['AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) {
      const value = cli.io.env[name];
      if (value !== undefined && value !== '') registerSecret(value);
    }
  }
  return openRepositoryBackend(resolved.location, resolved.backendOptions);
}

/**
 * Opens the repository, runs `fn`, closes it. With `operation` (backup, check, prune…), a
 * failure inside a workspace is also recorded as a `repo-run-failed` event (see repo-run.ts).
 */
export async function withRepository<T>(
  cli: Cli,
  options: RepoOptions,
  fn: (repo: Repository, location: string) => Promise<T>,
  operation?: string,
): Promise<T> {
  const resolved = await resolveRepo(cli, options);
  const run = async () => {
    const backend = await openBackend(cli, resolved);
    try {
      const repo = await Repository.open(backend, resolved.password, {
        appendOnly: resolved.appendOnly,
        ...(resolved.packTargetBytes === undefined
          ? {}
          : { packTargetBytes: resolved.packTargetBytes }),
      });
      try {
        return await fn(repo, resolved.location);
      } finally {
        await repo.close();
      }
    } finally {
      await backend.close();
    }
  };
  if (operation === undefined) return run();
  return recordingFailedRun(
    cli,
    { operation, repository: resolved.name, location: resolved.location, spec: options.spec },
    run,
  );
}

interface Progress {
  update(bytes: number, total?: number): void;
  /** Ends the progress display (a newline on a terminal, a final event with --json). */
  done(): void;
}

/**
 * Progress of long work, on stderr: a live line (bytes, rate, ETA) when stderr is a terminal;
 * with `--json`, one JSON event per second (`{"event":"progress","op",…}`) so scripts can follow
 * along while stdout stays one document; nothing otherwise.
 */
function progress(cli: Cli, json: boolean, op: string): Progress {
  const started = performance.now();
  let last = 0;
  let latest: { bytes: number; total: number | undefined } = { bytes: 0, total: undefined };
  const figures = () => {
    const seconds = Math.max((performance.now() - started) / 1000, 0.001);
    const rate = latest.bytes / seconds;
    const eta =
      latest.total !== undefined && latest.total > 0 && rate > 0
        ? Math.max(0, Math.round((latest.total - latest.bytes) / rate))
        : undefined;
    return { rate, eta };
  };
  if (json) {
    const emit = () => {
      const { rate, eta } = figures();
      cli.io.stderr.write(
        `${JSON.stringify({
          event: 'progress',
          op,
          bytes: latest.bytes,
          ...(latest.total === undefined ? {} : { totalBytes: latest.total }),
          bytesPerSecond: Math.round(rate),
          ...(eta === undefined ? {} : { etaSeconds: eta }),
        })}\n`,
      );
    };
    return {
      update(bytes, total) {
        latest = { bytes, total };
        const now = performance.now();
        if (now - last < 1000) return;
        last = now;
        emit();
      },
      done: emit,
    };
  }
  if (!showProgress(cli.io, json)) return { update: () => undefined, done: () => undefined };
  let drawn = false;
  return {
    update(bytes, total) {
      latest = { bytes, total };
      const now = performance.now();
      if (now - last < 250) return;
      last = now;
      drawn = true;
      const { rate, eta } = figures();
      const of = total === undefined ? '' : ` of ${formatSize(total)}`;
      const etaText = eta === undefined ? '' : `, ETA ${eta}s`;
      cli.io.stderr.write(
        `\r… ${op} ${formatSize(bytes)}${of}, ${formatSize(Math.round(rate))}/s${etaText}   `,
      );
    },
    done() {
      if (drawn) err(cli.io, '');
    },
  };
}

function snapshotRow(s: StoredSnapshot) {
  const m = s.manifest;
  return {
    id: s.id,
    short: s.id.slice(0, 12),
    time: m.time,
    source: m.source.name ?? m.source.type,
    size: m.content.type === 'stream' ? m.content.size : m.sizes.logicalBytes,
    tags: m.tags.join(','),
  };
}

function printBackupResult(cli: Cli, json: boolean, result: BackupResult): void {
  if (json) {
    outJson(cli.io, { ok: true, ...result });
    return;
  }
  out(cli.io, `✓ snapshot ${result.snapshotId.slice(0, 12)} saved`);
  out(
    cli.io,
    `  ${formatSize(result.bytesRead)} read, ${formatSize(result.bytesNew)} new, ${formatSize(result.bytesStored)} stored; ` +
      `${result.newChunks}/${result.chunks} chunks new, ${(result.durationMs / 1000).toFixed(1)} s`,
  );
}

/** `repo backup PATH…`: a tree snapshot of files and directories. */
async function backupPathsCommand(
  cli: Cli,
  sources: string[],
  options: RepoOptions & { name?: string; tag?: string[] },
): Promise<void> {
  if (sources.includes('-')) {
    throw ShipError.usage('SHIP_CLI_BAD_FLAG', '"-" (standard input) cannot be mixed with paths', {
      hint: 'back up standard input and the paths in two snapshots',
    });
  }
  const paths = sources.map((source) => resolve(cli.io.cwd, source));
  const name = options.name ?? basename(paths[0] ?? '');
  await withRepository(
    cli,
    options,
    async (repository) => {
      const shown = progress(cli, options.json, 'backup');
      const result = await repository.backupTree(
        paths,
        { source: { type: 'paths', name, paths }, tags: options.tag ?? [] },
        {
          onProgress: (p) => {
            shown.update(p.bytesRead);
          },
        },
      );
      shown.done();
      printBackupResult(cli, options.json, result);
    },
    'backup',
  );
}

function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** `repo restore SNAPSHOT --target DIR [--force]`: a tree snapshot into a directory. */
async function restoreTreeCommand(
  cli: Cli,
  snapshot: string,
  target: string,
  options: RepoOptions & { force: boolean },
): Promise<void> {
  const dir = resolve(cli.io.cwd, target);
  await withRepository(cli, options, async (repository) => {
    const started = performance.now();
    const shown = progress(cli, options.json, 'restore');
    const result = await repository.restoreTree(snapshot, dir, {
      force: options.force,
      onProgress: (p) => {
        shown.update(p.bytesWritten, p.totalBytes);
      },
    });
    shown.done();
    const durationMs = performance.now() - started;
    if (options.json) {
      outJson(cli.io, { ok: true, target: dir, ...result, durationMs });
      return;
    }
    out(
      cli.io,
      `✓ restored snapshot ${result.snapshotId.slice(0, 12)} into ${dir}: ` +
        `${count(result.files, 'file')}, ${count(result.dirs, 'directory', 'directories')}, ` +
        `${count(result.symlinks, 'symlink')}, ${formatSize(result.bytesWritten)}`,
    );
  });
}

export function registerRepoCommands(program: Command, cli: Cli): void {
  const repo = program
    .command('repo')
    .description(
      'the backup repository: content-defined chunks, dedup, zstd, AES-256-GCM; needs only itself and a key',
    );

  withRepoOptions(repo.command('init'))
    .description(
      'create a repository (password from SHIPSHAPE_REPO_PASSWORD, --password-file, or the spec)',
    )
    .option('--label <label>', 'label of the first key')
    .addHelpText(
      'after',
      examples(
        'SHIPSHAPE_REPO_PASSWORD=… shipshape repo init --repo /srv/backups/orders',
        'shipshape repo init --repo local      # the repository named `local` in shipshape.yaml',
        'AWS_PROFILE=backup shipshape repo init --repo s3://backups/orders --password-file pw.txt',
      ) +
        "\n\nS3 credentials come from the spec's references or the AWS default chain (AWS_* variables,\n" +
        'profile, role); --s3-endpoint (or AWS_ENDPOINT_URL_S3) selects an S3-compatible server.',
    )
    .action(async (options: RepoOptions & { label?: string }) => {
      const resolved = await resolveRepo(cli, options);
      const { location, password } = resolved;
      const backend = await openBackend(cli, resolved);
      try {
        const created = await Repository.init(backend, password, {
          ...(options.label === undefined ? {} : { label: options.label }),
        });
        try {
          const result = { ok: true, location, id: created.config.id, keyId: created.keyId };
          if (options.json) outJson(cli.io, result);
          else
            out(
              cli.io,
              `✓ created repository ${created.config.id} at ${location} (key ${created.keyId})`,
            );
        } finally {
          await created.close();
        }
      } finally {
        await backend.close();
      }
    });

  withRepoOptions(repo.command('backup'))
    .description(
      'back up files and directories, or standard input ("-", e.g. a dump piped in), as one snapshot',
    )
    .argument('[sources...]', 'files and directories to back up, or "-" for standard input', ['-'])
    .option(
      '--name <name>',
      'source name recorded in the snapshot (default: "stdin", or the basename of the first path)',
    )
    .option(
      '--tag <tag>',
      'tag to attach to the snapshot (repeat for several)',
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .addHelpText(
      'after',
      examples(
        'pg_dump -Fc -Z0 orders | shipshape repo backup --repo /srv/backups/orders --name orders -',
        'shipshape repo backup --repo local --tag nightly --tag pre-release - < dump.sql',
        'shipshape repo backup --repo local /var/lib/app/uploads /etc/app --tag nightly',
      ) +
        '\n\nSymlinks are stored as links, never followed; sockets, FIFOs and devices are skipped.',
    )
    .action(async (sources: string[], options: RepoOptions & { name?: string; tag?: string[] }) => {
      if (sources.length !== 1 || sources[0] !== '-') {
        await backupPathsCommand(cli, sources, options);
        return;
      }
      await withRepository(
        cli,
        options,
        async (repository) => {
          const shown = progress(cli, options.json, 'backup');
          const result = await repository.backupStream(
            stdinSource(),
            { source: { type: 'stream', name: options.name ?? 'stdin' }, tags: options.tag ?? [] },
            {
              onProgress: (p) => {
                shown.update(p.bytesRead);
              },
            },
          );
          shown.done();
          printBackupResult(cli, options.json, result);
        },
        'backup',
      );
    });

  withRepoOptions(repo.command('snapshots'))
    .description('list snapshots (needs only the repository and a key)')
    .option('--source <name>', 'only snapshots of this source')
    .option('--tag <tag>', 'only snapshots with this tag')
    .addHelpText(
      'after',
      examples(
        'shipshape repo snapshots --repo local',
        'shipshape repo snapshots --repo /srv/b --json',
      ),
    )
    .action(async (options: RepoOptions & { source?: string; tag?: string }) => {
      await withRepository(cli, options, async (repository) => {
        const snapshots = await repository.snapshots({
          ...(options.source === undefined ? {} : { source: options.source }),
          ...(options.tag === undefined ? {} : { tag: options.tag }),
        });
        if (options.json) {
          outJson(cli.io, { snapshots: snapshots.map((s) => ({ ...s.manifest, id: s.id })) });
          return;
        }
        if (snapshots.length === 0) {
          out(cli.io, 'no snapshots yet');
          return;
        }
        out(
          cli.io,
          renderTable(snapshots.map(snapshotRow), [
            { header: 'ID', value: (r) => r.short },
            { header: 'TIME', value: (r) => r.time },
            { header: 'SOURCE', value: (r) => r.source, max: 24 },
            { header: 'SIZE', value: (r) => formatSize(r.size), align: 'right' },
            { header: 'TAGS', value: (r) => r.tags },
          ]),
        );
      });
    });

  withRepoOptions(repo.command('restore'))
    .description(
      'restore a snapshot: a stream to standard output, a tree into a directory; every chunk is verified as it is written',
    )
    .argument('<snapshot>', 'snapshot id (or a unique prefix), or "latest"')
    .option('--stdout', 'write the restored stream to standard output', false)
    .option('--target <dir>', 'restore a tree snapshot into this directory (new or empty)')
    .option('--force', 'with --target: restore into a non-empty directory', false)
    .addHelpText(
      'after',
      examples(
        'shipshape repo restore latest --repo local --stdout | pg_restore -d orders_restored',
        'shipshape repo restore 3f2a9c --repo /srv/b --stdout > dump.sql',
        'shipshape repo restore latest --repo local --target /srv/restore/uploads',
      ) +
        '\n\nExit codes: 0 ok · 2 target not empty (pass --force) · 11 corrupt data (nothing wrong is written silently) · 12 wrong key',
    )
    .action(
      async (
        snapshot: string,
        options: RepoOptions & { stdout: boolean; target?: string; force: boolean },
      ) => {
        if (options.target !== undefined) {
          if (options.stdout) {
            throw ShipError.usage(
              'SHIP_CLI_BAD_FLAG',
              'give either --stdout or --target, not both',
              {
                hint: '--stdout restores a stream snapshot, --target DIR a tree snapshot',
              },
            );
          }
          await restoreTreeCommand(cli, snapshot, options.target, options);
          return;
        }
        if (!options.stdout) {
          throw ShipError.usage(
            'SHIP_CLI_BAD_FLAG',
            'say where to restore to: --stdout (a stream) or --target DIR (a tree)',
            {
              hint: 'e.g. shipshape repo restore latest --repo R --stdout > dump, or --target ./restored',
            },
          );
        }
        await withRepository(cli, options, async (repository) => {
          const shown = progress(cli, false, 'restore');
          const result = await repository.restoreStream(snapshot, process.stdout, {
            end: false,
            onProgress: (p) => {
              shown.update(p.bytesWritten, p.totalBytes);
            },
          });
          shown.done();
          err(
            cli.io,
            `✓ restored ${formatSize(result.bytesWritten)} from snapshot ${result.snapshotId.slice(0, 12)}`,
          );
        });
      },
    );

  withRepoOptions(repo.command('check'))
    .description(
      'check the repository: structure always; every byte of every pack with --read-data. Names each damaged object and the snapshots it affects',
    )
    .option('--read-data', 'read every pack whole and authenticate every blob', false)
    .option(
      '--read-data-subset <percent>',
      'read only this percentage of the packs, picked at random (e.g. 10)',
    )
    .addHelpText(
      'after',
      examples(
        'shipshape repo check --repo local',
        'shipshape repo check --repo /srv/b --read-data',
        'shipshape repo check --repo local --read-data-subset 10 --json',
      ) + '\n\nExit codes: 0 no problems · 11 problems found (each listed) · 12 wrong key',
    )
    .action(async (options: RepoOptions & { readData: boolean; readDataSubset?: string }) => {
      const subset =
        options.readDataSubset === undefined
          ? undefined
          : Number(options.readDataSubset.replace(/%$/, ''));
      if (subset !== undefined && !(subset > 0 && subset <= 100)) {
        throw ShipError.usage(
          'SHIP_CLI_BAD_FLAG',
          `--read-data-subset ${options.readDataSubset ?? ''} is not a percentage in (0, 100]`,
          { hint: 'e.g. --read-data-subset 10 reads a random tenth of the packs' },
        );
      }
      await withRepository(
        cli,
        options,
        async (repository, location) => {
          const live = showProgress(cli.io, options.json);
          const report = await repository.check({
            readData: options.readData,
            ...(subset === undefined ? {} : { readDataSubset: subset }),
            onProgress: (p) => {
              if (live) cli.io.stderr.write(`\r… checking ${p.phase} ${p.done}/${p.total}   `);
            },
          });
          if (live) err(cli.io, '');
          cli.exitCode = report.ok ? ExitCode.ok : ExitCode.repoCorrupt;
          if (options.json) {
            outJson(cli.io, report);
            return;
          }
          const many = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
          const counts = `${many(report.packs.total, 'pack')} (${report.packs.read} read), ${many(report.blobs.total, 'blob')}, ${many(report.snapshots.total, 'snapshot')}`;
          if (report.ok) {
            out(cli.io, `✓ ${location}: no problems (${report.mode}; ${counts})`);
          } else {
            const n = report.problems.length;
            out(
              cli.io,
              `✗ ${location}: ${n} problem${n === 1 ? '' : 's'} (${report.mode}; ${counts})`,
            );
            for (const problem of report.problems) {
              out(cli.io, `  ${problem.object}  [${problem.code}]  ${problem.message}`);
            }
            if (report.snapshots.damaged.length > 0) {
              out(cli.io, `affected snapshots (${report.snapshots.damaged.length}):`);
              for (const snapshot of report.snapshots.damaged) {
                out(cli.io, `  ${snapshot.id.slice(0, 12)}  ${snapshot.reasons.join('; ')}`);
              }
            } else {
              out(cli.io, 'no snapshot is affected');
            }
          }
          if (report.packs.unindexed.length > 0) {
            out(
              cli.io,
              `note: ${report.packs.unindexed.length} pack(s) are in no index (left by an interrupted backup, or listed by a damaged index file)`,
            );
          }
          if (report.packs.marked.length > 0) {
            out(
              cli.io,
              `note: ${report.packs.marked.length} pack(s) are marked for deletion by \`repo prune\` (a later run deletes them)`,
            );
          }
        },
        'check',
      );
    });

  withRepoOptions(repo.command('stats'))
    .description('sizes of the repository: logical, unique and stored bytes, dedup and compression')
    .addHelpText(
      'after',
      examples('shipshape repo stats --repo local', 'shipshape repo stats --repo local --json'),
    )
    .action(async (options: RepoOptions) => {
      await withRepository(cli, options, async (repository) => {
        const stats = await repository.stats();
        if (options.json) {
          outJson(cli.io, stats);
          return;
        }
        const rows: { name: string; value: string }[] = [
          { name: 'snapshots', value: String(stats.snapshots) },
          { name: 'logical size', value: formatSize(stats.logicalBytes) },
          { name: 'unique size', value: formatSize(stats.uniqueBytes) },
          { name: 'stored size', value: formatSize(stats.storedBytes) },
          { name: 'dedup ratio', value: `${stats.dedupRatio.toFixed(2)}×` },
          { name: 'compression ratio', value: `${stats.compressionRatio.toFixed(2)}×` },
          { name: 'chunks', value: String(stats.chunks) },
          { name: 'packs', value: String(stats.packs) },
        ];
        out(
          cli.io,
          renderTable(rows, [
            { header: 'STAT', value: (r) => r.name },
            { header: 'VALUE', value: (r) => r.value, align: 'right' },
          ]),
        );
      });
    });

  withRepoOptions(repo.command('unlock'))
    .description(
      'remove stale locks (expired, or left by a dead process on this host); --force removes all',
    )
    .option(
      '--force',
      'remove every lock, even live ones (only when you know no process uses the repository)',
      false,
    )
    .addHelpText(
      'after',
      examples(
        'shipshape repo unlock --repo local',
        'shipshape repo unlock --repo local --force --json',
      ) +
        '\n\nA stale lock blocks backups with exit 13 (SHIP_REPO_LOCK_STALE) until it is removed.',
    )
    .action(async (options: RepoOptions & { force: boolean }) => {
      await withRepository(cli, options, async (repository) => {
        const removed = await repository.unlock({ force: options.force });
        const remaining = await repository.locks();
        if (options.json) {
          outJson(cli.io, { ok: true, removed, remaining });
          return;
        }
        out(cli.io, `✓ removed ${removed.length} lock${removed.length === 1 ? '' : 's'}`);
        for (const lock of removed) out(cli.io, `  - ${describeLock(lock)}`);
        for (const lock of remaining) out(cli.io, `  kept (live): ${describeLock(lock)}`);
      });
    });

  registerRepoMaintenanceCommands(repo, cli, { withRepoOptions, withRepository });

  const key = repo
    .command('key')
    .description('the repository’s keys (passwords wrapping its master key)');

  withRepoOptions(key.command('list'))
    .description('list key files')
    .addHelpText('after', examples('shipshape repo key list --repo local'))
    .action(async (options: RepoOptions) => {
      await withRepository(cli, options, async (repository) => {
        const keys = await repository.listKeys();
        if (options.json) {
          outJson(cli.io, { keys });
          return;
        }
        out(
          cli.io,
          renderTable(keys, [
            { header: 'ID', value: (k) => `${k.current ? '*' : ' '}${k.id}`, max: 70 },
            { header: 'CREATED', value: (k) => k.created },
            { header: 'HOST', value: (k) => k.host },
            { header: 'USER', value: (k) => k.user },
            { header: 'ROLE', value: (k) => k.role },
            { header: 'LABEL', value: (k) => k.label ?? k.problem },
          ]),
        );
      });
    });

  withRepoOptions(key.command('add'))
    .description('add a key: the new password is read from --new-password-file')
    .requiredOption('--new-password-file <file>', 'file holding the new password')
    .option('--label <label>', 'label for the new key')
    .addHelpText(
      'after',
      examples(
        'shipshape repo key add --repo local --new-password-file new.txt --label ops',
        'shipshape repo key add --repo offsite --append-only --new-password-file ci.txt --label ci',
      ) +
        '\n\nWith --append-only the new key can add snapshots but never delete or rewrite (forget, prune,\n' +
        'key remove and unlock --force are refused with exit 19). An append-only key can add only\n' +
        'append-only keys. See "Append-only repositories" in docs/repository-format.md.',
    )
    .action(async (options: RepoOptions & { newPasswordFile: string; label?: string }) => {
      const newPassword = (
        await readFile(resolve(cli.io.cwd, options.newPasswordFile), 'utf8')
      ).replace(/\r?\n$/, '');
      if (newPassword.length < 8) {
        throw ShipError.usage(
          'SHIP_REPO_WEAK_PASSWORD',
          'the new password is shorter than 8 characters',
          {
            hint: 'use a long random password, e.g. `openssl rand -base64 32`',
          },
        );
      }
      const role = options.appendOnly === true ? KeyRole.appendOnly : KeyRole.full;
      await withRepository(cli, options, async (repository) => {
        const id = await repository.addKey(newPassword, options.label, role);
        if (options.json) outJson(cli.io, { ok: true, id, role });
        else out(cli.io, `✓ added ${role === KeyRole.full ? 'key' : 'append-only key'} ${id}`);
      });
    });

  withRepoOptions(key.command('remove'))
    .description('remove a key file (the last key cannot be removed)')
    .argument('<id>', 'key id from `repo key list`')
    .addHelpText('after', examples('shipshape repo key remove 3f2a9c… --repo local'))
    .action(async (id: string, options: RepoOptions) => {
      await withRepository(cli, options, async (repository) => {
        await repository.removeKey(id);
        if (options.json) outJson(cli.io, { ok: true, id });
        else out(cli.io, `✓ removed key ${id}`);
      });
    });
}
