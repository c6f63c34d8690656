import { join, relative } from 'node:path';

import type { Command } from 'commander';

import { formatSize } from '../../core/index.js';
import {
  drillExitCode,
  executeDrill,
  humanDuration,
  maybeDuration,
  planIsolatedDrill,
  DrillClock,
  prepareDrill,
  type DrillPlan,
  type DrillResult,
  type ExecutedDrill,
  type PhaseTiming,
  type PlanOptions,
} from '../../drill/index.js';
import { parseAt } from '../at.js';
import {
  examples,
  positiveInt,
  withCommonOptions,
  withServerOption,
  withSpecOption,
  withWorkspace,
  type Cli,
} from '../cli.js';
import { err, out, outJson, progress } from '../io.js';
import { renderTable } from '../table.js';

import { registerDrillReportCommands } from './drill-report.js';

interface PlanCliOptions {
  json: boolean;
  spec?: string;
  server?: string;
  environment?: string;
  at?: string;
  datastores?: string[];
}

interface RunCliOptions extends PlanCliOptions {
  keep: boolean;
  jobs?: string;
}

function splitList(value: string, previous: string[] = []): string[] {
  return [
    ...previous,
    ...value
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
  ];
}

/** What the flags of {@link planFlags} ask of the plan. */
function planOptions(options: PlanCliOptions): PlanOptions {
  return {
    ...(options.environment === undefined ? {} : { environment: options.environment }),
    ...(options.at === undefined ? {} : { at: parseAt(options.at) }),
    ...(options.datastores === undefined ? {} : { datastores: options.datastores }),
  };
}

function planFlags(command: Command): Command {
  return command
    .option(
      '-e, --environment <name>',
      'environment whose backups to drill (default: drill.environment, else production)',
    )
    .option(
      '--at <time>',
      'simulated disaster time: restore the newest snapshots consistent at or before it, measure RPO against it',
    )
    .option(
      '--datastores <names>',
      'only these data stores (comma separated, repeatable)',
      splitList,
    );
}

function phaseMs(phases: readonly PhaseTiming[], phase: PhaseTiming['phase']): number | null {
  const found = phases.filter((p) => p.phase === phase);
  return found.length === 0 ? null : found.reduce((sum, p) => sum + p.durationMs, 0);
}

function objectiveText(objectiveMs: number | undefined, from?: string): string {
  if (objectiveMs === undefined) return 'no objective';
  return `objective ${humanDuration(objectiveMs)}${from === undefined ? '' : ` (${from})`}`;
}

function printPlan(cli: Cli, plan: DrillPlan): void {
  out(
    cli.io,
    `Drill ${plan.id} of ${plan.serviceName}, environment ${plan.environment}` +
      (plan.simulated ? `, simulated disaster at ${plan.disasterAt}` : ''),
  );
  out(cli.io);
  out(
    cli.io,
    renderTable(plan.datastores, [
      { header: 'DATA STORE', value: (d) => d.name },
      { header: 'KIND', value: (d) => d.kind },
      { header: 'SNAPSHOT', value: (d) => d.snapshot.id.slice(0, 12) },
      { header: 'CONSISTENT AT', value: (d) => d.snapshot.consistentAt ?? d.snapshot.time },
      { header: 'SIZE', value: (d) => formatSize(d.snapshot.bytes), align: 'right' },
      {
        header: 'INTO',
        value: (d) => (d.placement.kind === 'sandbox' ? 'sandbox' : d.placement.target),
      },
      { header: 'CHECKS', value: (d) => d.checks.length, align: 'right' },
      { header: 'RPO', value: (d) => humanDuration(d.rpoMs), align: 'right' },
      {
        header: 'OBJECTIVES',
        value: (d) =>
          [
            d.objectives.rtoMs === undefined ? '' : `rto ${humanDuration(d.objectives.rtoMs)}`,
            d.objectives.rpoMs === undefined ? '' : `rpo ${humanDuration(d.objectives.rpoMs)}`,
          ]
            .filter((s) => s !== '')
            .join(', ') || '-',
      },
    ]),
  );
  out(cli.io);
  if (plan.service === null) out(cli.io, 'Service: none (no drill.service in the spec)');
  else {
    out(cli.io, `Service: \`${plan.service.command}\` in ${plan.service.cwd}`);
    out(
      cli.io,
      `  health ${plan.service.health ?? '(none: started when the process is up)'}; checks: ${plan.service.checks.join(', ') || '(none)'}`,
    );
  }
  out(
    cli.io,
    `RTO ${objectiveText(plan.objectives.rtoMs, plan.objectives.rtoFrom)}; RPO ${objectiveText(plan.objectives.rpoMs, plan.objectives.rpoFrom)}`,
  );
}

