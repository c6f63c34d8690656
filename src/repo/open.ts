import { isAbsolute, resolve } from 'node:path';

import { appendOnlyBackend } from './append-only.js';
import {
  openFsBackend,
  openS3Backend,
  type Backend,
  type BackendCapabilities,
  type S3Credentials,
} from './backend/index.js';

/** Options of an `s3://` location (the spec's `s3:` section, resolved). */
export interface S3LocationOptions {
  /** S3-compatible endpoint; omitted means AWS S3. */
  readonly endpoint?: string;
  /** @default AWS_REGION, else `us-east-1` */
  readonly region?: string;
  /** @default true with an endpoint */
  readonly forcePathStyle?: boolean;
  /**
   * Credentials resolved from references. Omitted: the SDK's default chain (`AWS_ACCESS_KEY_ID`
   * / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`, `AWS_PROFILE` and the shared config files,
   * instance or task roles).
   */
  readonly credentials?: S3Credentials;
  /** The bucket has Object Lock: every upload carries Content-MD5 and deletes check retention. */
  readonly objectLock?: boolean;
  /** Overrides of the declared capabilities (e.g. `{ conditionalPut: true }`). */
  readonly capabilities?: Partial<BackendCapabilities>;
  /** Part size of multipart uploads (tests). */
  readonly partBytes?: number;
}

/** Options of {@link openRepositoryBackend}. */
export interface OpenBackendOptions {
  /** Directory a relative local path is resolved against. @default process.cwd() */
  readonly baseDir?: string;
  /** Options used when the location is `s3://…`. */
  readonly s3?: S3LocationOptions;
  /**
   * Refuse removes outside `locks/` below the repository (see append-only.ts); pair it with the
   * same `appendOnly` option of `Repository.open`.
   * @default false
   */
  readonly appendOnly?: boolean;
}

/** True for `s3://…` locations. */
export function isS3Location(location: string): boolean {
  return /^s3:/i.test(location);
}

/**
 * Turns a repository location into a backend: `s3://bucket/prefix` → the S3 backend (the AWS
 * SDK is imported only now, on first use), anything else → a local directory, resolved against
 * `baseDir`. No I/O beyond loading the SDK: a missing repository shows when it is read.
 *
 * @example
 * const backend = await openRepositoryBackend('s3://backups/orders', { s3: { region: 'eu-west-1' } });
 * const repo = await Repository.open(backend, password);
 * @throws ShipError `SHIP_REPO_BAD_URL` (exit 2) for a malformed `s3://` URL.
 */
export async function openRepositoryBackend(
  location: string,
  options: OpenBackendOptions = {},
): Promise<Backend> {
  const backend = isS3Location(location)
    ? await openS3(location, options.s3 ?? {})
    : openFsBackend(
        isAbsolute(location) ? location : resolve(options.baseDir ?? process.cwd(), location),
      );
  return options.appendOnly === true ? appendOnlyBackend(backend) : backend;
}

async function openS3(url: string, s3: S3LocationOptions): Promise<Backend> {
  // openS3Backend imports the AWS SDK itself, on first use: commands on local repositories
  // never load it.
  return openS3Backend({
    url,
    ...(s3.endpoint === undefined ? {} : { endpoint: s3.endpoint }),
    ...(s3.region === undefined ? {} : { region: s3.region }),
    ...(s3.forcePathStyle === undefined ? {} : { forcePathStyle: s3.forcePathStyle }),
    ...(s3.credentials === undefined ? {} : { credentials: s3.credentials }),
    ...(s3.objectLock === undefined ? {} : { objectLock: s3.objectLock }),
    ...(s3.capabilities === undefined ? {} : { capabilities: s3.capabilities }),
    ...(s3.partBytes === undefined ? {} : { partBytes: s3.partBytes }),
  });
}
