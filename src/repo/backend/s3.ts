import { createHash, randomBytes } from 'node:crypto';
import type * as S3SdkModule from '@aws-sdk/client-s3';
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { isShipError } from '../../core/index.js';
import {
  FileType,
  type Backend,
  type BackendCapabilities,
  type ByteRange,
  type ObjectInfo,
  type PutOptions,
} from './backend.js';
import { objectExists, objectNotFound, objectRetained, shortObject } from './errors.js';
import { checkFileType, checkRange } from './names.js';
import {
  isS3NotFound,
  isS3PreconditionFailed,
  isS3Retention,
  s3ErrorFacts,
  s3Io,
} from './s3-errors.js';
import {
  nameOfKey,
  objectKey,
  parseS3Url,
  s3Url,
  typePrefix,
  type S3Location,
} from './s3-location.js';

/** The SDK module, loaded on first use only (see {@link openS3Backend}). */
type S3Sdk = typeof S3SdkModule;

const MiB = 1024 * 1024;
/** S3's minimum part size (except the last part). */
export const S3_MIN_PART_BYTES = 5 * MiB;

/**
 * What AWS S3 itself guarantees: atomic PUT and CompleteMultipartUpload, `If-None-Match: *` on
 * both (since 2024-08), DeleteObject, and strong read-after-write and list-after-write
 * consistency (since 2020-12).
 */
export const S3_AWS_CAPABILITIES: BackendCapabilities = Object.freeze({
  atomicCreate: true,
  conditionalPut: true,
  delete: true,
  listAfterWrite: true,
});

/**
 * The default for any other endpoint (MinIO, Ceph, R2, s3rver, …): conditional writes are not
 * assumed, since several S3-compatible servers (s3rver among them) accept `If-None-Match` on PUT
 * and silently ignore it. Declare `conditionalPut: true` only for a server known to honour it.
 */
export const S3_COMPATIBLE_CAPABILITIES: BackendCapabilities = Object.freeze({
  atomicCreate: true,
  conditionalPut: false,
  delete: true,
  listAfterWrite: true,
});

export interface S3Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface S3BackendOptions {
  /** `s3://bucket` or `s3://bucket/prefix`. */
  readonly url: string;
  /**
   * Endpoint of an S3-compatible server (`http://127.0.0.1:9000`). Omitted means AWS S3.
   * @default AWS S3 for the region
   */
  readonly endpoint?: string;
  /** @default AWS_REGION from the environment, else `us-east-1` */
  readonly region?: string;
  /**
   * Path-style addressing (`endpoint/bucket/key`) instead of virtual-hosted (`bucket.endpoint/key`);
   * most non-AWS servers need it.
   * @default true with an `endpoint`, false for AWS
   */
  readonly forcePathStyle?: boolean;
  /** Static credentials. @default the SDK's provider chain (environment, profile, instance role) */
  readonly credentials?: S3Credentials;
  /**
   * Overrides of the declared capabilities, e.g. `{ conditionalPut: true }` for a server known to
   * honour `If-None-Match: *`. (Append-only credentials keep `delete`, for their own locks: open
   * the repository append-only instead, see src/repo/append-only.ts.)
   * @default {@link S3_AWS_CAPABILITIES} for AWS, {@link S3_COMPATIBLE_CAPABILITIES} with an endpoint
   */
  readonly capabilities?: Partial<BackendCapabilities>;
  /**
   * Request checksums: `when-supported` sends CRC32 checksums on every upload (the SDK default,
   * AWS only); `when-required` only where the API demands one, which is what most other servers
   * understand.
   * @default 'when-supported' for AWS, 'when-required' with an endpoint
   */
  readonly checksums?: 'when-supported' | 'when-required';
  /**
   * Streams larger than this go up as multipart uploads in parts of this size; smaller ones, and
   * every Buffer, as one PUT. Memory per streamed put is at most `partBytes × (partConcurrency + 1)`.
   * @default 16 MiB (minimum 5 MiB)
   */
  readonly partBytes?: number;
  /** Parts uploaded at once. @default 4 */
  readonly partConcurrency?: number;
  /** Attempts per request, with the SDK's exponential backoff and jitter. @default 5 */
  readonly maxAttempts?: number;
  /** Keys per LIST page (S3 returns at most 1000). @default 1000 */
  readonly listPageSize?: number;
  /**
   * The bucket has S3 Object Lock: every PUT and part carries `Content-MD5` (Object Lock
   * buckets refuse uploads without an integrity header), and `remove` asks for the object's
   * retention first and refuses, with `SHIP_REPO_RETAINED`, to delete an object still retained
   * (rather than leave a delete marker over it). Lock files are never checked: exclude
   * `locks/` from default retention.
   * @default false
   */
  readonly objectLock?: boolean;
}

