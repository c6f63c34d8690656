import type { Command } from 'commander';

import {
  ExitCode,
  formatDuration,
  formatSize,
  isSimulatedCrash,
  redact,
} from '../../core/index.js';
import {
  backupEvidence,
  backupStatusReport,
  datastoreSnapshots,
  fingerprintFromManifest,
  runDatastoreBackup,
  verifyDatastoreBackups,
  verifyEvidence,
  type BackupRunResult,
} from '../../datastores/index.js';
import type { StoredSnapshot } from '../../repo/index.js';
import {
  examples,
  withCommonOptions,
  withServerOption,
  withSpecOption,
  withWorkspace,
  type Cli,
} from '../cli.js';
import { err, out, outJson, progress } from '../io.js';
import { renderTable } from '../table.js';

interface RunOptions {
  json: boolean;
  spec?: string;
  server?: string;
  env?: string;
  tag: string[];
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function resultJson(result: BackupRunResult, recorded: { seq: number; hash: string } | undefined) {
  const base = {
    datastore: result.datastore,
    kind: result.kind,
    environment: result.environment ?? null,
    repository: result.repository,
    durationMs: result.finishedAt.getTime() - result.startedAt.getTime(),
    ...(recorded === undefined ? {} : { recorded }),
  };
  if (!result.ok) return { ...base, ok: false, error: result.error.toJSON() };
  const { outcome } = result;
  return {
    ...base,
    ok: true,
    snapshotId: outcome.snapshot.snapshotId,
    bytesRead: outcome.snapshot.bytesRead,
    bytesNew: outcome.snapshot.bytesNew,
    bytesStored: outcome.snapshot.bytesStored,
    consistentPoint: outcome.consistentPoint,
    identity: outcome.identity,
    fingerprint:
      outcome.fingerprint === undefined
        ? null
        : { mode: outcome.fingerprint.mode, digest: outcome.fingerprint.digest },
    toolVersions: outcome.toolVersions,
  };
}

export function registerBackupCommands(program: Command, cli: Cli): void {
  const backup = program.command('backup').description('back up the data stores of the stack spec');

  withServerOption(withSpecOption(withCommonOptions(backup.command('run'))))
    .argument('[datastores...]', 'data stores to back up (default: all in the spec)')
    .description('back up data stores into their repositories and record `backup` evidence')
    .option('-e, --env <environment>', 'which connection to use (needed when a store has several)')
    .option('--tag <tag>', 'add a tag to the snapshots (repeatable)', collect, [])
    .addHelpText(
      'after',
      examples(
        'shipshape backup run                       # every data store in shipshape.yaml',
        'shipshape backup run orders --env production',
        'shipshape backup run orders uploads --tag nightly --json',
      ) +
        '\n\nEach data store gets one snapshot (or none, if its backup fails) and one `backup` gate result in' +
        '\nthe evidence ledger. Exit codes: 0 all succeeded · otherwise the exit code of the first failure' +
        '\n(2 spec/usage, 3 unreachable/tool missing/permission, 11 repository corrupt, 12 wrong key, 13 locked).',
    )
    .action(async (names: string[], options: RunOptions) => {
      await withWorkspace(
        cli,
        options.spec,
        async (workspace) => {
          const chosen = names.length > 0 ? names : Object.keys(workspace.spec.datastores);
          if (chosen.length === 0 && !options.json) out(cli.io, 'the spec defines no data stores');
          const results = [];
          for (const name of chosen) {
            const result = await runDatastoreBackup(name, {
              spec: workspace.spec,
              baseDir: workspace.dir,
              env: cli.io.env,
              tags: options.tag,
              ...(options.env === undefined ? {} : { environment: options.env }),
            });
            let recorded: { seq: number; hash: string } | undefined;
            try {
              const evidence = await workspace.evidence();
              const record = await evidence.record({
                kind: 'gate-result',
                subject: `datastore:${name}`.slice(0, 256),
                body: backupEvidence(result),
              });
              recorded = { seq: record.seq, hash: record.hash };
            } catch (error) {
              if (isSimulatedCrash(error)) throw error;
              const why = error instanceof Error ? error.message : String(error);
              err(
                cli.io,
                redact(`note: the backup of ${name} could not be recorded in the ledger: ${why}`),
              );
            }
            results.push(resultJson(result, recorded));
            if (!result.ok && cli.exitCode === 0) cli.exitCode = result.error.exitCode;
            if (options.json) continue;
            if (result.ok) {
              const { snapshot, consistentPoint, fingerprint } = result.outcome;
              out(
                cli.io,
                `✓ ${name} (${result.kind}, ${result.environment ?? '-'}) → snapshot ${snapshot.snapshotId.slice(0, 12)}: ` +
                  `${formatSize(snapshot.bytesRead)} read, ${formatSize(snapshot.bytesNew)} new, consistent at ` +
                  (consistentPoint.sourceTime ?? consistentPoint.value) +
                  (fingerprint === undefined
                    ? ''
                    : `, fingerprint ${fingerprint.mode} ${fingerprint.digest.slice(0, 12)}`) +
                  (recorded === undefined ? '' : ` (ledger #${recorded.seq})`),
              );
            } else {
              err(cli.io, `✗ ${name}: error ${result.error.code}: ${result.error.message}`);
              if (result.error.hint !== undefined) err(cli.io, `  hint: ${result.error.hint}`);
              if (recorded !== undefined)
                err(cli.io, `  failed backup recorded as ledger #${recorded.seq}`);
            }
          }
          if (options.json) outJson(cli.io, { ok: results.every((r) => r.ok), results });
        },
        options.server,
      );
    });

  registerStatusCommand(backup, cli);
  registerVerifyCommand(backup, cli);

  withSpecOption(withCommonOptions(backup.command('list')))
    .argument('[datastores...]', 'data stores to list (default: all in the spec)')
    .description("list each data store's snapshots in its repository, oldest first")
    .addHelpText('after', examples('shipshape backup list', 'shipshape backup list orders --json'))
    .action(async (names: string[], options: { json: boolean; spec?: string }) => {
      await withWorkspace(cli, options.spec, async (workspace) => {
        const chosen = names.length > 0 ? names : Object.keys(workspace.spec.datastores);
        const listed: { datastore: string; snapshots: StoredSnapshot[] }[] = [];
        for (const name of chosen) {
          const snapshots = await datastoreSnapshots(name, {
            spec: workspace.spec,
            baseDir: workspace.dir,
            env: cli.io.env,
          });
          listed.push({ datastore: name, snapshots });
        }
        const rows = listed.flatMap(({ datastore, snapshots }) =>
          snapshots.map((snapshot) => {
            const { manifest } = snapshot;
            const fingerprint = fingerprintFromManifest(manifest.fingerprints);
            return {
              datastore,
              id: snapshot.id,
              time: manifest.time,
              kind: manifest.source.kind ?? null,
              tags: manifest.tags,
              consistentPoint: manifest.consistentPoint ?? null,
              logicalBytes: manifest.sizes.logicalBytes,
              fingerprint:
                fingerprint === undefined
                  ? null
                  : { mode: fingerprint.mode, digest: fingerprint.digest },
              toolVersions: manifest.toolVersions,
            };
          }),
        );
        if (options.json) {
          outJson(cli.io, { snapshots: rows });
          return;
        }
        if (rows.length === 0) {
          out(cli.io, 'no snapshots');
          return;
        }
        out(
          cli.io,
          renderTable(rows, [
            { header: 'DATASTORE', value: (r) => r.datastore },
            { header: 'SNAPSHOT', value: (r) => r.id.slice(0, 12) },
            { header: 'TIME', value: (r) => r.time },
            {
              header: 'CONSISTENT AT',
              value: (r) => r.consistentPoint?.sourceTime ?? r.consistentPoint?.value ?? '',
            },
            { header: 'SIZE', value: (r) => formatSize(r.logicalBytes), align: 'right' },
            {
              header: 'FINGERPRINT',
              value: (r) =>
                r.fingerprint === null
                  ? ''
                  : `${r.fingerprint.mode} ${r.fingerprint.digest.slice(0, 12)}`,
            },
            { header: 'TAGS', value: (r) => r.tags.join(',') },
          ]),
        );
      });
    });
}

function age(seconds: number | null): string {
  return seconds === null ? '-' : formatDuration(seconds * 1000);
}

function registerStatusCommand(backup: Command, cli: Cli): void {
  withServerOption(withSpecOption(withCommonOptions(backup.command('status'))))
    .argument('[datastores...]', 'data stores to report (default: all in the spec)')
    .description(
      'per data store: newest successful backup, its age against the schedule and the RPO; exits 18 when any is at risk',
    )
    .option('-e, --env <environment>', 'only count backups of this environment')
    .addHelpText(
      'after',
      examples(
        'shipshape backup status',
        'shipshape backup status orders --env production --json',
        '*/15 * * * * shipshape backup status --env production || page-the-on-call   # crontab',
      ) +
        '\n\nStatus per data store, from the `backup` results in the evidence ledger: ok · late (a scheduled' +
        '\nrun was missed, RPO still met) · rpo-at-risk (newest backup older than objectives.rpo) · failed' +
        '\n(the newest run failed) · never (no backup recorded).' +
        '\nExit codes: 0 all ok or late · 18 any rpo-at-risk, failed or never · 2 spec/usage error.',
    )
    .action(
      async (
        names: string[],
        options: { json: boolean; spec?: string; server?: string; env?: string },
      ) => {
        await withWorkspace(
          cli,
          options.spec,
          async (workspace) => {
            const statuses = await backupStatusReport(workspace.spec, await workspace.evidence(), {
              names,
              ...(options.env === undefined ? {} : { environment: options.env }),
            });
            const alerting = statuses.filter((s) => s.alerting);
            if (alerting.length > 0) cli.exitCode = ExitCode.rpoAtRisk;
            if (options.json) {
              outJson(cli.io, { ok: alerting.length === 0, datastores: statuses });
              return;
            }
            if (statuses.length === 0) {
              out(cli.io, 'the spec defines no data stores');
              return;
            }
            out(
              cli.io,
              renderTable(statuses, [
                { header: 'DATASTORE', value: (s) => s.datastore },
                { header: 'STATUS', value: (s) => s.status },
                { header: 'LAST SUCCESS', value: (s) => s.lastSuccess?.finishedAt ?? '-' },
                { header: 'AGE', value: (s) => age(s.ageSeconds), align: 'right' },
                { header: 'RPO', value: (s) => age(s.rpoSeconds), align: 'right' },
                {
                  header: 'EVERY',
                  value: (s) => (s.schedule === null ? '-' : age(s.schedule.intervalSeconds)),
                  align: 'right',
                },
                { header: 'NEXT RUN', value: (s) => s.schedule?.next ?? '-' },
              ]),
            );
            for (const s of statuses) {
              if (s.status !== 'ok') out(cli.io, `${s.datastore}: ${s.reason}`);
            }
          },
          options.server,
        );
      },
    );
}

function registerVerifyCommand(backup: Command, cli: Cli): void {
  withServerOption(withSpecOption(withCommonOptions(backup.command('verify'))))
    .argument('[datastores...]', 'data stores to verify (default: all in the spec)')
    .description(
      "check each data store's snapshots: repository structure, every snapshot read back, optionally a sandbox restore",
    )
    .option('-e, --env <environment>', 'only snapshots taken from this environment')
    .option(
      '--restore',
      'also restore the newest snapshot into a sandbox and compare its fingerprint',
      false,
    )
    .addHelpText(
      'after',
      examples('shipshape backup verify', 'shipshape backup verify orders --restore --json') +
        '\n\nReads every snapshot of the store whole (each blob decrypted and authenticated): the cost is the' +
        "\nsum of the snapshots' sizes. A `datastore-verified` event is recorded per store." +
        '\nExit codes: 0 all verified · 1 no snapshots, or the sandbox fingerprint differs · 11 a snapshot' +
        '\nis damaged · 3 the sandbox could not start · 2 spec/usage · 12 wrong key · 13 locked.',
    )
    .action(
      async (
        names: string[],
        options: { json: boolean; spec?: string; server?: string; env?: string; restore: boolean },
      ) => {
        await withWorkspace(
          cli,
          options.spec,
          async (workspace) => {
            const chosen = names.length > 0 ? names : Object.keys(workspace.spec.datastores);
            const results = [];
            for (const name of chosen) {
              const result = await verifyDatastoreBackups(
                name,
                { spec: workspace.spec, baseDir: workspace.dir, env: cli.io.env },
                {
                  restore: options.restore,
                  ...(options.env === undefined ? {} : { environment: options.env }),
                  onStep: (step) => {
                    progress(cli.io, options.json, step);
                  },
                },
              );
              let recorded: { seq: number; hash: string } | undefined;
              try {
                const record = await (await workspace.evidence()).record(verifyEvidence(result));
                recorded = { seq: record.seq, hash: record.hash };
              } catch (error) {
                if (isSimulatedCrash(error)) throw error;
                const why = error instanceof Error ? error.message : String(error);
                err(
                  cli.io,
                  redact(`note: the verification of ${name} could not be recorded: ${why}`),
                );
              }
              if (!result.ok && cli.exitCode === 0) cli.exitCode = result.exitCode;
              const { startedAt, finishedAt, ...rest } = result;
              results.push({
                ...rest,
                durationMs: finishedAt.getTime() - startedAt.getTime(),
                ...(recorded === undefined ? {} : { recorded }),
              });
              if (options.json) continue;
              const ledger = recorded === undefined ? '' : ` (ledger #${recorded.seq})`;
              if (result.ok) out(cli.io, `✓ ${name}: ${result.summary}${ledger}`);
              else {
                err(cli.io, `✗ ${name}: ${result.summary}${ledger}`);
                for (const d of result.damaged)
                  err(cli.io, `  snapshot ${d.id.slice(0, 12)}: ${d.reasons.join('; ')}`);
                for (const u of result.unreadable)
                  err(cli.io, `  snapshot ${u.id.slice(0, 12)}: ${u.code}: ${u.message}`);
                if (result.sandbox !== null && 'error' in result.sandbox)
                  err(
                    cli.io,
                    `  sandbox: ${result.sandbox.error.code}: ${result.sandbox.error.message}`,
                  );
              }
            }
            if (options.json) outJson(cli.io, { ok: results.every((r) => r.ok), results });
          },
          options.server,
        );
      },
    );
}
