import { z } from 'zod';
import { SpecProblemCode } from './codes.js';
import {
  addShipIssue,
  cronField,
  durationField,
  expecting,
  nameField,
  sizeField,
  timezoneField,
} from './fields.js';
import { BUILTIN_ROLES } from './names.js';
import { listNames } from './pending.js';
import { SECRET_REF_EXPECTED } from './secrets.js';
import { WEBHOOK_URL_EXPECTED, webhookUrlProblem } from './webhook-url.js';

/** Kinds of data store a driver exists for. */
export const DATASTORE_KINDS = [
  'postgres',
  'mysql',
  'mariadb',
  'redis',
  'sqlite',
  'files',
  'command',
] as const;
export type DatastoreKind = (typeof DATASTORE_KINDS)[number];

/** How a backup or restore is fingerprinted to prove the data is intact. */
export const FINGERPRINT_MODES = ['counts', 'full', 'off'] as const;
export type FingerprintMode = (typeof FINGERPRINT_MODES)[number];

/** Kinds of notification channel (one file each in `src/notify/`). */
export const CHANNEL_KINDS = ['webhook'] as const;
export type ChannelKind = (typeof CHANNEL_KINDS)[number];

/**
 * Types of notification Shipshape sends. A channel's `events` filter names some of them; later
 * features (approvals, alerts, backups) add theirs here.
 */
export const NOTIFICATION_TYPES = ['test', 'approval-requested', 'gate-failed'] as const;
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

/** Spec versions this build reads. */
export const SUPPORTED_SPEC_VERSIONS = [1] as const;

const SECRET_REF_PATTERN = '^\\$\\{(env|file):[^}]+\\}$';

/** A value that must be exactly one `${env:…}` / `${file:…}` reference (checked by the loader). */
function secretRefField(description: string) {
  return expecting(
    z.string().meta({
      description: `${description} Must be a reference: \`\${env:NAME}\` or \`\${file:path}\`.`,
      pattern: SECRET_REF_PATTERN,
    }),
    SECRET_REF_EXPECTED,
  );
}

/** A reserved section: accepted as any map today, given a schema by a later version. */
function reserved(description: string) {
  return expecting(
    z.record(z.string(), z.unknown()).meta({ description: `${description} (reserved)` }),
    'a map (this section is reserved; its keys are not checked yet)',
  );
}

const stringList = (description: string) =>
  expecting(z.array(z.string()).meta({ description }), 'a list of strings');

const count = (description: string) =>
  expecting(z.number().int().min(0).optional().meta({ description }), 'a whole number >= 0');

const serviceSchema = z
  .strictObject({
    name: nameField('service').meta({ description: 'Service name, a DNS label.' }),
    description: z.string().optional().meta({ description: 'What the service does.' }),
    owner: z.string().optional().meta({ description: 'Owning team or person.' }),
  })
  .meta({ description: 'The service this spec describes.' });

const personSchema = z
  .strictObject({
    name: z.string().min(1).meta({ description: 'Full name, shown in evidence and reports.' }),
    email: z.email().optional(),
    os_users: expecting(
      z.array(z.string().min(1)).optional().meta({
        description: 'Local OS user names this person acts as when running the CLI directly.',
      }),
      'a list of OS user names',
    ),
    tokens: z
      .boolean()
      .optional()
      .meta({ description: 'Whether this person may hold API tokens (for CI and remote use).' }),
  })
  .superRefine((person, ctx) => {
    if ((person.os_users?.length ?? 0) === 0 && person.tokens !== true) {
      addShipIssue(ctx, 'this person can neither act as an OS user nor hold API tokens', {
        code: SpecProblemCode.missingKey,
        expected: 'at least one of `os_users` (a list of OS user names) or `tokens: true`',
        hint: 'add `os_users: [<login name>]` or `tokens: true`',
      });
    }
  })
  .meta({ description: 'A person who can act in Shipshape.' });

const approvalSchema = z
  .strictObject({
    roles: expecting(
      z.array(z.string()).min(1).meta({
        description: 'Roles whose holders may approve (any one of them counts).',
      }),
      'a non-empty list of role names defined under `roles`',
    ),
    count: expecting(
      z.number().int().min(1).default(1).meta({ description: 'Approvals needed.' }),
      'a whole number >= 1',
    ),
    requester_can_approve: z
      .boolean()
      .default(false)
      .meta({ description: 'Whether the person who requested a release may approve it.' }),
    pending_timeout: durationField(
      'How long a request waits for approval before it expires.',
    ).prefault('24h'),
    valid_for: durationField('How long a granted approval may be used to release.').prefault('2h'),
  })
  .meta({ description: 'Who must approve a release to this environment.' });

