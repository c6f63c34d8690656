import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { isSimulatedCrash, redact } from '../core/index.js';
import type { EvidenceLedger } from '../ledger/index.js';

import { drillEvidence } from './evidence.js';
import { assertIsolated, readRecordedIdentities } from './isolation.js';
import { prepareDrill, type DrillContext, type PlanOptions, type PreparedDrill } from './plan.js';
import { renderDrillHtml } from './report-html.js';
import { renderDrillMarkdown } from './report-md.js';
import { runDrill, type DrillRunOptions } from './run.js';
import type { DrillResult } from './types.js';

/** How long a passed drill counts as current evidence when the spec does not say. */
export const DEFAULT_DRILL_VALIDITY_MS = 30 * 86_400_000;

/** Where a drill's reports and service log go: `<spec dir>/.shipshape/drills/<run id>/`. */
export function drillDirectory(baseDir: string, id: string): string {
  return join(baseDir, '.shipshape', 'drills', id);
}

/**
 * Plans a drill and checks its isolation: every DR target is refused if it is a production data
 * store (by normalised address, and by the server identities recorded at backup time in
 * `evidence`). Sandboxes need no check.
 */
export async function planIsolatedDrill(
  context: DrillContext,
  evidence: EvidenceLedger,
  options: PlanOptions,
): Promise<PreparedDrill> {
  const prepared = await prepareDrill(context, options);
  if (prepared.datastores.some((d) => d.target !== undefined)) {
    const recordedIdentities = await readRecordedIdentities(
      evidence,
      prepared.datastores.map((d) => d.planned.name),
    );
    await assertIsolated(prepared, { ...context, recordedIdentities });
  }
  return prepared;
}

/** A finished drill: its result, where it was recorded, and where its reports are. */
export interface ExecutedDrill {
  readonly result: DrillResult;
  readonly recorded?: { readonly seq: number; readonly hash: string };
  /** Why the result could not be recorded, when it could not. */
  readonly recordNote?: string;
  /** The drill's directory (reports, service log). */
  readonly dir: string;
}

/**
 * Runs a planned drill, records its `dr-drill` evidence and writes its reports (`report.json`,
 * `report.md`, `report.html`) beside the service log. A ledger that cannot be written does not
 * lose the result: the reports are still written and the note says why it is unrecorded.
 */
export async function executeDrill(
  prepared: PreparedDrill,
  context: DrillContext,
  evidence: EvidenceLedger,
  options: Omit<DrillRunOptions, 'logDir'> & { validForMs?: number },
): Promise<ExecutedDrill> {
  const dir = drillDirectory(context.baseDir, prepared.plan.id);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const { validForMs, ...runOptions } = options;
  const result = await runDrill(prepared, context, { ...runOptions, logDir: dir });
  let recorded: ExecutedDrill['recorded'];
  let recordNote: string | undefined;
  try {
    const record = await evidence.record(
      drillEvidence(result, validForMs ?? DEFAULT_DRILL_VALIDITY_MS),
    );
    recorded = { seq: record.seq, hash: record.hash };
  } catch (error) {
    if (isSimulatedCrash(error)) throw error;
    recordNote = redact(error instanceof Error ? error.message : String(error));
  }
  const run = { ...(recorded === undefined ? {} : { ledger: recorded }), result };
  await writeFile(join(dir, 'report.json'), `${JSON.stringify(run, null, 2)}\n`, { mode: 0o600 });
  await writeFile(join(dir, 'report.md'), renderDrillMarkdown(run), { mode: 0o600 });
  await writeFile(join(dir, 'report.html'), renderDrillHtml(run), { mode: 0o600 });
  return {
    result,
    dir,
    ...(recorded === undefined ? {} : { recorded }),
    ...(recordNote === undefined ? {} : { recordNote }),
  };
}
