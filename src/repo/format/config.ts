import { randomBytes } from 'node:crypto';

import { z } from 'zod';

import { ExitCode, ShipError } from '../../core/index.js';
import { FileType, type Backend } from '../backend/index.js';
import {
  DEFAULT_CHUNKER_PARAMS,
  validateChunkerParams,
  type ChunkerParams,
} from '../chunker/index.js';
import { DEFAULT_COMPRESSION_LEVEL, checkCompressionLevel } from '../compress/index.js';
import { repoCorrupt, repoUnsupportedVersion } from '../crypto/index.js';

/** `format` field of every repository config. */
export const REPOSITORY_FORMAT = 'shipshape-repository';
/** The repository format version this build writes and reads. */
export const REPOSITORY_VERSION = 1;

/** Schema of the `config` object: plaintext JSON, nothing secret in it. */
export const repositoryConfigSchema = z.strictObject({
  format: z.literal(REPOSITORY_FORMAT),
  version: z.literal(REPOSITORY_VERSION),
  /** 64 lowercase hex: random, names the repository in messages and evidence. */
  id: z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex characters'),
  createdAt: z.iso.datetime({ offset: true }),
  chunker: z.strictObject({
    min: z.number().int().positive(),
    avg: z.number().int().positive(),
    max: z.number().int().positive(),
  }),
  compression: z.strictObject({ level: z.number().int() }),
});

/** A parsed repository config. */
export type RepositoryConfig = z.infer<typeof repositoryConfigSchema>;

/** Options for {@link newRepositoryConfig}. */
export interface NewConfigOptions {
  /** @default DEFAULT_CHUNKER_PARAMS (512 KiB / 1 MiB / 8 MiB) */
  chunker?: ChunkerParams;
  /** zstd level. @default 3 */
  compressionLevel?: number;
  /** @default new Date() */
  createdAt?: Date;
}

/** A fresh config with a random id; validates the chunker params and compression level. */
export function newRepositoryConfig(options: NewConfigOptions = {}): RepositoryConfig {
  const chunker = validateChunkerParams(options.chunker ?? DEFAULT_CHUNKER_PARAMS);
  return {
    format: REPOSITORY_FORMAT,
    version: REPOSITORY_VERSION,
    id: randomBytes(32).toString('hex'),
    createdAt: (options.createdAt ?? new Date()).toISOString(),
    chunker: { min: chunker.minSize, avg: chunker.avgSize, max: chunker.maxSize },
    compression: {
      level: checkCompressionLevel(options.compressionLevel ?? DEFAULT_COMPRESSION_LEVEL),
    },
  };
}

/** The chunker params of a config, in the chunker's shape. */
export function configChunkerParams(config: RepositoryConfig): ChunkerParams {
  return { minSize: config.chunker.min, avgSize: config.chunker.avg, maxSize: config.chunker.max };
}

/** The JSON text stored as `config` (stable field order, trailing newline). */
export function serializeConfig(config: RepositoryConfig): string {
  return `${JSON.stringify(config, null, 2)}\n`;
}

/**
 * Parses the text of a `config` object. Throws `SHIP_REPO_UNSUPPORTED_VERSION` when `version`
 * is a number other than 1, and `SHIP_REPO_CORRUPT` (naming the field) when it is malformed or
 * holds chunker sizes or a compression level `repo init` refuses (the stored config was changed).
 */
export function parseConfig(text: string, where: string): RepositoryConfig {
  const what = `repository config at ${where}`;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw repoCorrupt(what, 'not valid JSON', { cause: error });
  }
  if (typeof value === 'object' && value !== null && 'version' in value) {
    const version: unknown = value.version;
    if (typeof version === 'number' && version !== REPOSITORY_VERSION) {
      throw repoUnsupportedVersion(what, version, REPOSITORY_VERSION);
    }
  }
  const parsed = repositoryConfigSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue && issue.path.length > 0 ? ` at \`${issue.path.join('.')}\`` : '';
    throw repoCorrupt(what, `malformed config${field}: ${issue?.message ?? 'invalid'}`);
  }
  try {
    validateChunkerParams(configChunkerParams(parsed.data));
    checkCompressionLevel(parsed.data.compression.level);
  } catch (error) {
    // Values `repo init` would have refused: the stored config was changed or damaged.
    if (!(error instanceof ShipError)) throw error;
    throw repoCorrupt(what, `malformed config: ${error.message}`, {
      hint: 'the config was changed or damaged; restore it from a copy of the repository',
      cause: error,
    });
  }
  return parsed.data;
}

/**
 * Reads the repository config. Throws `SHIP_REPO_NOT_A_REPOSITORY` (exit 2) when there is none,
 * and what {@link parseConfig} throws when it is unreadable.
 */
export async function readConfig(backend: Backend): Promise<RepositoryConfig> {
  if ((await backend.stat(FileType.config, 'config')) === undefined) {
    throw ShipError.usage(
      'SHIP_REPO_NOT_A_REPOSITORY',
      `${backend.location} is not a shipshape repository: it has no config`,
      {
        details: { location: backend.location },
        hint: `check the --repo path, or create a repository there with \`shipshape repo init --repo ${backend.location}\``,
      },
    );
  }
  const bytes = await backend.get(FileType.config, 'config');
  return parseConfig(bytes.toString('utf8'), backend.location);
}

/** The error for `repo init` on a location that already holds a repository. */
export function repositoryExists(location: string): ShipError {
  return new ShipError('SHIP_REPO_EXISTS', `${location} already holds a shipshape repository`, {
    exitCode: ExitCode.usage,
    details: { location },
    hint: 'use the existing repository, or pick an empty location for a new one',
  });
}
