import { z } from 'zod';
import { parseValidity } from './validity.js';

/** The gates Shipshape knows. Gate-result records name one of these. */
export const GATE_IDS = [
  'audit',
  'validate',
  'backup',
  'dr-drill',
  'release',
  'rollback-test',
  'alert-test',
  'sign-off',
] as const;
export type GateId = (typeof GATE_IDS)[number];

/** What a record is: the result of a gate run, or a fact on the way (an approval, a token). */
export const RECORD_KINDS = ['gate-result', 'event'] as const;
export type RecordKind = (typeof RECORD_KINDS)[number];

/** Event types Shipshape itself records. Others may be recorded when prefixed `x-`. */
export const EVENT_TYPES = [
  'approval-requested',
  'approval-granted',
  'approval-rejected',
  'approval-expired',
  'token-minted',
  'token-revoked',
  'break-glass',
  'sign-off',
  'note',
  'repo-run-failed',
  'datastore-restored',
  'datastore-restore-failed',
  'datastore-verified',
] as const;
export type KnownEventType = (typeof EVENT_TYPES)[number];
/** A known event type, or a custom one (`x-deploy-freeze`). */
export type EventType = KnownEventType | `x-${string}`;

export const OUTCOMES = ['passed', 'failed', 'error'] as const;
export type Outcome = (typeof OUTCOMES)[number];

export const MEASUREMENT_UNITS = [
  'seconds',
  'milliseconds',
  'bytes',
  'bytes_per_second',
  'count',
  'ratio',
  'percent',
  'boolean',
] as const;
export type MeasurementUnit = (typeof MEASUREMENT_UNITS)[number];

export const ACTOR_KINDS = ['os-user', 'token', 'system'] as const;
export type ActorKind = (typeof ACTOR_KINDS)[number];

/** 64 lowercase hex digits: a SHA-256 digest. */
export const HASH_PATTERN = /^[0-9a-f]{64}$/;
const CUSTOM_EVENT_TYPE = /^x-[a-z0-9][a-z0-9-]{0,62}$/;
const MEASUREMENT_NAME = /^[a-z][a-z0-9_]{0,63}$/;
// Control characters in a subject or name would let one record masquerade as two lines in a listing.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const NO_CONTROL = /^[^\u0000-\u001f\u007f]*$/;

const label = (max: number) =>
  z.string().min(1).max(max).regex(NO_CONTROL, { message: 'must not contain control characters' });

/** A JSON object with JSON values only (no NaN, Infinity, undefined, Dates, …). */
export const JsonObjectSchema = z.record(z.string(), z.json());
export type JsonObject = z.infer<typeof JsonObjectSchema>;

/** An instant: any ISO 8601 date-time with an offset, normalised to UTC with milliseconds. */
const instantInput = z.iso
  .datetime({ offset: true })
  .transform((text) => new Date(text).toISOString());
/** An instant as stored: `YYYY-MM-DDTHH:mm:ss.sssZ`. */
const instant = z.iso.datetime({ precision: 3 });

/**
 * Who did it, as established by the caller (the auth layer). The ledger records it and never
 * decides identity itself.
 */
export const ActorSchema = z
  .strictObject({
    kind: z.enum(ACTOR_KINDS),
    /** The person named in the spec, when known. */
    person: label(128).optional(),
    osUser: label(128).optional(),
    tokenId: label(128).optional(),
    roles: z.array(label(64)).default([]),
  })
  .refine((actor) => actor.kind !== 'token' || actor.tokenId !== undefined, {
    message: 'an actor of kind "token" needs a tokenId',
    path: ['tokenId'],
  })
  .refine((actor) => actor.kind !== 'os-user' || actor.osUser !== undefined, {
    message: 'an actor of kind "os-user" needs an osUser',
    path: ['osUser'],
  });
export type Actor = z.output<typeof ActorSchema>;
export type ActorInput = z.input<typeof ActorSchema>;

