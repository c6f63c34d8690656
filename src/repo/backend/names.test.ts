import { describe, expect, it } from 'vitest';
import { isShipError } from '../../core/index.js';
import type { FileType } from './backend.js';
import { checkObjectName, checkRange } from './names.js';

function refusal(type: string, name: string): string | undefined {
  try {
    checkObjectName(type as FileType, name);
    return undefined;
  } catch (error) {
    if (!isShipError(error)) throw error;
    expect(error.exitCode).toBe(2);
    return `${error.code}: ${error.message}`;
  }
}

describe('checkObjectName', () => {
  it.each([
    ['config', 'config'],
    ['keys', '3f2a9c'],
    ['data', '00ff'],
    ['data', 'ab'],
    ['index', 'Index_1.v2-x'],
    ['locks', '9'],
    ['snapshots', 'a'.repeat(200)],
  ])('accepts %s/%s', (type, name) => {
    expect(refusal(type, name)).toBeUndefined();
  });

  it.each([
    ['keys', '../x', /expected 1-200 characters/],
    ['keys', '.tmp-1', /not starting with \. _ or -/],
    ['keys', '-rf', /not starting/],
    ['keys', 'a/b', /A-Z a-z 0-9/],
    ['keys', '', /Invalid repository object name "" for type "keys"/],
    ['snapshots', 'a'.repeat(201), /1-200 characters/],
    ['data', 'g0', /two lowercase hex digits/],
    ['data', 'Ab12', /two lowercase hex digits/],
    ['config', 'config2', /the name "config"/],
    ['packs', 'ab', /a file type, one of config, keys, data, index, snapshots, locks/],
  ])('refuses %s/%j', (type, name, message) => {
    const got = refusal(type, name);
    expect(got).toMatch(/^SHIP_REPO_BAD_NAME: /);
    expect(got).toMatch(message);
  });
});

describe('checkRange', () => {
  it('accepts non-negative integers and refuses anything else', () => {
    expect(() => {
      checkRange({ offset: 0 });
      checkRange({ offset: 5, length: 0 });
    }).not.toThrow();
    expect(() => {
      checkRange({ offset: -1 });
    }).toThrow(RangeError);
    expect(() => {
      checkRange({ offset: 1.5 });
    }).toThrow(RangeError);
    expect(() => {
      checkRange({ offset: 0, length: -2 });
    }).toThrow(RangeError);
  });
});
