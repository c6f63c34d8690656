import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  TOKEN_PATTERN,
  generateToken,
  hashToken,
  parseTokenId,
  tokenMatches,
} from './token-format.js';

describe('token format', () => {
  it('is ssp_<12 hex id>_<32 random bytes, base64url>', () => {
    const { token, id, hash } = generateToken();
    expect(token).toMatch(TOKEN_PATTERN);
    expect(token.startsWith(`ssp_${id}_`)).toBe(true);
    expect(id).toMatch(/^[0-9a-f]{12}$/);
    const secret = token.slice(`ssp_${id}_`.length);
    expect(Buffer.from(secret, 'base64url')).toHaveLength(32);
    expect(hash).toBe(createHash('sha256').update(token).digest('hex'));
  });

  it('never repeats', () => {
    const tokens = new Set(Array.from({ length: 200 }, () => generateToken().token));
    const ids = new Set([...tokens].map((t) => parseTokenId(t)));
    expect(tokens.size).toBe(200);
    expect(ids.size).toBe(200);
  });

  it('parses the id of a well-formed token only', () => {
    const { token, id } = generateToken();
    expect(parseTokenId(token)).toBe(id);
    for (const bad of [
      '',
      'ssp_',
      token.slice(0, -1),
      `${token}x`,
      token.replace('ssp_', 'ssx_'),
      token.toUpperCase(),
      ` ${token}`,
      `ssp_${id}`,
    ]) {
      expect(parseTokenId(bad), bad).toBeUndefined();
    }
  });

  it('matches only the exact token against its stored hash', () => {
    const { token, hash } = generateToken();
    expect(tokenMatches(token, hash)).toBe(true);
    expect(tokenMatches(`${token.slice(0, -1)}A`, hash)).toBe(token.endsWith('A'));
    expect(tokenMatches(generateToken().token, hash)).toBe(false);
    // A corrupt stored hash of the wrong length is a mismatch, not a crash.
    expect(tokenMatches(token, hash.slice(0, 10))).toBe(false);
    expect(hashToken(token)).toBe(hash);
  });
});
