import { basename, join, relative } from 'node:path';
import type { Command } from 'commander';
import { ExitCode } from '../../core/index.js';
import { createDemo } from '../../demo/index.js';
import { examples, withCommonOptions, type Cli } from '../cli.js';
import { out, outJson, progress } from '../io.js';

/** How the user ran us: `shipshape` when installed on PATH, else `node path/to/bin/shipshape.js`. */
function invocation(cwd: string): string {
  const script = process.argv[1];
  if (script === undefined || basename(script) === 'shipshape') return 'shipshape';
  const rel = relative(cwd, script);
  return `node ${rel.startsWith('..') ? script : rel}`;
}

export function registerDemoCommand(program: Command, cli: Cli): void {
  withCommonOptions(program.command('demo'))
    .description(
      'create a demo workspace (a small real service with its shipshape.yaml) and run its gates',
    )
    .option('-d, --dir <dir>', 'where to create it', './shipshape-demo')
    .option('-f, --force', 'overwrite the demo files in a non-empty directory', false)
    .addHelpText(
      'after',
      examples('shipshape demo', 'shipshape demo --dir /tmp/demo --force --json') +
        "\n\nNeeds no servers. Backs up the example service's SQLite store into .shipshape/backups, then runs a" +
        '\nDR drill: the backup restored into a sandbox, the service started on the copy and smoke-tested,' +
        '\nRTO and RPO measured. Exit codes: 0 ok · 1 the drill failed · 2 directory not empty · 10 ledger' +
        '\nfailed verification',
    )
    .action(async (options: { json: boolean; dir: string; force: boolean }) => {
      const report = await createDemo({
        dir: options.dir,
        force: options.force,
        env: cli.io.env,
        onStep: (step) => {
          progress(cli.io, options.json, step);
        },
      });
      if (report.drill.verdict !== 'passed') cli.exitCode = ExitCode.gateFailed;
      if (!report.ledger.ok) cli.exitCode = ExitCode.ledgerTampered;
      if (options.json) {
        outJson(cli.io, report);
        return;
      }
      out(cli.io, `Shipshape demo in ${report.dir}\n`);
      for (const s of report.steps) {
        const failed = s.step === 'dr drill' && report.drill.verdict !== 'passed';
        out(cli.io, `  ${failed ? '✗' : '✓'} ${s.step.padEnd(14)} ${s.detail}`);
      }
      for (const reason of report.drill.reasons) out(cli.io, `      - ${reason}`);
      const spec = relative(cli.io.cwd, join(report.dir, 'shipshape.yaml'));
      const self = invocation(cli.io.cwd);
      out(cli.io, '\nNext (from this directory):');
      out(cli.io, `  ${self} spec check --spec ${spec}      # validate it again`);
      out(cli.io, `  ${self} ledger list --spec ${spec}     # the evidence recorded so far`);
      out(cli.io, `  ${self} ledger verify --spec ${spec}   # chain and signatures`);
      out(cli.io, `  ${self} backup status --spec ${spec}   # backup age against schedule and RPO`);
      out(cli.io, `  ${self} backup list --spec ${spec}     # the snapshots in the repository`);
      out(
        cli.io,
        `  ${self} drill run --spec ${spec}       # drill again: RTO/RPO against objectives`,
      );
      out(cli.io, `  ${self} drill history --spec ${spec}   # RTO and RPO over time`);
    });
}
