import type { Command } from 'commander';
import { ShipError, type ExitCodeValue } from '../core/index.js';
import type { EvidenceLedger } from '../ledger/index.js';
import { RemoteClient, RemoteLedger, remoteTarget } from '../remote/index.js';
import { Workspace } from '../workspace/index.js';
import type { Io } from './io.js';

/** State shared by the command handlers of one CLI invocation. */
export interface Cli {
  readonly io: Io;
  /** Set by a handler whose work completed but whose verdict is not success (e.g. exit 1, 10). */
  exitCode: ExitCodeValue;
}

/** Adds the options every command has. */
export function withCommonOptions(command: Command): Command {
  return command.option('--json', 'print one JSON document on stdout instead of text', false);
}

/** Adds `--spec FILE` to a command that reads the stack spec. */
export function withSpecOption(command: Command): Command {
  return command.option(
    '-s, --spec <file>',
    'stack spec to use (default: ./shipshape.yaml, then ./shipshape.yml)',
  );
}

/**
 * Adds `--server URL` to a command that records or reads evidence: with it (or
 * `SHIPSHAPE_SERVER`), the command works through `shipshape serve` with `SHIPSHAPE_TOKEN`
 * and never touches the state store.
 */
export function withServerOption(command: Command): Command {
  return command.option(
    '--server <url>',
    'work through `shipshape serve` at URL (default: $SHIPSHAPE_SERVER) with $SHIPSHAPE_TOKEN',
  );
}

/** Formats an examples block for `--help`. */
export function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}`;
}

/**
 * Opens the workspace of the spec named by `--spec` (or found in the current directory), runs
 * `fn` with it and closes it.
 */
export async function withWorkspace<T>(
  cli: Cli,
  spec: string | undefined,
  fn: (workspace: Workspace) => Promise<T>,
  server?: string,
): Promise<T> {
  const remote = remoteTarget(server, cli.io.env);
  const workspace = await Workspace.open({
    cwd: cli.io.cwd,
    env: cli.io.env,
    ...(spec === undefined ? {} : { specPath: spec }),
    ...(remote === undefined ? {} : { remote }),
  });
  try {
    return await fn(workspace);
  } finally {
    await workspace.close();
  }
}

/**
 * Runs `fn` with the evidence ledger: the server's in remote mode (no spec needed), else the
 * local one of the workspace's spec.
 */
export async function withEvidence<T>(
  cli: Cli,
  options: { spec?: string; server?: string },
  fn: (ledger: EvidenceLedger) => Promise<T>,
): Promise<T> {
  const remote = remoteTarget(options.server, cli.io.env);
  if (remote) return fn(new RemoteLedger(new RemoteClient(remote)));
  return withWorkspace(cli, options.spec, async (workspace) => fn(await workspace.evidence()));
}

/** Parses a flag that must be a positive integer, e.g. `--limit`. */
export function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw ShipError.usage(
      'SHIP_CLI_BAD_FLAG',
      `${flag} must be a positive integer, got "${value}"`,
      {
        hint: `pass e.g. ${flag} 50`,
      },
    );
  }
  return n;
}
