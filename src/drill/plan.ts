/**
 * `drill plan`: decides what a DR drill restores, from which snapshot, where, and against
 * which objectives, before anything is restored. The plan is a pure description (no secrets);
 * the prepared drill also carries the resolved DR targets the run needs.
 */
import { isAbsolute, resolve } from 'node:path';

import { REDACTED, ShipError, didYouMean, isShipError, redact } from '../core/index.js';
import {
  DatastoreErrorCode,
  fingerprintFromManifest,
  pickSnapshot,
  specDatastore,
  withDatastoreRepository,
  type Target,
} from '../datastores/index.js';
import type { Repository, StoredSnapshot } from '../repo/index.js';
import {
  resolveSecretString,
  type Datastore,
  type DrillService,
  type Spec,
} from '../spec/index.js';

import { newDrillId } from './run-id.js';
import { checkDrillRefs } from './service-env.js';
import type {
  DrillPlan,
  Objectives,
  Placement,
  PlannedDatastore,
  PlannedSnapshot,
} from './types.js';

/** Stable codes of the usage errors a drill plan can stop with (exit 2). */
export const DrillPlanErrorCode = {
  /** Several environments have connections and neither the spec nor `--env` says which. */
  environmentRequired: 'SHIP_DRILL_ENVIRONMENT_REQUIRED',
  /** `--env` names an environment the spec does not know. */
  unknownEnvironment: 'SHIP_DRILL_UNKNOWN_ENVIRONMENT',
  /** No data store has a connection in the drilled environment. */
  nothingToDrill: 'SHIP_DRILL_NOTHING_TO_DRILL',
  /** A `command` data store has no sandbox and no DR target. */
  noSandbox: 'SHIP_DRILL_NO_SANDBOX',
  /** A DR target is empty. */
  badTarget: 'SHIP_DRILL_BAD_TARGET',
} as const;

/** Where a drill resolves the spec's references. */
export interface DrillContext {
  readonly spec: Spec;
  /** The spec's directory: relative paths, `cwd` and `${file:…}` start here. */
  readonly baseDir: string;
  readonly env: NodeJS.ProcessEnv;
}

/** Options of {@link prepareDrill}; each overrides the spec's `drill` section. */
export interface PlanOptions {
  /** Environment whose backups are drilled. @default drill.environment, then see prepareDrill */
  readonly environment?: string;
  /** Simulated disaster time: restore the newest snapshot consistent at or before it. */
  readonly at?: Date;
  /** Data stores to drill. @default drill.datastores, else every one with a connection */
  readonly datastores?: readonly string[];
  /** Leave sandboxes running afterwards. @default false */
  readonly keep?: boolean;
  /** When the drill is declared. @default new Date() */
  readonly now?: Date;
  /** Run id. @default newDrillId(now) */
  readonly id?: string;
}

/** One data store of a prepared drill. */
export interface PreparedDatastore {
  readonly planned: PlannedDatastore;
  /** The spec entry. */
  readonly datastore: Datastore;
  /** The DR target with secrets resolved (never print it; `planned.placement` has the redacted form). */
  readonly target?: Target;
}

/** A drill plan plus what running it needs and the plan must not show. */
export interface PreparedDrill {
  readonly plan: DrillPlan;
  readonly datastores: readonly PreparedDatastore[];
  /** `drill.service`, with `cwd` made absolute. */
  readonly service?: { readonly spec: DrillService; readonly cwd: string };
}

/** Environment names that have at least one data store connection, in spec order. */
function environmentsWithConnections(spec: Spec): string[] {
  const names = new Set<string>();
  for (const datastore of Object.values(spec.datastores)) {
    for (const name of Object.keys(datastore.connection)) names.add(name);
  }
  return [...names];
}

/**
 * The drilled environment: `option` > `drill.environment` > `production` when a data store
 * has a production connection > the only environment with connections.
 */
