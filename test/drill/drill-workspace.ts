/**
 * A throwaway workspace for drill tests: keys, a spec, an initialised local repository and an
 * evidence ledger; backups run in-process exactly as `backup run` does (snapshot tagged with
 * the environment, `backup` gate result recorded).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

import {
  backupEvidence,
  runDatastoreBackup,
  type BackupRunResult,
} from '../../src/datastores/index.js';
import { ShipError } from '../../src/core/index.js';
import { Repository } from '../../src/repo/index.js';
import { Workspace, ensureWorkspaceKeys, openSpecRepository } from '../../src/workspace/index.js';

export const HEAD =
  'version: 1\nservice:\n  name: shop\nenvironments:\n  production: {}\n  staging: {}\n' +
  // The OS user running the tests may append evidence.
  `people:\n  operator:\n    name: Drill Operator\n    os_users: [${userInfo().username}]\nroles:\n  admin: [operator]\n` +
  'repositories:\n  local:\n    url: .shipshape/backups\n    key: ${file:.shipshape/keys/repository.key}\n';

export interface DrillWorkspace {
  readonly root: string;
  readonly dir: string;
  readonly env: NodeJS.ProcessEnv;
  workspace: Workspace;
  /** Backs a data store up (environment production unless given) and records the gate result. */
  backup(name: string, environment?: string): Promise<Extract<BackupRunResult, { ok: true }>>;
  close(): Promise<void>;
}

/** Creates the workspace with `spec` (appended to {@link HEAD}) and initialises `local`. */
export async function drillWorkspace(prefix: string, spec: string): Promise<DrillWorkspace> {
  const root = await mkdtemp(join(tmpdir(), `shipshape-${prefix}-`));
  const dir = join(root, 'ws');
  await mkdir(join(dir, 'data'), { recursive: true });
  await ensureWorkspaceKeys(dir);
  await writeFile(join(dir, 'shipshape.yaml'), HEAD + spec);
  const env: NodeJS.ProcessEnv = { SHIPSHAPE_DATABASE_URL: '' };
  const workspace = await Workspace.open({ cwd: dir, env });
  const opened = await openSpecRepository(workspace.spec, 'local', { baseDir: dir, env });
  const repo = await Repository.init(opened.backend, opened.password, {
    kdf: { N: 1024, r: 8, p: 1 },
  });
  await repo.close();
  await opened.backend.close();
  const self: DrillWorkspace = {
    root,
    dir,
    env,
    workspace,
    async backup(name, environment = 'production') {
      const result = await runDatastoreBackup(name, {
        spec: self.workspace.spec,
        baseDir: dir,
        env,
        environment,
      });
      const ledger = await self.workspace.evidence();
      await ledger.record({
        kind: 'gate-result',
        subject: `datastore:${name}`,
        body: backupEvidence(result),
      });
      if (!result.ok) throw result.error;
      return result;
    },
    async close() {
      await self.workspace.close();
      await rm(root, { recursive: true, force: true });
    },
  };
  return self;
}

/**
 * The ShipError `promise` rejects with; any other rejection is rethrown and a fulfilment fails
 * the test.
 */
export async function rejection(promise: Promise<unknown>): Promise<ShipError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ShipError) return error;
    throw error;
  }
  throw new Error('expected a ShipError');
}
