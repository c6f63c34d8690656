import { cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { ShipError, formatSize, isShipError } from '../core/index.js';
import {
  backupEvidence,
  backupStatusReport,
  datastoreTarget,
  runDatastoreBackup,
  specDatastore,
  type DatastoreBackupStatus,
} from '../datastores/index.js';
import {
  DrillClock,
  executeDrill,
  humanDuration,
  maybeDuration,
  planIsolatedDrill,
  type DrillResult,
} from '../drill/index.js';
import type { VerifyReport } from '../ledger/index.js';
import { Repository } from '../repo/index.js';
import { recordSpecCheck, summariseSpec, type SpecCheckSummary } from '../validate/index.js';
import {
  Workspace,
  ensureGitignore,
  ensureWorkspaceKeys,
  openSpecRepository,
} from '../workspace/index.js';

/** The example service shipped with the package (`examples/demo`, beside `src/` and `dist/`). */
export const DEMO_TEMPLATE_DIR = fileURLToPath(new URL('../../examples/demo', import.meta.url));

/** The OS user placeholder in the template's `people` section. */
const OPERATOR_PLACEHOLDER = 'demo-operator';
/** Placeholder for the folder the service loads better-sqlite3 from (`drill.service.env`). */
const NODE_MODULES_PLACEHOLDER = '__SHIPSHAPE_NODE_MODULES__';
/** Shipshape's own dependencies, which the example service borrows better-sqlite3 from. */
const NODE_MODULES_DIR = fileURLToPath(new URL('../../node_modules', import.meta.url));

/** The example service's data store, and the environment the demo backs up. */
const DEMO_DATASTORE = 'orders-db';
const DEMO_ENVIRONMENT = 'production';

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
  /** The backup of the example service's SQLite store and `backup status` after it. */
  backup: { datastore: string; snapshotId: string; status: DatastoreBackupStatus };
  /** The DR drill: the store restored into a sandbox, the service started on it and checked. */
  drill: {
    id: string;
    verdict: DrillResult['verdict'];
    rtoMs: number | null;
    rpoMs: number;
    reasons: readonly string[];
    /** The drill's HTML report. */
    report: string;
  };
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
 * The example service's database, as the service creates it, with a few orders: what the demo
 * backs up. An existing database is kept.
 */
async function ensureSampleData(path: string): Promise<number> {
  await mkdir(dirname(path), { recursive: true });
  const db = new Database(path);
  try {
    db.pragma('journal_mode = WAL');
    db.exec(`CREATE TABLE IF NOT EXISTS orders (
  id INTEGER PRIMARY KEY,
  customer TEXT NOT NULL,
  amount_cents INTEGER NOT NULL CHECK (amount_cents >= 0),
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
)`);
    const count = () => db.prepare<[], { n: number }>('SELECT count(*) AS n FROM orders').get()?.n;
    if (count() === 0) {
      const insert = db.prepare('INSERT INTO orders (customer, amount_cents) VALUES (?, ?)');
      for (const [customer, cents] of [
        ['Ada', 1250],
        ['Grace', 4999],
        ['Linus', 300],
      ] as const) {
        insert.run(customer, cents);
      }
    }
    return count() ?? 0;
  } finally {
    db.close();
  }
}

/** Creates the spec's repository `name` unless it exists (the password comes from the spec). */
async function ensureRepository(workspace: Workspace, name: string): Promise<boolean> {
  const opened = await openSpecRepository(workspace.spec, name, {
    baseDir: workspace.dir,
    env: workspace.env,
  });
  try {
    const created = await Repository.init(opened.backend, opened.password);
    await created.close();
    return true;
  } catch (error) {
    if (isShipError(error) && error.code === 'SHIP_REPO_EXISTS') return false;
    throw error;
  } finally {
    await opened.backend.close();
  }
}

/**
 * Creates a demo workspace from the example service and runs the gates available so far against
 * it, recording their evidence: the spec check (`validate`), a backup of the service's SQLite
 * store into a local repository (`backup`) and its `backup status`, a DR drill that restores it
 * into a sandbox and smoke-tests the service on the copy (`dr-drill`), then a ledger verification.
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
    template
      .replaceAll(`[${OPERATOR_PLACEHOLDER}]`, `[${JSON.stringify(osUser)}]`)
      .replaceAll(NODE_MODULES_PLACEHOLDER, JSON.stringify(NODE_MODULES_DIR)),
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

    step('backing up the orders database');
    const datastore = specDatastore(workspace.spec, DEMO_DATASTORE);
    const context = {
      spec: workspace.spec,
      baseDir: workspace.dir,
      env: workspace.env,
      environment: DEMO_ENVIRONMENT,
    };
    const { target } = datastoreTarget(DEMO_DATASTORE, datastore, context);
    const orders = await ensureSampleData(target.connection);
    const createdRepository = await ensureRepository(workspace, datastore.repository);
    const backup = await runDatastoreBackup(DEMO_DATASTORE, context);
    const ledger = await workspace.evidence();
    const backupRecord = await ledger.record({
      kind: 'gate-result',
      subject: `datastore:${DEMO_DATASTORE}`,
      body: backupEvidence(backup),
    });
    if (!backup.ok) throw backup.error;
    const snapshot = backup.outcome.snapshot;
    steps.push({
      step: 'backup',
      detail:
        `${DEMO_DATASTORE} (${orders} orders) → snapshot ${snapshot.snapshotId.slice(0, 12)} in ` +
        `${createdRepository ? 'new' : 'the'} encrypted repository .shipshape/backups ` +
        `(${formatSize(snapshot.bytesStored)} stored), backup gate result #${backupRecord.seq}`,
    });
    const [status] = await backupStatusReport(workspace.spec, ledger, {
      names: [DEMO_DATASTORE],
      environment: DEMO_ENVIRONMENT,
    });
    if (status === undefined) throw new Error('backup status returned no row for the demo store');
    steps.push({
      step: 'backup status',
      detail:
        `${DEMO_DATASTORE}: ${status.status} (${status.reason})` +
        (status.schedule?.next == null ? '' : `, next scheduled run ${status.schedule.next}`),
    });

    step('running a DR drill');
    const drillContext = { spec: workspace.spec, baseDir: workspace.dir, env: workspace.env };
    // The RTO clock starts now: the disaster is declared, planning is part of recovery.
    const clock = new DrillClock();
    const prepared = await planIsolatedDrill(drillContext, ledger, {});
    const drill = await executeDrill(prepared, drillContext, ledger, {
      clock,
      ...(workspace.spec.drill === undefined ? {} : { validForMs: workspace.spec.drill.valid_for }),
    });
    const { result } = drill;
    const report = join(drill.dir, 'report.html');
    steps.push({
      step: 'dr drill',
      detail:
        `${result.verdict}: ${DEMO_DATASTORE} restored into a sandbox, service started on it, ` +
        `${result.service?.checks.length ?? 0} HTTP checks; RTO ${maybeDuration(result.rtoMs, '-')}` +
        (result.objectives.rto === undefined
          ? ''
          : ` (objective ${humanDuration(result.objectives.rto.objectiveMs)})`) +
        `, RPO ${humanDuration(result.rpoMs)}` +
        (drill.recorded === undefined ? '' : `, dr-drill gate result #${drill.recorded.seq}`) +
        `; report ${report}`,
    });

    step('verifying the ledger');
    const verified = await (await workspace.ledger()).verify();
    steps.push({
      step: 'ledger verify',
      detail: verified.ok
        ? `chain and signed checkpoints verified through #${verified.signedThrough}`
        : `verification FAILED: ${verified.problems.map((p) => p.code).join(', ')}`,
    });

    return {
      dir,
      spec: summary,
      keyId: keys.keyId,
      steps,
      evidence: [
        { seq: record.seq, hash: record.hash, gate: 'validate', outcome: 'passed' },
        { seq: backupRecord.seq, hash: backupRecord.hash, gate: 'backup', outcome: 'passed' },
        ...(drill.recorded === undefined
          ? []
          : [{ ...drill.recorded, gate: 'dr-drill', outcome: result.verdict }]),
      ],
      backup: { datastore: DEMO_DATASTORE, snapshotId: snapshot.snapshotId, status },
      drill: {
        id: prepared.plan.id,
        verdict: result.verdict,
        rtoMs: result.rtoMs,
        rpoMs: result.rpoMs,
        reasons: result.reasons,
        report,
      },
      ledger: {
        ok: verified.ok,
        records: verified.records,
        signedThrough: verified.signedThrough,
        problems: verified.problems,
      },
    };
  } finally {
    await workspace.close();
  }
}