/** Marks an error thrown by the put's data source, so it propagates unwrapped. */
class SourceError extends Error {
  constructor(readonly error: unknown) {
    super('the data source failed');
  }
}

/** Collects a stream into fixed-size parts, copying (a source may reuse its buffers). */
class PartFiller {
  #buffer: Buffer;
  #used = 0;
  constructor(readonly partBytes: number) {
    this.#buffer = Buffer.allocUnsafe(partBytes);
  }
  get used(): number {
    return this.#used;
  }
  /** Copies from `chunk` until the part is full; returns how many bytes were taken. */
  fill(chunk: Uint8Array, from: number): number {
    const take = Math.min(chunk.length - from, this.partBytes - this.#used);
    this.#buffer.set(chunk.subarray(from, from + take), this.#used);
    this.#used += take;
    return take;
  }
  get full(): boolean {
    return this.#used === this.partBytes;
  }
  /** Hands the filled bytes over and starts a new part buffer. */
  take(): Buffer {
    const out = this.#buffer.subarray(0, this.#used);
    this.#buffer = Buffer.allocUnsafe(this.partBytes);
    this.#used = 0;
    return out;
  }
}

interface ResolvedOptions {
  readonly partBytes: number;
  readonly partConcurrency: number;
  readonly listPageSize: number;
  readonly secrets: readonly string[];
  readonly objectLock: boolean;
}

/**
 * The S3 backend: the fs layout as keys under the URL's prefix (`<prefix>/config`,
 * `<prefix>/data/<xx>/<name>`, …). Buffers and short streams go up as a single PUT with a known
 * length; longer streams as a multipart upload, aborted on failure, so an object is visible only
 * once complete. Reads are (range) GETs; LIST is ListObjectsV2, page by page.
 */
export class S3Backend implements Backend {
  readonly location: string;
  readonly capabilities: BackendCapabilities;
  readonly #sdk: S3Sdk;
  readonly #client: S3Client;
  readonly #where: S3Location;
  readonly #options: ResolvedOptions;

  constructor(
    sdk: S3Sdk,
    client: S3Client,
    where: S3Location,
    capabilities: BackendCapabilities,
    options: ResolvedOptions,
  ) {
    this.#sdk = sdk;
    this.#client = client;
    this.#where = where;
    this.capabilities = Object.freeze({ ...capabilities });
    this.#options = options;
    this.location = s3Url(where.bucket, where.prefix);
  }