const releaseSchema = z
  .strictObject({
    branches: stringList('Branches (glob patterns) a release may come from.').optional(),
    tags: stringList('Tags (glob patterns) a release may come from.').optional(),
    approval: approvalSchema.optional(),
  })
  .meta({ description: 'Release policy of this environment.' });

const environmentSchema = z
  .strictObject({
    target: reserved('Deploy target settings').optional(),
    release: releaseSchema.optional(),
  })
  .meta({ description: 'An environment (staging, production, …).' });

const S3_URL = /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/;

const s3Schema = z
  .strictObject({
    endpoint: z.url().optional().meta({ description: 'S3-compatible endpoint URL.' }),
    region: z.string().optional(),
    force_path_style: z.boolean().optional(),
    access_key_id: secretRefField('Access key id.').optional(),
    secret_access_key: secretRefField('Secret access key.').optional(),
    session_token: secretRefField('Session token of temporary credentials.').optional(),
    object_lock: z.boolean().optional().meta({
      description:
        'The bucket has S3 Object Lock: send a checksum with every upload and report deletes refused by retention.',
    }),
  })
  .meta({ description: 'Options for an `s3://` repository.' });

const repositorySchema = z
  .strictObject({
    url: expecting(
      z.string().min(1).meta({
        description: 'A local directory (relative to the spec) or `s3://bucket/prefix`.',
      }),
      'a directory path or `s3://bucket/prefix`',
    ),
    s3: s3Schema.optional(),
    key: secretRefField('The repository key.'),
    append_only: z.boolean().optional().meta({
      description:
        'Open the repository for adding only: forget, prune, key removal and forced unlock are refused.',
    }),
    pack_size: sizeField(
      'Target size of pack files (default chosen by the repository).',
    ).optional(),
  })
  .superRefine((repo, ctx) => {
    const isS3 = repo.url.startsWith('s3:');
    if (isS3 && !S3_URL.test(repo.url)) {
      addShipIssue(
        ctx,
        `\`${repo.url}\` is not a valid S3 URL`,
        {
          code: SpecProblemCode.badValue,
          expected:
            '`s3://bucket/prefix` with a bucket name of 3-63 lower-case letters, digits, `.` and `-`',
        },
        ['url'],
      );
    }
    const s3 = repo.s3;
    if (
      s3 !== undefined &&
      (s3.access_key_id === undefined) !== (s3.secret_access_key === undefined)
    ) {
      const missing = s3.access_key_id === undefined ? 'access_key_id' : 'secret_access_key';
      addShipIssue(
        ctx,
        `\`s3.${missing}\` is missing: static credentials need both the key id and the secret`,
        {
          code: SpecProblemCode.missingKey,
          expected:
            'both `access_key_id` and `secret_access_key`, or neither (the default AWS chain)',
          hint: 'add the missing reference, or remove both to use AWS_* variables, a profile or a role',
        },
        ['s3', missing],
      );
    }
    if (!isS3 && repo.s3 !== undefined) {
      addShipIssue(
        ctx,
        'an `s3` section is only allowed for an `s3://` repository',
        {
          code: SpecProblemCode.badValue,
          expected: '`url: s3://bucket/prefix` when `s3` options are given',
          hint: 'remove the `s3` section, or point `url` at an S3 bucket',
        },
        ['s3'],
      );
    }
  })
  .meta({ description: 'A backup repository.' });

const scheduleSchema = z
  .strictObject({
    cron: cronField('When backups run.'),
    timezone: timezoneField('Timezone the cron expression is read in.').default('UTC'),
  })
  .meta({ description: 'Backup schedule.' });

const retentionSchema = z
  .strictObject({
    keep_last: count('Keep the newest N snapshots.'),
    keep_hourly: count('Keep the newest snapshot of each of the last N hours that have one.'),
    keep_daily: count('Keep the newest snapshot of each of the last N days that have one.'),
    keep_weekly: count('Keep the newest snapshot of each of the last N weeks that have one.'),
    keep_monthly: count('Keep the newest snapshot of each of the last N months that have one.'),
    keep_yearly: count('Keep the newest snapshot of each of the last N years that have one.'),
    keep_within: durationField('Keep every snapshot younger than this.').optional(),
  })
  .meta({ description: 'Which snapshots to keep (grandfather-father-son).' });

