import type { Command } from 'commander';
import { examples, withCommonOptions, withSpecOption, withWorkspace, type Cli } from '../cli.js';
import { out, outJson } from '../io.js';

export function registerStoreCommands(program: Command, cli: Cli): void {
  const store = program
    .command('store')
    .description(
      'the state store: SQLite in .shipshape/ by default, PostgreSQL with SHIPSHAPE_DATABASE_URL',
    );

  withSpecOption(withCommonOptions(store.command('migrate')))
    .description('apply pending schema migrations (safe to run from several processes at once)')
    .addHelpText(
      'after',
      examples(
        'shipshape store migrate',
        'SHIPSHAPE_DATABASE_URL=postgres://… shipshape store migrate --json',
      ),
    )
    .action(async (options: { json: boolean; spec?: string }) => {
      await withWorkspace(cli, options.spec, async (ws) => {
        const s = await ws.store();
        const report = await ws.migration();
        if (options.json) {
          outJson(cli.io, { ok: true, dialect: s.dialect, location: s.location, ...report });
        } else {
          out(
            cli.io,
            `✓ ${s.dialect} store at ${s.location} is at migration ${report.known.at(-1) ?? '-'}` +
              (report.applied.length > 0
                ? ` (applied ${report.applied.join(', ')})`
                : ' (nothing to apply)'),
          );
        }
      });
    });

  withSpecOption(withCommonOptions(store.command('status')))
    .description('show where the state store is and how much evidence it holds')
    .addHelpText('after', examples('shipshape store status --json'))
    .action(async (options: { json: boolean; spec?: string }) => {
      await withWorkspace(cli, options.spec, async (ws) => {
        const s = await ws.store();
        const records = await (await ws.ledger()).count();
        const status = { dialect: s.dialect, location: s.location, ledgerRecords: records };
        if (options.json) outJson(cli.io, status);
        else out(cli.io, `${s.dialect} store at ${s.location}: ${records} ledger records`);
      });
    });
}
