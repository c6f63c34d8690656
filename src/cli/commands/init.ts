import { access, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { basename, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { ShipError } from '../../core/index.js';
import { detectProject, renderStarterSpec } from '../../init/index.js';
import { parseSpec } from '../../spec/index.js';
import { KEY_PATHS, ensureGitignore, ensureWorkspaceKeys } from '../../workspace/index.js';
import { examples, withCommonOptions, type Cli } from '../cli.js';
import { out, outJson } from '../io.js';

interface InitOptions {
  json: boolean;
  dir: string;
  force: boolean;
  name?: string;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

export function registerInitCommand(program: Command, cli: Cli): void {
  withCommonOptions(program.command('init'))
    .description(
      'write a commented starter shipshape.yaml from what this repository contains, and the ledger keys',
    )
    .option('-d, --dir <dir>', 'repository root', '.')
    .option('--name <service>', 'service name (default: the directory name)')
    .option(
      '-f, --force',
      'overwrite an existing shipshape.yaml (existing keys are always kept)',
      false,
    )
    .addHelpText(
      'after',
      examples('shipshape init', 'shipshape init --dir ../orders --name orders --json') +
        '\n\nDetects Dockerfiles, .github/workflows, Terraform and Kubernetes folders, and\n' +
        'docker-compose services that look like PostgreSQL, MySQL/MariaDB or Redis.',
    )
    .action(async (options: InitOptions) => {
      const dir = resolve(cli.io.cwd, options.dir);
      const specFile = join(dir, 'shipshape.yaml');
      if (!options.force && (await exists(specFile))) {
        throw ShipError.usage('SHIP_INIT_EXISTS', `${specFile} already exists`, {
          hint: 'edit it, check it with `shipshape spec check`, or pass --force to replace it',
        });
      }
      const detection = await detectProject(dir);
      const serviceName = (options.name ?? basename(dir))
        .toLowerCase()
        .replace(/[^a-z0-9-]+/g, '-')
        .replace(/^-+|-+$/g, '');
      const text = renderStarterSpec(detection, {
        serviceName: serviceName === '' ? 'service' : serviceName,
        osUser: userInfo().username,
        publicKeyPath: KEY_PATHS.ledgerPublic,
        signingKeyRef: `\${file:${KEY_PATHS.ledgerPrivate}}`,
        repositoryKeyRef: `\${file:${KEY_PATHS.repository}}`,
      });
      // The starter must be valid as written; a failure here is a bug, reported with its problems.
      parseSpec(text, specFile);
      const keys = await ensureWorkspaceKeys(dir);
      await writeFile(specFile, text);
      const gitignoreChanged = await ensureGitignore(dir);
      const result = { ok: true, spec: specFile, detection, keys, gitignoreChanged };
      if (options.json) {
        outJson(cli.io, result);
        return;
      }
      out(cli.io, `✓ wrote ${specFile}`);
      out(
        cli.io,
        `✓ ledger signing key ${keys.keyId}: private ${keys.ledgerPrivateKey} (0600, not committed)`,
      );
      out(cli.io, `  public ${keys.ledgerPublicKey} — commit it; verifiers need it`);
      if (gitignoreChanged) out(cli.io, '✓ added .shipshape/ to .gitignore');
      out(cli.io, '\nNext: review the TODOs in shipshape.yaml, then run `shipshape spec check`.');
    });
}