export const MeasurementSchema = z.strictObject({
  /** snake_case, unit-suffixed where it helps: `rto_seconds`, `restored_bytes`. */
  name: z.string().regex(MEASUREMENT_NAME, { message: 'must be snake_case, e.g. rto_seconds' }),
  value: z.number().refine(Number.isFinite, { message: 'must be a finite number' }),
  unit: z.enum(MEASUREMENT_UNITS),
});
export type Measurement = z.infer<typeof MeasurementSchema>;

export const ArtifactSchema = z.strictObject({
  name: label(256),
  digest: z.string().regex(/^sha256:[0-9a-f]{64}$/, {
    message: 'must be sha256: followed by 64 lowercase hex digits',
  }),
  size: z.number().int().nonnegative().optional(),
});
export type Artifact = z.infer<typeof ArtifactSchema>;

const uniqueNames = (items: readonly { name: string }[]) =>
  new Set(items.map((item) => item.name)).size === items.length;

/** The body of a gate-result record as stored. */
export const GateResultBodySchema = z.strictObject({
  gate: z.enum(GATE_IDS),
  outcome: z.enum(OUTCOMES),
  startedAt: instant,
  finishedAt: instant,
  durationMs: z.number().nonnegative(),
  measurements: z.array(MeasurementSchema),
  artifacts: z.array(ArtifactSchema),
  /** Until when this result counts as current evidence of its gate. */
  validUntil: instant.optional(),
  summary: z.string().max(2000).optional(),
  details: JsonObjectSchema.optional(),
});
export type GateResultBody = z.infer<typeof GateResultBodySchema>;

/**
 * The body of a gate-result as given to `append`: timestamps with any offset, `durationMs`
 * defaulting to `finishedAt - startedAt`, and validity as either `validFor` (a duration from
 * `finishedAt`: `7d`, `PT24H`) or an absolute `validUntil`.
 */
export const GateResultInputSchema = z
  .strictObject({
    gate: z.enum(GATE_IDS),
    outcome: z.enum(OUTCOMES),
    startedAt: instantInput,
    finishedAt: instantInput,
    durationMs: z.number().nonnegative().optional(),
    measurements: z
      .array(MeasurementSchema)
      .max(1000)
      .default([])
      .refine(uniqueNames, { message: 'measurement names must be unique' }),
    artifacts: z
      .array(ArtifactSchema)
      .max(10_000)
      .default([])
      .refine(uniqueNames, { message: 'artifact names must be unique' }),
    validFor: z
      .string()
      .check((ctx) => {
        const validity = parseValidity(ctx.value);
        if (typeof validity !== 'number') {
          ctx.issues.push({
            code: 'custom',
            message: `${validity.error}; expected e.g. 30m, 12h, 7d, 2w or P7D`,
            input: ctx.value,
          });
        }
      })
      .optional(),
    validUntil: instantInput.optional(),
    summary: z.string().max(2000).optional(),
    details: JsonObjectSchema.optional(),
  })
  .check((ctx) => {
    const body = ctx.value;
    if (Date.parse(body.finishedAt) < Date.parse(body.startedAt)) {
      ctx.issues.push({
        code: 'custom',
        message: 'finishedAt is before startedAt',
        path: ['finishedAt'],
        input: body.finishedAt,
      });
    }
    if (body.validFor !== undefined && body.validUntil !== undefined) {
      ctx.issues.push({
        code: 'custom',
        message: 'give validFor or validUntil, not both',
        path: ['validFor'],
        input: body.validFor,
      });
    }
  })
  .transform(({ validFor, ...body }): GateResultBody => {
    const finished = Date.parse(body.finishedAt);
    const validity = validFor === undefined ? undefined : parseValidity(validFor);
    return {
      ...body,
      durationMs: body.durationMs ?? finished - Date.parse(body.startedAt),
      ...(typeof validity === 'number'
        ? { validUntil: new Date(finished + validity).toISOString() }
        : {}),
    };
  });
export type GateResultInput = z.input<typeof GateResultInputSchema>;

