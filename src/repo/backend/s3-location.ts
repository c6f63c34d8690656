import { ShipError } from '../../core/index.js';
import { FileType } from './backend.js';
import { checkObjectName } from './names.js';

/** Where an S3 repository lives: a bucket and a key prefix (no leading or trailing slash). */
export interface S3Location {
  readonly bucket: string;
  /** `''` for the bucket root. */
  readonly prefix: string;
}

/** S3 bucket names: 3–63 lowercase letters, digits, dots and hyphens (the DNS-compatible rule). */
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const PREFIX_SEGMENT = /^[A-Za-z0-9._-]+$/;

function badUrl(url: string, expected: string): ShipError {
  return ShipError.usage(
    'SHIP_REPO_BAD_URL',
    `Invalid S3 repository URL ${JSON.stringify(url)}: ${expected}.`,
    {
      details: { url },
      hint: 'write it as s3://bucket or s3://bucket/some/prefix',
    },
  );
}

/**
 * Parses `s3://bucket[/prefix]`. The prefix is split on `/`; each segment must be
 * `A–Z a–z 0–9 . _ -` and not `.` or `..`, so a prefix cannot climb out of itself or collide
 * with the layout's own folders by accident of encoding.
 *
 * @throws ShipError `SHIP_REPO_BAD_URL` (exit 2).
 */
export function parseS3Url(url: string): S3Location {
  if (!url.startsWith('s3://')) throw badUrl(url, 'expected it to start with s3://');
  const rest = url.slice('s3://'.length).replace(/\/+$/, '');
  const [bucket = '', ...segments] = rest.split('/');
  if (!BUCKET.test(bucket) || bucket.includes('..')) {
    throw badUrl(
      url,
      `bucket ${JSON.stringify(bucket)} is not a valid bucket name (3-63 of a-z 0-9 . -)`,
    );
  }
  for (const segment of segments) {
    if (!PREFIX_SEGMENT.test(segment) || segment === '.' || segment === '..') {
      throw badUrl(
        url,
        `prefix segment ${JSON.stringify(segment)} must be 1+ of A-Z a-z 0-9 . _ - and not . or ..`,
      );
    }
  }
  return { bucket, prefix: segments.join('/') };
}

/** The key folder of a file type (`<prefix>/data/`), or the config key itself. */
export function typePrefix(location: S3Location, type: FileType): string {
  const base = location.prefix === '' ? '' : `${location.prefix}/`;
  return type === FileType.config ? `${base}config` : `${base}${type}/`;
}

/** The key an object lives at (after checking its name); the same layout as the fs backend. */
export function objectKey(location: S3Location, type: FileType, name: string): string {
  checkObjectName(type, name);
  if (type === FileType.config) return typePrefix(location, type);
  if (type === FileType.data) return `${typePrefix(location, type)}${name.slice(0, 2)}/${name}`;
  return `${typePrefix(location, type)}${name}`;
}

/**
 * The object name a listed key stands for, or undefined for keys that are not objects of the
 * type: nested deeper, invalid names, or a pack outside its fan-out folder (it could not be read
 * by name, so listing it would lie).
 */
export function nameOfKey(location: S3Location, type: FileType, key: string): string | undefined {
  const folder = typePrefix(location, type);
  if (!key.startsWith(folder)) return undefined;
  const parts = key.slice(folder.length).split('/');
  let name: string | undefined;
  if (type === FileType.data) {
    if (parts.length !== 2 || parts[1]?.startsWith(parts[0] ?? '') !== true) return undefined;
    if (!/^[0-9a-f]{2}$/.test(parts[0] ?? '')) return undefined;
    name = parts[1];
  } else {
    if (parts.length !== 1) return undefined;
    name = parts[0];
  }
  if (name === undefined) return undefined;
  try {
    checkObjectName(type, name);
  } catch {
    return undefined;
  }
  return name;
}

/** `s3://bucket/key`, for messages. */
export function s3Url(bucket: string, key: string): string {
  return key === '' ? `s3://${bucket}` : `s3://${bucket}/${key}`;
}