export function drillEnvironment(spec: Spec, option?: string): string {
  const withConnections = environmentsWithConnections(spec);
  if (option !== undefined) {
    const known = [...new Set([...Object.keys(spec.environments), ...withConnections])];
    if (known.includes(option)) return option;
    const suggestion = didYouMean(option, known);
    throw ShipError.usage(
      DrillPlanErrorCode.unknownEnvironment,
      `the spec defines no environment named ${option}`,
      {
        details: { environment: option, defined: known },
        hint:
          suggestion !== undefined
            ? `did you mean ${suggestion}?`
            : known.length === 0
              ? 'add data store connections for an environment under `datastores.<name>.connection`'
              : `defined: ${known.join(', ')}`,
      },
    );
  }
  const fromSpec = spec.drill?.environment;
  if (fromSpec !== undefined) return fromSpec;
  if (withConnections.includes('production')) return 'production';
  const only = withConnections.length === 1 ? withConnections[0] : undefined;
  if (only !== undefined) return only;
  if (withConnections.length === 0) {
    throw ShipError.usage(
      DrillPlanErrorCode.nothingToDrill,
      'no data store has a connection: there is nothing to drill',
      { hint: 'add a data store under `datastores:` with a connection, and back it up' },
    );
  }
  throw ShipError.usage(
    DrillPlanErrorCode.environmentRequired,
    `data stores have connections in ${withConnections.join(', ')}: say which environment to drill`,
    {
      details: { environments: withConnections },
      hint: `set \`drill.environment\` in the spec, or pass --env ${withConnections[0] ?? ''}`,
    },
  );
}

/**
 * The data stores a drill restores: `option` > `drill.datastores` > every data store with a
 * connection in `environment`, in spec order, duplicates dropped. Each needs a connection in
 * `environment` (its backups are that environment's) and, for `command` stores, a DR target.
 */
export function drillDatastores(
  spec: Spec,
  environment: string,
  option?: readonly string[],
): string[] {
  const chosen = option ?? spec.drill?.datastores;
  const names =
    chosen !== undefined && chosen.length > 0
      ? [...new Set(chosen)]
      : Object.entries(spec.datastores)
          .filter(([, datastore]) => datastore.connection[environment] !== undefined)
          .map(([name]) => name);
  if (names.length === 0) {
    throw ShipError.usage(
      DrillPlanErrorCode.nothingToDrill,
      `no data store has a connection in environment ${environment}: there is nothing to drill`,
      {
        details: { environment },
        hint: `add \`datastores.<name>.connection.${environment}\`, or drill another environment (--env)`,
      },
    );
  }
  const targets = spec.drill?.targets ?? {};
  for (const name of names) {
    const datastore = specDatastore(spec, name);
    if (datastore.connection[environment] === undefined) {
      const environments = Object.keys(datastore.connection);
      throw ShipError.usage(
        'SHIP_DATASTORE_NO_CONNECTION',
        `data store ${name} has no connection for environment ${environment}, so it has no backups of it to drill`,
        {
          details: { datastore: name, environment, environments },
          hint: `add \`datastores.${name}.connection.${environment}\`, or leave ${name} out of the drill (drill.datastores)`,
        },
      );
    }
    if (datastore.kind === 'command' && targets[name] === undefined) {
      throw ShipError.usage(
        DrillPlanErrorCode.noSandbox,
        `data store ${name} is a \`command\` store: a drill cannot start a throwaway sandbox for it`,
        {
          details: { datastore: name },
          hint: `add \`drill.targets.${name}: <connection>\` (a DR target the restore command can write to), or leave ${name} out of the drill`,
        },
      );
    }
  }
  return names;
}

/** A connection for messages: secrets (and any URL password) redacted. */
export function redactConnection(connection: string): string {
  return redact(connection);
}

/**
 * A DR target as plans and reports show it: the connection with secrets redacted or, when the
 * whole connection is a secret (`${env:DR_PG_URL}`), the spec's reference to it instead of a
 * bare `[REDACTED]` that would not say where the drill restored.
 */
function shownTarget(raw: string, connection: string): string {
  const shown = redactConnection(connection);
  return shown === REDACTED ? redactConnection(raw.trim()) : shown;
}

