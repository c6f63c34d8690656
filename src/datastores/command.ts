import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';

import { ShipError } from '../core/index.js';

import type {
  BackupOptions,
  BackupOutcome,
  BackupSink,
  CommandSpec,
  Driver,
  SnapshotReader,
  Target,
} from './driver.js';
import { DatastoreErrorCode, targetNotEmpty, wrongSnapshot } from './errors.js';
import { fingerprintForManifest, makeFingerprint, type Fingerprint } from './fingerprint.js';
import { childFailed, startChild, type RunningChild } from './process.js';

/**
 * Exit status a restore command uses to say "the target holds data and SHIPSHAPE_FORCE is not
 * 1" (EX_CANTCREAT from sysexits.h); reported as `SHIP_DATASTORE_TARGET_NOT_EMPTY`.
 */
export const COMMAND_TARGET_NOT_EMPTY_STATUS = 73;

/** Longest fingerprint a `fingerprint` command may print. */
const MAX_FINGERPRINT_CHARS = 4096;

/** Environment every user command gets (documented in docs/datastores/command.md). */
export function commandEnv(
  target: Target,
  operation: 'backup' | 'restore' | 'fingerprint',
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    SHIPSHAPE_DATASTORE: target.name,
    SHIPSHAPE_ENVIRONMENT: target.environment ?? '',
    SHIPSHAPE_CONNECTION: target.connection,
    SHIPSHAPE_OPERATION: operation,
    ...extra,
  };
}

function commandsOf(target: Target): CommandSpec {
  if (target.command === undefined) {
    throw ShipError.usage(
      DatastoreErrorCode.badConnection,
      `data store ${target.name} has no \`command\` section`,
      {
        hint: 'add `command: { backup: …, restore: … }` to the data store in shipshape.yaml',
      },
    );
  }
  return target.command;
}

function runShell(
  script: string,
  env: Record<string, string>,
  stdin = false,
  stream = false,
): RunningChild {
  return startChild('/bin/sh', ['-c', script], { env, stdin, stdoutStream: stream });
}

function commandFailed(
  target: Target,
  operation: string,
  exit: Parameters<typeof childFailed>[1],
): ShipError {
  const error = childFailed(
    `the ${operation} command of ${target.name}`,
    exit,
    DatastoreErrorCode.commandFailed,
  );
  return new ShipError(error.code, error.message, {
    details: { ...error.details, datastore: target.name, operation },
    hint: `run the \`command.${operation}\` command by hand to see why it fails`,
  });
}

async function* commandOutput(target: Target, running: RunningChild): AsyncGenerator<Uint8Array> {
  let complete = false;
  try {
    for await (const chunk of running.stdout) yield chunk as Buffer;
    const exit = await running.exited;
    if (exit.code !== 0) throw commandFailed(target, 'backup', exit);
    complete = true;
  } finally {
    if (!complete) running.kill();
  }
}

async function fingerprint(target: Target, mode: 'counts' | 'full'): Promise<Fingerprint> {
  const script = commandsOf(target).fingerprint;
  if (script === undefined) {
    throw ShipError.usage(
      DatastoreErrorCode.badConnection,
      `data store ${target.name} has no \`command.fingerprint\``,
      {
        hint: 'add `fingerprint:` with a command that prints a digest of the data, or set `fingerprint: off`',
      },
    );
  }
  const running = runShell(script, commandEnv(target, 'fingerprint'));
  const exit = await running.exited;
  if (exit.code !== 0) throw commandFailed(target, 'fingerprint', exit);
  const printed = running.stdoutText().trim();
  if (printed.length > MAX_FINGERPRINT_CHARS) {
    throw ShipError.runtime(
      DatastoreErrorCode.commandFailed,
      `the fingerprint command of ${target.name} printed ${printed.length} characters`,
      {
        hint: `print a digest (at most ${MAX_FINGERPRINT_CHARS} characters), e.g. pipe the data through sha256sum`,
      },
    );
  }
  return makeFingerprint(mode, { output: { digest: printed } });
}

