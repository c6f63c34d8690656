import { Command, CommanderError } from 'commander';
import { ExitCode, ShipError, VERSION, formatProblem, isShipError } from '../core/index.js';
import { err, outJson, processIo, type Io } from './io.js';
import { registerBackupCommands } from './commands/backup.js';
import { registerRestoreCommand } from './commands/restore.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerDrillCommands } from './commands/drill.js';
import { registerInitCommand } from './commands/init.js';
import { registerLedgerCommands } from './commands/ledger.js';
import { registerNotifyCommands } from './commands/notify.js';
import { registerScheduleCommands } from './commands/schedule.js';
import { registerServeCommand } from './commands/serve.js';
import { registerRepoCommands } from './commands/repo.js';
import { registerSpecCommands } from './commands/spec.js';
import { registerStoreCommands } from './commands/store.js';
import { registerUsersCommands } from './commands/users.js';
import type { Cli } from './cli.js';

/** Builds the `shipshape` command tree. Exported for tests and for `--help` docs generation. */
export function buildProgram(cli: Cli): Command {
  const { io } = cli;
  const program = new Command('shipshape')
    .description(
      'Make a service production-ready and prove it: gates that run against real systems and\n' +
        'record tamper-evident evidence in a hash-chained, signed ledger.',
    )
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .addHelpText(
      'after',
      `
Examples:
  $ shipshape demo                     create ./shipshape-demo and run its checks
  $ shipshape init                     write a starter shipshape.yaml for this repository
  $ shipshape spec check               validate ./shipshape.yaml
  $ shipshape ledger verify --json     check the evidence ledger's chain and signatures

Exit codes: 0 ok · 1 gate failed · 2 usage/spec error · 3 runtime error · see docs/exit-codes.md`,
    );
  registerBackupCommands(program, cli);
  registerDemoCommand(program, cli);
  registerDrillCommands(program, cli);
  registerInitCommand(program, cli);
  registerSpecCommands(program, cli);
  registerLedgerCommands(program, cli);
  registerNotifyCommands(program, cli);
  registerRepoCommands(program, cli);
  registerRestoreCommand(program, cli);
  registerScheduleCommands(program, cli);
  registerServeCommand(program, cli);
  registerStoreCommands(program, cli);
  registerUsersCommands(program, cli);
  program.exitOverride();
  for (const command of allCommands(program)) command.exitOverride();
  return program;
}

function allCommands(command: Command): Command[] {
  return command.commands.flatMap((c) => [c, ...allCommands(c)]);
}

/** Prints a failure the way a user can act on it: code, message, problems, hint. */
export function reportError(io: Io, error: unknown, json: boolean): number {
  const shipError = isShipError(error)
    ? error
    : new ShipError('SHIP_INTERNAL', `internal error: ${describe(error)}`, {
        exitCode: ExitCode.runtime,
        hint: 'this is a bug in shipshape; please report it with the command you ran',
      });
  if (json) {
    outJson(io, { ok: false, error: shipError.toJSON() });
  } else {
    if (shipError.problems.length > 0) {
      for (const problem of shipError.problems) err(io, formatProblem(problem));
      err(io, '');
    }
    err(io, `error ${shipError.code}: ${shipError.message}`);
    if (shipError.hint) err(io, `hint: ${shipError.hint}`);
    if (!isShipError(error) && error instanceof Error && io.env.SHIPSHAPE_DEBUG) {
      err(io, error.stack ?? '');
    }
  }
  return shipError.exitCode;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Runs the CLI and returns the exit code; never calls `process.exit`.
 *
 * @example
 * process.exitCode = await main(process.argv);
 */
export async function main(argv: readonly string[], io: Io = processIo()): Promise<number> {
  const json = argv.includes('--json');
  const cli: Cli = { io, exitCode: ExitCode.ok };
  const program = buildProgram(cli);
  try {
    await program.parseAsync([...argv]);
    return cli.exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') {
        return ExitCode.ok;
      }
      if (error.code === 'commander.help') return ExitCode.ok;
      if (json) {
        outJson(io, {
          ok: false,
          error: { code: 'SHIP_CLI_USAGE', message: error.message, exitCode: ExitCode.usage },
        });
      }
      return ExitCode.usage;
    }
    return reportError(io, error, json);
  }
}