/** The DR target of data store `name` from `drill.targets`, references resolved. */
export function drillTarget(
  name: string,
  datastore: Datastore,
  raw: string,
  context: Pick<DrillContext, 'baseDir' | 'env'>,
  environment: string,
): Target {
  let connection = resolveSecretString(raw, {
    baseDir: context.baseDir,
    env: context.env,
    field: `drill.targets.${name}`,
  }).trim();
  if (connection === '') {
    throw ShipError.usage(DrillPlanErrorCode.badTarget, `drill.targets.${name} is empty`, {
      hint: 'give the DR target: a connection string (postgres, mariadb, redis), a file (sqlite) or a directory (files)',
    });
  }
  if (
    (datastore.kind === 'sqlite' || datastore.kind === 'files') &&
    !/^[a-z]+:/i.test(connection)
  ) {
    connection = isAbsolute(connection) ? connection : resolve(context.baseDir, connection);
  }
  return {
    name,
    connection,
    environment,
    ...(datastore.command === undefined ? {} : { command: datastore.command }),
  };
}

/** What a plan says about a snapshot, from its manifest. */
export function plannedSnapshot(snapshot: StoredSnapshot): PlannedSnapshot {
  const { manifest } = snapshot;
  const point = manifest.consistentPoint;
  const fingerprint = fingerprintFromManifest(manifest.fingerprints);
  return {
    id: snapshot.id,
    time: manifest.time,
    consistentAt: point?.sourceTime ?? null,
    consistentPoint: point === undefined ? null : { kind: point.kind, value: point.value },
    bytes: manifest.sizes.logicalBytes,
    host: manifest.host,
    fingerprint:
      fingerprint === undefined ? null : { mode: fingerprint.mode, digest: fingerprint.digest },
    toolVersions: { ...manifest.toolVersions },
  };
}

/**
 * The snapshot to drill of each data store in `names`: every repository is opened once (its key
 * derived once), repositories in parallel — planning is on the RTO clock.
 */
async function findSnapshots(
  names: readonly string[],
  context: DrillContext,
  environment: string,
  at: Date | undefined,
): Promise<Map<string, StoredSnapshot>> {
  const byRepository = new Map<string, string[]>();
  for (const name of names) {
    const repository = specDatastore(context.spec, name).repository;
    byRepository.set(repository, [...(byRepository.get(repository) ?? []), name]);
  }
  const found = new Map<string, StoredSnapshot>();
  await Promise.all(
    [...byRepository.values()].map(async (stores) => {
      const [first] = stores;
      if (first === undefined) return;
      await withDatastoreRepository(first, context, async (repo) => {
        for (const name of stores) {
          found.set(name, await pickDrillSnapshot(repo, name, environment, at));
        }
      });
    }),
  );
  return found;
}

async function pickDrillSnapshot(
  repo: Repository,
  name: string,
  environment: string,
  at: Date | undefined,
): Promise<StoredSnapshot> {
  try {
    return await pickSnapshot(repo, name, { environment, ...(at === undefined ? {} : { at }) });
  } catch (error) {
    if (
      !isShipError(error) ||
      (error.code !== DatastoreErrorCode.noSnapshot &&
        error.code !== 'SHIP_REPO_SNAPSHOT_NOT_FOUND')
    ) {
      throw error;
    }
    const when = at === undefined ? '' : ` consistent at or before ${at.toISOString()}`;
    throw ShipError.usage(
      DatastoreErrorCode.noSnapshot,
      `data store ${name} has no snapshot of environment ${environment}${when} to drill`,
      {
        cause: error,
        details: {
          datastore: name,
          environment,
          ...(at === undefined ? {} : { at: at.toISOString() }),
        },
        hint:
          `back it up first: \`shipshape backup run ${name} --env ${environment}\`` +
          (at === undefined ? '' : ', or pick a later --at'),
      },
    );
  }
}

function storeObjectives(datastore: Datastore): Objectives {
  const { rto, rpo } = datastore.objectives ?? {};
  return {
    ...(rto === undefined ? {} : { rtoMs: rto }),
    ...(rpo === undefined ? {} : { rpoMs: rpo }),
  };
}

