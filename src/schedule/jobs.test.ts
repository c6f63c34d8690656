import { describe, expect, it } from 'vitest';

import type { Datastore } from '../spec/index.js';
import { retentionPolicy } from './jobs.js';

const store = (retention: Datastore['retention']): Datastore => ({
  kind: 'sqlite',
  connection: { production: 'data/orders.db' },
  repository: 'local',
  fingerprint: 'counts',
  ...(retention === undefined ? {} : { retention }),
});

describe('retentionPolicy', () => {
  it("maps the spec's keep_* fields to a repository policy", () => {
    expect(
      retentionPolicy(
        store({ keep_last: 3, keep_daily: 7, keep_weekly: 4, keep_within: 2 * 86_400_000 }),
      ),
    ).toEqual({ keepLast: 3, keepDaily: 7, keepWeekly: 4, keepWithinMs: 2 * 86_400_000 });
    expect(retentionPolicy(store({ keep_hourly: 1, keep_monthly: 2, keep_yearly: 3 }))).toEqual({
      keepHourly: 1,
      keepMonthly: 2,
      keepYearly: 3,
    });
  });

  it('has no policy when the spec keeps everything (no retention, or every rule 0)', () => {
    expect(retentionPolicy(store(undefined))).toBeUndefined();
    expect(retentionPolicy(store({ keep_last: 0 }))).toBeUndefined();
  });
});
