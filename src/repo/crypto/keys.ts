import {
  createCipheriv,
  createDecipheriv,
  hkdfSync,
  randomBytes,
  scrypt,
  type ScryptOptions,
} from 'node:crypto';
import { hostname, userInfo } from 'node:os';

import { ExitCode, ShipError } from '../../core/index.js';

import { repoCorrupt } from './errors.js';
import {
  KEY_FILE_VERSION,
  KEY_NONCE_BYTES,
  KEY_SALT_BYTES,
  KEY_WRAPPED_BYTES,
  MASTER_KEY_BYTES,
  keyFileId,
  keyFileSchema,
  keyWhat,
  parseKeyFile,
  type KeyFile,
  type KeyFileIdFields,
} from './key-file.js';

/** HKDF `info` strings of the sub-keys. Part of the format: never change them within v1. */
export const SUBKEY_INFO = {
  encryption: 'shipshape-repo/v1 encryption',
  chunkId: 'shipshape-repo/v1 chunk-id',
  chunker: 'shipshape-repo/v1 chunker',
} as const;

/** Bytes of each sub-key. */
export const SUBKEY_BYTES = 32;

/** The repository's working keys, derived from the master key. */
export interface RepoSubkeys {
  /** AES-256-GCM key sealing every blob. */
  encryption: Buffer;
  /** HMAC-SHA-256 key for chunk ids. */
  chunkId: Buffer;
  /** Seeds the chunker's gear table, so chunk boundaries do not reveal content. */
  chunker: Buffer;
}

/** scrypt cost parameters stored in a key file. */
export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/** Default scrypt cost: N=2^17, r=8, p=1 (128 MiB, a few hundred ms per open). */
export const DEFAULT_SCRYPT_PARAMS: Readonly<ScryptParams> = { N: 2 ** 17, r: 8, p: 1 };

/** Options for {@link createKeyFile}. */
export interface CreateKeyFileOptions {
  /** A free-text note shown by `repo key list`, e.g. `ci`, `laptop of ana`. */
  label?: string;
  /** scrypt cost. @default DEFAULT_SCRYPT_PARAMS */
  kdf?: ScryptParams;
  /** @default os.hostname() */
  host?: string;
  /** @default os.userInfo().username */
  user?: string;
  /** @default new Date() */
  created?: Date;
  /**
   * `append-only` keys open the repository for adding only (see src/repo/append-only.ts);
   * the field is bound by the key id. Omitted (the default) means `full`.
   */
  role?: 'full' | 'append-only';
}

/** A password: text (encoded as UTF-8, not normalized) or raw bytes. */
export type Password = string | Uint8Array;

/** A new random 64-byte master key. */
export function generateMasterKey(): Buffer {
  return randomBytes(MASTER_KEY_BYTES);
}

/**
 * Derives the sub-keys from a master key with HKDF-SHA-256 (empty salt; info strings
 * {@link SUBKEY_INFO}; 32 bytes each). Deterministic: the same master gives the same keys.
 */
export function deriveSubkeys(master: Uint8Array): RepoSubkeys {
  checkMaster(master);
  const derive = (info: string) =>
    Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), info, SUBKEY_BYTES));
  return {
    encryption: derive(SUBKEY_INFO.encryption),
    chunkId: derive(SUBKEY_INFO.chunkId),
    chunker: derive(SUBKEY_INFO.chunker),
  };
}

/**
 * Wraps a master key under a password into a new key file. The wrapping key is
 * scrypt(password, salt, N, r, p) → 32 bytes; the master key is sealed with AES-256-GCM under
 * it, with the key id (ASCII hex) as associated data. Store `file` as `keys/<id>` using
 * {@link serializeKeyFile}.
 *
 * @example
 * const { id, file } = await createKeyFile(master, password, { label: 'ci' });
 */
export async function createKeyFile(
  master: Uint8Array,
  password: Password,
  options: CreateKeyFileOptions = {},
): Promise<{ id: string; file: KeyFile }> {
  checkMaster(master);
  if (password.length === 0) {
    throw ShipError.usage('SHIP_REPO_PASSWORD_EMPTY', 'the repository password is empty', {
      hint: 'set SHIPSHAPE_REPO_PASSWORD or pass --password-file with a non-empty password',
    });
  }
  const kdf = options.kdf ?? DEFAULT_SCRYPT_PARAMS;
  const salt = randomBytes(KEY_SALT_BYTES);
  const nonce = randomBytes(KEY_NONCE_BYTES);
  const fields: KeyFileIdFields = {
    version: KEY_FILE_VERSION,
    kdf: 'scrypt',
    N: kdf.N,
    r: kdf.r,
    p: kdf.p,
    salt: salt.toString('base64'),
    nonce: nonce.toString('base64'),
    created: (options.created ?? new Date()).toISOString(),
    host: options.host ?? hostname(),
    user: options.user ?? currentUser(),
    ...(options.label === undefined ? {} : { label: options.label }),
    ...(options.role === undefined || options.role === 'full' ? {} : { role: options.role }),
  };
  // Validates the parameters (N a power of two, memory bound…) before spending scrypt time.
  const check = keyFileSchema.safeParse({
    ...fields,
    wrapped: Buffer.alloc(KEY_WRAPPED_BYTES).toString('base64'),
  });
  if (!check.success) {
    const issue = check.error.issues[0];
    throw ShipError.usage(
      'SHIP_REPO_BAD_KEY_PARAMS',
      `cannot create a key file: ${issue?.path.join('.') ?? ''} ${issue?.message ?? 'invalid'}`,
      { hint: 'scrypt needs N a power of two (≥ 2), r in 1–64, p in 1–16, 128·N·r ≤ 1 GiB' },
    );
  }
  const id = keyFileId(fields);
  const wrappingKey = await deriveWrappingKey(password, salt, kdf);
  const cipher = createCipheriv('aes-256-gcm', wrappingKey, nonce, { authTagLength: 16 });
  cipher.setAAD(Buffer.from(id, 'ascii'));
  const wrapped = Buffer.concat([cipher.update(master), cipher.final(), cipher.getAuthTag()]);
  return { id, file: { ...fields, wrapped: wrapped.toString('base64') } };
}

