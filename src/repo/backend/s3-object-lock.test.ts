import { createHash } from 'node:crypto';
import type * as S3SdkModule from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';

import { isRetainedError } from './errors.js';
import { S3_AWS_CAPABILITIES, S3Backend } from './s3.js';
import { isS3Retention, s3ErrorFacts } from './s3-errors.js';
import { parseS3Url } from './s3-location.js';

/** A recorded SDK call: the command's name and its input. */
interface Call {
  command: string;
  input: Record<string, unknown>;
}

/** SDK command classes that only remember their input, and a client that answers from `reply`. */
function fakeS3(reply: (call: Call) => unknown) {
  const calls: Call[] = [];
  const command = (name: string) =>
    class {
      readonly command = name;
      constructor(readonly input: Record<string, unknown>) {}
    };
  const sdk = {
    PutObjectCommand: command('PutObject'),
    DeleteObjectCommand: command('DeleteObject'),
    GetObjectRetentionCommand: command('GetObjectRetention'),
    HeadObjectCommand: command('HeadObject'),
  } as unknown as typeof S3SdkModule;
  const client = {
    async send(cmd: Call) {
      const call = { command: cmd.command, input: cmd.input };
      calls.push(call);
      await Promise.resolve();
      return reply(call);
    },
    destroy() {},
  } as unknown as S3Client;
  return { sdk, client, calls };
}

function backend(objectLock: boolean, reply: (call: Call) => unknown) {
  const fake = fakeS3(reply);
  const s3 = new S3Backend(
    fake.sdk,
    fake.client,
    parseS3Url('s3://vault/prod'),
    S3_AWS_CAPABILITIES,
    {
      partBytes: 5 * 1024 * 1024,
      partConcurrency: 1,
      listPageSize: 1000,
      secrets: [],
      objectLock,
    },
  );
  return { s3, calls: fake.calls };
}

function sdkError(name: string, status: number, message: string): Error {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });
}

describe('S3 backend with Object Lock', () => {
  it('sends Content-MD5 with every put when the bucket has Object Lock, and not otherwise', async () => {
    const body = Buffer.from('a sealed pack');
    const locked = backend(true, () => ({}));
    await locked.s3.put('data', 'ab01', body);
    expect(locked.calls[0]).toMatchObject({
      command: 'PutObject',
      input: {
        Key: 'prod/data/ab/ab01',
        ContentMD5: createHash('md5').update(body).digest('base64'),
      },
    });
    const plain = backend(false, () => ({}));
    await plain.s3.put('data', 'ab01', body);
    expect(plain.calls[0]?.input.ContentMD5).toBeUndefined();
  });

  it('refuses to delete an object still retained, with SHIP_REPO_RETAINED and the date, sending no delete', async () => {
    const until = new Date(Date.now() + 86_400_000);
    const { s3, calls } = backend(true, (call) =>
      call.command === 'GetObjectRetention'
        ? { Retention: { Mode: 'COMPLIANCE', RetainUntilDate: until } }
        : {},
    );
    const error = await s3.remove('data', 'ab01').catch((e: unknown) => e);
    expect(isRetainedError(error)).toBe(true);
    expect(error).toMatchObject({
      exitCode: 3,
      details: { type: 'data', name: 'ab01', retainUntil: until.toISOString() },
    });
    expect((error as Error).message).toContain(`retained until ${until.toISOString()}`);
    expect(calls.map((c) => c.command)).toEqual(['GetObjectRetention']);
  });

  it('deletes once retention has passed, or when the object has none; never checks lock files', async () => {
    const past = backend(true, (call) =>
      call.command === 'GetObjectRetention'
        ? { Retention: { RetainUntilDate: new Date(Date.now() - 1000) } }
        : {},
    );
    await past.s3.remove('data', 'ab01');
    expect(past.calls.map((c) => c.command)).toEqual(['GetObjectRetention', 'DeleteObject']);

    const none = backend(true, (call) => {
      if (call.command === 'GetObjectRetention') {
        throw sdkError('NoSuchObjectLockConfiguration', 404, 'no retention');
      }
      return {};
    });
    await none.s3.remove('index', 'i1');
    expect(none.calls.map((c) => c.command)).toEqual(['GetObjectRetention', 'DeleteObject']);

    const lock = backend(true, () => ({}));
    await lock.s3.remove('locks', 'l1');
    expect(lock.calls.map((c) => c.command)).toEqual(['DeleteObject']);
  });

  it('maps a delete the server refuses for retention to SHIP_REPO_RETAINED, other denials to SHIP_REPO_IO', async () => {
    const refused = backend(false, () => {
      throw sdkError('AccessDenied', 403, 'Access Denied because object protected by object lock.');
    });
    await expect(refused.s3.remove('data', 'ab01')).rejects.toMatchObject({
      code: 'SHIP_REPO_RETAINED',
    });
    const denied = backend(false, () => {
      throw sdkError('AccessDenied', 403, 'Access Denied');
    });
    await expect(denied.s3.remove('data', 'ab01')).rejects.toMatchObject({
      code: 'SHIP_REPO_IO',
      exitCode: 3,
    });
    expect(
      isS3Retention(
        s3ErrorFacts(
          sdkError(
            'InvalidRequest',
            400,
            'Object is WORM protected and cannot be overwritten; retention',
          ),
        ),
      ),
    ).toBe(true);
  });
});