const objectivesSchema = z
  .strictObject({
    rto: durationField('Recovery time objective: longest acceptable restore.'),
    rpo: durationField('Recovery point objective: most data (as time) that may be lost.'),
  })
  .meta({ description: 'Recovery objectives, checked by DR drills and backup freshness.' });

/** Kinds of data store that answer SQL, for `integrity.checks[].sql`. */
export const SQL_DATASTORE_KINDS = ['postgres', 'mysql', 'mariadb', 'sqlite'] as const;

const numberExpectation = (description: string) =>
  expecting(z.number().optional().meta({ description }), 'a number');

const integrityCheckSchema = z
  .strictObject({
    name: nameField('name').meta({ description: 'Name of the check, shown in reports.' }),
    sql: z
      .string()
      .min(1)
      .optional()
      .meta({
        description:
          'A read-only query returning one row with one column (postgres, mariadb/mysql, sqlite).',
        examples: ['SELECT count(*) FROM orders WHERE amount_cents < 0'],
      }),
    key: z.string().min(1).optional().meta({
      description: 'A Redis key to check (redis). Database 0 unless the connection names another.',
    }),
    equals: expecting(
      z.union([z.string(), z.number(), z.boolean()]).optional().meta({
        description:
          'The value must equal this (SQL: the single value; Redis: the string value of the key).',
      }),
      'a string, number or boolean',
    ),
    min: numberExpectation(
      'The value (SQL) or the key’s size (Redis: length, members, fields) must be at least this.',
    ),
    max: numberExpectation(
      'The value (SQL) or the key’s size (Redis: length, members, fields) must be at most this.',
    ),
    exists: z.boolean().optional().meta({
      description: 'Redis: the key must exist (true) or be absent (false). Default true.',
    }),
    type: expecting(
      z.enum(['string', 'list', 'set', 'zset', 'hash', 'stream']).optional().meta({
        description: 'Redis: the key must have this type.',
      }),
      'one of string, list, set, zset, hash, stream',
    ),
  })
  .superRefine((check, ctx) => {
    if ((check.sql === undefined) === (check.key === undefined)) {
      addShipIssue(ctx, 'a check needs exactly one of `sql` (a query) or `key` (a Redis key)', {
        code: SpecProblemCode.badValue,
        expected: '`sql: SELECT …` or `key: …`',
        hint: 'write `sql:` for postgres, mariadb, mysql and sqlite stores, `key:` for redis',
      });
    }
    if (check.sql !== undefined && (check.exists !== undefined || check.type !== undefined)) {
      addShipIssue(ctx, '`exists` and `type` apply to Redis key checks only', {
        code: SpecProblemCode.badValue,
        expected: '`equals`, `min` and/or `max` for an SQL check',
      });
    }
    if (
      check.sql !== undefined &&
      check.equals === undefined &&
      check.min === undefined &&
      check.max === undefined
    ) {
      addShipIssue(ctx, 'an SQL check needs an expectation', {
        code: SpecProblemCode.missingKey,
        expected: 'at least one of `equals`, `min`, `max`',
        hint: 'e.g. `equals: 0` for a query counting bad rows',
      });
    }
  })
  .meta({ description: 'An integrity check run against a restored copy (DR drills).' });

const integritySchema = z
  .strictObject({
    checks: expecting(
      z.array(integrityCheckSchema).default([]).meta({
        description: 'Checks run against the restored data, after the fingerprint matched.',
      }),
      'a list of checks',
    ),
  })
  .meta({ description: 'What must hold in a restored copy, beyond the fingerprint.' });

const commandSchema = z
  .strictObject({
    backup: z.string().min(1).meta({ description: 'Writes the backup to standard output.' }),
    restore: z.string().min(1).meta({ description: 'Reads a backup from standard input.' }),
    fingerprint: z
      .string()
      .min(1)
      .optional()
      .meta({ description: 'Prints a fingerprint of the data.' }),
  })
  .meta({ description: 'Shell commands for a `command` data store.' });

