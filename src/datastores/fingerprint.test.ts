import { describe, expect, it } from 'vitest';

import {
  compareFingerprints,
  fingerprintForManifest,
  fingerprintFromManifest,
  makeFingerprint,
} from './fingerprint.js';

describe('fingerprints', () => {
  it('digest does not depend on the order entries were added in', () => {
    const a = makeFingerprint('counts', { 'public.a': { rows: 1 }, 'public.b': { rows: 2 } });
    const b = makeFingerprint('counts', { 'public.b': { rows: 2 }, 'public.a': { rows: 1 } });
    expect(a.digest).toBe(b.digest);
    expect(Object.keys(b.entries)).toEqual(['public.a', 'public.b']);
    expect(a.digest).toMatch(/^[0-9a-f]{64}$/);
  });

  it('digest changes with a count, a content digest, a name or the mode', () => {
    const base = makeFingerprint('full', { t: { rows: 1, digest: 'ab' } });
    expect(makeFingerprint('full', { t: { rows: 2, digest: 'ab' } }).digest).not.toBe(base.digest);
    expect(makeFingerprint('full', { t: { rows: 1, digest: 'ac' } }).digest).not.toBe(base.digest);
    expect(makeFingerprint('full', { u: { rows: 1, digest: 'ab' } }).digest).not.toBe(base.digest);
    expect(makeFingerprint('counts', { t: { rows: 1, digest: 'ab' } }).digest).not.toBe(
      base.digest,
    );
  });

  it('a comparison names changed, missing and extra entries', () => {
    const expected = makeFingerprint('full', {
      a: { rows: 1, digest: 'x' },
      b: { rows: 2 },
      c: { rows: 3 },
    });
    const actual = makeFingerprint('full', {
      a: { rows: 1, digest: 'y' },
      b: { rows: 2 },
      d: { rows: 0 },
    });
    expect(compareFingerprints(expected, actual)).toEqual({
      equal: false,
      changed: ['a'],
      missing: ['c'],
      extra: ['d'],
    });
    expect(compareFingerprints(expected, expected).equal).toBe(true);
  });

  it('fingerprints of different modes compare by counts only', () => {
    const full = makeFingerprint('full', { a: { rows: 1, digest: 'x' } });
    expect(compareFingerprints(full, makeFingerprint('counts', { a: { rows: 1 } })).equal).toBe(
      true,
    );
    expect(
      compareFingerprints(full, makeFingerprint('counts', { a: { rows: 2 } })).changed,
    ).toEqual(['a']);
  });

  it('round-trips through a manifest and rejects what is not one', () => {
    const print = makeFingerprint('counts', { a: { rows: 1 } });
    expect(fingerprintFromManifest(fingerprintForManifest(print))).toEqual(print);
    expect(fingerprintFromManifest(undefined)).toBeUndefined();
    expect(
      fingerprintFromManifest({ datastore: { mode: 'weird', entries: {}, digest: 'x' } }),
    ).toBeUndefined();
    expect(fingerprintForManifest(undefined)).toBeUndefined();
  });
});