  /** The bucket and the key an object lives at (after checking its name). */
  keyOf(type: FileType, name: string): { bucket: string; key: string } {
    return { bucket: this.#where.bucket, key: objectKey(this.#where, type, name) };
  }

  async put(
    type: FileType,
    name: string,
    data: Buffer | AsyncIterable<Uint8Array>,
    options: PutOptions = {},
  ): Promise<void> {
    const key = objectKey(this.#where, type, name);
    const ifAbsent = options.ifAbsent === true;
    // Fast path only (If-None-Match is what makes create-only atomic, where the server honours
    // it): do not upload a whole object just to find the name taken.
    if (ifAbsent && (await this.stat(type, name)) !== undefined) {
      throw objectExists(type, name, this.#url(key));
    }
    try {
      if (data instanceof Uint8Array) {
        await this.#putOne(key, data, ifAbsent);
      } else {
        await this.#putStream(key, data, ifAbsent);
      }
    } catch (error) {
      if (error instanceof SourceError) throw error.error;
      if (isShipError(error)) throw error;
      if (ifAbsent && isS3PreconditionFailed(s3ErrorFacts(error))) {
        throw objectExists(type, name, this.#url(key));
      }
      throw s3Io(`write ${type}/${name} to`, this.#url(key), error, this.#options.secrets);
    }
  }

  async get(type: FileType, name: string, range?: ByteRange): Promise<Buffer> {
    const key = objectKey(this.#where, type, name);
    if (range !== undefined) checkRange(range);
    // S3 cannot express an empty range: check the bounds with a HEAD instead.
    if (range?.length === 0) return this.#emptyRange(type, name, key, range.offset, 0);
    const header =
      range === undefined
        ? undefined
        : `bytes=${range.offset}-${range.length === undefined ? '' : range.offset + range.length - 1}`;
    try {
      const response = await this.#client.send(
        new this.#sdk.GetObjectCommand({ Bucket: this.#where.bucket, Key: key, Range: header }),
      );
      const bytes =
        response.Body === undefined ? new Uint8Array() : await response.Body.transformToByteArray();
      const out = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      if (range?.length !== undefined && out.length !== range.length) {
        const size = totalSize(response.ContentRange) ?? range.offset + out.length;
        throw shortObject(type, name, this.#url(key), size, range.offset, range.length);
      }
      return out;
    } catch (error) {
      if (isShipError(error)) throw error;
      const facts = s3ErrorFacts(error);
      if (isS3NotFound(facts)) throw objectNotFound(type, name, this.#url(key));
      if (range !== undefined && (facts.status === 416 || facts.name === 'InvalidRange')) {
        return this.#emptyRange(type, name, key, range.offset, range.length);
      }
      throw s3Io(`read ${type}/${name} from`, this.#url(key), error, this.#options.secrets);
    }
  }

  async stat(type: FileType, name: string): Promise<{ size: number } | undefined> {
    const key = objectKey(this.#where, type, name);
    return this.#head(type, name, key);
  }

  async *list(type: FileType): AsyncGenerator<ObjectInfo, void, undefined> {
    if (type === FileType.config) {
      const info = await this.stat(type, 'config');
      if (info) yield { name: 'config', size: info.size };
      return;
    }
    checkFileType(type);
    const prefix = typePrefix(this.#where, type);
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.#client.send(
          new this.#sdk.ListObjectsV2Command({
            Bucket: this.#where.bucket,
            Prefix: prefix,
            MaxKeys: this.#options.listPageSize,
            ContinuationToken: token,
          }),
        );
      } catch (error) {
        throw s3Io('list', this.#url(prefix), error, this.#options.secrets);
      }
      for (const entry of page.Contents ?? []) {
        const name = entry.Key === undefined ? undefined : nameOfKey(this.#where, type, entry.Key);
        if (name !== undefined) yield { name, size: entry.Size ?? 0 };
      }
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  async remove(type: FileType, name: string): Promise<void> {
    const key = objectKey(this.#where, type, name);
    if (this.#options.objectLock && type !== FileType.locks) {
      const until = await this.retainedUntil(type, name);
      if (until !== undefined && until.getTime() > Date.now()) {
        throw objectRetained(type, name, this.#url(key), until);
      }
    }
    try {
      await this.#client.send(
        new this.#sdk.DeleteObjectCommand({ Bucket: this.#where.bucket, Key: key }),
      );
    } catch (error) {
      const facts = s3ErrorFacts(error);
      if (isS3NotFound(facts)) return;
      if (isS3Retention(facts)) {
        const until = await this.retainedUntil(type, name).catch(() => undefined);
        throw objectRetained(type, name, this.#url(key), until);
      }
      throw s3Io(`remove ${type}/${name} at`, this.#url(key), error, this.#options.secrets);
    }
  }

  /**
   * When the object's Object Lock retention ends (GetObjectRetention), or undefined when it
   * has none, or the bucket or server knows no Object Lock. Needs `s3:GetObjectRetention`.
   */
  async retainedUntil(type: FileType, name: string): Promise<Date | undefined> {
    const key = objectKey(this.#where, type, name);
    try {
      const response = await this.#client.send(
        new this.#sdk.GetObjectRetentionCommand({ Bucket: this.#where.bucket, Key: key }),
      );
      const until = response.Retention?.RetainUntilDate;
      return until === undefined ? undefined : new Date(until);
    } catch (error) {
      const facts = s3ErrorFacts(error);
      // No lock configuration or retention, or a server without the API: nothing retains it.
      if (
        isS3NotFound(facts) ||
        facts.name === 'ObjectLockConfigurationNotFoundError' ||
        facts.name === 'NoSuchObjectLockConfiguration' ||
        facts.name === 'InvalidRequest' ||
        facts.name === 'NotImplemented' ||
        facts.status === 501 ||
        facts.status === 400
      ) {
        return undefined;
      }
      throw s3Io(
        `read the retention of ${type}/${name} at`,
        this.#url(key),
        error,
        this.#options.secrets,
      );
    }
  }

  /**
   * Asks the server whether it honours `If-None-Match: *`: puts a probe lock object twice and
   * expects the second put to be refused, then removes the probe (if `delete` is declared).
   * Answers for the server, not for this backend's declaration: open a new backend with
   * `capabilities: { conditionalPut: true }` when it returns true. Costs three or four requests.
   */
  async probeConditionalPut(): Promise<boolean> {
    const name = `conditional-put-probe-${randomBytes(8).toString('hex')}`;
    const key = objectKey(this.#where, FileType.locks, name);
    try {
      await this.#putOne(key, Buffer.from('probe'), true);
      try {
        await this.#putOne(key, Buffer.from('probe'), true);
        return false;
      } catch (error) {
        if (isS3PreconditionFailed(s3ErrorFacts(error))) return true;
        throw error;
      }
    } catch (error) {
      throw s3Io('probe conditional writes at', this.#url(key), error, this.#options.secrets);
    } finally {
      if (this.capabilities.delete) await this.remove(FileType.locks, name).catch(() => undefined);
    }
  }

  close(): Promise<void> {
    this.#client.destroy();
    return Promise.resolve();
  }

  #url(key: string): string {
    return s3Url(this.#where.bucket, key);
  }

  async #head(type: FileType, name: string, key: string): Promise<{ size: number } | undefined> {
    try {
      const head = await this.#client.send(
        new this.#sdk.HeadObjectCommand({ Bucket: this.#where.bucket, Key: key }),
      );
      return { size: head.ContentLength ?? 0 };
    } catch (error) {
      if (isS3NotFound(s3ErrorFacts(error))) return undefined;
      throw s3Io(`stat ${type}/${name} at`, this.#url(key), error, this.#options.secrets);
    }
  }

  /** A range S3 would not serve: empty if it sits at or before the end, else a short object. */
  async #emptyRange(
    type: FileType,
    name: string,
    key: string,
    offset: number,
    length: number | undefined,
  ): Promise<Buffer> {
    const info = await this.#head(type, name, key);
    if (info === undefined) throw objectNotFound(type, name, this.#url(key));
    const wanted = length ?? Math.max(0, info.size - offset);
    if (offset + wanted > info.size || wanted !== 0) {
      throw shortObject(type, name, this.#url(key), info.size, offset, wanted);
    }
    return Buffer.alloc(0);
  }

  async #putOne(key: string, body: Uint8Array, ifAbsent: boolean): Promise<void> {
    await this.#client.send(
      new this.#sdk.PutObjectCommand({
        Bucket: this.#where.bucket,
        Key: key,
        Body: body,
        ContentLength: body.length,
        ...this.#integrity(body),
        ...(ifAbsent ? { IfNoneMatch: '*' } : {}),
      }),
    );
  }

  /** `Content-MD5` for Object Lock buckets, which refuse uploads without an integrity header. */
  #integrity(body: Uint8Array): { ContentMD5?: string } {
    return this.#options.objectLock
      ? { ContentMD5: createHash('md5').update(body).digest('base64') }
      : {};
  }

  /**
   * Fills one part; if the stream ends first, one PUT. Otherwise a multipart upload with up to
   * `partConcurrency` parts in flight while the next is filled; any failure aborts the upload
   * (best effort: the bucket should also expire incomplete uploads, see the format doc).
   */
  async #putStream(key: string, data: AsyncIterable<Uint8Array>, ifAbsent: boolean): Promise<void> {
    const { partBytes, partConcurrency } = this.#options;
    const iterator = data[Symbol.asyncIterator]();
    const filler = new PartFiller(partBytes);
    let pending: Uint8Array | undefined;
    let pendingAt = 0;
    /** Fills the current part; returns false when the stream has ended. */
    const fillPart = async (): Promise<boolean> => {
      for (;;) {
        if (pending !== undefined) {
          pendingAt += filler.fill(pending, pendingAt);
          if (pendingAt === pending.length) pending = undefined;
          if (filler.full) return true;
        }
        let next: IteratorResult<Uint8Array>;
        try {
          next = await iterator.next();
        } catch (error) {
          throw new SourceError(error);
        }
        if (next.done === true) return false;
        pending = next.value;
        pendingAt = 0;
      }
    };
    // A full part with the stream not yet known to be over could still be the whole object:
    // peek by filling the next part before deciding on multipart.
    if (!(await fillPart())) return this.#putOne(key, filler.take(), ifAbsent);
    const first = filler.take();
    if (!(await fillPart())) {
      if (filler.used === 0) return this.#putOne(key, first, ifAbsent);
    }
    const { UploadId } = await this.#client.send(
      new this.#sdk.CreateMultipartUploadCommand({ Bucket: this.#where.bucket, Key: key }),
    );
    if (UploadId === undefined) throw new Error('CreateMultipartUpload returned no UploadId');
    const inFlight: Promise<{ ETag: string | undefined; PartNumber: number }>[] = [];
    const done: { ETag: string | undefined; PartNumber: number }[] = [];
    const upload = (body: Buffer, partNumber: number) =>
      this.#client
        .send(
          new this.#sdk.UploadPartCommand({
            Bucket: this.#where.bucket,
            Key: key,
            UploadId,
            PartNumber: partNumber,
            Body: body,
            ContentLength: body.length,
            ...this.#integrity(body),
          }),
        )
        .then((result) => ({ ETag: result.ETag, PartNumber: partNumber }));
    try {
      let partNumber = 1;
      inFlight.push(upload(first, partNumber++));
      // `filler` holds the second part (full, or the last one and short).
      for (let more = filler.full; ;) {
        if (filler.used > 0) {
          if (inFlight.length >= partConcurrency) {
            const oldest = inFlight.shift();
            if (oldest !== undefined) done.push(await oldest);
          }
          inFlight.push(upload(filler.take(), partNumber++));
        }
        if (!more) break;
        more = await fillPart();
      }
      done.push(...(await Promise.all(inFlight.splice(0))));
      await this.#client.send(
        new this.#sdk.CompleteMultipartUploadCommand({
          Bucket: this.#where.bucket,
          Key: key,
          UploadId,
          MultipartUpload: { Parts: done },
          ...(ifAbsent ? { IfNoneMatch: '*' } : {}),
        }),
      );
    } catch (error) {
      // Let parts still in flight settle, so none lands after the abort.
      await Promise.allSettled(inFlight);
      await this.#client
        .send(
          new this.#sdk.AbortMultipartUploadCommand({
            Bucket: this.#where.bucket,
            Key: key,
            UploadId,
          }),
        )
        .catch(() => undefined);
      throw error;
    }
  }
}

/** The object's total size from a `Content-Range: bytes a-b/total` header. */
function totalSize(contentRange: string | undefined): number | undefined {
  const match = /\/(\d+)$/.exec(contentRange ?? '');
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

function positiveInteger(
  value: number | undefined,
  fallback: number,
  min: number,
  what: string,
): number {
  const out = value ?? fallback;
  if (!Number.isSafeInteger(out) || out < min) {
    throw new RangeError(`${what} must be an integer of at least ${min}, got ${String(value)}`);
  }
  return out;
}

/**
 * Opens the S3 backend for `s3://bucket/prefix` (no I/O: the bucket must exist; keys appear on
 * first write). `@aws-sdk/client-s3` is imported here, on first use, so commands that never
 * touch S3 never load it (nor see its Node-version warnings).
 *
 * @example
 * const backend = await openS3Backend({ url: 's3://backups/orders', region: 'eu-west-1' });
 * @example
 * const minio = await openS3Backend({
 *   url: 's3://backups/orders',
 *   endpoint: 'http://127.0.0.1:9000',
 *   credentials: { accessKeyId, secretAccessKey },
 *   capabilities: { conditionalPut: true },
 * });
 * @throws ShipError `SHIP_REPO_BAD_URL` (exit 2) for a malformed URL.
 */
export async function openS3Backend(options: S3BackendOptions): Promise<S3Backend> {
  const where = parseS3Url(options.url);
  const custom = options.endpoint !== undefined;
  const resolved: ResolvedOptions = {
    partBytes: positiveInteger(options.partBytes, 16 * MiB, S3_MIN_PART_BYTES, 'partBytes'),
    partConcurrency: positiveInteger(options.partConcurrency, 4, 1, 'partConcurrency'),
    listPageSize: positiveInteger(options.listPageSize, 1000, 1, 'listPageSize'),
    secrets: [
      options.credentials?.accessKeyId,
      options.credentials?.secretAccessKey,
      options.credentials?.sessionToken,
    ].filter((s): s is string => s !== undefined && s !== ''),
    objectLock: options.objectLock ?? false,
  };
  const checksums = options.checksums ?? (custom ? 'when-required' : 'when-supported');
  const checksumMode = checksums === 'when-required' ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED';
  const config: S3ClientConfig = {
    region: options.region ?? process.env.AWS_REGION ?? 'us-east-1',
    forcePathStyle: options.forcePathStyle ?? custom,
    maxAttempts: positiveInteger(options.maxAttempts, 5, 1, 'maxAttempts'),
    requestChecksumCalculation: checksumMode,
    responseChecksumValidation: checksumMode,
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    ...(options.credentials === undefined ? {} : { credentials: { ...options.credentials } }),
  };
  quietNodeVersionWarning();
  const sdk = await import('@aws-sdk/client-s3');
  const capabilities = {
    ...(custom ? S3_COMPATIBLE_CAPABILITIES : S3_AWS_CAPABILITIES),
    ...options.capabilities,
  };
  return new S3Backend(sdk, new sdk.S3Client(config), where, capabilities, resolved);
}

/**
 * The SDK prints a multi-line `NodeVersionSupportWarning` on Node < 22 when the first client is
 * made (process.emitWarning → stderr), which would break into `--json` progress on stderr and
 * tell a backup operator nothing actionable. It is switched off through the SDK's own variable
 * for exactly that warning, unless the user set it; every other warning still shows. Node 20
 * remains supported: see "S3 backend" in docs/repository-format.md.
 */
function quietNodeVersionWarning(): void {
  const name = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED';
  process.env[name] ??= 'true';
}
