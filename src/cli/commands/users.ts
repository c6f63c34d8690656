import type { Command } from 'commander';
import {
  parseTokenId,
  requirePermission,
  type MintInput,
  type TokenInfo,
  type TokenManager,
} from '../../auth/index.js';
import { parseDuration, redactDeep } from '../../core/index.js';
import type { Actor } from '../../ledger/index.js';
import { RemoteClient, RemoteTokenManager, remoteTarget } from '../../remote/index.js';
import {
  examples,
  withCommonOptions,
  withServerOption,
  withSpecOption,
  withWorkspace,
  type Cli,
} from '../cli.js';
import { err, out, outJson } from '../io.js';
import { renderTable } from '../table.js';

interface MintOptions {
  json: boolean;
  spec?: string;
  server?: string;
  roles?: string;
  expires?: string;
  description?: string;
}

/**
 * Runs `fn` with the token manager and the identity acting. Locally that is the workspace's
 * TokenService acting as the local operator; remote mode swaps in a client of `/v1/tokens`
 * (which acts as its bearer token) here, and the commands below stay as they are.
 */
async function withTokens<T>(
  cli: Cli,
  options: { spec?: string; server?: string },
  fn: (tokens: TokenManager, actor: Actor) => Promise<T>,
): Promise<T> {
  const remote = remoteTarget(options.server, cli.io.env);
  if (remote) {
    // The server acts as the bearer token's person; the actor passed here is not sent.
    return fn(new RemoteTokenManager(new RemoteClient(remote)), { kind: 'system', roles: [] });
  }
  return withWorkspace(cli, options.spec, async (ws) => {
    const service = await ws.tokens();
    const actor = ws.actor;
    const local: TokenManager = {
      mint: (input, by) => service.mint(input, by),
      // The server checks this permission on GET /v1/tokens; locally the CLI checks it.
      list: () => {
        requirePermission(actor, 'tokens.manage');
        return service.list();
      },
      revoke: (id, by) => service.revoke(id, by),
    };
    return fn(local, actor);
  });
}

function parseRoles(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  return value
    .split(',')
    .map((role) => role.trim())
    .filter((role) => role !== '');
}

/** `2025-05-01T10:00:12.345Z` → `2025-05-01 10:00Z`: enough for a table, full in --json. */
function shortTime(iso: string | null): string {
  return iso === null ? '-' : `${iso.slice(0, 16).replace('T', ' ')}Z`;
}

function describeToken(info: TokenInfo): string {
  return `token ${info.id} for ${info.person} (roles: ${info.roles.join(', ')}; expires ${shortTime(info.expiresAt)})`;
}

