import { describe, expect, it } from 'vitest';
import { didYouMean, editDistance } from './suggest.js';

describe('editDistance', () => {
  it.each([
    ['', '', 0],
    ['abc', 'abc', 0],
    ['retension', 'retention', 1],
    ['ab', 'ba', 1],
    ['kitten', 'sitting', 3],
    ['', 'abc', 3],
  ])('%s ↔ %s = %d', (a, b, distance) => {
    expect(editDistance(a, b)).toBe(distance);
    expect(editDistance(b, a)).toBe(distance);
  });
});

describe('didYouMean', () => {
  const keys = ['kind', 'connection', 'repository', 'schedule', 'retention', 'objectives'];

  it.each([
    ['retension', 'retention'],
    ['shedule', 'schedule'],
    ['Kind', 'kind'],
    ['repo', undefined],
    ['xyz', undefined],
    ['connexion', 'connection'],
  ])('%s → %s', (input, expected) => {
    expect(didYouMean(input, keys)).toBe(expected);
  });

  it('treats - and _ alike', () => {
    expect(didYouMean('sre_lead', ['sre-lead', 'qa-lead'])).toBe('sre-lead');
  });
});
