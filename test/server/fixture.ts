/**
 * A throwaway workspace for server tests: a spec with people in several roles, ledger keys,
 * an in-process app whose log lines are captured, and tokens minted through TokenService.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TokenService } from '../../src/auth/index.js';
import type { Actor } from '../../src/ledger/index.js';
import { createApp, createServerLogger, type ShipshapeApp } from '../../src/server/index.js';
import { Workspace, ensureWorkspaceKeys } from '../../src/workspace/index.js';

/**
 * alice: admin (mints tokens); ci: deployer (appends evidence); auditor: a custom role only
 * (reads, cannot append); nobody: no role at all.
 */
export const SPEC = `version: 1
service:
  name: server-test
people:
  alice:
    name: Alice Admin
    tokens: true
  ci:
    name: CI Runner
    tokens: true
  auditor:
    name: Ann Auditor
    tokens: true
  nobody:
    name: No Body
    tokens: true
roles:
  admin: [alice]
  deployer: [ci]
  compliance-reader: [auditor]
ledger:
  signing_key: \${file:.shipshape/keys/ledger.key}
  public_key: ledger.pub.pem
`;

/** The system identity that mints the first tokens in tests (an admin by role). */
export const BOOTSTRAP_ADMIN: Actor = { kind: 'system', roles: ['admin'] };

export interface Fixture {
  dir: string;
  workspace: Workspace;
  app: ShipshapeApp;
  /** Every log line the app wrote, parsed. */
  logs: Record<string, unknown>[];
  /** Every log line as written. */
  rawLogs: string[];
  tokens: TokenService;
  /** Mints a token for `person` (with their roles, or `roles`) and returns it. */
  token(person: string, roles?: string[]): Promise<string>;
  /** `app.request` with `Authorization: Bearer token`. */
  request(path: string, init?: RequestInit & { token?: string }): Promise<Response>;
  close(): Promise<void>;
}

/** Writes a workspace (spec + keys) in a new temporary directory and returns its path. */
export async function writeWorkspace(spec = SPEC): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'shipshape-server-'));
  await writeFile(join(dir, 'shipshape.yaml'), spec);
  await ensureWorkspaceKeys(dir);
  return dir;
}

/** A workspace on SQLite (unless `env` points elsewhere) with the app over it, in-process. */
export async function createFixture(
  options: { env?: NodeJS.ProcessEnv; spec?: string } = {},
): Promise<Fixture> {
  const dir = await writeWorkspace(options.spec);
  const env = { ...process.env, SHIPSHAPE_DATABASE_URL: '', ...options.env };
  const workspace = await Workspace.open({ cwd: dir, env });
  const rawLogs: string[] = [];
  const logs: Record<string, unknown>[] = [];
  const logger = createServerLogger({
    destination: {
      write: (line: string) => {
        rawLogs.push(line);
        logs.push(JSON.parse(line) as Record<string, unknown>);
      },
    },
  });
  const service = await workspace.tokens();
  const app = createApp({
    workspace,
    logger,
    validateResponses: true,
    version: 'test',
  });
  return {
    dir,
    workspace,
    app,
    logs,
    rawLogs,
    tokens: service,
    token: async (person, roles) =>
      (await service.mint({ person, ...(roles ? { roles } : {}) }, BOOTSTRAP_ADMIN)).token,
    request: (path, init = {}) => {
      const { token, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (token !== undefined) headers.set('authorization', `Bearer ${token}`);
      return Promise.resolve(app.request(path, { ...rest, headers }));
    },
    close: async () => {
      await workspace.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A passed gate result body, finished at `finishedAt`. */
export function gateResult(
  gate: string,
  outcome: 'passed' | 'failed' | 'error',
  finishedAt = '2025-01-02T03:04:05.000Z',
) {
  return {
    gate,
    outcome,
    startedAt: new Date(Date.parse(finishedAt) - 5000).toISOString(),
    finishedAt,
    measurements: [{ name: 'duration_seconds', value: 5, unit: 'seconds' as const }],
  };
}