export const EventTypeSchema = z.union([
  z.enum(EVENT_TYPES),
  z.string().regex(CUSTOM_EVENT_TYPE, {
    message: `must be one of ${EVENT_TYPES.join(', ')}, or a custom type starting with x-`,
  }) as z.ZodType<`x-${string}`>,
]);

export const EventBodySchema = z.strictObject({
  type: EventTypeSchema,
  details: JsonObjectSchema.default({}),
});
export type EventBody = z.output<typeof EventBodySchema>;
export type EventBodyInput = z.input<typeof EventBodySchema>;

/** What the record is about: `service:shop`, `datastore:orders`, `release:v1.4.2@production`. */
export const SubjectSchema = label(256);

/** The input of `Ledger.append`. Parsed (and thereby normalised) before anything is stored. */
export const AppendInputSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('gate-result'),
    subject: SubjectSchema,
    actor: ActorSchema,
    body: GateResultInputSchema,
  }),
  z.strictObject({
    kind: z.literal('event'),
    subject: SubjectSchema,
    actor: ActorSchema,
    body: EventBodySchema,
  }),
]);
export type AppendInput = z.input<typeof AppendInputSchema>;
export type ParsedAppendInput = z.output<typeof AppendInputSchema>;

/** A stored record of one kind, its fields in the order they are shown. */
function recordSchema<K extends RecordKind, B extends z.ZodType>(kind: K, body: B) {
  return z.strictObject({
    /** Position in the chain: 1, 2, 3, … without gaps. */
    seq: z.number().int().positive(),
    id: z.uuid(),
    kind: z.literal(kind),
    subject: z.string(),
    actor: ActorSchema,
    /** When the ledger appended it (UTC, milliseconds). */
    recordedAt: instant,
    body,
    /** `hash` of the previous record; 64 zeros for the first. */
    prevHash: z.string().regex(HASH_PATTERN),
    /** sha256 over the domain tag and the canonical JSON of every other field. */
    hash: z.string().regex(HASH_PATTERN),
  });
}

export const GateResultRecordSchema = recordSchema('gate-result', GateResultBodySchema);
export const EventRecordSchema = recordSchema('event', EventBodySchema);
/** A stored ledger record, fully typed. */
export const LedgerRecordSchema = z.discriminatedUnion('kind', [
  GateResultRecordSchema,
  EventRecordSchema,
]);
export type GateResultRecord = z.infer<typeof GateResultRecordSchema>;
export type EventRecord = z.infer<typeof EventRecordSchema>;
export type LedgerRecord = z.infer<typeof LedgerRecordSchema>;

/**
 * A record as the chain sees it: every field that is hashed, with kind, actor and body left
 * loose. Verification checks hashes and links, not whether a body fits today's schema, so a
 * record written by an older or newer Shipshape still verifies.
 */
export const ChainRecordSchema = z.strictObject({
  seq: z.number().int(),
  id: z.string(),
  kind: z.string(),
  subject: z.string(),
  actor: JsonObjectSchema,
  recordedAt: z.string(),
  body: JsonObjectSchema,
  prevHash: z.string(),
  hash: z.string(),
});
export interface ChainRecord {
  seq: number;
  id: string;
  kind: string;
  subject: string;
  actor: unknown;
  recordedAt: string;
  body: unknown;
  prevHash: string;
  hash: string;
}

/** A signed statement "the record at `seq` has hash `headHash`", made with an Ed25519 key. */
export const CheckpointSchema = z.strictObject({
  seq: z.number().int().positive(),
  headHash: z.string().regex(HASH_PATTERN),
  signedAt: z.string(),
  /** First 16 hex digits of sha256 over the raw 32-byte public key. */
  keyId: z.string().regex(/^[0-9a-f]{16}$/),
  /** Base64 Ed25519 signature over the checkpoint's signed bytes. */
  signature: z.base64(),
});
export type LedgerCheckpoint = z.infer<typeof CheckpointSchema>;
