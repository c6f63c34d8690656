/**
 * The S3 backend against s3rver, a fake S3 started by test/helpers/s3rver.ts on a free port.
 * s3rver ignores `If-None-Match` on PUT and has no AbortMultipartUpload, so `conditionalPut` is
 * declared false for it (those conformance tests skip with the reason in their titles) and abort
 * is best effort; docs/repository-format.md says what was validated against what.
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import {
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isShipError, type ShipError } from '../../src/core/index.js';
import {
  Repository,
  S3_AWS_CAPABILITIES,
  S3_COMPATIBLE_CAPABILITIES,
  S3Backend,
  openS3Backend,
  type S3BackendOptions,
} from '../../src/repo/index.js';
import { S3RVER_CREDENTIALS, startS3rver, type RunningS3rver } from '../helpers/s3rver.js';
import { describeBackendConformance } from './backend-conformance.js';

const CREDENTIALS = S3RVER_CREDENTIALS;
const BUCKET = 'shipshape-test';
const MiB = 1024 * 1024;

let s3rver: RunningS3rver | undefined;
let endpoint = '';
let counter = 0;

beforeAll(async () => {
  s3rver = await startS3rver([BUCKET]);
  endpoint = s3rver.endpoint;
});

afterAll(async () => {
  await s3rver?.stop();
});

function rawClient(): S3Client {
  if (s3rver === undefined) throw new Error('s3rver is not running');
  return s3rver.client();
}

/** A backend under a prefix no other test uses. */
async function open(options: Partial<S3BackendOptions> = {}): Promise<S3Backend> {
  counter++;
  return openS3Backend({
    url: `s3://${BUCKET}/t${counter}/repo`,
    endpoint,
    credentials: CREDENTIALS,
    ...options,
  });
}

async function rejection(promise: Promise<unknown>): Promise<ShipError> {
  const error: unknown = await promise.then(
    () => new Error('expected a rejection'),
    (e: unknown) => e,
  );
  if (!isShipError(error)) throw error;
  return error;
}

async function names(
  backend: S3Backend,
  type: Parameters<S3Backend['list']>[0],
): Promise<string[]> {
  const out: string[] = [];
  for await (const info of backend.list(type)) out.push(info.name);
  return out.sort();
}

describeBackendConformance({
  name: 's3 (s3rver)',
  capabilities: S3_COMPATIBLE_CAPABILITIES,
  async fresh() {
    return { backend: await open({ partBytes: 8 * MiB }), cleanup: () => Promise.resolve() };
  },
  async interruptedPut(backend, type, name) {
    if (!(backend instanceof S3Backend)) throw new Error('expected the S3 backend');
    const { bucket, key } = backend.keyOf(type, name);
    const client = rawClient();
    try {
      const { UploadId } = await client.send(
        new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }),
      );
      await client.send(
        new UploadPartCommand({
          Bucket: bucket,
          Key: key,
          UploadId,
          PartNumber: 1,
          Body: Buffer.alloc(6 * MiB, 1),
        }),
      );
    } finally {
      client.destroy();
    }
  },
});

