import { describe, expect, it } from 'vitest';
import { ShipError, registerSecret } from '../core/index.js';
import { createServerLogger } from './logger.js';

const SECRET = 'loggerunitsecret-7d1f9a0b';
registerSecret(SECRET);

function capture() {
  const lines: string[] = [];
  const logger = createServerLogger({ destination: { write: (line) => lines.push(line) } });
  return { logger, lines };
}

describe('createServerLogger', () => {
  it('redacts secrets in messages, format arguments, objects, bindings and errors', () => {
    const { logger, lines } = capture();
    logger.info(`message with ${SECRET}`);
    logger.info('format %s', SECRET);
    logger.info({ nested: { value: [SECRET] }, [SECRET]: 1 }, 'object');
    logger.child({ bound: SECRET }).info('child');
    logger.error(new Error(`thrown with ${SECRET}`));
    logger.error(
      {
        err: new ShipError('SHIP_X', `ship error ${SECRET}`, {
          details: { dsn: `postgres://u:${SECRET}@h/db` },
          cause: new Error(`cause ${SECRET}`),
        }),
      },
      'failed',
    );
    logger.info({ header: 'Bearer abcdefghijklmnopqrstuvwxyz0123' }, 'bearer');
    expect(lines).toHaveLength(7);
    for (const line of lines) {
      expect(line).not.toContain(SECRET);
      expect(line).not.toContain('abcdefghijklmnopqrstuvwxyz0123');
      expect(() => JSON.parse(line) as unknown).not.toThrow();
    }
    const error = JSON.parse(lines[5]!) as { err: { code: string; cause: { message: string } } };
    expect(error.err.code).toBe('SHIP_X');
    expect(error.err.cause.message).toBe('cause [REDACTED]');
  });

  it('writes one JSON object per line with level, time and message', () => {
    const { logger, lines } = capture();
    logger.warn({ a: 1 }, 'hello');
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'warn', a: 1, msg: 'hello' });
    expect(lines[0]!.endsWith('\n')).toBe(true);
  });
});
