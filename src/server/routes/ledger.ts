import { once } from 'node:events';
import { PassThrough, Readable } from 'node:stream';
import { LedgerRecordSchema } from '../../ledger/index.js';
import { jsonRoute, rawRoute } from '../route.js';
import {
  AppendRecordRequestSchema,
  CountSchema,
  ListRecordsQuerySchema,
  RecordRefParamsSchema,
  RecordsSchema,
  VerifyReportSchema,
} from '../schemas.js';

export const listRecords = jsonRoute({
  method: 'GET',
  path: '/v1/ledger/records',
  operationId: 'listRecords',
  tag: 'ledger',
  summary: 'List ledger records, filtered and paged by seq',
  description:
    'Page forward with `afterSeq` = the last seq seen (`order=asc`), or backward with `beforeSeq` (`order=desc`).',
  access: 'ledger.read',
  usesStore: true,
  query: ListRecordsQuerySchema,
  response: { kind: 'json', status: 200, schema: RecordsSchema, description: 'the records' },
  handle: async ({ services, query }) => {
    const ledger = await services.workspace.ledger();
    return { records: await ledger.list(query) };
  },
});

export const getRecord = jsonRoute({
  method: 'GET',
  path: '/v1/ledger/records/:ref',
  operationId: 'getRecord',
  tag: 'ledger',
  summary: 'One record, by seq or id',
  access: 'ledger.read',
  usesStore: true,
  canNotFind: true,
  params: RecordRefParamsSchema,
  response: { kind: 'json', status: 200, schema: LedgerRecordSchema, description: 'the record' },
  handle: async ({ services, params }) => (await services.workspace.ledger()).get(params.ref),
});

export const countRecords = jsonRoute({
  method: 'GET',
  path: '/v1/ledger/count',
  operationId: 'countRecords',
  tag: 'ledger',
  summary: 'Number of records in the ledger',
  access: 'ledger.read',
  usesStore: true,
  response: { kind: 'json', status: 200, schema: CountSchema, description: 'the count' },
  handle: async ({ services }) => ({ count: await (await services.workspace.ledger()).count() }),
});

export const appendRecord = jsonRoute({
  method: 'POST',
  path: '/v1/ledger/records',
  operationId: 'appendRecord',
  tag: 'ledger',
  summary: 'Append evidence (a gate result or an event) as the token’s identity',
  description:
    'The record’s actor is always the identity of the bearer token; a body naming an `actor` is refused (400).',
  access: 'evidence.append',
  usesStore: true,
  body: AppendRecordRequestSchema,
  response: {
    kind: 'json',
    status: 201,
    schema: LedgerRecordSchema,
    description: 'the record as appended (seq, id, hash, actor)',
  },
  handle: async ({ services, body, actor }) => {
    const ledger = await services.workspace.ledger();
    // The body was validated (and normalised) already; the ledger validates again, which is
    // idempotent, and redacts free text.
    return ledger.append({ ...body, actor });
  },
});

export const verifyLedger = jsonRoute({
  method: 'GET',
  path: '/v1/ledger/verify',
  operationId: 'verifyLedger',
  tag: 'ledger',
  summary: 'Verify the hash chain and signed checkpoints',
  description:
    'Answers 200 whatever the outcome: `ok: false` with each problem listed means the ledger failed verification.',
  access: 'ledger.read',
  usesStore: true,
  response: { kind: 'json', status: 200, schema: VerifyReportSchema, description: 'the report' },
  handle: async ({ services }) => (await services.workspace.ledger()).verify(),
});

export const exportLedger = rawRoute({
  method: 'GET',
  path: '/v1/ledger/export',
  operationId: 'exportLedger',
  tag: 'ledger',
  summary: 'Export the ledger as JSONL (the same as `shipshape ledger export`)',
  description:
    'Streamed. Verify it offline with `shipshape ledger verify --file F --public-key K`. A failure after the first line aborts the stream, so a truncated export never verifies.',
  access: 'ledger.read',
  usesStore: true,
  response: {
    kind: 'raw',
    status: 200,
    contentType: 'application/x-ndjson',
    description: 'header line, records, checkpoints, and a freshly signed head checkpoint',
  },
  handle: async ({ services }) => {
    const ledger = await services.workspace.ledger();
    const out = new PassThrough();
    const done = ledger.export(out).then(
      () => out.end(),
      (error: unknown) => out.destroy(error instanceof Error ? error : new Error(String(error))),
    );
    // Fail with a proper status when the export cannot even start (store unreachable); once
    // the first line is out, headers are sent and a failure can only abort the stream.
    await Promise.race([once(out, 'readable'), done]);
    if (out.errored) throw out.errored;
    return new Response(Readable.toWeb(out) as ReadableStream<Uint8Array>, {
      status: 200,
      headers: { 'content-type': 'application/x-ndjson' },
    });
  },
});
