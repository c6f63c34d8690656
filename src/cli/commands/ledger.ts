import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ExitCode, ShipError } from '../../core/index.js';
import {
  verifyExportFile,
  type LedgerRecord,
  type NewEvidence,
  type VerifyReport,
} from '../../ledger/index.js';
import {
  examples,
  positiveInt,
  withCommonOptions,
  withEvidence,
  withServerOption,
  withSpecOption,
  type Cli,
} from '../cli.js';
import { out, outJson } from '../io.js';
import { renderTable } from '../table.js';

interface ListOptions {
  json: boolean;
  spec?: string;
  server?: string;
  limit: string;
  kind?: string;
  gate?: string;
  subject?: string;
}

interface AppendOptions {
  json: boolean;
  spec?: string;
  server?: string;
  event?: string;
  subject?: string;
  details: string;
  file?: string;
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw ShipError.usage(
      'SHIP_CLI_BAD_JSON',
      `${what} is not valid JSON: ${(error as Error).message}`,
      {
        hint: 'quote the JSON for your shell, e.g. --details \'{"text":"…"}\'',
      },
    );
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Builds the evidence to append from `--file` or from `--event/--subject/--details`. */
async function appendInput(cli: Cli, options: AppendOptions): Promise<NewEvidence> {
  if (options.file !== undefined) {
    if (options.event !== undefined) {
      throw ShipError.usage('SHIP_CLI_BAD_FLAG', '--file and --event cannot be combined', {
        hint: 'put the whole record in the file, or use --event with --subject and --details',
      });
    }
    const text =
      options.file === '-'
        ? await readStdin()
        : await readFile(resolve(cli.io.cwd, options.file), 'utf8').catch((error: unknown) => {
            throw ShipError.usage(
              'SHIP_CLI_BAD_FLAG',
              `--file ${options.file ?? ''} cannot be read: ${(error as Error).message}`,
              { hint: 'pass a JSON file with {"kind", "subject", "body"}' },
            );
          });
    return parseJson(text, `--file ${options.file}`) as NewEvidence;
  }
  if (options.event === undefined || options.subject === undefined) {
    throw ShipError.usage('SHIP_CLI_BAD_FLAG', 'give --file, or --event TYPE with --subject', {
      hint: 'e.g. shipshape ledger append --event note --subject orders --details \'{"text":"…"}\'',
    });
  }
  const details = parseJson(options.details, '--details');
  return {
    kind: 'event',
    subject: options.subject,
    body: { type: options.event, details: details as Record<string, never> },
  };
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

  withServerOption(withSpecOption(withCommonOptions(ledger.command('list'))))
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
      await withEvidence(cli, options, async (evidence) => {
        const records = await evidence.list({
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

  withServerOption(withSpecOption(withCommonOptions(ledger.command('append'))))
    .description('record one piece of evidence (an event, or a gate result from a JSON file)')
    .option('--event <type>', 'record an event of this type (e.g. note, sign-off, x-custom)')
    .option('--subject <subject>', 'what the evidence is about (service, datastore, release…)')
    .option('--details <json>', 'event details as a JSON object', '{}')
    .option('-f, --file <file>', 'JSON file with {kind, subject, body} ("-" for stdin)')
    .addHelpText(
      'after',
      examples(
        'shipshape ledger append --event note --subject orders --details \'{"text":"freeze lifted"}\'',
        'shipshape ledger append --file result.json --server https://shipshape.internal:8437',
      ) +
        "\n\nThe actor is never part of the input: locally it is the OS user's person, remotely the\n" +
        "token's person.",
    )
    .action(async (options: AppendOptions) => {
      const input = await appendInput(cli, options);
      await withEvidence(cli, options, async (evidence) => {
        const record = await evidence.record(input);
        if (options.json) outJson(cli.io, record);
        else
          out(
            cli.io,
            `recorded #${record.seq} ${record.kind} ${describeBody(record)} (${record.hash})`,
          );
      });
    });

  withServerOption(withSpecOption(withCommonOptions(ledger.command('show'))))
    .description('show one record, by sequence number or id')
    .argument('<record>', 'sequence number (e.g. 12) or record id')
    .addHelpText('after', examples('shipshape ledger show 12', 'shipshape ledger show 12 --json'))
    .action(async (ref: string, options: { json: boolean; spec?: string; server?: string }) => {
      await withEvidence(cli, options, async (evidence) => {
        const key = /^\d+$/.test(ref) ? Number(ref) : ref;
        const record = await evidence.get(key);
        if (options.json) outJson(cli.io, record);
        else out(cli.io, JSON.stringify(record, null, 2));
      });
    });

  withServerOption(withSpecOption(withCommonOptions(ledger.command('verify'))))
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
      async (options: {
        json: boolean;
        spec?: string;
        server?: string;
        file?: string;
        publicKey?: string;
      }) => {
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
        await withEvidence(cli, options, async (evidence) => {
          printReport(cli, await evidence.verify(), options.json, evidence.location);
        });
      },
    );

  withServerOption(withSpecOption(withCommonOptions(ledger.command('export'))))
    .description('export every record and checkpoint as JSONL, ending with a signed head')
    .option('-o, --out <file>', 'write to a file (default: stdout)')
    .addHelpText(
      'after',
      examples(
        'shipshape ledger export --out ledger.jsonl',
        'shipshape ledger verify --file ledger.jsonl --public-key ledger.pub.pem',
      ),
    )
    .action(async (options: { json: boolean; spec?: string; server?: string; out?: string }) => {
      await withEvidence(cli, options, async (ledgerInstance) => {
        if (options.out === undefined) {
          await ledgerInstance.export(cli.io.stdout);
          return;
        }
        const summary = await ledgerInstance.export(options.out);
        if (!summary.verified) cli.exitCode = ExitCode.ledgerTampered;
        if (options.json) {
          outJson(cli.io, { ok: summary.verified, file: options.out, ...summary });
          return;
        }
        out(
          cli.io,
          `exported ${summary.records} records and ${summary.checkpoints} checkpoints to ${options.out}`,
        );
        if (summary.signedHead) {
          out(
            cli.io,
            `  ends with a head signed at #${summary.signedHead.seq} by key ${summary.signedHead.keyId}`,
          );
        } else if (!summary.verified) {
          out(
            cli.io,
            '  ! the ledger did not verify, so the export carries no signed head: run `shipshape ledger verify`',
          );
        } else {
          out(
            cli.io,
            '  ! no signing key configured (ledger.signing_key): the export has no signed head',
          );
        }
      });
    });
}