/** Drill-wide objectives: `drill.objectives`, the RTO defaulting to the smallest store RTO. */
function drillObjectives(spec: Spec, stores: readonly PlannedDatastore[]): DrillPlan['objectives'] {
  const own = spec.drill?.objectives ?? {};
  let rto: { rtoMs: number; rtoFrom: string } | undefined =
    own.rto === undefined ? undefined : { rtoMs: own.rto, rtoFrom: 'drill.objectives' };
  if (rto === undefined) {
    for (const store of stores) {
      const ms = store.objectives.rtoMs;
      if (ms !== undefined && (rto === undefined || ms < rto.rtoMs)) {
        rto = { rtoMs: ms, rtoFrom: `datastores.${store.name}.objectives` };
      }
    }
  }
  return {
    ...rto,
    ...(own.rpo === undefined ? {} : { rpoMs: own.rpo, rpoFrom: 'drill.objectives' }),
  };
}

/**
 * Plans a DR drill: picks the environment, the data stores, the snapshot of each (the newest
 * of that environment, or with `at` the newest consistent at or before it), where each is
 * restored (a DR target from `drill.targets`, else a throwaway sandbox), the RPO each snapshot
 * implies and the objectives. Reads the repositories; connects to no data store.
 *
 * @throws ShipError usage (exit 2): unknown environment or data store, a store without a
 *   connection in the environment, a `command` store without a DR target, no snapshot
 *   (`SHIP_DATASTORE_NO_SNAPSHOT`, hinting `shipshape backup run`).
 * @example
 * const prepared = await prepareDrill({ spec, baseDir, env }, { at: new Date('2026-11-22T12:00Z') });
 * console.log(prepared.plan.datastores.map((d) => `${d.name}: ${d.snapshot.id}`));
 */
export async function prepareDrill(
  context: DrillContext,
  options: PlanOptions = {},
): Promise<PreparedDrill> {
  const { spec } = context;
  const now = options.now ?? new Date();
  const disasterAt = options.at ?? now;
  const environment = drillEnvironment(spec, options.environment);
  const names = drillDatastores(spec, environment, options.datastores);
  const targets = spec.drill?.targets ?? {};
  // A `${drill:…}` typo in the service's environment should cost seconds, not a restore.
  const serviceEnv = spec.drill?.service?.env;
  if (serviceEnv !== undefined) checkDrillRefs(serviceEnv, names);
  const snapshots = await findSnapshots(names, context, environment, options.at);
  const datastores: PreparedDatastore[] = [];
  for (const name of names) {
    const datastore = specDatastore(spec, name);
    const rawTarget = targets[name];
    const target =
      rawTarget === undefined
        ? undefined
        : drillTarget(name, datastore, rawTarget, context, environment);
    const stored = snapshots.get(name);
    if (stored === undefined) throw new Error(`no snapshot was picked for ${name}`);
    const snapshot = plannedSnapshot(stored);
    const placement: Placement =
      rawTarget === undefined || target === undefined
        ? { kind: 'sandbox' }
        : { kind: 'target', target: shownTarget(rawTarget, target.connection) };
    const dataTime = Date.parse(snapshot.consistentAt ?? snapshot.time);
    const planned: PlannedDatastore = {
      name,
      kind: datastore.kind,
      repository: datastore.repository,
      snapshot,
      placement,
      checks: (datastore.integrity?.checks ?? []).map((check) => check.name),
      objectives: storeObjectives(datastore),
      rpoMs: disasterAt.getTime() - dataTime,
    };
    datastores.push({ planned, datastore, ...(target === undefined ? {} : { target }) });
  }
  const plannedStores = datastores.map((d) => d.planned);
  const serviceSpec = spec.drill?.service;
  const service =
    serviceSpec === undefined
      ? undefined
      : { spec: serviceSpec, cwd: resolve(context.baseDir, serviceSpec.cwd ?? '.') };
  const plan: DrillPlan = {
    id: options.id ?? newDrillId(now),
    serviceName: spec.service.name,
    environment,
    declaredAt: now.toISOString(),
    disasterAt: disasterAt.toISOString(),
    simulated: options.at !== undefined,
    objectives: drillObjectives(spec, plannedStores),
    datastores: plannedStores,
    service:
      service === undefined
        ? null
        : {
            command: service.spec.command,
            cwd: service.cwd,
            health: service.spec.health ?? null,
            checks: service.spec.checks.map((check) => check.name),
          },
    keep: options.keep ?? false,
  };
  return { plan, datastores, ...(service === undefined ? {} : { service }) };
}
