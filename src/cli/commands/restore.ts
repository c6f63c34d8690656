import type { Command } from 'commander';

import { ExitCode, ShipError, isSimulatedCrash, redact } from '../../core/index.js';
import {
  DatastoreErrorCode,
  describeMismatch,
  restoreEvidence,
  restoreFailureEvidence,
  runDatastoreRestore,
} from '../../datastores/index.js';
import {
  examples,
  positiveInt,
  withCommonOptions,
  withServerOption,
  withSpecOption,
  withWorkspace,
  type Cli,
} from '../cli.js';
import { parseAt } from '../at.js';
import { err, out, outJson, progress } from '../io.js';

interface RestoreCliOptions {
  json: boolean;
  spec?: string;
  server?: string;
  env?: string;
  snapshot?: string;
  at?: string;
  to: string;
  force: boolean;
  jobs?: string;
}

export function registerRestoreCommand(program: Command, cli: Cli): void {
  withServerOption(withSpecOption(withCommonOptions(program.command('restore'))))
    .argument('<datastore>', 'the data store (from shipshape.yaml) whose backup to restore')
    .description(
      'restore a data store from its repository into a target, then verify its fingerprint',
    )
    .requiredOption(
      '--to <connection>',
      'where to restore: a connection string (postgres, mariadb/mysql, redis), a file (sqlite), a directory (files); ${env:…} references allowed',
    )
    .option('--snapshot <id>', 'snapshot id (prefix) or "latest"')
    .option('--at <time>', 'restore the newest snapshot consistent at or before this date-time')
    .option('-e, --env <environment>', 'only snapshots taken from this environment')
    .option('-f, --force', 'replace the data of a non-empty target', false)
    .option('-j, --jobs <n>', 'parallel restore jobs where the tool supports them (pg_restore)')
    .addHelpText(
      'after',
      examples(
        "shipshape restore orders --to 'postgres://restore@db2:5432/orders?password=${env:PGPASSWORD}'",
        'shipshape restore orders-db --to /srv/orders/orders.db --snapshot 3fa4c2d1',
        'shipshape restore orders --at 2026-03-01T09:30:00Z --to postgres://localhost/orders_pitr --json',
        'shipshape restore uploads --to /srv/uploads --force',
      ) +
        '\n\nNeeds only the spec, the repository and its key. After restoring, the target is fingerprinted and' +
        "\ncompared with the snapshot's fingerprint; a `datastore-restored` event is recorded when the ledger" +
        '\nis reachable. Exit codes: 0 restored and verified · 1 fingerprint mismatch (the differing tables are' +
        '\nnamed) · 2 target not empty without --force, no such snapshot, bad flag · 3 server unreachable,' +
        '\ntool missing · 11 repository corrupt · 12 wrong key · 13 locked.',
    )
    .action(async (name: string, options: RestoreCliOptions) => {
      await withWorkspace(
        cli,
        options.spec,
        async (workspace) => {
          const startedAt = new Date();
          const restoreOptions = {
            to: options.to,
            force: options.force,
            ...(options.snapshot === undefined ? {} : { snapshot: options.snapshot }),
            ...(options.at === undefined ? {} : { at: parseAt(options.at) }),
            ...(options.env === undefined ? {} : { environment: options.env }),
            ...(options.jobs === undefined ? {} : { jobs: positiveInt(options.jobs, '--jobs') }),
            onStep: (step: string) => {
              progress(cli.io, options.json, step);
            },
          };
          let result: Awaited<ReturnType<typeof runDatastoreRestore>>;
          try {
            result = await runDatastoreRestore(
              name,
              { spec: workspace.spec, baseDir: workspace.dir, env: cli.io.env, cwd: cli.io.cwd },
              restoreOptions,
            );
          } catch (error) {
            // A refused or failed restore is evidence too (what was tried, why it stopped).
            if (error instanceof ShipError) {
              try {
                await (
                  await workspace.evidence()
                ).record(restoreFailureEvidence(name, options.to, error, startedAt));
              } catch (recordError) {
                if (isSimulatedCrash(recordError)) throw recordError;
                const why =
                  recordError instanceof Error ? recordError.message : String(recordError);
                err(cli.io, redact(`note: the failed restore could not be recorded: ${why}`));
              }
            }
            throw error;
          }
          let recorded: { seq: number; hash: string } | undefined;
          try {
            const record = await (await workspace.evidence()).record(restoreEvidence(result));
            recorded = { seq: record.seq, hash: record.hash };
          } catch (error) {
            if (isSimulatedCrash(error)) throw error;
            const why = error instanceof Error ? error.message : String(error);
            err(cli.io, redact(`note: the restore could not be recorded in the ledger: ${why}`));
          }
          const mismatch = result.fingerprint.state === 'mismatch';
          if (mismatch) cli.exitCode = ExitCode.gateFailed;
          if (options.json) {
            outJson(cli.io, {
              ok: !mismatch,
              datastore: result.datastore,
              kind: result.kind,
              snapshot: result.snapshot,
              target: result.target,
              durationMs: result.finishedAt.getTime() - result.startedAt.getTime(),
              fingerprint: result.fingerprint,
              ...(mismatch
                ? {
                    error: {
                      code: DatastoreErrorCode.fingerprintMismatch,
                      exitCode: ExitCode.gateFailed,
                      message: `the restored data differs from the snapshot: ${describeMismatch(result.fingerprint)}`,
                    },
                  }
                : {}),
              ...(recorded === undefined ? {} : { recorded }),
            });
            return;
          }
          const ledger = recorded === undefined ? '' : ` (ledger #${recorded.seq})`;
          out(
            cli.io,
            `✓ restored ${result.datastore} snapshot ${result.snapshot.id.slice(0, 12)} ` +
              `(consistent at ${result.snapshot.consistentAt ?? result.snapshot.time}) into ${result.target}`,
          );
          const check = result.fingerprint;
          if (check.state === 'skipped') out(cli.io, `  fingerprint not checked: ${check.why}`);
          else if (check.state === 'match')
            out(
              cli.io,
              `✓ fingerprint ${check.mode} ${check.actual.slice(0, 12)} matches${ledger}`,
            );
          else {
            err(
              cli.io,
              `✗ error ${DatastoreErrorCode.fingerprintMismatch}: the restored data differs from the snapshot: ${describeMismatch(check)}${ledger}`,
            );
            err(
              cli.io,
              '  hint: check the target was not written to during the restore; try an older snapshot (`shipshape backup list`)',
            );
          }
        },
        options.server,
      );
    });
}
