import { describe, expect, it } from 'vitest';
import { AppendInputSchema, GATE_IDS, type AppendInput } from './evidence.js';
import { parseValidity } from './validity.js';
import { anyString, matching } from '../../test/ledger/matchers.js';

const actor = { kind: 'os-user' as const, osUser: 'alice', person: 'Alice', roles: ['sre-lead'] };

function gateResult(body: Record<string, unknown>): AppendInput {
  return {
    kind: 'gate-result',
    subject: 'datastore:orders',
    actor,
    body: {
      gate: 'dr-drill',
      outcome: 'passed',
      startedAt: '2025-03-01T10:00:00+01:00',
      finishedAt: '2025-03-01T09:05:00Z',
      ...body,
    },
  };
}

function issues(input: unknown): { path: string; message: string }[] {
  const parsed = AppendInputSchema.safeParse(input);
  if (parsed.success) return [];
  return parsed.error.issues.map((issue) => ({
    path: issue.path.join('.'),
    message: issue.message,
  }));
}

describe('append input', () => {
  it('lists the canonical gates', () => {
    expect(GATE_IDS).toEqual([
      'audit',
      'validate',
      'backup',
      'dr-drill',
      'release',
      'rollback-test',
      'alert-test',
      'sign-off',
    ]);
  });

  it('normalises a gate result: UTC times, duration, validity window, defaults', () => {
    const parsed = AppendInputSchema.parse(
      gateResult({
        validFor: '7d',
        measurements: [
          { name: 'rto_seconds', value: 300, unit: 'seconds' },
          { name: 'rows_verified', value: 1200, unit: 'count' },
        ],
      }),
    );
    expect(parsed.body).toEqual({
      gate: 'dr-drill',
      outcome: 'passed',
      startedAt: '2025-03-01T09:00:00.000Z',
      finishedAt: '2025-03-01T09:05:00.000Z',
      durationMs: 300_000,
      measurements: [
        { name: 'rto_seconds', value: 300, unit: 'seconds' },
        { name: 'rows_verified', value: 1200, unit: 'count' },
      ],
      artifacts: [],
      validUntil: '2025-03-08T09:05:00.000Z',
    });
  });

  it('accepts ISO 8601 validity and an absolute validUntil', () => {
    expect(AppendInputSchema.parse(gateResult({ validFor: 'PT12H' })).body).toMatchObject({
      validUntil: '2025-03-01T21:05:00.000Z',
    });
    expect(
      AppendInputSchema.parse(gateResult({ validUntil: '2025-04-01T00:00:00+02:00' })).body,
    ).toMatchObject({ validUntil: '2025-03-31T22:00:00.000Z' });
  });

  it('reports every problem with its path', () => {
    expect(
      issues(
        gateResult({
          gate: 'dr_drill',
          outcome: 'ok',
          finishedAt: '2025-03-01T08:00:00Z',
          validFor: '1 month',
          measurements: [{ name: 'RTO', value: Number.NaN, unit: 'hours' }],
          artifacts: [{ name: 'dump', digest: 'md5:abc' }],
          colour: 'red',
        }),
      ).map((issue) => issue.path),
    ).toEqual(
      expect.arrayContaining([
        'body.gate',
        'body.outcome',
        'body.measurements.0.name',
        'body.measurements.0.value',
        'body.measurements.0.unit',
        'body.artifacts.0.digest',
        'body',
      ]),
    );
  });

  it('says why a validity is wrong, alongside other field problems', () => {
    expect(issues(gateResult({ outcome: 'ok', validFor: '1.5h' }))).toEqual([
      { path: 'body.outcome', message: matching(/expected one of "passed"\|"failed"\|"error"/) },
      {
        path: 'body.validFor',
        message: matching(/fractions are not allowed.*; expected e\.g\. 30m, 12h, 7d, 2w or P7D$/),
      },
    ]);
  });

  it('checks the times and the validity together', () => {
    expect(issues(gateResult({ finishedAt: '2025-03-01T08:00:00Z' }))).toEqual([
      { path: 'body.finishedAt', message: 'finishedAt is before startedAt' },
    ]);
    expect(issues(gateResult({ validFor: '1h', validUntil: '2025-04-01T00:00:00Z' }))).toEqual([
      { path: 'body.validFor', message: 'give validFor or validUntil, not both' },
    ]);
  });

  it('rejects duplicate measurement or artifact names', () => {
    const m = { name: 'rto_seconds', value: 1, unit: 'seconds' };
    expect(issues(gateResult({ measurements: [m, m] }))[0]?.message).toBe(
      'measurement names must be unique',
    );
  });

  it('accepts known and x- prefixed event types, and nothing else', () => {
    const event = (type: string) => ({ kind: 'event', subject: 's', actor, body: { type } });
    expect(AppendInputSchema.parse(event('approval-granted')).body).toEqual({
      type: 'approval-granted',
      details: {},
    });
    expect(issues(event('x-deploy-freeze'))).toEqual([]);
    expect(issues(event('deploy-freeze'))[0]?.path).toBe('body.type');
    expect(issues(event('x-'))[0]?.path).toBe('body.type');
  });

  it('rejects non-JSON details', () => {
    const input = {
      kind: 'event',
      subject: 's',
      actor,
      body: { type: 'note', details: { at: new Date() } },
    };
    expect(issues(input)[0]?.path).toBe('body.details.at');
  });

  it('checks the actor fits its kind', () => {
    const event = (a: unknown) => ({
      kind: 'event',
      subject: 's',
      actor: a,
      body: { type: 'note' },
    });
    expect(issues(event({ kind: 'token', roles: [] }))).toEqual([
      { path: 'actor.tokenId', message: 'an actor of kind "token" needs a tokenId' },
    ]);
    expect(issues(event({ kind: 'os-user', roles: [] }))[0]?.path).toBe('actor.osUser');
    expect(AppendInputSchema.parse(event({ kind: 'system' })).actor).toEqual({
      kind: 'system',
      roles: [],
    });
  });

  it('refuses control characters in the subject', () => {
    expect(issues({ kind: 'event', subject: 'a\nb', actor, body: { type: 'note' } })[0]?.path).toBe(
      'subject',
    );
  });
});

describe('parseValidity', () => {
  it.each([
    ['30m', 1_800_000],
    ['1h30m', 5_400_000],
    ['2w', 1_209_600_000],
    ['P7D', 604_800_000],
    ['PT24H', 86_400_000],
    ['P1DT12H', 129_600_000],
    ['PT1.5S', 1500],
    ['P1W', 604_800_000],
  ])('%s is %d ms', (text, ms) => {
    expect(parseValidity(text)).toBe(ms);
  });

  it.each(['P1M', 'P1Y', 'P', 'PT', 'P1DT', '0s', 'PT0S', 'soon', ''])('%j is refused', (text) => {
    expect(parseValidity(text)).toEqual({ error: anyString() });
  });
});