describe('s3 backend (s3rver)', () => {
  it('lays objects out as the fs backend does, under the prefix', async () => {
    const backend = await open();
    await backend.put('config', 'config', Buffer.from('c'));
    await backend.put('data', '3fa9c2', Buffer.from('d'));
    await backend.put('locks', 'l1', Buffer.from('l'));
    expect(backend.location).toBe(`s3://${BUCKET}/t${counter}/repo`);
    expect(backend.keyOf('data', '3fa9c2')).toEqual({
      bucket: BUCKET,
      key: `t${counter}/repo/data/3f/3fa9c2`,
    });
    expect(backend.keyOf('config', 'config').key).toBe(`t${counter}/repo/config`);
    expect(await names(backend, 'data')).toEqual(['3fa9c2']);
    await backend.close();
  });

  it('keeps prefixes apart, including one that is a string prefix of another', async () => {
    const a = await openS3Backend({
      url: `s3://${BUCKET}/iso/a`,
      endpoint,
      credentials: CREDENTIALS,
    });
    const ab = await openS3Backend({
      url: `s3://${BUCKET}/iso/ab`,
      endpoint,
      credentials: CREDENTIALS,
    });
    const root = await openS3Backend({
      url: `s3://${BUCKET}/iso`,
      endpoint,
      credentials: CREDENTIALS,
    });
    await a.put('snapshots', 's1', Buffer.from('a'));
    await ab.put('snapshots', 's2', Buffer.from('ab'));
    await ab.put('config', 'config', Buffer.from('ab'));
    expect(await names(a, 'snapshots')).toEqual(['s1']);
    expect(await names(ab, 'snapshots')).toEqual(['s2']);
    expect(await names(root, 'snapshots')).toEqual([]);
    expect(await a.stat('config', 'config')).toBeUndefined();
    expect((await rejection(a.get('snapshots', 's2'))).code).toBe('SHIP_REPO_NOT_FOUND');
    // Keys that are not objects of the layout (nested deeper, wrong fan-out) are not listed.
    const client = rawClient();
    for (const key of [
      'iso/a/snapshots/x/y',
      'iso/a/data/ab/cd01',
      'iso/a/data/ab01',
      'iso/a/keys/.hidden',
    ]) {
      await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'x' }));
    }
    client.destroy();
    expect(await names(a, 'snapshots')).toEqual(['s1']);
    expect(await names(a, 'data')).toEqual([]);
    expect(await names(a, 'keys')).toEqual([]);
    for (const backend of [a, ab, root]) await backend.close();
  });

  it('lists across pages (ListObjectsV2 continuation tokens)', async () => {
    const backend = await open({ listPageSize: 7 });
    const expected: string[] = [];
    for (let i = 0; i < 30; i++) {
      const name = `${(i * 37).toString(16).padStart(2, '0').slice(-2)}pack${i}`;
      expected.push(name);
      await backend.put('data', name, Buffer.alloc(i));
    }
    expect(await names(backend, 'data')).toEqual(expected.sort());
    await backend.close();
  });

  it('uploads multipart with bounded parts, and a failing source leaves nothing', async () => {
    const backend = await open({ partBytes: 5 * MiB, partConcurrency: 2 });
    const body = randomBytes(13 * MiB + 17);
    async function* pieces(fail: boolean): AsyncGenerator<Buffer> {
      for (let at = 0; at < body.length; at += MiB) {
        await Promise.resolve();
        yield body.subarray(at, at + MiB);
        if (fail && at > 11 * MiB) throw new Error('source broke mid-upload');
      }
    }
    await backend.put('data', 'ab01', pieces(false));
    expect((await backend.get('data', 'ab01')).equals(body)).toBe(true);
    await expect(backend.put('data', 'ab02', pieces(true))).rejects.toThrow(
      'source broke mid-upload',
    );
    expect(await backend.stat('data', 'ab02')).toBeUndefined();
    expect(await names(backend, 'data')).toEqual(['ab01']);
    // Exactly one part: a stream that fills one part exactly goes up as a single PUT.
    await backend.put('data', 'ab03', oneMiB(5));
    expect(await backend.stat('data', 'ab03')).toEqual({ size: 5 * MiB });
    await backend.close();
  });

  it('uploads with SDK request checksums (CRC32) on as well', async () => {
    const backend = await open({ partBytes: 5 * MiB, checksums: 'when-supported' });
    await backend.put('keys', 'k1', Buffer.from('key'));
    await backend.put('data', 'ab01', oneMiB(11));
    expect((await backend.get('keys', 'k1')).toString()).toBe('key');
    expect(await backend.stat('data', 'ab01')).toEqual({ size: 11 * MiB });
    await backend.close();
  });

  it('refuses partBytes below the S3 minimum and malformed URLs', async () => {
    await expect(open({ partBytes: MiB })).rejects.toThrow(RangeError);
    for (const url of [
      's3://',
      'http://bucket/x',
      's3://UPPER/x',
      's3://bucket/../x',
      's3://b/x',
    ]) {
      const refused = await rejection(openS3Backend({ url, endpoint }));
      expect(refused.code).toBe('SHIP_REPO_BAD_URL');
      expect(refused.exitCode).toBe(2);
    }
  });

  it('declares AWS capabilities without an endpoint and honours overrides', async () => {
    const aws = await openS3Backend({
      url: 's3://some-bucket/p',
      region: 'eu-west-1',
      credentials: CREDENTIALS,
    });
    expect(aws.capabilities).toEqual(S3_AWS_CAPABILITIES);
    await aws.close();
    const appendOnly = await open({ capabilities: { delete: false } });
    expect(appendOnly.capabilities).toEqual({ ...S3_COMPATIBLE_CAPABILITIES, delete: false });
    await appendOnly.close();
  });

  it('reports failures as SHIP_REPO_IO naming the bucket and key, never the credentials', async () => {
    const secret = 'wJalrXUtnFEMI-not-the-real-secret';
    const wrong = await open({
      credentials: { accessKeyId: 'AKIAEXAMPLEKEY123', secretAccessKey: secret },
    });
    const denied = await rejection(wrong.put('keys', 'k1', Buffer.from('x')));
    expect(denied.code).toBe('SHIP_REPO_IO');
    expect(denied.exitCode).toBe(3);
    expect(denied.retryable).toBe(false);
    expect(denied.message).toContain(`s3://${BUCKET}/t${counter}/repo/keys/k1`);
    const shown = JSON.stringify({ ...denied.toJSON(), cause: String(denied.cause) });
    expect(shown).not.toContain(secret);
    expect(shown).not.toContain('AKIAEXAMPLEKEY123');
    await wrong.close();

    const missing = await openS3Backend({
      url: 's3://no-such-bucket/x',
      endpoint,
      credentials: CREDENTIALS,
    });
    const noBucket = await rejection(missing.put('keys', 'k1', Buffer.from('x')));
    expect(noBucket.code).toBe('SHIP_REPO_IO');
    expect(noBucket.message).toContain('s3://no-such-bucket/x/keys/k1');
    expect(noBucket.hint).toMatch(/create the bucket/);
    await missing.close();

    const down = await openS3Backend({
      url: `s3://${BUCKET}/x`,
      endpoint: 'http://127.0.0.1:1',
      credentials: CREDENTIALS,
      maxAttempts: 1,
    });
    const refused = await rejection(down.stat('keys', 'k1'));
    expect(refused.code).toBe('SHIP_REPO_IO');
    expect(refused.retryable).toBe(true);
    await down.close();
  });

  it('shows that s3rver ignores If-None-Match, which is why conditionalPut is off for it', async () => {
    const backend = await open({ capabilities: { conditionalPut: true } });
    expect(await backend.probeConditionalPut()).toBe(false);
    expect(await names(backend, 'locks')).toEqual([]);
    const client = rawClient();
    const { key } = backend.keyOf('locks', 'l1');
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'mine' }));
    // Real S3 answers 412 here; s3rver overwrites.
    await client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'theirs', IfNoneMatch: '*' }),
    );
    expect((await backend.get('locks', 'l1')).toString()).toBe('theirs');
    // The backend's HEAD fast path still refuses a sequential conflict.
    expect(
      (await rejection(backend.put('locks', 'l1', Buffer.from('x'), { ifAbsent: true }))).code,
    ).toBe('SHIP_REPO_EXISTS');
    client.destroy();
    await backend.close();
  });

  it('holds a repository: init, backup, restore', async () => {
    const backend = await open({ partBytes: 5 * MiB });
    const password = 'correct horse battery staple';
    const repo = await Repository.init(backend, password, {
      kdf: { N: 1024, r: 8, p: 1 },
      chunker: { minSize: 1024, avgSize: 4096, maxSize: 16 * 1024 },
      packTargetBytes: 64 * 1024,
      workers: 2,
    });
    const data = Buffer.concat([randomBytes(300 * 1024), Buffer.alloc(200 * 1024, 'a')]);
    async function* pieces(): AsyncGenerator<Buffer> {
      for (let at = 0; at < data.length; at += 10_000) {
        await Promise.resolve();
        yield data.subarray(at, at + 10_000);
      }
    }
    const result = await repo.backupStream(pieces(), { source: { type: 'stream', name: 's' } });
    await repo.close();
    const reopened = await Repository.open(backend, password, { workers: 2 });
    const parts: Buffer[] = [];
    const out = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        parts.push(Buffer.from(chunk));
        callback();
      },
    });
    await reopened.restoreStream(result.snapshotId, out);
    await reopened.close();
    expect(Buffer.concat(parts).equals(data)).toBe(true);
    expect((await names(backend, 'data')).length).toBeGreaterThan(1);
    await backend.close();
  });
});

async function* oneMiB(count: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < count; i++) {
    await Promise.resolve();
    yield Buffer.alloc(MiB, i);
  }
}
