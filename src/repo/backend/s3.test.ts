import { describe, expect, it } from 'vitest';
import { isShipError } from '../../core/index.js';
import {
  isS3NotFound,
  isS3PreconditionFailed,
  redactSecrets,
  s3ErrorFacts,
  s3Io,
} from './s3-errors.js';
import { nameOfKey, objectKey, parseS3Url } from './s3-location.js';

function sdkError(name: string, status: number, message = `${name} happened`): Error {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });
}

describe('S3 URLs and keys', () => {
  it('parses bucket and prefix, trimming trailing slashes', () => {
    expect(parseS3Url('s3://backups')).toEqual({ bucket: 'backups', prefix: '' });
    expect(parseS3Url('s3://backups/')).toEqual({ bucket: 'backups', prefix: '' });
    expect(parseS3Url('s3://my.backups-1/prod/orders/')).toEqual({
      bucket: 'my.backups-1',
      prefix: 'prod/orders',
    });
  });

  it.each([
    'backups/x',
    's3:/backups',
    's3://',
    's3://ab',
    's3://Backups',
    's3://a..b/x',
    's3://backups//x',
    's3://backups/./x',
    's3://backups/../x',
    's3://backups/a b',
    's3://backups/x?y',
  ])('refuses %j with SHIP_REPO_BAD_URL (exit 2)', (url) => {
    try {
      parseS3Url(url);
      expect.unreachable();
    } catch (error) {
      expect(isShipError(error) && error.code).toBe('SHIP_REPO_BAD_URL');
      expect(isShipError(error) && error.exitCode).toBe(2);
    }
  });

  it('maps objects to the fs layout under the prefix, and keys back to names', () => {
    const at = parseS3Url('s3://b-1/p/q');
    const root = parseS3Url('s3://b-1');
    expect(objectKey(at, 'config', 'config')).toBe('p/q/config');
    expect(objectKey(at, 'data', '3fa9c2')).toBe('p/q/data/3f/3fa9c2');
    expect(objectKey(at, 'locks', 'l1')).toBe('p/q/locks/l1');
    expect(objectKey(root, 'keys', 'k1')).toBe('keys/k1');
    expect(() => objectKey(at, 'keys', '../x')).toThrow(/Invalid repository object name/);
    expect(nameOfKey(at, 'data', 'p/q/data/3f/3fa9c2')).toBe('3fa9c2');
    expect(nameOfKey(at, 'data', 'p/q/data/3e/3fa9c2')).toBeUndefined();
    expect(nameOfKey(at, 'data', 'p/q/data/3fa9c2')).toBeUndefined();
    expect(nameOfKey(at, 'data', 'p/q/data/3F/3Fa9c2')).toBeUndefined();
    expect(nameOfKey(at, 'index', 'p/q/index/i1')).toBe('i1');
    expect(nameOfKey(at, 'index', 'p/q/index/sub/i1')).toBeUndefined();
    expect(nameOfKey(at, 'index', 'p/q/index/.tmp-1')).toBeUndefined();
    expect(nameOfKey(at, 'index', 'p/qq/index/i1')).toBeUndefined();
  });
});

describe('S3 errors', () => {
  it('reads name and status off SDK and network errors', () => {
    expect(s3ErrorFacts(sdkError('NoSuchKey', 404))).toMatchObject({
      name: 'NoSuchKey',
      status: 404,
    });
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(s3ErrorFacts(refused)).toMatchObject({ name: 'ECONNREFUSED', status: undefined });
    expect(s3ErrorFacts('odd')).toEqual({ name: 'Error', status: undefined, message: 'odd' });
    expect(isS3NotFound(s3ErrorFacts(sdkError('NotFound', 404)))).toBe(true);
    expect(isS3NotFound(s3ErrorFacts(sdkError('NoSuchBucket', 404)))).toBe(false);
    expect(isS3PreconditionFailed(s3ErrorFacts(sdkError('PreconditionFailed', 412)))).toBe(true);
  });

  it.each([
    ['InternalError', 500, true],
    ['ServiceUnavailable', 503, true],
    ['SlowDown', 503, true],
    ['TooManyRequests', 429, true],
    ['AccessDenied', 403, false],
    ['NoSuchBucket', 404, false],
  ])('%s (HTTP %d) is SHIP_REPO_IO, retryable %s, naming the URL', (name, status, retryable) => {
    const error = s3Io('read data/ab from', 's3://b/p/data/ab/ab', sdkError(name, status), []);
    expect(error.toJSON()).toMatchObject({
      code: 'SHIP_REPO_IO',
      exitCode: 3,
      retryable,
      details: { s3Error: name, httpStatus: status },
    });
    expect(error.message).toBe(
      `Cannot read data/ab from s3://b/p/data/ab/ab: HTTP ${status} ${name}: ${name} happened`,
    );
  });

  it('never carries credentials: redacts them and drops the SDK error', () => {
    const leaky = sdkError(
      'SignatureDoesNotMatch',
      403,
      'bad signature for AKIAEXAMPLE with secret s3cr3t-value; Credential=AKIAEXAMPLE/20260101/us-east-1/s3/aws4_request, SignedHeaders=host',
    );
    const error = s3Io('write keys/k1 to', 's3://b/keys/k1', leaky, [
      'AKIAEXAMPLE',
      's3cr3t-value',
    ]);
    const shown = JSON.stringify(error.toJSON());
    expect(shown).not.toContain('AKIAEXAMPLE');
    expect(shown).not.toContain('s3cr3t-value');
    expect(error.cause).toBeUndefined();
    expect(error.hint).toMatch(/secret access key/);
    expect(redactSecrets('Credential=XYZ/2026, x', [])).toBe('Credential=[redacted], x');
  });
});
