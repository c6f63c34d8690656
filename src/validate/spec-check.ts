import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { GateResultInput } from '../ledger/index.js';
import type { LoadedSpec } from '../spec/index.js';
import type { Workspace } from '../workspace/index.js';

/** What a successful spec check found, for output and evidence. */
export interface SpecCheckSummary {
  file: string;
  digest: string;
  service: string;
  counts: {
    people: number;
    roles: number;
    environments: number;
    repositories: number;
    datastores: number;
  };
}

/**
 * Summarises a spec that loaded without problems (loading is the check: it throws every
 * problem at once otherwise) and hashes the exact bytes that were checked.
 */
export async function summariseSpec(loaded: LoadedSpec): Promise<SpecCheckSummary> {
  const bytes = await readFile(loaded.file);
  const { spec } = loaded;
  return {
    file: loaded.file,
    digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`,
    service: spec.service.name,
    counts: {
      people: Object.keys(spec.people).length,
      roles: Object.keys(spec.roles).length,
      environments: Object.keys(spec.environments).length,
      repositories: Object.keys(spec.repositories).length,
      datastores: Object.keys(spec.datastores).length,
    },
  };
}

/** The `validate` gate result recording that the stack spec was checked and valid. */
export function specCheckEvidence(
  summary: SpecCheckSummary,
  startedAt: Date,
  finishedAt: Date,
): GateResultInput {
  return {
    gate: 'validate',
    outcome: 'passed',
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationMs: finishedAt.getTime() - startedAt.getTime(),
    summary: `stack spec ${basename(summary.file)} is valid`,
    measurements: [
      { name: 'spec_problems', value: 0, unit: 'count' },
      { name: 'datastores', value: summary.counts.datastores, unit: 'count' },
      { name: 'environments', value: summary.counts.environments, unit: 'count' },
    ],
    artifacts: [{ name: basename(summary.file), digest: summary.digest }],
    details: { check: 'spec', counts: summary.counts },
  };
}

/**
 * Appends the spec check's `validate` gate result to the workspace's evidence ledger (local, or
 * the server's in remote mode) and returns where it landed.
 */
export async function recordSpecCheck(
  workspace: Workspace,
  summary: SpecCheckSummary,
  startedAt: Date,
): Promise<{ seq: number; hash: string }> {
  const evidence = await workspace.evidence();
  const record = await evidence.record({
    kind: 'gate-result',
    subject: summary.service,
    body: specCheckEvidence(summary, startedAt, new Date()),
  });
  return { seq: record.seq, hash: record.hash };
}
