import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';

/** s3rver's one built-in account. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * s3rver runs in a child Node with `--openssl-legacy-provider`: its ListObjectsV2 continuation
 * tokens use DES, which Node 20's OpenSSL 3 refuses otherwise (every truncated listing would
 * fail with HTTP 500, and pagination could not be tested). It prints its address when listening.
 */
const S3RVER_SCRIPT = `
const S3rver = require('s3rver');
const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: process.argv[1] });
server.run().then((address) => console.log(JSON.stringify(address)));
process.on('SIGTERM', () => server.close().then(() => process.exit(0)));
`;

export interface RunningS3rver {
  /** `http://127.0.0.1:PORT` */
  endpoint: string;
  /** A client for the fake, path-style, checksums only where required. */
  client(): S3Client;
  stop(): Promise<void>;
}

/**
 * Starts s3rver on a free loopback port over a temporary folder, creates `buckets`, and resolves
 * once it listens (the address line it prints: an event, not a sleep).
 */
export async function startS3rver(buckets: readonly string[]): Promise<RunningS3rver> {
  const directory = await mkdtemp(join(tmpdir(), 'shipshape-s3rver-'));
  const child: ChildProcess = spawn(
    process.execPath,
    ['--openssl-legacy-provider', '-e', S3RVER_SCRIPT, directory],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout! });
  const first = await Promise.race([
    once(lines, 'line').then(([line]) => String(line)),
    once(child, 'exit').then(([code]) => {
      throw new Error(`s3rver exited with ${String(code)} before listening`);
    }),
  ]);
  const endpoint = `http://127.0.0.1:${(JSON.parse(first) as { port: number }).port}`;
  const client = () =>
    new S3Client({
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: S3RVER_CREDENTIALS,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  const setup = client();
  for (const bucket of buckets) await setup.send(new CreateBucketCommand({ Bucket: bucket }));
  setup.destroy();
  return {
    endpoint,
    client,
    async stop() {
      if (child.exitCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        await exited;
      }
      await rm(directory, { recursive: true, force: true });
    },
  };
}
