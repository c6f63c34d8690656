import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Every Shipshape token starts with this, so scanners and the redactor can spot one. */
export const TOKEN_PREFIX = 'ssp_';
/** Random bytes in the secret part: 256 bits, far beyond any guessing. */
export const TOKEN_SECRET_BYTES = 32;
/** The public id: 12 lowercase hex digits (48 random bits; collisions are refused by the store). */
export const TOKEN_ID_PATTERN = /^[0-9a-f]{12}$/;
/** A whole token: `ssp_<12 hex>_<43 base64url>`. The secret may itself contain `_` and `-`. */
export const TOKEN_PATTERN = /^ssp_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

/** A freshly generated token and what is stored of it. */
export interface GeneratedToken {
  /** The whole token, shown once to the person who minted it. */
  token: string;
  id: string;
  /** Hex SHA-256 of `token`: the only thing the store keeps. */
  hash: string;
}

/**
 * Generates a token `ssp_<id>_<secret>`: a 12-hex-digit public id and 32 random bytes encoded
 * base64url, both from the operating system's CSPRNG.
 *
 * @example generateToken().token // 'ssp_3f9a0c1b2d4e_Vq…'
 */
export function generateToken(): GeneratedToken {
  const id = randomBytes(6).toString('hex');
  const secret = randomBytes(TOKEN_SECRET_BYTES).toString('base64url');
  const token = `${TOKEN_PREFIX}${id}_${secret}`;
  return { token, id, hash: hashToken(token) };
}

/** The public id of a well-formed token, or undefined when `token` is not one. */
export function parseTokenId(token: string): string | undefined {
  return TOKEN_PATTERN.exec(token)?.[1];
}

/**
 * Hex SHA-256 of the whole token. A plain hash is enough here (no bcrypt/scrypt): the secret is
 * 256 random bits, so there is no dictionary to try and a stolen hash cannot be reversed by
 * brute force; a slow KDF would only make every API request slower.
 */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Whether `token` hashes to `storedHash`, compared in constant time. */
export function tokenMatches(token: string, storedHash: string): boolean {
  const expected = Buffer.from(storedHash, 'hex');
  const actual = createHash('sha256').update(token, 'utf8').digest();
  // Lengths differ only for a corrupt stored hash; timingSafeEqual would throw on it.
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
