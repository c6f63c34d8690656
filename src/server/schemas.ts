import { z } from 'zod';
import {
  ActorSchema,
  AppendInputSchema,
  GATE_IDS,
  LedgerRecordSchema,
  RECORD_KINDS,
  VerifyProblemCode,
  type VerifyReport,
} from '../ledger/index.js';

/**
 * Schemas of the HTTP API: each validates what crosses the wire and is also what /openapi.json
 * is generated from, so the documentation cannot drift from the checks.
 */

export const ProblemSchema = z.object({
  code: z.string(),
  message: z.string(),
  path: z.string().optional(),
  location: z
    .object({ file: z.string(), line: z.number().int(), column: z.number().int() })
    .optional(),
  expected: z.string().optional(),
  hint: z.string().optional(),
});

/** Every error answer: `ShipError.toJSON()` under `error`. */
export const ErrorResponseSchema = z.strictObject({
  ok: z.literal(false),
  error: z.strictObject({
    code: z.string().meta({ description: 'stable SHIP_* code; see docs/exit-codes.md' }),
    message: z.string(),
    exitCode: z.number().int().meta({ description: 'the exit code the CLI would use' }),
    retryable: z.boolean(),
    hint: z.string().optional(),
    details: z.record(z.string(), z.unknown()).optional(),
    problems: z.array(ProblemSchema).optional(),
  }),
});
export type ErrorResponse = z.infer<typeof ErrorResponseSchema>;

export const OkSchema = z.strictObject({ ok: z.literal(true) });

export const WhoamiSchema = z.strictObject({ actor: ActorSchema });

const seqParam = z
  .string()
  .regex(/^\d{1,15}$/, { message: 'must be a whole number' })
  .transform(Number);

/** `GET /v1/ledger/records` query. Unknown parameters are refused, so a typo is not ignored. */
export const ListRecordsQuerySchema = z.strictObject({
  limit: z
    .string()
    .regex(/^\d{1,5}$/, { message: 'must be a whole number from 1 to 10000' })
    .transform(Number)
    .pipe(z.number().int().min(1).max(10_000))
    .optional()
    .meta({ description: 'at most this many records (1–10000)', default: 100 }),
  order: z.enum(['asc', 'desc']).optional().meta({ description: 'by seq', default: 'asc' }),
  kind: z.enum(RECORD_KINDS).optional(),
  gate: z.enum(GATE_IDS).optional().meta({ description: 'only results of this gate' }),
  subject: z.string().min(1).max(256).optional().meta({ description: 'exact subject' }),
  afterSeq: seqParam.optional().meta({ description: 'only records with a greater seq' }),
  beforeSeq: seqParam.optional().meta({ description: 'only records with a smaller seq' }),
});

export const RecordsSchema = z.strictObject({ records: z.array(LedgerRecordSchema) });

export const RecordRefParamsSchema = z.strictObject({
  ref: z
    .string()
    .min(1)
    .max(64)
    .meta({ description: 'the record’s sequence number (e.g. 12) or its id (a UUID)' }),
});

export const CountSchema = z.strictObject({ count: z.number().int().nonnegative() });

const [gateResultInput, eventInput] = AppendInputSchema.options;

/**
 * `POST /v1/ledger/records` body: an append input without `actor`. Strict, so a body that
 * tries to name its own actor is refused: the actor is always the token's identity.
 */
export const AppendRecordRequestSchema = z.discriminatedUnion('kind', [
  gateResultInput.omit({ actor: true }),
  eventInput.omit({ actor: true }),
]);
export type AppendRecordRequest = z.input<typeof AppendRecordRequestSchema>;

const verifyProblemCodes = Object.values(VerifyProblemCode) as [
  VerifyProblemCode,
  ...VerifyProblemCode[],
];

/** What `Ledger.verify()` returns, as sent by `GET /v1/ledger/verify`. */
export const VerifyReportSchema = z.strictObject({
  ok: z.boolean(),
  records: z.number().int().nonnegative(),
  checkpoints: z.strictObject({ total: z.number().int(), valid: z.number().int() }),
  witness: z.strictObject({ total: z.number().int(), valid: z.number().int() }).nullable(),
  head: z.strictObject({ seq: z.number().int(), hash: z.string() }),
  signedThrough: z.number().int(),
  signaturesChecked: z.boolean(),
  problems: z.array(
    z.strictObject({
      code: z.enum(verifyProblemCodes),
      seq: z.number().int().optional(),
      source: z.enum(['database', 'export', 'witness']).optional(),
      message: z.string(),
    }),
  ),
  problemsOmitted: z.number().int().nonnegative(),
  warnings: z.array(z.string()),
});
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type AssertTrue<T extends true> = T;
/** Compile-time guard: the schema describes exactly the ledger's VerifyReport. */
export type VerifyReportSchemaMatches = AssertTrue<
  Same<z.output<typeof VerifyReportSchema>, VerifyReport>
>;
