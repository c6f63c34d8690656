import type { Writable } from 'node:stream';
import { redact, redactDeep } from '../core/index.js';

/**
 * Where a command writes. Every byte goes through the redactor, so a secret that reached a
 * message by any path (a child tool's stderr, an exception) is still never printed.
 */
export interface Io {
  readonly stdout: Writable & { isTTY?: boolean };
  readonly stderr: Writable & { isTTY?: boolean };
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

export function processIo(): Io {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
}

/** Writes lines to stdout, redacted. */
export function out(io: Io, text = ''): void {
  io.stdout.write(`${redact(text)}\n`);
}

/** Writes lines to stderr, redacted. */
export function err(io: Io, text = ''): void {
  io.stderr.write(`${redact(text)}\n`);
}

/** Writes one JSON document to stdout, redacted, pretty-printed with a trailing newline. */
export function outJson(io: Io, value: unknown): void {
  io.stdout.write(`${JSON.stringify(redactDeep(value), null, 2)}\n`);
}

/** True when progress may be drawn: stderr is a terminal and the output is not JSON. */
export function showProgress(io: Io, json: boolean): boolean {
  return !json && io.stderr.isTTY === true && io.env.CI === undefined;
}

/** Prints a step of long work on a terminal; silent otherwise. */
export function progress(io: Io, json: boolean, text: string): void {
  if (showProgress(io, json)) err(io, `… ${text}`);
}
