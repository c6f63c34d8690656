import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { specJsonSchema } from '../../spec/index.js';
import { recordSpecCheck, summariseSpec } from '../../validate/index.js';
import {
  examples,
  withCommonOptions,
  withServerOption,
  withSpecOption,
  withWorkspace,
  type Cli,
} from '../cli.js';
import { out, outJson } from '../io.js';

interface CheckOptions {
  json: boolean;
  spec?: string;
  server?: string;
  record: boolean;
}

function count(n: number, one: string, many = one + 's'): string {
  return `${n} ${n === 1 ? one : many}`;
}

export function registerSpecCommands(program: Command, cli: Cli): void {
  const spec = program
    .command('spec')
    .description('validate the stack spec (shipshape.yaml) and publish its JSON Schema');

  withServerOption(withSpecOption(withCommonOptions(spec.command('check'))))
    .description('validate the stack spec; every problem is reported at once with file:line:col')
    .option('--record', 'record a `validate` gate result in the evidence ledger', false)
    .addHelpText(
      'after',
      examples(
        'shipshape spec check',
        'shipshape spec check --spec deploy/shipshape.yaml --json',
        'shipshape spec check --record      # also write the result to the ledger',
        'SHIPSHAPE_TOKEN=… shipshape spec check --record --server https://shipshape.internal:8437',
      ) + '\n\nExit codes: 0 valid · 2 invalid (each problem printed with its code)',
    )
    .action(async (options: CheckOptions) => {
      const startedAt = new Date();
      // The spec is always checked here, in this checkout; only the result goes to the server.
      const server = options.record ? options.server : undefined;
      await withWorkspace(
        cli,
        options.spec,
        async (workspace) => {
          const summary = await summariseSpec(workspace.loaded);
          const recorded = options.record
            ? await recordSpecCheck(workspace, summary, startedAt)
            : undefined;
          if (options.json) {
            outJson(cli.io, { ok: true, ...summary, ...(recorded ? { recorded } : {}) });
            return;
          }
          const c = summary.counts;
          out(cli.io, `✓ ${summary.file} is valid`);
          out(
            cli.io,
            `  service ${summary.service}: ` +
              [
                count(c.people, 'person', 'people'),
                count(c.roles, 'role'),
                count(c.environments, 'environment'),
                count(c.repositories, 'repository', 'repositories'),
                count(c.datastores, 'datastore'),
              ].join(', '),
          );
          if (recorded) out(cli.io, `  recorded as ledger record #${recorded.seq}`);
        },
        server,
      );
    });

  withCommonOptions(spec.command('schema'))
    .description('print the JSON Schema of shipshape.yaml (for editors and CI validation)')
    .option('-o, --out <file>', 'write the schema to a file instead of stdout')
    .addHelpText(
      'after',
      examples(
        'shipshape spec schema > shipshape.schema.json',
        'shipshape spec schema --out s.json',
      ),
    )
    .action(async (options: { json: boolean; out?: string }) => {
      const text = `${JSON.stringify(specJsonSchema(), null, 2)}\n`;
      if (options.out !== undefined) {
        await writeFile(options.out, text);
        if (options.json) outJson(cli.io, { ok: true, file: options.out });
        else out(cli.io, `wrote ${options.out}`);
        return;
      }
      cli.io.stdout.write(text);
    });
}
