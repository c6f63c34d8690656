import { readFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import type { Command } from 'commander';
import { ShipError, formatSize } from '../../core/index.js';
import { Repository, openFsBackend, type StoredSnapshot } from '../../repo/index.js';
import { findSpecFile, loadSpec, resolveSecretString } from '../../spec/index.js';
import { examples, withCommonOptions, type Cli } from '../cli.js';
import { err, out, outJson, showProgress } from '../io.js';
import { renderTable } from '../table.js';

interface RepoOptions {
  json: boolean;
  repo?: string;
  passwordFile?: string;
  spec?: string;
}

interface ResolvedRepo {
  location: string;
  password: string;
}

function withRepoOptions(command: Command): Command {
  return withCommonOptions(command)
    .option(
      '-r, --repo <path|name>',
      'repository directory, or the name of a repository in the spec (default: $SHIPSHAPE_REPO)',
    )
    .option('--password-file <file>', 'read the repository password from a file')
    .option('-s, --spec <file>', 'stack spec to take a named repository from');
}

/**
 * Where the repository is and its password: `--repo` as a path, or as the name of one of the
 * spec's `repositories` (its `url` and `key` reference); the password from `--password-file`,
 * `SHIPSHAPE_REPO_PASSWORD`, or the spec's key reference — never from a flag value.
 */
async function resolveRepo(cli: Cli, options: RepoOptions): Promise<ResolvedRepo> {
  const ref = options.repo ?? cli.io.env.SHIPSHAPE_REPO;
  if (ref === undefined || ref === '') {
    throw ShipError.usage('SHIP_CLI_BAD_FLAG', 'no repository given', {
      hint: 'pass --repo PATH (or the name of a repository in shipshape.yaml), or set SHIPSHAPE_REPO',
    });
  }
  let location = resolve(cli.io.cwd, ref);
  let specKey: { value: string; baseDir: string; field: string } | undefined;
  if (/^[a-z][a-z0-9-]*$/.test(ref) || options.spec !== undefined) {
    const specFile = (() => {
      try {
        return findSpecFile(cli.io.cwd, options.spec);
      } catch (error) {
        if (options.spec !== undefined) throw error;
        return undefined;
      }
    })();
    const repository = specFile ? (await loadSpec(specFile)).spec.repositories[ref] : undefined;
    if (specFile && repository) {
      const baseDir = resolve(specFile, '..');
      if (repository.url.startsWith('s3://')) {
        throw ShipError.usage(
          'SHIP_REPO_BACKEND_UNAVAILABLE',
          `repository ${ref} is on S3 (${repository.url}); this version stores repositories on local disks only`,
          {
            hint: 'use a local path for now; the S3 backend comes with the next repository release',
          },
        );
      }
      location = isAbsolute(repository.url) ? repository.url : resolve(baseDir, repository.url);
      specKey = { value: repository.key, baseDir, field: `repositories.${ref}.key` };
    }
  }
  if (location.startsWith('s3:')) {
    throw ShipError.usage(
      'SHIP_REPO_BACKEND_UNAVAILABLE',
      `${ref}: S3 repositories are not available yet`,
      {
        hint: 'use a local directory',
      },
    );
  }
  return { location, password: await resolvePassword(cli, options, specKey) };
}

async function resolvePassword(
  cli: Cli,
  options: RepoOptions,
  specKey: { value: string; baseDir: string; field: string } | undefined,
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
  if (specKey) {
    return resolveSecretString(specKey.value, {
      baseDir: specKey.baseDir,
      env: cli.io.env,
      field: specKey.field,
    });
  }
  throw ShipError.usage('SHIP_REPO_NO_PASSWORD', 'no repository password given', {
    hint: 'set SHIPSHAPE_REPO_PASSWORD, pass --password-file FILE, or name a repository from the spec with --repo',
  });
}

async function withRepository<T>(
  cli: Cli,
  options: RepoOptions,
  fn: (repo: Repository, location: string) => Promise<T>,
): Promise<T> {
  const { location, password } = await resolveRepo(cli, options);
  const repo = await Repository.open(openFsBackend(location), password);
  try {
    return await fn(repo, location);
  } finally {
    await repo.close();
  }
}

/** Draws `… 1.2 GiB read, 310 MiB/s` on a terminal, at most a few times a second. */
function progressLine(cli: Cli, json: boolean): (bytes: number, total?: number) => void {
  if (!showProgress(cli.io, json)) return () => undefined;
  const started = performance.now();
  let last = 0;
  return (bytes, total) => {
    const now = performance.now();
    if (now - last < 250) return;
    last = now;
    const rate = bytes / Math.max((now - started) / 1000, 0.001);
    const eta =
      total !== undefined && total > 0 && rate > 0
        ? `, ETA ${Math.max(0, Math.round((total - bytes) / rate))}s`
        : '';
    const of = total === undefined ? '' : ` of ${formatSize(total)}`;
    cli.io.stderr.write(
      `\r… ${formatSize(bytes)}${of}, ${formatSize(Math.round(rate))}/s${eta}   `,
    );
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
      ),
    )
    .action(async (options: RepoOptions & { label?: string }) => {
      const { location, password } = await resolveRepo(cli, options);
      const created = await Repository.init(openFsBackend(location), password, {
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
    });

  withRepoOptions(repo.command('backup'))
    .description('back up standard input (e.g. a dump piped in) as one snapshot')
    .argument('[source]', '"-" for standard input', '-')
    .option('--name <name>', 'source name recorded in the snapshot (e.g. the data store)', 'stdin')
    .option('--tag <tag...>', 'tags to attach to the snapshot')
    .addHelpText(
      'after',
      examples(
        'pg_dump -Fc -Z0 orders | shipshape repo backup --repo /srv/backups/orders --name orders -',
        'shipshape repo backup --repo local --tag nightly - < dump.sql',
      ),
    )
    .action(async (source: string, options: RepoOptions & { name: string; tag?: string[] }) => {
      if (source !== '-') {
        throw ShipError.usage(
          'SHIP_CLI_BAD_FLAG',
          `cannot back up "${source}": give "-" and pipe the data in`,
          {
            hint: 'e.g. shipshape repo backup --repo R - < file',
          },
        );
      }
      await withRepository(cli, options, async (repository) => {
        const draw = progressLine(cli, options.json);
        const result = await repository.backupStream(
          process.stdin,
          { source: { type: 'stream', name: options.name }, tags: options.tag ?? [] },
          {
            onProgress: (p) => {
              draw(p.bytesRead);
            },
          },
        );
        if (showProgress(cli.io, options.json)) err(cli.io, '');
        if (options.json) {
          outJson(cli.io, { ok: true, ...result });
          return;
        }
        out(cli.io, `✓ snapshot ${result.snapshotId.slice(0, 12)} saved`);
        out(
          cli.io,
          `  ${formatSize(result.bytesRead)} read, ${formatSize(result.bytesNew)} new, ${formatSize(result.bytesStored)} stored; ` +
            `${result.newChunks}/${result.chunks} chunks new, ${(result.durationMs / 1000).toFixed(1)} s`,
        );
      });
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
      'restore a snapshot of a stream to standard output; every chunk is verified as it is written',
    )
    .argument('<snapshot>', 'snapshot id (or a unique prefix), or "latest"')
    .option('--stdout', 'write the restored stream to standard output', false)
    .addHelpText(
      'after',
      examples(
        'shipshape repo restore latest --repo local --stdout | pg_restore -d orders_restored',
        'shipshape repo restore 3f2a9c --repo /srv/b --stdout > dump.sql',
      ) +
        '\n\nExit codes: 0 ok · 11 corrupt data (nothing wrong is written silently) · 12 wrong key',
    )
    .action(async (snapshot: string, options: RepoOptions & { stdout: boolean }) => {
      if (!options.stdout) {
        throw ShipError.usage('SHIP_CLI_BAD_FLAG', 'say where to restore to: --stdout', {
          hint: 'e.g. shipshape repo restore latest --repo R --stdout > dump',
        });
      }
      await withRepository(cli, options, async (repository) => {
        const draw = progressLine(cli, true);
        const result = await repository.restoreStream(snapshot, process.stdout, {
          end: false,
          onProgress: (p) => {
            draw(p.bytesWritten, p.totalBytes);
          },
        });
        if (showProgress(cli.io, false)) err(cli.io, '');
        err(
          cli.io,
          `✓ restored ${formatSize(result.bytesWritten)} from snapshot ${result.snapshotId.slice(0, 12)}`,
        );
      });
    });

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
      examples('shipshape repo key add --repo local --new-password-file new.txt --label ops'),
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
      await withRepository(cli, options, async (repository) => {
        const id = await repository.addKey(newPassword, options.label);
        if (options.json) outJson(cli.io, { ok: true, id });
        else out(cli.io, `✓ added key ${id}`);
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
