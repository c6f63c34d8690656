import { ShipError } from '../../core/index.js';
import { BackendErrorCode } from './errors.js';

/** What the S3 backend reads off an SDK or network error; everything else is dropped. */
export interface S3ErrorFacts {
  /** SDK error name (`NoSuchKey`, `SlowDown`, `AccessDenied`) or errno (`ECONNREFUSED`). */
  readonly name: string;
  readonly status: number | undefined;
  readonly message: string;
}

const NOT_FOUND_NAMES = new Set(['NoSuchKey', 'NotFound']);
const THROTTLING_NAMES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'RequestThrottled',
  'TooManyRequestsException',
  'RequestTimeout',
  'RequestTimeTooSkewed',
  'InternalError',
  'ServiceUnavailable',
  'TimeoutError',
]);
const RETRYABLE_ERRNO = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null && key in value
    ? (value as Record<string, unknown>)[key]
    : undefined;
}

/** Extracts name, HTTP status and message from whatever the SDK threw. */
export function s3ErrorFacts(error: unknown): S3ErrorFacts {
  const code = field(error, 'code');
  const errorName = field(error, 'name');
  const name =
    typeof code === 'string' ? code : typeof errorName === 'string' ? errorName : 'Error';
  const status = field(field(error, '$metadata'), 'httpStatusCode');
  const message = error instanceof Error ? error.message : String(error);
  return { name, status: typeof status === 'number' ? status : undefined, message };
}

/** The object is not there (404 or `NoSuchKey`). */
export function isS3NotFound(facts: S3ErrorFacts): boolean {
  return NOT_FOUND_NAMES.has(facts.name) || (facts.status === 404 && facts.name !== 'NoSuchBucket');
}

/** An `If-None-Match: *` put found the key taken (412, or 409 on a concurrent conditional write). */
export function isS3PreconditionFailed(facts: S3ErrorFacts): boolean {
  return (
    facts.name === 'PreconditionFailed' ||
    facts.status === 412 ||
    facts.name === 'ConditionalRequestConflict'
  );
}

/**
 * A delete refused because the object is under Object Lock retention or legal hold: AWS
 * answers 403 AccessDenied ("…protected by object lock") or 400 InvalidRequest naming the lock.
 */
export function isS3Retention(facts: S3ErrorFacts): boolean {
  const mentionsLock = /object ?lock|retention|legal ?hold/i.test(facts.message);
  return (
    mentionsLock &&
    (facts.name === 'AccessDenied' || facts.name === 'InvalidRequest' || facts.status === 403)
  );
}

/** Server faults, throttling and network failures: a later retry may succeed. */
export function isS3Retryable(facts: S3ErrorFacts): boolean {
  if (facts.status !== undefined && (facts.status >= 500 || facts.status === 429)) return true;
  return THROTTLING_NAMES.has(facts.name) || RETRYABLE_ERRNO.has(facts.name);
}

/** Replaces every occurrence of the given secrets (access key id, secret, session token). */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join('[redacted]');
  }
  // SigV4 mismatch messages quote the canonical request and string to sign: never echo them.
  return out.replace(/(Credential=)[^,\s]+/g, '$1[redacted]');
}

function hintFor(facts: S3ErrorFacts): string | undefined {
  if (facts.name === 'NoSuchBucket')
    return 'create the bucket, or check the bucket name and region';
  if (facts.name === 'SignatureDoesNotMatch') return 'check the secret access key and the region';
  if (facts.status === 403 || facts.name === 'AccessDenied' || facts.name === 'InvalidAccessKeyId')
    return 'check the credentials and that their policy allows this operation on the bucket and prefix';
  if (facts.name === 'PermanentRedirect' || facts.name === 'AuthorizationHeaderMalformed')
    return 'set the region the bucket lives in';
  return undefined;
}

/**
 * `SHIP_REPO_IO` (exit 3) for a failed S3 call: names the operation and `s3://bucket/key`,
 * retryable for 5xx, throttling and network errors. The SDK error is not kept as the cause (its
 * request and response can carry signed headers); only name, status and a redacted message are.
 */
export function s3Io(
  operation: string,
  where: string,
  error: unknown,
  secrets: readonly string[],
): ShipError {
  const facts = s3ErrorFacts(error);
  const message = redactSecrets(facts.message, secrets);
  const status = facts.status === undefined ? '' : `HTTP ${facts.status} `;
  return ShipError.runtime(
    BackendErrorCode.io,
    `Cannot ${operation} ${where}: ${status}${facts.name}${message === '' || message === facts.name ? '' : `: ${message}`}`,
    {
      retryable: isS3Retryable(facts),
      details: {
        operation,
        where,
        s3Error: facts.name,
        ...(facts.status === undefined ? {} : { httpStatus: facts.status }),
      },
      hint: hintFor(facts),
    },
  );
}
