/**
 * `shipshape users …` through the built binary, on SQLite and on a real PostgreSQL: an admin
 * mints (the token works), a non-admin OS user cannot (not even by setting $USER), the token
 * is printed once and appears nowhere else — not in listings, the ledger or the database.
 */
import { readFile, readdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { TOKEN_PATTERN, TokenInfoSchema, TokenService, hashToken } from '../../src/auth/index.js';
import { Ledger, type LedgerRecord } from '../../src/ledger/index.js';
import { loadSpec } from '../../src/spec/index.js';
import { openStore, storeLocation } from '../../src/store/index.js';
import { runCli, type CliRun } from '../helpers/cli.js';
import { createPostgresDatabase, type ThrowawayDatabase } from '../helpers/services.js';

const me = userInfo().username;

/** The admin is `boss`, whom the OS user running the tests acts as — or, in `other.yaml`, not. */
function spec(adminOsUser: string): string {
  return `version: 1
service:
  name: shop
people:
  boss:
    name: Boss
    os_users: [${JSON.stringify(adminOsUser)}]
  me:
    name: Me
    os_users: [${JSON.stringify(me)}]
  ci:
    name: CI
    tokens: true
roles:
  admin: [boss]
  qa-lead: [me]
  deployer: [ci]
  sre-lead: [ci]
`;
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`users CLI on ${backend}`, () => {
    let dir: string;
    let database: ThrowawayDatabase | undefined;
    let env: NodeJS.ProcessEnv;
    const runs: CliRun[] = [];
    const minted: { token: string; id: string }[] = [];

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), `shipshape-users-${backend}-`));
      await writeFile(join(dir, 'shipshape.yaml'), spec(me));
      await writeFile(join(dir, 'other.yaml'), spec('someone-else'));
      database = backend === 'postgres' ? await createPostgresDatabase('users_cli') : undefined;
      env = { SHIPSHAPE_DATABASE_URL: database?.url ?? '' };
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
      await database?.drop();
    });

    async function run(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<CliRun> {
      const result = await runCli(args, { cwd: dir, env: { ...env, ...extraEnv } });
      runs.push(result);
      return result;
    }

    /** A TokenService on the same store and spec the CLI used. */
    async function withService<T>(fn: (tokens: TokenService) => Promise<T>): Promise<T> {
      const loaded = await loadSpec(join(dir, 'shipshape.yaml'));
      const store = await openStore(storeLocation(dir, env));
      try {
        await store.migrate();
        return await fn(new TokenService({ store, ledger: new Ledger(store), spec: loaded.spec }));
      } finally {
        await store.close();
      }
    }

    it('mints as the admin: the token goes to stdout once, the warning to stderr', async () => {
      const text = await run(['users', 'token', 'ci', '--roles', 'deployer', '--expires', '30d']);
      expect(text.code, text.stderr).toBe(0);
      const token = text.stdout.trim();
      expect(token).toMatch(TOKEN_PATTERN);
      expect(text.stdout).toBe(`${token}\n`);
      expect(text.stderr).toContain('shown only once');
      expect(text.stderr).not.toContain(token);
      const id = TOKEN_PATTERN.exec(token)?.[1] ?? '';
      minted.push({ token, id });

      const json = await run(['users', 'token', 'ci', '--description', 'nightly', '--json']);
      expect(json.code, json.stderr).toBe(0);
      const parsed = JSON.parse(json.stdout) as { token: string; info: unknown };
      const info = TokenInfoSchema.parse(parsed.info);
      expect(parsed.token).toMatch(TOKEN_PATTERN);
      expect(info).toMatchObject({ person: 'ci', roles: ['deployer', 'sre-lead'] });
      expect(info.createdBy).toMatchObject({ kind: 'os-user', osUser: me, person: 'boss' });
      minted.push({ token: parsed.token, id: info.id });
    });

    it('mints tokens that authenticate as their person, narrowed', async () => {
      await withService(async (tokens) => {
        const [narrow, full] = minted;
        expect(await tokens.authenticate(narrow?.token)).toEqual({
          kind: 'token',
          tokenId: narrow?.id,
          person: 'ci',
          roles: ['deployer'],
        });
        expect((await tokens.authenticate(full?.token)).roles).toEqual(['deployer', 'sre-lead']);
      });
    });

    it('refuses a non-admin OS user, even one that sets $USER to the admin', async () => {
      const impostor = { USER: 'someone-else', LOGNAME: 'someone-else' };
      for (const args of [
        ['users', 'token', 'ci', '--spec', 'other.yaml'],
        ['users', 'tokens', '--spec', 'other.yaml'],
        ['users', 'revoke', minted[0]?.id ?? '', '--spec', 'other.yaml'],
      ]) {
        const result = await run(args, impostor);
        expect(result.code, result.stderr).toBe(19);
        expect(result.stderr).toContain('SHIP_AUTH_FORBIDDEN');
        expect(result.stderr).toContain('tokens.manage');
        expect(result.stdout).toBe('');
      }
      const json = await run(['users', 'token', 'ci', '--spec', 'other.yaml', '--json'], impostor);
      expect(JSON.parse(json.stdout)).toMatchObject({
        ok: false,
        error: { code: 'SHIP_AUTH_FORBIDDEN', exitCode: 19 },
      });
    });

    it('explains mistakes with exit 2', async () => {
      const typo = await run(['users', 'token', 'cj']);
      expect(typo.code).toBe(2);
      expect(typo.stderr).toContain('SHIP_AUTH_UNKNOWN_PERSON');
      expect(typo.stderr).toContain('did you mean "ci"');
      const wider = await run(['users', 'token', 'ci', '--roles', 'admin']);
      expect(wider.code).toBe(2);
      expect(wider.stderr).toContain('SHIP_AUTH_ROLE_NOT_HELD');
      const noTokens = await run(['users', 'token', 'me']);
      expect(noTokens.code).toBe(2);
      expect(noTokens.stderr).toContain('SHIP_AUTH_TOKENS_NOT_ALLOWED');
      const forever = await run(['users', 'token', 'ci', '--expires', '400d']);
      expect(forever.code).toBe(2);
      expect(forever.stderr).toContain('SHIP_AUTH_BAD_EXPIRY');
    });

    it('lists tokens without ever showing one', async () => {
      const table = await run(['users', 'tokens']);
      expect(table.code, table.stderr).toBe(0);
      expect(table.stdout).toMatch(/ID\s+PERSON\s+ROLES\s+CREATED\s+EXPIRES\s+LAST USED\s+STATUS/);
      for (const { id } of minted) expect(table.stdout).toContain(id);
      const json = await run(['users', 'tokens', '--json']);
      const { tokens } = JSON.parse(json.stdout) as { tokens: unknown[] };
      expect(tokens.map((t) => TokenInfoSchema.parse(t).status)).toEqual(['active', 'active']);
      expect(json.stdout).not.toContain('hash');
    });

    it('revokes, idempotently, and the token stops working', async () => {
      const id = minted[0]?.id ?? '';
      const first = await run(['users', 'revoke', id]);
      expect(first.code, first.stderr).toBe(0);
      expect(first.stdout).toContain(`revoked token ${id}`);
      const again = await run(['users', 'revoke', id, '--json']);
      expect(again.code).toBe(0);
      expect(JSON.parse(again.stdout)).toMatchObject({
        alreadyRevoked: true,
        info: { id, status: 'revoked' },
      });
      const unknown = await run(['users', 'revoke', 'ffffffffffff']);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toContain('SHIP_AUTH_TOKEN_NOT_FOUND');
      await withService(async (tokens) => {
        await expect(tokens.authenticate(minted[0]?.token)).rejects.toMatchObject({
          code: 'SHIP_AUTH_UNAUTHENTICATED',
        });
      });
    });

    it('records each mint and revoke as a ledger event without the token', async () => {
      const listed = await run(['ledger', 'list', '--kind', 'event', '--json']);
      expect(listed.code, listed.stderr).toBe(0);
      const { records } = JSON.parse(listed.stdout) as { records: LedgerRecord[] };
      const events = records
        .filter((r) => r.kind === 'event')
        .map((r) => ({ type: r.body.type, tokenId: r.body.details.tokenId, actor: r.actor }))
        .reverse();
      const byBoss: unknown = expect.objectContaining({ person: 'boss' });
      expect(events).toEqual([
        {
          type: 'token-minted',
          tokenId: minted[0]?.id,
          actor: byBoss,
        },
        {
          type: 'token-minted',
          tokenId: minted[1]?.id,
          actor: byBoss,
        },
        {
          type: 'token-revoked',
          tokenId: minted[0]?.id,
          actor: byBoss,
        },
      ]);
    });

    it('never wrote a token or its hash anywhere but the one stdout', async () => {
      const printedOnce = runs.filter((r) => minted.some(({ token }) => r.stdout.includes(token)));
      expect(printedOnce).toHaveLength(2);
      const secrets = minted.flatMap(({ token, id }) => [token, token.slice(`ssp_${id}_`.length)]);
      for (const r of runs) {
        expect(r.stderr).not.toMatch(/ssp_[0-9a-f]{12}_[A-Za-z0-9_-]{16}/);
        if (!printedOnce.includes(r)) for (const s of secrets) expect(r.stdout).not.toContain(s);
      }
      const hashes = minted.map(({ token }) => hashToken(token));
      if (backend === 'sqlite') {
        const files = await filesUnder(join(dir, '.shipshape'));
        expect(files.some((f) => f.endsWith('state.db'))).toBe(true);
        for (const file of files) {
          const bytes = await readFile(file);
          for (const s of secrets) expect(bytes.includes(s), `${file} holds a token`).toBe(false);
        }
      } else {
        const client = new pg.Client({ connectionString: database?.url });
        await client.connect();
        try {
          const rows = await client.query<{ row: string }>(
            `SELECT t::text AS row FROM tokens t UNION ALL SELECT r::text FROM ledger_records r`,
          );
          const dump = rows.rows.map((r) => r.row).join('\n');
          for (const s of secrets) expect(dump).not.toContain(s);
          // Hashes live only in the tokens table, never in evidence.
          const evidence = await client.query<{ row: string }>(
            `SELECT r::text AS row FROM ledger_records r`,
          );
          for (const h of hashes) {
            expect(evidence.rows.map((r) => r.row).join('\n')).not.toContain(h);
          }
        } finally {
          await client.end();
        }
      }
    });
  });
}