async function backup(
  target: Target,
  sink: BackupSink,
  options: BackupOptions = {},
): Promise<BackupOutcome> {
  const commands = commandsOf(target);
  const mode = options.fingerprint ?? 'counts';
  const at = new Date().toISOString();
  const consistentPoint = { kind: 'time', value: at, sourceTime: at };
  await options.onConsistentPoint?.(consistentPoint);
  const print =
    mode === 'off' || commands.fingerprint === undefined
      ? undefined
      : await fingerprint(target, mode);
  const running = runShell(commands.backup, commandEnv(target, 'backup'), false, true);
  const toolVersions: Record<string, string> = {};
  try {
    const snapshot = await sink.stream(commandOutput(target, running), {
      consistentPoint,
      toolVersions,
      ...(print === undefined ? {} : { fingerprints: fingerprintForManifest(print) }),
    });
    return {
      snapshot,
      consistentPoint,
      identity: await identity(target),
      fingerprint: print,
      toolVersions,
    };
  } finally {
    running.kill();
  }
}

async function restore(
  from: SnapshotReader,
  target: Target,
  options: { force?: boolean } = {},
): Promise<void> {
  const commands = commandsOf(target);
  const { id, manifest } = from.snapshot;
  if (manifest.source.kind !== undefined && manifest.source.kind !== 'command') {
    throw wrongSnapshot(id, `is a backup of a ${manifest.source.kind} data store, not command`);
  }
  if (manifest.content.type !== 'stream')
    throw wrongSnapshot(id, 'holds a directory tree, not a stream');
  const running = runShell(
    commands.restore,
    commandEnv(target, 'restore', {
      SHIPSHAPE_SNAPSHOT: id,
      SHIPSHAPE_FORCE: options.force === true ? '1' : '0',
    }),
    true,
  );
  const stdin = running.stdin;
  if (stdin === null) throw new Error('restore command stdin is not piped');
  // A command may exit without reading everything (it refused, or needed only part): its exit
  // status decides, so what it no longer reads is discarded rather than failing the feed.
  const fed = from.stream(discardAfterClose(stdin));
  const exit = await running.exited;
  await fed;
  if (exit.code === COMMAND_TARGET_NOT_EMPTY_STATUS) {
    throw targetNotEmpty(
      target.name,
      `its restore command exited with ${COMMAND_TARGET_NOT_EMPTY_STATUS}${exit.stderr === '' ? '' : `: ${exit.stderr}`}`,
    );
  }
  if (exit.code !== 0) throw commandFailed(target, 'restore', exit);
}

/** A Writable feeding `stdin` that turns into a sink once the reader has gone away. */
function discardAfterClose(stdin: Writable): Writable {
  let closed = false;
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (closed || stdin.destroyed) {
        closed = true;
        callback();
        return;
      }
      stdin.write(chunk, (error) => {
        if (error) closed = true;
        callback();
      });
    },
    final(callback) {
      if (closed || stdin.destroyed) {
        callback();
        return;
      }
      stdin.end(() => {
        callback();
      });
    },
  });
}

async function identity(target: Target) {
  const commands = commandsOf(target);
  // A command store has no server to ask; its identity is which commands reach it, and where.
  const id = createHash('sha256')
    .update(`${commands.backup}\n${target.connection}`)
    .digest('hex')
    .slice(0, 16);
  return Promise.resolve({ kind: 'command', id, location: target.name });
}

/** Command: user-given shell commands for stores Shipshape has no driver for. */
export const commandDriver: Driver = {
  kind: 'command',
  tools: () => [{ name: 'sh', debian: 'dash', homebrew: 'bash' }],
  identity,
  backup,
  restore,
  fingerprint,
  sandbox: () =>
    Promise.reject(
      ShipError.usage(
        DatastoreErrorCode.noSandbox,
        'a `command` data store has no sandbox: Shipshape cannot start one',
        {
          hint: 'restore it into a target you start yourself with `shipshape restore --to`',
        },
      ),
    ),
};