const datastoreSchema = z
  .strictObject({
    kind: expecting(z.enum(DATASTORE_KINDS), `one of ${listNames(DATASTORE_KINDS, 20)}`),
    connection: expecting(
      z.record(z.string(), z.string()).meta({
        description:
          'Connection per environment: a URL/DSN (or a path for sqlite/files), secrets by reference.',
      }),
      'a map from environment name to connection URL, DSN or path',
    ),
    repository: expecting(
      z.string().meta({ description: 'Name of the repository backups go to.' }),
      'the name of a repository defined under `repositories`',
    ),
    schedule: scheduleSchema.optional(),
    retention: retentionSchema.optional(),
    objectives: objectivesSchema.optional(),
    integrity: integritySchema.optional(),
    fingerprint: expecting(
      z.enum(FINGERPRINT_MODES).default('counts').meta({
        description: 'counts: row/key counts per table; full: content digests; off.',
      }),
      `one of ${listNames(FINGERPRINT_MODES)}`,
    ),
    command: commandSchema.optional(),
  })
  .superRefine((store, ctx) => {
    if (Object.keys(store.connection).length === 0) {
      addShipIssue(
        ctx,
        'no connection is given for any environment',
        {
          code: SpecProblemCode.badValue,
          expected: 'a map from environment name to connection URL, DSN or path',
          hint: 'add e.g. `production: ${env:PRODUCTION_DATABASE_URL}`',
        },
        ['connection'],
      );
    }
    if (store.kind === 'command' && store.command === undefined) {
      addShipIssue(
        ctx,
        'a `command` data store needs a `command` section',
        {
          code: SpecProblemCode.missingKey,
          expected: '`command: { backup: …, restore: … }`',
          hint: 'add `command:` with `backup` and `restore` shell commands',
        },
        ['command'],
      );
    }
    for (const [index, check] of (store.integrity?.checks ?? []).entries()) {
      const sqlKind = (SQL_DATASTORE_KINDS as readonly string[]).includes(store.kind);
      const wrong =
        check.sql !== undefined && !sqlKind
          ? `an \`sql\` check cannot run against a \`${store.kind}\` data store`
          : check.key !== undefined && store.kind !== 'redis'
            ? `a \`key\` check runs against redis only, not \`${store.kind}\``
            : undefined;
      if (wrong === undefined) continue;
      addShipIssue(
        ctx,
        wrong,
        {
          code: SpecProblemCode.badValue,
          expected: sqlKind
            ? '`sql:` checks'
            : store.kind === 'redis'
              ? '`key:` checks'
              : 'no checks',
          hint: 'SQL checks suit postgres, mariadb, mysql and sqlite; key checks suit redis',
        },
        ['integrity', 'checks', index],
      );
    }
    if (store.kind !== 'command' && store.command !== undefined) {
      addShipIssue(
        ctx,
        `a \`command\` section is only allowed with \`kind: command\`, not \`kind: ${store.kind}\``,
        {
          code: SpecProblemCode.badValue,
          expected: 'no `command` section for this kind',
          hint: 'remove the `command` section, or set `kind: command`',
        },
        ['command'],
      );
    }
  })
  .meta({ description: 'A data store to back up, restore and drill.' });

const httpCheckSchema = z
  .strictObject({
    name: nameField('name').meta({ description: 'Name of the check, shown in reports.' }),
    request: z
      .string()
      .regex(/^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) \/\S*$/)
      .meta({
        description: 'Method and path, e.g. `GET /orders`. Sent to the service on loopback.',
        examples: ['GET /orders', 'POST /orders'],
      }),
    body: z.string().optional().meta({ description: 'Request body (sent as given).' }),
    headers: z
      .record(z.string(), z.string())
      .optional()
      .meta({ description: 'Request headers; values may be `${env:…}`/`${file:…}` references.' }),
    status: expecting(
      z.number().int().min(100).max(599).default(200).meta({ description: 'Expected status.' }),
      'an HTTP status code',
    ),
    body_contains: z
      .string()
      .optional()
      .meta({ description: 'The response body must contain this text.' }),
    json: z
      .strictObject({
        path: z.string().min(1).meta({
          description: 'A path into the JSON response: `orders[0].customer`, `count`, `$.a.b`.',
        }),
        equals: z.json().meta({ description: 'The value found there must equal this.' }),
      })
      .optional()
      .meta({ description: 'A value in the JSON response body.' }),
    timeout: durationField('How long the request may take.').prefault('10s'),
  })
  .meta({ description: 'An HTTP check against the service started on the restored data.' });