function printResult(cli: Cli, result: DrillResult, where: { report: string; seq?: number }): void {
  const rows = [
    ...result.datastores.map((d) => ({
      name: d.name,
      kind: d.kind,
      fetch: phaseMs(d.phases, 'fetch'),
      restore: phaseMs(d.phases, 'restore'),
      verify: phaseMs(d.phases, 'verify'),
      checks: phaseMs(d.phases, 'checks'),
      ready: d.recoveredMs,
      rpo: d.rpoMs,
      state:
        d.error !== undefined
          ? `✗ ${d.error.code}`
          : d.fingerprint?.state === 'mismatch'
            ? '✗ fingerprint mismatch'
            : d.checks.some((c) => !c.passed)
              ? '✗ check failed'
              : d.fingerprint?.state === 'match'
                ? `✓ fingerprint ${d.fingerprint.mode}`
                : '✓ restored (no fingerprint)',
    })),
    ...(result.service === null
      ? []
      : [
          {
            name: 'service',
            kind: 'process',
            fetch: null,
            restore: phaseMs(result.service.phases, 'start'),
            verify: null,
            checks: phaseMs(result.service.phases, 'smoke'),
            ready: null,
            rpo: null,
            state:
              result.service.error !== undefined
                ? `✗ ${result.service.error.code}`
                : result.service.checks.some((c) => !c.passed)
                  ? '✗ check failed'
                  : `✓ ${result.service.checks.length} check(s) passed`,
          },
        ]),
  ];
  out(
    cli.io,
    renderTable(rows, [
      { header: 'DATA STORE', value: (r) => r.name },
      { header: 'KIND', value: (r) => r.kind },
      { header: 'FETCH', value: (r) => maybeDuration(r.fetch, '-'), align: 'right' },
      { header: 'RESTORE/START', value: (r) => maybeDuration(r.restore, '-'), align: 'right' },
      { header: 'VERIFY', value: (r) => maybeDuration(r.verify, '-'), align: 'right' },
      { header: 'CHECKS/SMOKE', value: (r) => maybeDuration(r.checks, '-'), align: 'right' },
      { header: 'READY AT', value: (r) => maybeDuration(r.ready, '-'), align: 'right' },
      { header: 'RPO', value: (r) => maybeDuration(r.rpo, '-'), align: 'right' },
      { header: 'RESULT', value: (r) => r.state, max: 50 },
    ]),
  );
  out(cli.io);
  const rto = result.objectives.rto;
  const rpo = result.objectives.rpo;
  out(
    cli.io,
    `RTO ${maybeDuration(result.rtoMs, '-')}` +
      (rto === undefined
        ? ' (no objective)'
        : ` ${rto.met ? '≤' : '>'} objective ${humanDuration(rto.objectiveMs)}`) +
      `   RPO ${humanDuration(result.rpoMs)}` +
      (rpo === undefined
        ? ' (no objective)'
        : ` ${rpo.met ? '≤' : '>'} objective ${humanDuration(rpo.objectiveMs)}`),
  );
  const mark = result.verdict === 'passed' ? '✓' : '✗';
  out(
    cli.io,
    `${mark} drill ${result.verdict}${where.seq === undefined ? '' : ` (ledger #${where.seq})`}`,
  );
  for (const reason of result.reasons) out(cli.io, `  - ${reason}`);
  const kept = result.datastores.flatMap((d) =>
    d.kept === undefined ? [] : [{ name: d.name, ...d.kept }],
  );
  if (kept.length > 0) out(cli.io, 'Sandboxes left running (--keep):');
  for (const sandbox of kept) {
    out(cli.io, `  ${sandbox.name}`);
    out(cli.io, `    connect: ${sandbox.connection}`);
    out(cli.io, `    stop:    ${sandbox.stop}`);
  }
  out(cli.io, `Report: ${where.report}`);
}

/** Registers `shipshape drill run|plan|report|history`. */
export function registerDrillCommands(program: Command, cli: Cli): void {
  const drill = program
    .command('drill')
    .description('disaster-recovery drills: restore every data store, verify, measure RTO and RPO');

  withServerOption(withSpecOption(withCommonOptions(planFlags(drill.command('plan')))))
    .description('show what a drill would restore, where, and against which objectives')
    .addHelpText(
      'after',
      examples(
        'shipshape drill plan',
        'shipshape drill plan --at 2026-11-20T09:00:00Z --json',
        'shipshape drill plan --datastores orders,sessions',
      ) +
        '\n\nExit codes: 0 planned · 2 bad flag, unknown data store, no snapshot · 3 repository unreachable.',
    )
    .action(async (options: PlanCliOptions) => {
      await withWorkspace(
        cli,
        options.spec,
        async (workspace) => {
          const context = { spec: workspace.spec, baseDir: workspace.dir, env: cli.io.env };
          const prepared = await prepareDrill(context, planOptions(options));
          if (options.json) outJson(cli.io, { plan: prepared.plan });
          else printPlan(cli, prepared.plan);
        },
        options.server,
      );
    });

  withServerOption(withSpecOption(withCommonOptions(planFlags(drill.command('run')))))
    .description(
      'run a DR drill: restore in parallel into sandboxes (or DR targets), verify fingerprints and checks, start the service and smoke-test it, record RTO/RPO as dr-drill evidence',
    )
    .option('--keep', 'leave the sandboxes running afterwards and print how to connect', false)
    .option('-j, --jobs <n>', 'parallel jobs per restore where the tool supports them (pg_restore)')
    .addHelpText(
      'after',
      examples(
        'shipshape drill run',
        'shipshape drill run --at 2026-11-20T09:00:00Z    # simulated disaster: RPO measured against it',
        'shipshape drill run --datastores orders --keep',
        'shipshape drill run --json > drill.json',
      ) +
        '\n\nThe RTO clock starts when the drill starts (the disaster is declared) and stops when every' +
        '\nverification passed. Reports go to .shipshape/drills/<run>/ (md, html, json); see also' +
        '\n`shipshape drill report` and `shipshape drill history`. Ctrl-C lets the step in flight finish, then tears' +
        '\neverything down. Exit codes: 0 passed · 1 failed (integrity, a check, an objective) · 2 bad' +
        '\nflag or spec, DR target is production · 3 a restore or sandbox could not run · 130 interrupted.',
    )
    .action(async (options: RunCliOptions) => {
      await withWorkspace(
        cli,
        options.spec,
        async (workspace) => {
          const context = { spec: workspace.spec, baseDir: workspace.dir, env: cli.io.env };
          const evidence = await workspace.evidence();
          // The RTO clock starts now: the disaster is declared, planning is part of recovery.
          const clock = new DrillClock();
          const prepared = await planIsolatedDrill(context, evidence, {
            keep: options.keep,
            ...planOptions(options),
          });
          const controller = new AbortController();
          const onSignal = (signal: NodeJS.Signals) => {
            err(
              cli.io,
              `\n${signal}: stopping the drill and tearing everything down (again to force)`,
            );
            controller.abort();
            process.off('SIGINT', onSignal);
            process.off('SIGTERM', onSignal);
          };
          process.on('SIGINT', onSignal);
          process.on('SIGTERM', onSignal);
          let executed: ExecutedDrill;
          try {
            executed = await executeDrill(prepared, context, evidence, {
              clock,
              signal: controller.signal,
              ...(workspace.spec.drill === undefined
                ? {}
                : { validForMs: workspace.spec.drill.valid_for }),
              ...(options.jobs === undefined ? {} : { jobs: positiveInt(options.jobs, '--jobs') }),
              onProgress: (line) => {
                progress(cli.io, options.json, line);
              },
            });
          } finally {
            process.off('SIGINT', onSignal);
            process.off('SIGTERM', onSignal);
          }
          const { result, recorded, dir } = executed;
          if (executed.recordNote !== undefined) {
            err(
              cli.io,
              `note: the drill could not be recorded in the ledger: ${executed.recordNote}`,
            );
          }
          cli.exitCode = drillExitCode(result);
          const report = join(dir, 'report.html');
          if (options.json) {
            outJson(cli.io, {
              ...result,
              ...(recorded === undefined ? {} : { recorded }),
              report: dir,
            });
            return;
          }
          out(cli.io);
          printResult(cli, result, {
            report: relative(cli.io.cwd, report) || report,
            ...(recorded === undefined ? {} : { seq: recorded.seq }),
          });
        },
        options.server,
      );
    });

  registerDrillReportCommands(drill, cli);
}
