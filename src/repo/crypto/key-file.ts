import { createHash } from 'node:crypto';

import { z } from 'zod';

import { repoCorrupt, repoUnsupportedVersion } from './errors.js';

/** The key-file format version this build writes and reads. */
export const KEY_FILE_VERSION = 1;
/** Bytes of scrypt salt in a key file. */
export const KEY_SALT_BYTES = 32;
/** Bytes of the AES-256-GCM nonce that wraps the master key. */
export const KEY_NONCE_BYTES = 12;
/** Bytes of the master key. */
export const MASTER_KEY_BYTES = 64;
/** Bytes of `wrapped`: the encrypted master key and its 16-byte GCM tag. */
export const KEY_WRAPPED_BYTES = MASTER_KEY_BYTES + 16;
/**
 * The most memory (128·N·r bytes) a key file may ask scrypt for. A hostile key file must not
 * make `repo` allocate gigabytes; 1 GiB is 8× the default.
 */
export const SCRYPT_MAX_MEMORY_BYTES = 1024 * 1024 * 1024;

const base64Of = (bytes: number) =>
  z
    .string()
    .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'expected standard base64')
    .refine((value) => Buffer.from(value, 'base64').length === bytes, {
      message: `expected base64 of exactly ${bytes} bytes`,
    })
    // Only the canonical spelling: unused low bits of the last character must be zero, so
    // a changed character never decodes to the same bytes (`wrapped` is not in the key id).
    .refine((value) => Buffer.from(value, 'base64').toString('base64') === value, {
      message: 'expected canonical base64 (unused bits set: the file was changed)',
    });

/** Schema of a key file (`keys/<id>`, plaintext JSON). */
export const keyFileSchema = z
  .strictObject({
    version: z.literal(KEY_FILE_VERSION),
    kdf: z.literal('scrypt'),
    N: z
      .number()
      .int()
      .min(2)
      .max(2 ** 24)
      .refine((n) => (n & (n - 1)) === 0, { message: 'N must be a power of two' }),
    r: z.number().int().min(1).max(64),
    p: z.number().int().min(1).max(16),
    salt: base64Of(KEY_SALT_BYTES),
    nonce: base64Of(KEY_NONCE_BYTES),
    wrapped: base64Of(KEY_WRAPPED_BYTES),
    created: z.iso.datetime({ offset: true }),
    host: z.string().max(1024),
    user: z.string().max(1024),
    label: z.string().max(1024).optional(),
    /** `full` when absent (key files written before roles existed). */
    role: z.enum(['full', 'append-only']).optional(),
  })
  .refine((file) => 128 * file.N * file.r <= SCRYPT_MAX_MEMORY_BYTES, {
    message: `scrypt parameters need more than ${SCRYPT_MAX_MEMORY_BYTES} bytes (128·N·r)`,
    path: ['N'],
  });

/** A parsed key file. */
export type KeyFile = z.infer<typeof keyFileSchema>;

/** The fields of a key file that its id covers: all of them except `wrapped`. */
export type KeyFileIdFields = Omit<KeyFile, 'wrapped'>;

/**
 * The id of a key file (its name under `keys/`): lowercase hex SHA-256 of the canonical JSON
 * of every field except `wrapped` — keys in the order version, kdf, N, r, p, salt, nonce,
 * created, host, user, label and role (each when present), no whitespace. `wrapped` is left out because the
 * id is the associated data that wraps the master key, so it must exist before `wrapped` does;
 * every other field, the KDF parameters and label included, is bound by it.
 */
export function keyFileId(file: KeyFileIdFields): string {
  return createHash('sha256').update(canonicalIdJson(file), 'utf8').digest('hex');
}

function canonicalIdJson(file: KeyFileIdFields): string {
  return JSON.stringify({
    version: file.version,
    kdf: file.kdf,
    N: file.N,
    r: file.r,
    p: file.p,
    salt: file.salt,
    nonce: file.nonce,
    created: file.created,
    host: file.host,
    user: file.user,
    ...(file.label === undefined ? {} : { label: file.label }),
    ...(file.role === undefined ? {} : { role: file.role }),
  });
}

/** Serializes a key file to the JSON text stored under `keys/<id>` (stable field order). */
export function serializeKeyFile(file: KeyFile): string {
  const ordered = {
    version: file.version,
    kdf: file.kdf,
    N: file.N,
    r: file.r,
    p: file.p,
    salt: file.salt,
    nonce: file.nonce,
    wrapped: file.wrapped,
    created: file.created,
    host: file.host,
    user: file.user,
    ...(file.label === undefined ? {} : { label: file.label }),
    ...(file.role === undefined ? {} : { role: file.role }),
  };
  return `${JSON.stringify(ordered, null, 2)}\n`;
}

/**
 * Checks an untrusted value is a key file. Throws `SHIP_REPO_UNSUPPORTED_VERSION` when it
 * carries a version other than 1, `SHIP_REPO_CORRUPT` (naming the key and field) otherwise.
 */
export function parseKeyFile(value: unknown, id?: string): KeyFile {
  const what = keyWhat(id);
  if (typeof value === 'object' && value !== null && 'version' in value) {
    const version: unknown = value.version;
    if (typeof version === 'number' && version !== KEY_FILE_VERSION) {
      throw repoUnsupportedVersion(what, version, KEY_FILE_VERSION);
    }
  }
  const parsed = keyFileSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue && issue.path.length > 0 ? ` at \`${issue.path.join('.')}\`` : '';
    throw repoCorrupt(what, `malformed key file${field}: ${issue?.message ?? 'invalid'}`, {
      hint: 'the key file was edited or damaged; open the repository with another key and run `shipshape repo key add` to replace it',
    });
  }
  return parsed.data;
}

/** Parses the JSON text of a key file (see {@link parseKeyFile}). */
export function parseKeyFileText(text: string, id?: string): KeyFile {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw repoCorrupt(keyWhat(id), 'malformed key file: not valid JSON', { cause: error });
  }
  return parseKeyFile(value, id);
}

/** How errors name a key file. */
export function keyWhat(id: string | undefined): string {
  return id === undefined ? 'key file' : `key file ${id}`;
}
