import { describe, expect, it } from 'vitest';
import { backendIo, objectExists, objectNotFound, shortObject } from './errors.js';

describe('backend errors', () => {
  it('name the object, the place and the exit code', () => {
    const missing = objectNotFound('data', 'ab12', '/r/data/ab/ab12');
    expect(missing.toJSON()).toMatchObject({
      code: 'SHIP_REPO_NOT_FOUND',
      exitCode: 11,
      message: 'Repository object data/ab12 does not exist (looked at /r/data/ab/ab12).',
    });
    expect(objectExists('locks', 'l1', '/r/locks/l1').toJSON()).toMatchObject({
      code: 'SHIP_REPO_EXISTS',
      exitCode: 3,
    });
    expect(shortObject('data', 'ab', '/r/data/ab/ab', 10, 5, 10).toJSON()).toMatchObject({
      code: 'SHIP_REPO_CORRUPT',
      exitCode: 11,
      message: 'Repository object data/ab (/r/data/ab/ab) is 10 bytes; bytes 5..15 were asked for.',
    });
  });

  it('marks transient I/O errors retryable and hints at permissions and space', () => {
    const busy = backendIo('read', '/r/x', Object.assign(new Error('busy'), { code: 'EBUSY' }));
    expect(busy.toJSON()).toMatchObject({
      code: 'SHIP_REPO_IO',
      exitCode: 3,
      retryable: true,
      message: 'Cannot read /r/x: busy',
    });
    const denied = backendIo('write', '/r/y', Object.assign(new Error('no'), { code: 'EACCES' }));
    expect(denied.retryable).toBe(false);
    expect(denied.hint).toMatch(/may read and write/);
    expect(
      backendIo('write', '/r/z', Object.assign(new Error('full'), { code: 'ENOSPC' })).hint,
    ).toMatch(/free space/);
  });
});