export function registerUsersCommands(program: Command, cli: Cli): void {
  const users = program
    .command('users')
    .description('API tokens for the people in the spec: mint, list, revoke (admin only)')
    .addHelpText(
      'after',
      examples(
        'shipshape users token ci --roles deployer --expires 30d --description "CI deploys"',
        'shipshape users tokens',
        'shipshape users revoke 3f9a0c1b2d4e',
      ) + '\n\nPeople and roles come from shipshape.yaml (people:, roles:). See docs/identity.md.',
    );

  withServerOption(withSpecOption(withCommonOptions(users.command('token'))))
    .description(
      'mint a token for PERSON and print it once (only its hash is stored); needs the admin role',
    )
    .argument('<person>', 'person id from people: in the spec (needs `tokens: true`)')
    .option('--roles <r1,r2>', "narrow the token to these of the person's roles (default: all)")
    .option('--expires <duration>', 'lifetime, e.g. 12h, 30d (default 90d, at most 365d)')
    .option('--description <text>', 'what the token is for, shown in `users tokens`')
    .addHelpText(
      'after',
      examples(
        'shipshape users token ci',
        'shipshape users token ci --roles deployer --expires 30d --description "GitHub Actions"',
        'TOKEN=$(shipshape users token ci) && gh secret set SHIPSHAPE_TOKEN --body "$TOKEN"',
        'shipshape users token ci --json',
      ) +
        '\n\nThe token goes to stdout (alone, so it can be captured) and is never shown again.' +
        '\nExit codes: 0 minted · 2 unknown person, role not held, bad flag · 19 not an admin',
    )
    .action(async (person: string, options: MintOptions) => {
      const roles = parseRoles(options.roles);
      const input: MintInput = {
        person,
        ...(roles === undefined ? {} : { roles }),
        ...(options.expires === undefined ? {} : { expiresIn: parseDuration(options.expires) }),
        ...(options.description === undefined ? {} : { description: options.description }),
      };
      await withTokens(cli, options, async (tokens, actor) => {
        const { token, info } = await tokens.mint(input, actor);
        // Deliberately NOT out()/outJson(): they redact `ssp_…` tokens, and this is the one
        // place a token must be shown — once, to the admin who minted it. The info still is.
        if (options.json) {
          cli.io.stdout.write(`${JSON.stringify({ token, info: redactDeep(info) }, null, 2)}\n`);
        } else {
          cli.io.stdout.write(`${token}\n`);
        }
        err(cli.io, `✓ minted ${describeToken(info)}`);
        err(
          cli.io,
          'Store this token now (e.g. as the CI secret SHIPSHAPE_TOKEN): it is shown only once, and only its hash is kept.',
        );
      });
    });

  withServerOption(withSpecOption(withCommonOptions(users.command('tokens'))))
    .description('list every token: id, person, roles, dates, status (never the token itself)')
    .addHelpText('after', examples('shipshape users tokens', 'shipshape users tokens --json'))
    .action(async (options: { json: boolean; spec?: string; server?: string }) => {
      await withTokens(cli, options, async (tokens) => {
        const list = await tokens.list();
        if (options.json) {
          outJson(cli.io, { tokens: list });
          return;
        }
        if (list.length === 0) {
          out(cli.io, 'no tokens yet; mint one with `shipshape users token PERSON`');
          return;
        }
        out(
          cli.io,
          renderTable(list, [
            { header: 'ID', value: (t) => t.id },
            { header: 'PERSON', value: (t) => t.person, max: 24 },
            { header: 'ROLES', value: (t) => t.roles.join(','), max: 40 },
            { header: 'CREATED', value: (t) => shortTime(t.createdAt) },
            { header: 'EXPIRES', value: (t) => shortTime(t.expiresAt) },
            { header: 'LAST USED', value: (t) => shortTime(t.lastUsedAt) },
            { header: 'STATUS', value: (t) => t.status },
            { header: 'DESCRIPTION', value: (t) => t.description, max: 40 },
          ]),
        );
      });
    });

  withServerOption(withSpecOption(withCommonOptions(users.command('revoke'))))
    .description('revoke a token at once (revoking a revoked token changes nothing)')
    .argument('<id>', 'token id (the 12 hex digits after ssp_, as `users tokens` lists them)')
    .addHelpText(
      'after',
      examples(
        'shipshape users revoke 3f9a0c1b2d4e',
        'shipshape users revoke 3f9a0c1b2d4e --json',
      ) + '\n\nExit codes: 0 revoked or already revoked · 2 no such token · 19 not an admin',
    )
    .action(async (id: string, options: { json: boolean; spec?: string; server?: string }) => {
      await withTokens(cli, options, async (tokens, actor) => {
        // A whole token (say, one found leaked in a log) names its own id: revoke that.
        const tokenId = parseTokenId(id) ?? id;
        const result = await tokens.revoke(tokenId, actor);
        if (options.json) {
          outJson(cli.io, result);
        } else if (result.alreadyRevoked) {
          out(
            cli.io,
            `token ${tokenId} was already revoked at ${result.info.revokedAt ?? '?'}; nothing changed`,
          );
        } else {
          out(cli.io, `✓ revoked ${describeToken(result.info)}`);
        }
      });
    });
}
