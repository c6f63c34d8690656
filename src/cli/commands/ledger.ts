import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { ExitCode, ShipError } from '../../core/index.js';
import { verifyExportFile, type LedgerRecord, type VerifyReport } from '../../ledger/index.js';
import { examples, withCommonOptions, withSpecOption, withWorkspace, type Cli } from '../cli.js';
import { out, outJson } from '../io.js';
import { renderTable } from '../table.js';

interface ListOptions {
  json: boolean;
  spec?: string;
  limit: string;
  kind?: string;
  gate?: string;
  subject?: string;
}

function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw ShipError.usage(
      'SHIP_CLI_BAD_FLAG',
      `${flag} must be a positive integer, got "${value}"`,
      {
        hint: `pass e.g. ${flag} 50`,
      },
    );
  }
  return n;
}

function describeBody(record: LedgerRecord): string {
  const body = record.body as { gate?: string; outcome?: string; type?: string; summary?: string };
  if (record.kind === 'gate-result') {
    return `${body.gate ?? '?'} ${body.outcome ?? '?'}${body.summary ? ` — ${body.summary}` : ''}`;
  }
  return body.type ?? '?';
}

function actorName(record: LedgerRecord): string {
  const a = record.actor;
  return a.person ?? a.osUser ?? a.tokenId ?? a.kind;
}

function printReport(cli: Cli, report: VerifyReport, json: boolean, source: string): void {
  cli.exitCode = report.ok ? ExitCode.ok : ExitCode.ledgerTampered;
  if (json) {
    outJson(cli.io, { ...report, source });
    return;
  }
  out(
    cli.io,
    `${report.ok ? '✓ ledger verified' : '✗ ledger FAILED verification'} (${source}): ${report.records} records, ` +
      `${report.checkpoints.valid}/${report.checkpoints.total} checkpoints valid, signed through #${report.signedThrough}`,
  );
  if (report.head.seq > 0) out(cli.io, `  head #${report.head.seq} ${report.head.hash}`);
  for (const p of report.problems) {
    out(cli.io, `  ✗ ${p.code}${p.seq === undefined ? '' : ` at #${p.seq}`}: ${p.message}`);
  }
  for (const w of report.warnings) out(cli.io, `  ! ${w}`);
}

export function registerLedgerCommands(program: Command, cli: Cli): void {
  const ledger = program
    .command('ledger')
    .description('read, verify and export the hash-chained, signed evidence ledger');

  withSpecOption(withCommonOptions(ledger.command('list')))
    .description('list evidence records, newest first')
    .option('-n, --limit <n>', 'how many records', '50')
    .option('--kind <kind>', 'only `gate-result` or `event` records')
    .option('--gate <gate>', 'only results of this gate (e.g. validate, backup, dr-drill)')
    .option('--subject <subject>', 'only records about this subject (service, datastore…)')
    .addHelpText(
      'after',
      examples('shipshape ledger list', 'shipshape ledger list --gate backup --limit 10 --json'),
    )
    .action(async (options: ListOptions) => {
      const limit = positiveInt(options.limit, '--limit');
      await withWorkspace(cli, options.spec, async (ws) => {
        const records = await (
          await ws.ledger()
        ).list({
          limit,
          order: 'desc',
          ...(options.kind === undefined ? {} : { kind: options.kind }),
          ...(options.gate === undefined ? {} : { gate: options.gate }),
          ...(options.subject === undefined ? {} : { subject: options.subject }),
        });
        if (options.json) {
          outJson(cli.io, { records });
          return;
        }
        if (records.length === 0) {
          out(cli.io, 'no records yet');
          return;
        }
        out(
          cli.io,
          renderTable(records, [
            { header: 'SEQ', value: (r) => r.seq, align: 'right' },
            { header: 'RECORDED', value: (r) => r.recordedAt },
            { header: 'KIND', value: (r) => r.kind },
            { header: 'SUBJECT', value: (r) => r.subject, max: 24 },
            { header: 'ACTOR', value: actorName, max: 16 },
            { header: 'WHAT', value: describeBody },
          ]),
        );
      });
    });

  withSpecOption(withCommonOptions(ledger.command('show')))
    .description('show one record, by sequence number or id')
    .argument('<record>', 'sequence number (e.g. 12) or record id')
    .addHelpText('after', examples('shipshape ledger show 12', 'shipshape ledger show 12 --json'))
    .action(async (ref: string, options: { json: boolean; spec?: string }) => {
      await withWorkspace(cli, options.spec, async (ws) => {
        const key = /^\d+$/.test(ref) ? Number(ref) : ref;
        const record = await (await ws.ledger()).get(key);
        if (options.json) outJson(cli.io, record);
        else out(cli.io, JSON.stringify(record, null, 2));
      });
    });

  withSpecOption(withCommonOptions(ledger.command('verify')))
    .description(
      'check the hash chain and the signed checkpoints; with --file, verify an export offline',
    )
    .option('-f, --file <export.jsonl>', 'verify an export file instead of the state store')
    .option('-k, --public-key <pem>', 'public key file to check signatures with (offline mode)')
    .addHelpText(
      'after',
      examples(
        'shipshape ledger verify',
        'shipshape ledger verify --file ledger.jsonl --public-key ledger.pub.pem',
      ) + '\n\nExit codes: 0 verified · 10 tampered or inconsistent (each problem listed)',
    )
    .action(
      async (options: { json: boolean; spec?: string; file?: string; publicKey?: string }) => {
        if (options.file !== undefined) {
          const pem =
            options.publicKey === undefined
              ? undefined
              : await readFile(options.publicKey, 'utf8').catch((error: unknown) => {
                  throw ShipError.usage(
                    'SHIP_CLI_BAD_FLAG',
                    `--public-key ${options.publicKey ?? ''} cannot be read: ${(error as Error).message}`,
                    { hint: 'pass the path of the ledger public key PEM (ledger.public_key)' },
                  );
                });
          const report = await verifyExportFile(options.file, pem);
          printReport(cli, report, options.json, options.file);
          return;
        }
        if (options.publicKey !== undefined) {
          throw ShipError.usage(
            'SHIP_CLI_BAD_FLAG',
            '--public-key is only used with --file; the state store is verified with ledger.public_key from the spec',
            {
              hint: 'export first: shipshape ledger export --out l.jsonl && shipshape ledger verify --file l.jsonl --public-key K',
            },
          );
        }
        await withWorkspace(cli, options.spec, async (ws) => {
          const report = await (await ws.ledger()).verify();
          printReport(cli, report, options.json, (await ws.store()).location);
        });
      },
    );

  withSpecOption(withCommonOptions(ledger.command('export')))
    .description('export every record and checkpoint as JSONL, ending with a signed head')
    .option('-o, --out <file>', 'write to a file (default: stdout)')
    .addHelpText(
      'after',
      examples(
        'shipshape ledger export --out ledger.jsonl',
        'shipshape ledger verify --file ledger.jsonl --public-key ledger.pub.pem',
      ),
    )
    .action(async (options: { json: boolean; spec?: string; out?: string }) => {
      await withWorkspace(cli, options.spec, async (ws) => {
        const ledgerInstance = await ws.ledger();
        if (options.out === undefined) {
          await ledgerInstance.export(cli.io.stdout);
          return;
        }
        const summary = await ledgerInstance.export(options.out);
        if (options.json) outJson(cli.io, { ok: true, file: options.out, ...summary });
        else
          out(
            cli.io,
            `exported ${summary.records} records and ${summary.checkpoints} checkpoints to ${options.out}`,
          );
      });
    });
}
