import { isAbsolute, resolve } from 'node:path';

import { ShipError, didYouMean } from '../core/index.js';
import {
  isS3Location,
  openRepositoryBackend,
  type Backend,
  type OpenBackendOptions,
  type S3LocationOptions,
} from '../repo/index.js';
import { resolveSecretString, type Spec } from '../spec/index.js';

/** Where a spec repository's relative paths and secret references are resolved. */
export interface SpecRepositoryContext {
  /** The spec's directory. */
  readonly baseDir: string;
  /** Environment `${env:…}` references read. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** Open append-only even when the spec does not say `append_only: true`. @default false */
  readonly appendOnly?: boolean;
}

/** A spec repository with its references resolved, ready to open. */
export interface SpecRepositoryTarget {
  readonly name: string;
  /** Absolute directory or `s3://bucket/prefix`. */
  readonly location: string;
  /** For {@link openRepositoryBackend} (S3 options, credentials resolved, append-only). */
  readonly backendOptions: OpenBackendOptions;
  /** `append_only: true` in the spec, or asked for by the caller. */
  readonly appendOnly: boolean;
  /** `pack_size` in bytes, when set. */
  readonly packTargetBytes?: number;
  /** Resolves the `key` reference (registered for redaction). */
  password(): string;
}

/**
 * Resolves `repositories.<name>` of a spec: its location (relative paths against the spec's
 * directory), its S3 options with credential references resolved (each registered for
 * redaction; without references the AWS SDK's default chain applies) and its key reference.
 * Touches no storage.
 *
 * @throws ShipError `SHIP_SPEC_UNKNOWN_REFERENCE` (exit 2) when the spec has no such repository;
 *   `SHIP_SECRET_UNSET` when a reference cannot be resolved.
 */
export function specRepositoryTarget(
  spec: Spec,
  name: string,
  context: SpecRepositoryContext,
): SpecRepositoryTarget {
  const repository = spec.repositories[name];
  if (repository === undefined) {
    const names = Object.keys(spec.repositories);
    const suggestion = didYouMean(name, names);
    throw ShipError.usage(
      'SHIP_SPEC_UNKNOWN_REFERENCE',
      `the spec defines no repository named ${name}`,
      {
        hint:
          suggestion === undefined
            ? names.length === 0
              ? 'add one under `repositories:` in the spec'
              : `defined: ${names.join(', ')}`
            : `did you mean ${suggestion}?`,
        details: { repository: name, defined: names },
      },
    );
  }
  const secret = (value: string, field: string) =>
    resolveSecretString(value, {
      baseDir: context.baseDir,
      ...(context.env === undefined ? {} : { env: context.env }),
      field: `repositories.${name}.${field}`,
    });
  const s3 = isS3Location(repository.url) ? s3Options(repository.s3, secret) : undefined;
  const appendOnly = repository.append_only === true || context.appendOnly === true;
  const location = isS3Location(repository.url)
    ? repository.url
    : isAbsolute(repository.url)
      ? repository.url
      : resolve(context.baseDir, repository.url);
  return {
    name,
    location,
    backendOptions: {
      baseDir: context.baseDir,
      appendOnly,
      ...(s3 === undefined ? {} : { s3 }),
    },
    appendOnly,
    ...(repository.pack_size === undefined ? {} : { packTargetBytes: repository.pack_size }),
    password: () => secret(repository.key, 'key'),
  };
}

function s3Options(
  s3: Spec['repositories'][string]['s3'],
  secret: (value: string, field: string) => string,
): S3LocationOptions {
  if (s3 === undefined) return {};
  const credentials =
    s3.access_key_id !== undefined && s3.secret_access_key !== undefined
      ? {
          accessKeyId: secret(s3.access_key_id, 's3.access_key_id'),
          secretAccessKey: secret(s3.secret_access_key, 's3.secret_access_key'),
          ...(s3.session_token === undefined
            ? {}
            : { sessionToken: secret(s3.session_token, 's3.session_token') }),
        }
      : undefined;
  return {
    ...(s3.endpoint === undefined ? {} : { endpoint: s3.endpoint }),
    ...(s3.region === undefined ? {} : { region: s3.region }),
    ...(s3.force_path_style === undefined ? {} : { forcePathStyle: s3.force_path_style }),
    ...(credentials === undefined ? {} : { credentials }),
    ...(s3.object_lock === undefined ? {} : { objectLock: s3.object_lock }),
  };
}

/** An opened spec repository's backend and password; close the backend when done. */
export interface OpenedSpecRepository {
  readonly name: string;
  readonly location: string;
  readonly backend: Backend;
  readonly password: string;
  /** Pass to `Repository.open(backend, password, { appendOnly })`. */
  readonly appendOnly: boolean;
  readonly packTargetBytes?: number;
}

/**
 * Opens the backend of the spec repository `name` (local or S3, append-only when configured)
 * and resolves its password: the entry point for commands that back up by repository name.
 *
 * @example
 * const opened = await openSpecRepository(spec, 'offsite', { baseDir, env: process.env });
 * const repo = await Repository.open(opened.backend, opened.password, { appendOnly: opened.appendOnly });
 */
export async function openSpecRepository(
  spec: Spec,
  name: string,
  context: SpecRepositoryContext,
): Promise<OpenedSpecRepository> {
  const target = specRepositoryTarget(spec, name, context);
  const password = target.password();
  const backend = await openRepositoryBackend(target.location, target.backendOptions);
  return {
    name,
    location: target.location,
    backend,
    password,
    appendOnly: target.appendOnly,
    ...(target.packTargetBytes === undefined ? {} : { packTargetBytes: target.packTargetBytes }),
  };
}
