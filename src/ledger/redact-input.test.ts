import { describe, expect, it } from 'vitest';
import { registerSecret } from '../core/index.js';
import { redactInput } from './redact-input.js';

const secret = 'c0ffee42deadbeef';
registerSecret(secret);

describe('redactInput', () => {
  it('redacts free text and leaves digests, ids and enums alone', () => {
    const digest = `sha256:${secret}${'0'.repeat(48)}`;
    const input = {
      kind: 'gate-result',
      subject: `db:${secret}`,
      actor: { kind: 'token', tokenId: 'tok_1', roles: [] },
      body: {
        gate: 'backup',
        summary: `dumped with password=${secret}`,
        details: { nested: [{ dsn: `postgres://u:${secret}@h/db` }] },
        artifacts: [{ name: `${secret}.dump`, digest }],
      },
    };
    expect(redactInput(input)).toEqual({
      ...input,
      subject: 'db:[REDACTED]',
      body: {
        gate: 'backup',
        summary: 'dumped with password=[REDACTED]',
        details: { nested: [{ dsn: 'postgres://u:[REDACTED]@h/db' }] },
        artifacts: [{ name: '[REDACTED].dump', digest }],
      },
    });
    expect(input.subject).toBe(`db:${secret}`); // the caller's object is not changed
  });

  it('passes through what is not shaped as expected, for the schema to reject', () => {
    expect(redactInput(null)).toBeNull();
    expect(redactInput('x')).toBe('x');
    expect(redactInput({ body: { artifacts: [1, { name: 2 }] } })).toEqual({
      body: { artifacts: [1, { name: 2 }] },
    });
  });
});
