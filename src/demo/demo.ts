import { cp, readdir, readFile, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ShipError } from '../core/index.js';
import type { VerifyReport } from '../ledger/index.js';
import { recordSpecCheck, summariseSpec, type SpecCheckSummary } from '../validate/index.js';
import { Workspace, ensureGitignore, ensureWorkspaceKeys } from '../workspace/index.js';

/** The example service shipped with the package (`examples/demo`, beside `src/` and `dist/`). */
export const DEMO_TEMPLATE_DIR = fileURLToPath(new URL('../../examples/demo', import.meta.url));

/** The OS user placeholder in the template's `people` section. */
const OPERATOR_PLACEHOLDER = 'demo-operator';

export interface DemoOptions {
  /** Where to create the workspace. @default ./shipshape-demo */
  dir: string;
  /** Replace the contents of a non-empty directory. @default false */
  force?: boolean;
  env?: NodeJS.ProcessEnv;
  /** Called before each step, for progress on a terminal. */
  onStep?: (step: string) => void;
  /** OS user to name as the operator. @default os.userInfo().username */
  osUser?: string;
}

export interface DemoStep {
  step: string;
  detail: string;
}

export interface DemoReport {
  dir: string;
  spec: SpecCheckSummary;
  keyId: string;
  steps: DemoStep[];
  evidence: { seq: number; hash: string; gate: string; outcome: string }[];
  ledger: Pick<VerifyReport, 'ok' | 'records' | 'signedThrough' | 'problems'>;
}

async function isEmptyDir(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length === 0;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw error;
  }
}

/**
 * Creates a demo workspace from the example service and runs the gates available so far against
 * it, recording their evidence: today the spec check (`validate`), then a ledger verification.
 * Needs no servers.
 */
export async function createDemo(options: DemoOptions): Promise<DemoReport> {
  const dir = resolve(options.dir);
  const step = options.onStep ?? (() => undefined);
  const steps: DemoStep[] = [];

  if (!options.force && !(await isEmptyDir(dir))) {
    throw ShipError.usage('SHIP_DEMO_DIR_NOT_EMPTY', `${dir} exists and is not empty`, {
      hint: 'choose another place with --dir DIR, or pass --force to overwrite the demo files there',
    });
  }

  step('copying the example service');
  await cp(DEMO_TEMPLATE_DIR, dir, { recursive: true, force: true });
  const osUser = options.osUser ?? userInfo().username;
  const specFile = join(dir, 'shipshape.yaml');
  const template = await readFile(specFile, 'utf8');
  await writeFile(
    specFile,
    template.replaceAll(`[${OPERATOR_PLACEHOLDER}]`, `[${JSON.stringify(osUser)}]`),
  );
  steps.push({
    step: 'workspace',
    detail: `copied the orders-demo service and its shipshape.yaml to ${dir}`,
  });

  step('generating keys');
  const keys = await ensureWorkspaceKeys(dir);
  await ensureGitignore(dir);
  steps.push({
    step: 'keys',
    detail:
      `${keys.created.includes(keys.ledgerPrivateKey) ? 'generated' : 'kept'} ledger signing key ` +
      `${keys.keyId} in .shipshape/keys/ (0600), public key in ledger.pub.pem`,
  });

  step('checking the stack spec');
  const startedAt = new Date();
  const workspace = await Workspace.open({
    cwd: dir,
    ...(options.env ? { env: options.env } : {}),
  });
  try {
    const summary = await summariseSpec(workspace.loaded);
    steps.push({
      step: 'spec check',
      detail: `shipshape.yaml is valid: ${summary.counts.datastores} datastore, ${summary.counts.environments} environments`,
    });

    step('recording evidence');
    const record = await recordSpecCheck(workspace, summary, startedAt);
    steps.push({
      step: 'evidence',
      detail: `validate gate result recorded as ledger record #${record.seq}`,
    });

    step('verifying the ledger');
    const report = await (await workspace.ledger()).verify();
    steps.push({
      step: 'ledger verify',
      detail: report.ok
        ? `chain and signed checkpoints verified through #${report.signedThrough}`
        : `verification FAILED: ${report.problems.map((p) => p.code).join(', ')}`,
    });

    return {
      dir,
      spec: summary,
      keyId: keys.keyId,
      steps,
      evidence: [{ seq: record.seq, hash: record.hash, gate: 'validate', outcome: 'passed' }],
      ledger: {
        ok: report.ok,
        records: report.records,
        signedThrough: report.signedThrough,
        problems: report.problems,
      },
    };
  } finally {
    await workspace.close();
  }
}
