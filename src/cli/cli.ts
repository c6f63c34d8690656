import type { Command } from 'commander';
import type { ExitCodeValue } from '../core/index.js';
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
): Promise<T> {
  const workspace = await Workspace.open({
    cwd: cli.io.cwd,
    env: cli.io.env,
    ...(spec === undefined ? {} : { specPath: spec }),
  });
  try {
    return await fn(workspace);
  } finally {
    await workspace.close();
  }
}
