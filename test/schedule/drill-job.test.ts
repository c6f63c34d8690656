import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createDemo } from '../../src/demo/index.js';
import { specJobs } from '../../src/schedule/index.js';
import { Workspace } from '../../src/workspace/index.js';

describe('scheduled DR drill', () => {
  let root: string;
  let dir: string;
  const env = { ...process.env, SHIPSHAPE_DATABASE_URL: '' };

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'shipshape-drill-job-'));
    dir = join(root, 'demo');
    await createDemo({ dir, env });
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  /** The spec's jobs, for `datastores` only when given. */
  function jobsOf(workspace: Workspace, datastores?: string[]) {
    return specJobs({
      spec: workspace.spec,
      baseDir: workspace.dir,
      env,
      pruneEveryMs: 86_400_000,
      environment: 'production',
      evidence: () => workspace.evidence(),
      ...(datastores === undefined ? {} : { datastores }),
    });
  }

  function drillJob(workspace: Workspace) {
    const jobs = jobsOf(workspace);
    const job = jobs.find((j) => j.id === 'drill');
    expect(job, 'the demo spec schedules a drill').toBeDefined();
    if (job === undefined) throw new Error('unreachable');
    return { job, jobs };
  }

  it('is a job of the spec only when no data stores are named', async () => {
    const workspace = await Workspace.open({ cwd: dir, env });
    try {
      const { job } = drillJob(workspace);
      expect(job.kind).toBe('drill');
      expect(job.environment).toBe('production');
      const named = jobsOf(workspace, ['orders-db']);
      expect(named.map((j) => j.id)).not.toContain('drill');
    } finally {
      await workspace.close();
    }
  });

  it('runs the drill and records it; a failed drill is a failed run that is not retried', async () => {
    const workspace = await Workspace.open({ cwd: dir, env });
    try {
      const { job } = drillJob(workspace);
      const passed = await job.run({ dueAt: new Date(), attempt: 1 });
      expect(passed.ok, JSON.stringify(passed)).toBe(true);
      if (!passed.ok) throw new Error('unreachable');
      expect(passed.summary).toMatch(/^drill \S+ passed: RTO/);
      const records = await (await workspace.evidence()).list({});
      expect(records.at(-1)).toMatchObject({
        kind: 'gate-result',
        body: { gate: 'dr-drill', outcome: 'passed' },
      });
      expect(await readFile(join(String(passed.details?.report), 'report.md'), 'utf8')).toContain(
        'PASSED',
      );
    } finally {
      await workspace.close();
    }

    // A smoke check that cannot pass: the drill runs, fails, and says why.
    const specFile = join(dir, 'shipshape.yaml');
    const spec = await readFile(specFile, 'utf8');
    await writeFile(specFile, spec.replace('equals: Ada', 'equals: Nobody'));
    const failing = await Workspace.open({ cwd: dir, env });
    try {
      const { job } = drillJob(failing);
      const failed = await job.run({ dueAt: new Date(), attempt: 1 });
      expect(failed.ok).toBe(false);
      if (failed.ok) throw new Error('unreachable');
      expect(failed.error.code).toBe('SHIP_DRILL_FAILED');
      expect(failed.error.exitCode).toBe(1);
      expect(failed.error.message).toContain('first-order-intact');
    } finally {
      await failing.close();
      await writeFile(specFile, spec);
    }
  });
});