const drillServiceSchema = z
  .strictObject({
    command: z
      .string()
      .min(1)
      .meta({
        description:
          'Shell command that starts the service. Its environment gets `env` below; `${drill:<datastore>}` is the restored copy’s connection and `${drill:port}` a free port.',
        examples: ['node service/server.mjs'],
      }),
    cwd: z
      .string()
      .optional()
      .meta({ description: 'Working directory, relative to the spec (default: the spec’s).' }),
    env: z.record(z.string(), z.string()).default({}).meta({
      description:
        'Environment of the service. Values may use `${drill:<datastore>}`, `${drill:port}`, `${env:…}` and `${file:…}`.',
    }),
    health: z
      .string()
      .regex(/^\/\S*$/)
      .optional()
      .meta({ description: 'Path that answers 2xx once the service is ready (e.g. `/readyz`).' }),
    start_timeout: durationField('How long the service may take to become healthy.').prefault(
      '60s',
    ),
    stop_timeout: durationField(
      'Grace period after SIGTERM before the service is killed.',
    ).prefault('10s'),
    checks: expecting(
      z.array(httpCheckSchema).default([]).meta({ description: 'HTTP smoke checks.' }),
      'a list of HTTP checks',
    ),
  })
  .meta({ description: 'The service, started on the restored data for a smoke test.' });

const drillSchema = z
  .strictObject({
    environment: z.string().optional().meta({
      description:
        'Environment whose backups are drilled (default: `production`, or the only environment with connections).',
    }),
    datastores: stringList(
      'Data stores to restore (default: every one with a connection in the environment).',
    ).optional(),
    targets: z.record(z.string(), z.string()).default({}).meta({
      description:
        'DR targets by data store: restore there instead of into a throwaway sandbox. Secrets by reference. A target that is a production data store is refused.',
    }),
    objectives: z
      .strictObject({
        rto: durationField(
          'Longest acceptable time from disaster declared to service verified.',
        ).optional(),
        rpo: durationField(
          'Most data (as time) that may be lost, over all data stores.',
        ).optional(),
      })
      .optional()
      .meta({
        description:
          'Service-wide objectives. Default RTO: the smallest data store `objectives.rto`.',
      }),
    service: drillServiceSchema.optional(),
    schedule: scheduleSchema.optional(),
    valid_for: durationField('How long a passed drill counts as current evidence.').prefault('30d'),
  })
  .meta({ description: 'Disaster-recovery drills: what to restore, verify and measure.' });

const iacSchema = z
  .strictObject({
    terraform: stringList('Terraform folders.').optional(),
    kubernetes: stringList('Folders or files of Kubernetes manifests.').optional(),
    dockerfiles: stringList('Dockerfiles.').optional(),
    workflows: stringList('CI workflow files or folders (.github/workflows).').optional(),
    prometheus: stringList('Prometheus configuration and rule files.').optional(),
    alertmanager: stringList('Alertmanager configuration files.').optional(),
  })
  .meta({ description: 'Infrastructure-as-code paths, relative to the spec.' });

const ledgerSchema = z
  .strictObject({
    signing_key: secretRefField('Ed25519 private key (PEM) that signs ledger checkpoints.'),
    public_key: z.string().min(1).meta({
      description:
        'The matching public key: a PEM file path relative to the spec, or the PEM text.',
    }),
    checkpoint_every: expecting(
      z
        .number()
        .int()
        .min(1)
        .default(1)
        .meta({ description: 'Sign a checkpoint every N records.' }),
      'a whole number >= 1',
    ),
    checkpoint_log: z
      .string()
      .min(1)
      .default('.shipshape/ledger-checkpoints.jsonl')
      .meta({ description: 'File signed checkpoints are also appended to, relative to the spec.' }),
  })
  .meta({ description: 'Evidence ledger signing.' });