/** Options for {@link openKeyFile}. */
export interface OpenKeyFileOptions {
  /** The id the file was stored under (`keys/<id>`); checked against its content. */
  id?: string;
}

/**
 * Opens a key file with a password and returns the 64-byte master key.
 *
 * Throws `SHIP_REPO_WRONG_KEY` (exit 12) when the password does not unwrap the key;
 * `SHIP_REPO_CORRUPT` (exit 11, naming the key id) when the file is malformed or its content
 * does not match `options.id`; `SHIP_REPO_UNSUPPORTED_VERSION` on an unknown version.
 */
export async function openKeyFile(
  file: unknown,
  password: Password,
  options: OpenKeyFileOptions = {},
): Promise<Buffer> {
  const parsed = parseKeyFile(file, options.id);
  const id = keyFileId(parsed);
  if (options.id !== undefined && options.id !== id) {
    throw repoCorrupt(keyWhat(options.id), `content does not match its id (it hashes to ${id})`, {
      hint: 'the key file was edited or renamed; open the repository with another key and run `shipshape repo key add` to replace it',
    });
  }
  const salt = Buffer.from(parsed.salt, 'base64');
  const nonce = Buffer.from(parsed.nonce, 'base64');
  const wrapped = Buffer.from(parsed.wrapped, 'base64');
  const wrappingKey = await deriveWrappingKey(password, salt, parsed);
  try {
    const decipher = createDecipheriv('aes-256-gcm', wrappingKey, nonce, { authTagLength: 16 });
    decipher.setAAD(Buffer.from(id, 'ascii'));
    decipher.setAuthTag(wrapped.subarray(MASTER_KEY_BYTES));
    return Buffer.concat([
      decipher.update(wrapped.subarray(0, MASTER_KEY_BYTES)),
      decipher.final(),
    ]);
  } catch (error) {
    throw new ShipError(
      'SHIP_REPO_WRONG_KEY',
      `the password does not open ${keyWhat(id)}${parsed.label === undefined ? '' : ` (${parsed.label})`}`,
      {
        exitCode: ExitCode.wrongKey,
        retryable: false,
        details: { keyId: id },
        hint: 'check SHIPSHAPE_REPO_PASSWORD or --password-file; if the password is right, the key file may be damaged: try another key',
        cause: error,
      },
    );
  }
}

/** scrypt → 32-byte wrapping key, with `maxmem` sized to the parameters (Node's default is 32 MiB). */
function deriveWrappingKey(
  password: Password,
  salt: Uint8Array,
  params: ScryptParams,
): Promise<Buffer> {
  const options: ScryptOptions = {
    N: params.N,
    r: params.r,
    p: params.p,
    maxmem: 128 * params.N * params.r * 2 + 128 * params.r * params.p,
  };
  const secret = typeof password === 'string' ? Buffer.from(password, 'utf8') : password;
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, 32, options, (error, key) => {
      if (error) reject(error);
      else resolve(key);
    });
  });
}

function checkMaster(master: Uint8Array): void {
  if (master.length !== MASTER_KEY_BYTES) {
    throw new Error(`master key must be ${MASTER_KEY_BYTES} bytes, got ${master.length}`);
  }
}

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    // No passwd entry (some containers): the field is informational only.
    return 'unknown';
  }
}

/** A stored key file: its id (name under `keys/`) and its parsed JSON. */
export interface StoredKeyFile {
  id: string;
  file: unknown;
}

/**
 * Tries a password against every key file (in the order given) and returns the first that
 * opens, as restic does: the user need not say which key is theirs. Damaged key files are
 * skipped so that one bad file does not lock out the others.
 *
 * Throws `SHIP_REPO_WRONG_KEY` (exit 12) when the password opens none of the sound key files,
 * and `SHIP_REPO_CORRUPT` (exit 11) when there are no key files, or none is sound.
 */
export async function openWithAnyKey(
  keys: readonly StoredKeyFile[],
  password: Password,
): Promise<{ id: string; master: Buffer }> {
  const damaged: ShipError[] = [];
  let wrong = 0;
  for (const { id, file } of keys) {
    try {
      return { id, master: await openKeyFile(file, password, { id }) };
    } catch (error) {
      if (!(error instanceof ShipError)) throw error;
      if (error.code === 'SHIP_REPO_WRONG_KEY') wrong++;
      else damaged.push(error);
    }
  }
  if (wrong > 0) {
    const skipped = damaged.length === 0 ? '' : ` (${damaged.length} damaged key file(s) skipped)`;
    throw new ShipError(
      'SHIP_REPO_WRONG_KEY',
      `the password opens none of the repository's ${wrong} key file(s)${skipped}`,
      {
        exitCode: ExitCode.wrongKey,
        retryable: false,
        details: { tried: wrong, damaged: damaged.map((error) => error.message) },
        hint: 'check SHIPSHAPE_REPO_PASSWORD or --password-file',
      },
    );
  }
  if (damaged.length === 0) {
    throw repoCorrupt('keys/', 'the repository has no key files', {
      hint: 'check the repository path; without a key file the repository cannot be opened',
    });
  }
  throw repoCorrupt('keys/', `every key file is damaged: ${damaged[0]?.message ?? ''}`, {
    cause: damaged[0],
  });
}
