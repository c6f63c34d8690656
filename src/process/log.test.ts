import { describe, expect, it } from 'vitest';

import { registerSecret } from '../core/index.js';

import { ProcessLog } from './log.js';

describe('ProcessLog', () => {
  it('keeps the combined output and redacts it when read', () => {
    registerSecret('log-test-secret-value');
    const log = new ProcessLog();
    log.write('stdout', Buffer.from('starting\n'));
    log.write('stderr', Buffer.from('dsn postgres://app:log-test-secret-value@db/app\n'));
    expect(log.tail()).toBe('starting\ndsn postgres://app:[REDACTED]@db/app\n');
  });

  it('starts a cut tail at a line boundary', () => {
    const log = new ProcessLog();
    log.write('stdout', Buffer.from('first line\nsecond line\n'));
    expect(log.tail(14)).toBe('second line\n');
    expect(log.tail(12)).toBe('second line\n');
  });

  it('drops the oldest output beyond its capacity, and the line it cut', () => {
    const log = new ProcessLog(undefined, 16);
    log.write('stdout', Buffer.from('aaaaaaaa'));
    log.write('stdout', Buffer.from('aaaa\nbbbbbbb\n'));
    log.write('stdout', Buffer.from('cccccccc\n'));
    expect(log.tail()).toBe('bbbbbbb\ncccccccc\n');
  });

  it('returns the last lines', () => {
    const log = new ProcessLog();
    log.write('stdout', Buffer.from('1\n2\n3\n4\n'));
    expect(log.lastLines(2)).toBe('3\n4');
    expect(new ProcessLog().lastLines(20)).toBe('');
  });
});
