import { constants } from 'node:fs';
import { access, readdir } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

import { isShipError } from '../core/index.js';

import type { ToolRequirement } from './driver.js';
import { toolMissing } from './errors.js';
import { isSpawnEnoent, runChild } from './process.js';

/** Where Debian and Ubuntu install each PostgreSQL major version's programs. */
export const DEBIAN_POSTGRES_ROOT = '/usr/lib/postgresql';

/** Environment variable naming the one directory to take PostgreSQL programs from. */
export const POSTGRES_BIN_ENV = 'SHIPSHAPE_POSTGRES_BIN';

/** PostgreSQL client (or server) programs of one version. */
export interface PgToolSet {
  /** Directory holding the programs. */
  readonly bin: string;
  /** Major version (`15`). */
  readonly major: number;
  /** Full version as the program prints it (`15.8`). */
  readonly version: string;
  /** Absolute path of a program in `bin`. */
  path(program: string): string;
}

/** Options of {@link findPgTools}. */
export interface FindPgToolsOptions {
  /** Directories laid out like Debian's `/usr/lib/postgresql/<major>/bin`. @default ['/usr/lib/postgresql'] */
  roots?: readonly string[];
  /** Search path for a program not found under `roots`. @default process.env.PATH */
  path?: string;
  /** Programs that must all be present in the chosen directory. @default ['pg_dump','pg_restore'] */
  programs?: readonly string[];
  /** Use only this directory (else `SHIPSHAPE_POSTGRES_BIN`, else the search below). */
  binDir?: string;
  /** The programs are server programs (initdb, pg_ctl): name the server package when missing. */
  server?: boolean;
}

/** The package that installs the client programs of `major`. */
export function pgClientRequirement(program: string, major: number): ToolRequirement {
  return { name: program, debian: `postgresql-client-${major}`, homebrew: 'libpq' };
}

/** The package that installs the server programs (initdb, pg_ctl) of `major`. */
export function pgServerRequirement(program: string, major: number): ToolRequirement {
  return { name: program, debian: `postgresql-${major}`, homebrew: `postgresql@${major}` };
}

async function executable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** `pg_dump (PostgreSQL) 15.8 (Debian 15.8-1)` → `15.8`. */
export function parsePgVersion(text: string): string | undefined {
  return /\(PostgreSQL\)\s+(\d+(?:\.\d+)*)/.exec(text)?.[1];
}

/** Runs `program --version` and returns the version, or undefined when it does not say. */
export async function pgProgramVersion(file: string): Promise<string | undefined> {
  try {
    return parsePgVersion(await runChild(file, ['--version'], { what: `${file} --version` }));
  } catch (error) {
    if (isSpawnEnoent(error) || isShipError(error)) return undefined;
    throw error;
  }
}

function toolSet(bin: string, major: number, version: string): PgToolSet {
  return { bin, major, version, path: (program) => join(bin, program) };
}

async function hasAll(bin: string, programs: readonly string[]): Promise<boolean> {
  for (const program of programs) if (!(await executable(join(bin, program)))) return false;
  return true;
}

/**
 * Chooses the PostgreSQL programs for a server of major version `serverMajor`:
 * 0. only `binDir` / `$SHIPSHAPE_POSTGRES_BIN` when set (its version must be at least `serverMajor`);
 * 1. `<root>/<serverMajor>/bin` (Debian layout) when it has every program;
 * 2. else the oldest newer version there (a newer pg_dump reads an older server; never the reverse);
 * 3. else the first directory on PATH with the programs, if its version is at least `serverMajor`.
 * Nothing suitable → `SHIP_DATASTORE_TOOL_MISSING` naming `postgresql-client-<serverMajor>`.
 */
export async function findPgTools(
  serverMajor: number,
  options: FindPgToolsOptions = {},
): Promise<PgToolSet> {
  const programs = options.programs ?? ['pg_dump', 'pg_restore'];
  const first = programs[0] ?? 'pg_dump';
  const requirement = options.server === true ? pgServerRequirement : pgClientRequirement;
  const pinned = options.binDir ?? process.env[POSTGRES_BIN_ENV];
  if (pinned !== undefined && pinned !== '') {
    const version = (await hasAll(pinned, programs))
      ? await pgProgramVersion(join(pinned, first))
      : undefined;
    const major = Number(version?.split('.')[0]);
    if (version !== undefined && major >= serverMajor) return toolSet(pinned, major, version);
    throw toolMissing(
      requirement(first, serverMajor),
      `${POSTGRES_BIN_ENV}=${pinned} holds no ${programs.join('/')} ${serverMajor} or newer` +
        (version === undefined ? '' : ` (found ${version})`),
    );
  }
  const installed: { major: number; bin: string }[] = [];
  for (const root of options.roots ?? [DEBIAN_POSTGRES_ROOT]) {
    let names: string[];
    try {
      names = await readdir(root);
    } catch {
      continue;
    }
    for (const name of names) {
      if (!/^\d+$/.test(name)) continue;
      const bin = join(root, name, 'bin');
      if (await hasAll(bin, programs)) installed.push({ major: Number(name), bin });
    }
  }
  installed.sort((a, b) => a.major - b.major);
  const choice =
    installed.find((entry) => entry.major === serverMajor) ??
    installed.find((entry) => entry.major > serverMajor);
  if (choice !== undefined) {
    const version = (await pgProgramVersion(join(choice.bin, first))) ?? String(choice.major);
    return toolSet(choice.bin, choice.major, version);
  }
  const tooOld: string[] = installed.map((entry) => `${entry.major} in ${entry.bin}`);
  for (const dir of (options.path ?? process.env.PATH ?? '').split(delimiter)) {
    if (dir === '' || !(await hasAll(dir, programs))) continue;
    const version = await pgProgramVersion(join(dir, first));
    const major = version === undefined ? undefined : Number(version.split('.')[0]);
    if (major !== undefined && major >= serverMajor) return toolSet(dir, major, version ?? '');
    tooOld.push(`${version ?? 'unknown version'} in ${dir}`);
  }
  const found = tooOld.length === 0 ? 'none found' : `found only ${tooOld.join(', ')}`;
  throw toolMissing(
    requirement(first, serverMajor),
    `the server runs PostgreSQL ${serverMajor}, which needs ${programs.join('/')} ${serverMajor} or newer (${found})`,
  );
}
