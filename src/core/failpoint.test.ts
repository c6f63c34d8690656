import { afterEach, describe, expect, it } from 'vitest';
import {
  SimulatedCrash,
  armFailpoints,
  disarmFailpoints,
  failpoint,
  failpointTrace,
  isSimulatedCrash,
  parseFailpoints,
} from './failpoint.js';

afterEach(() => {
  disarmFailpoints();
});

describe('failpoints', () => {
  it('do nothing when disarmed', () => {
    disarmFailpoints();
    expect(() => {
      failpoint('index.written');
    }).not.toThrow();
    expect(failpointTrace()).toEqual([]);
  });

  it('fire at the Nth hit of a named point, once', () => {
    armFailpoints('index.written=2');
    failpoint('index.written');
    failpoint('pack.written');
    let caught: unknown;
    try {
      failpoint('index.written');
    } catch (error) {
      caught = error;
    }
    expect(isSimulatedCrash(caught)).toBe(true);
    expect(caught).toBeInstanceOf(SimulatedCrash);
    expect((caught as SimulatedCrash).point).toBe('index.written');
    expect((caught as SimulatedCrash).hit).toBe(2);
    // Fired once: later hits pass.
    expect(() => {
      failpoint('index.written');
    }).not.toThrow();
  });

  it('count every point with * and record the trace in order', () => {
    armFailpoints('*=0');
    failpoint('a.one');
    failpoint('b.two');
    failpoint('a.one');
    expect(failpointTrace()).toEqual(['a.one', 'b.two', 'a.one']);
    armFailpoints('*=3');
    failpoint('a.one');
    failpoint('b.two');
    expect(() => {
      failpoint('c.three');
    }).toThrow(/failpoint c\.three \(hit 3\)/);
  });

  it('parse actions and reject malformed specs with the expected syntax', () => {
    expect(parseFailpoints('x.y=1:kill, *=4:exit,z=2')).toEqual([
      { point: 'x.y', at: 1, action: 'kill' },
      { point: '*', at: 4, action: 'exit' },
      { point: 'z', at: 2, action: 'crash' },
    ]);
    expect(() => parseFailpoints('x.y')).toThrow(/point=N\[:crash\|kill\|exit\]/);
    expect(() => parseFailpoints('X=1')).toThrow(/cannot parse "X=1"/);
    expect(() => parseFailpoints('x=1:boom')).toThrow(/cannot parse/);
  });
});