const webhookChannelSchema = z
  .strictObject({
    kind: expecting(
      z.enum(CHANNEL_KINDS).meta({ description: 'What delivers the notifications.' }),
      `one of ${listNames(CHANNEL_KINDS)}`,
    ),
    url: expecting(
      z
        .string()
        .min(1)
        .meta({
          description:
            'Where notifications are POSTed: https, or plain http to a loopback host. May embed `${env:…}`/`${file:…}` (a token in the path).',
          examples: ['https://hooks.example.com/shipshape'],
        }),
      WEBHOOK_URL_EXPECTED,
    ),
    secret: secretRefField('Key the HMAC-SHA-256 signature of every notification is made with.'),
    timeout: durationField('How long one delivery attempt may take.').prefault('10s'),
    retries: expecting(
      z.number().int().min(0).max(20).default(5).meta({
        description: 'Retries after a failed attempt (network error, timeout, 408, 429, 5xx).',
      }),
      'a whole number from 0 to 20',
    ),
    events: expecting(
      z
        .array(expecting(z.enum(NOTIFICATION_TYPES), `one of ${listNames(NOTIFICATION_TYPES, 20)}`))
        .optional()
        .meta({
          description: 'Only these notification types (default: all). `test` always passes.',
        }),
      `a list of notification types: ${listNames(NOTIFICATION_TYPES, 20)}`,
    ),
  })
  .superRefine((channel, ctx) => {
    // A URL with references is checked once they are resolved, when notifying.
    const problem = channel.url.includes('${') ? undefined : webhookUrlProblem(channel.url);
    if (problem !== undefined) {
      addShipIssue(
        ctx,
        problem.message,
        {
          code: SpecProblemCode.badValue,
          expected: WEBHOOK_URL_EXPECTED,
          ...(problem.hint === undefined ? {} : { hint: problem.hint }),
        },
        ['url'],
      );
    }
    if (channel.timeout === 0) {
      addShipIssue(
        ctx,
        'a timeout of 0 would abort every attempt at once',
        { code: SpecProblemCode.badValue, expected: 'a duration above zero', hint: 'e.g. `10s`' },
        ['timeout'],
      );
    }
  })
  .meta({ description: 'A notification channel: a signed JSON webhook.' });

const notificationsSchema = z
  .strictObject({
    channels: expecting(
      z.record(nameField('name'), webhookChannelSchema).default({}).meta({
        description: 'Notification channels by name.',
      }),
      'a map from channel name to its settings',
    ),
  })
  .meta({ description: 'Where Shipshape sends notifications (approvals, failed gates).' });

/** The whole `shipshape.yaml`, version 1. */
export const specSchema = z
  .strictObject({
    version: expecting(
      z.literal(SUPPORTED_SPEC_VERSIONS).meta({ description: 'Spec format version.' }),
      '`version: 1`',
    ),
    service: serviceSchema,
    people: expecting(
      z.record(nameField('person'), personSchema).default({}).meta({
        description: 'People who act in Shipshape, by id.',
      }),
      'a map from person id to a person',
    ),
    roles: expecting(
      z
        .record(nameField('role'), z.array(z.string()))
        .default({})
        .meta({
          description: `Role → ids of the people holding it. Built in: ${BUILTIN_ROLES.join(', ')}; others may be added.`,
        }),
      'a map from role name to a list of person ids',
    ),
    environments: expecting(
      z.record(nameField('name'), environmentSchema).default({}).meta({
        description: 'Environments by name.',
      }),
      'a map from environment name to its settings',
    ),
    repositories: expecting(
      z.record(nameField('name'), repositorySchema).default({}).meta({
        description: 'Backup repositories by name.',
      }),
      'a map from repository name to its settings',
    ),
    datastores: expecting(
      z.record(nameField('name'), datastoreSchema).default({}).meta({
        description: 'Data stores by name.',
      }),
      'a map from data store name to its settings',
    ),
    iac: iacSchema.optional(),
    alerting: reserved('Alerting').optional(),
    ledger: ledgerSchema.optional(),
    notifications: notificationsSchema.optional(),
    drill: drillSchema.optional(),
  })
  .meta({ description: 'Shipshape stack spec.' });

/** A parsed, validated spec. Durations are milliseconds and sizes bytes. */
export type Spec = z.output<typeof specSchema>;
export type Person = Spec['people'][string];
export type Environment = Spec['environments'][string];
export type Repository = Spec['repositories'][string];
export type Datastore = Spec['datastores'][string];
export type Ledger = NonNullable<Spec['ledger']>;
export type Notifications = NonNullable<Spec['notifications']>;
export type ChannelConfig = Notifications['channels'][string];
export type IntegrityCheck = NonNullable<Datastore['integrity']>['checks'][number];
export type DrillSpec = NonNullable<Spec['drill']>;
export type DrillService = NonNullable<DrillSpec['service']>;
export type HttpCheck = DrillService['checks'][number];
