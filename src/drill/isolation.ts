/**
 * Refuses a DR drill whose DR target is a production data store: restoring a snapshot there
 * would overwrite live data. Two layers: the connections compared by name (no connection made),
 * then the DR target's server identity compared with the identities production backups
 * recorded in the ledger (only the DR target is contacted, never a production connection).
 */
import { existsSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

import { ShipError, isShipError } from '../core/index.js';
import {
  backupRecords,
  driverFor,
  parseMariadbConnection,
  parsePgConnection,
  parseRedisConnection,
  type BackupLedgerSource,
  type ServerIdentity,
  type Target,
} from '../datastores/index.js';
import type { LedgerRecord } from '../ledger/index.js';
import { resolveSecretString, type DatastoreKind } from '../spec/index.js';

import { redactConnection, type DrillContext, type PreparedDrill } from './plan.js';

/** Stable codes of isolation refusals. */
export const IsolationErrorCode = {
  /** A DR target is (or contains) a production data store. Exit 2. */
  targetIsProduction: 'SHIP_DRILL_TARGET_IS_PRODUCTION',
  /** Two drilled data stores have the same DR target. Exit 2. */
  targetShared: 'SHIP_DRILL_TARGET_SHARED',
  /** The DR target's identity could not be read (unreachable, refused). Exit 3. */
  targetUnreachable: 'SHIP_DRILL_TARGET_UNREACHABLE',
} as const;

/** Where a connection points, normalised so that different spellings of one place compare equal. */
export type Endpoint =
  /** A server reached over TCP (`host` normalised) or a Unix socket (`socket`, a path). */
  | {
      readonly type: 'server';
      readonly family: 'postgres' | 'mysql' | 'redis';
      readonly host: string;
      readonly port: number;
      /** The database; undefined where the whole server is the unit (redis). */
      readonly database?: string;
    }
  /** A file or directory (sqlite, files): absolute, symbolic links resolved. */
  | { readonly type: 'path'; readonly path: string }
  /** Anything else (`command` stores): the connection string as given. */
  | { readonly type: 'opaque'; readonly value: string };

const LOOPBACK = new Set([
  'localhost',
  'localhost.localdomain',
  '::1',
  '0:0:0:0:0:0:0:1',
  // A client that connects to a wildcard address reaches this machine.
  '0.0.0.0',
  '::',
  // This machine's own name reaches this machine too.
  hostname().toLowerCase(),
]);

/**
 * A host name for comparison: lower case, no brackets, no trailing dot; every loopback spelling
 * (`localhost`, `127.0.0.1`, `127.x.y.z`, `::1`, `[::1]`, `::ffff:127.0.0.1`, `0.0.0.0`, `::` and
 * this machine's own host name) is `localhost`.
 */
export function normalizeHost(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h.endsWith('.') && h.length > 1) h = h.slice(0, -1);
  if (h === '') return 'localhost';
  const v4 = h.startsWith('::ffff:') ? h.slice('::ffff:'.length) : h;
  if (LOOPBACK.has(h) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4)) return 'localhost';
  return h;
}

/** `/var/run/postgresql/` and `/var/run/postgresql` are one socket directory. */
function socketHost(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  return trimmed === '' ? '/' : resolve(trimmed);
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function postgresEndpoint(connection: string): Endpoint {
  const conn = parsePgConnection(connection);
  const url = new URL(conn.urlWithoutPassword);
  // libpq: a `host` parameter overrides the URL's host (key=value sockets arrive that way).
  const rawHost = url.searchParams.get('host') || decode(url.hostname) || 'localhost';
  const port = Number(url.port || url.searchParams.get('port') || 5432);
  return {
    type: 'server',
    family: 'postgres',
    host: rawHost.startsWith('/') ? socketHost(rawHost) : normalizeHost(rawHost),
    port,
    database: conn.database,
  };
}

function mysqlEndpoint(connection: string): Endpoint {
  const conn = parseMariadbConnection(connection);
  const socket = new URL(connection.trim()).searchParams.get('socket');
  return {
    type: 'server',
    family: 'mysql',
    host: socket !== null && socket !== '' ? socketHost(socket) : normalizeHost(conn.host),
    port: socket !== null && socket !== '' ? 0 : conn.port,
    database: conn.database,
  };
}

function redisEndpoint(connection: string): Endpoint {
  const conn = parseRedisConnection(connection);
  // A Redis backup and restore cover the whole server (every database): the db number does
  // not make a target a different place.
  return { type: 'server', family: 'redis', host: normalizeHost(conn.host), port: conn.port };
}

/** `path` absolute with symbolic links resolved, also when it (or its parents) do not exist yet. */
async function canonicalPath(path: string): Promise<string> {
  const absolute = resolve(path);
  const rest: string[] = [];
  let current = absolute;
  for (;;) {
    try {
      return join(await realpath(current), ...rest.reverse());
    } catch {
      const parent = dirname(current);
      if (parent === current) return absolute;
      rest.push(basename(current));
      current = parent;
    }
  }
}

/**
 * A connection of a data store of `kind`, normalised: URLs and DSNs parsed (postgres key=value
 * too), default ports filled in (5432, 3306, 6379), hosts normalised ({@link normalizeHost});
 * paths (sqlite, files) made absolute against `baseDir` with symbolic links resolved.
 * Connects to nothing. Throws `SHIP_DATASTORE_BAD_CONNECTION` for a connection that does not parse.
 *
 * @example
 * await normalizeConnection('postgres', 'postgresql://app@LOCALHOST./orders', '/srv')
 * // { type: 'server', family: 'postgres', host: 'localhost', port: 5432, database: 'orders' }
 */
export async function normalizeConnection(
  kind: DatastoreKind,
  connection: string,
  baseDir: string,
): Promise<Endpoint> {
  switch (kind) {
    case 'postgres':
      return postgresEndpoint(connection);
    case 'mysql':
    case 'mariadb':
      return mysqlEndpoint(connection);
    case 'redis':
      return redisEndpoint(connection);
    case 'sqlite':
    case 'files': {
      let path = connection.trim();
      if (/^file:/i.test(path)) {
        try {
          path = fileURLToPath(path.replace(/\?.*$/, ''));
        } catch {
          path = path.replace(/^file:(\/\/)?/i, '').replace(/\?.*$/, '');
        }
      }
      return {
        type: 'path',
        path: await canonicalPath(isAbsolute(path) ? path : resolve(baseDir, path)),
      };
    }
    case 'command':
      return { type: 'opaque', value: connection.trim() };
  }
}

function contains(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) && !rel.startsWith(sep);
}

function describeServer(e: Extract<Endpoint, { type: 'server' }>): string {
  const where = e.host.startsWith('/') ? `socket ${e.host}` : `${e.host}:${e.port}`;
  return e.database === undefined ? where : `${where}/${e.database}`;
}

/**
 * How `target` is the same place as `production`, or undefined when it is not: `same
 * host:port/database localhost:5432/orders`, `same file /srv/data/shop.db`, `the DR target is
 * inside the production directory /srv/uploads`.
 */
export function sameEndpoint(target: Endpoint, production: Endpoint): string | undefined {
  if (target.type === 'server' && production.type === 'server') {
    if (target.family !== production.family || target.host !== production.host) return undefined;
    if (target.port !== production.port) return undefined;
    if (
      target.database !== undefined &&
      production.database !== undefined &&
      target.database !== production.database
    ) {
      return undefined;
    }
    const what = target.database === undefined ? 'host:port' : 'host:port/database';
    return `same ${what} ${describeServer(target)}`;
  }
  if (target.type === 'path' && production.type === 'path') {
    if (target.path === production.path) return `same path ${target.path}`;
    if (contains(target.path, production.path)) {
      return `the production data ${production.path} is inside the DR target ${target.path}`;
    }
    if (contains(production.path, target.path)) {
      return `the DR target ${target.path} is inside the production data ${production.path}`;
    }
    return undefined;
  }
  if (target.type === 'opaque' && production.type === 'opaque') {
    return target.value === production.value ? 'same connection' : undefined;
  }
  return undefined;
}

/** An identity recorded by a `backup` gate result, with the environment that was backed up. */
export interface RecordedIdentity extends ServerIdentity {
  readonly environment?: string;
}

function stringField(value: unknown, key: string): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const found = (value as Record<string, unknown>)[key];
  return typeof found === 'string' ? found : undefined;
}

function addIdentity(out: Map<string, RecordedIdentity[]>, record: LedgerRecord): void {
  if (record.kind !== 'gate-result' || record.body.gate !== 'backup') return;
  const details = record.body.details ?? {};
  const datastore = stringField(details, 'datastore');
  const kind = stringField(details.identity, 'kind');
  const id = stringField(details.identity, 'id');
  if (datastore === undefined || kind === undefined || id === undefined) return;
  const environment = stringField(details, 'environment');
  const version = stringField(details.identity, 'version');
  const list = out.get(datastore) ?? [];
  if (list.some((i) => i.kind === kind && i.id === id && i.environment === environment)) return;
  list.push({
    kind,
    id,
    location: stringField(details.identity, 'location') ?? datastore,
    ...(version === undefined ? {} : { version }),
    ...(environment === undefined ? {} : { environment }),
  });
  out.set(datastore, list);
}

/**
 * The server identities `backup` gate results recorded, by data store (each distinct identity
 * once, with its environment). Other records are ignored.
 */
export function recordedIdentities(
  records: Iterable<LedgerRecord>,
): Map<string, RecordedIdentity[]> {
  const out = new Map<string, RecordedIdentity[]>();
  for (const record of records) addIdentity(out, record);
  return out;
}

/** {@link recordedIdentities} of `datastores`, read page by page from the evidence ledger. */
export async function readRecordedIdentities(
  source: BackupLedgerSource,
  datastores: Iterable<string>,
): Promise<Map<string, RecordedIdentity[]>> {
  const out = new Map<string, RecordedIdentity[]>();
  for (const datastore of datastores) {
    for await (const record of backupRecords(source, datastore)) addIdentity(out, record);
  }
  return out;
}

/** A production data store connection the DR targets are compared with. */
interface ProductionStore {
  readonly datastore: string;
  readonly environment: string;
  readonly kind: DatastoreKind;
  /** Undefined when its secrets cannot be resolved here (the identity check still applies). */
  readonly endpoint: Endpoint | undefined;
}

/** Environments whose data stores a DR target must not be: the drilled one and `production`. */
function protectedEnvironments(environment: string): string[] {
  return [...new Set([environment, 'production'])];
}

async function productionStores(
  context: DrillContext,
  environment: string,
): Promise<ProductionStore[]> {
  const out: ProductionStore[] = [];
  for (const [name, datastore] of Object.entries(context.spec.datastores)) {
    for (const env of protectedEnvironments(environment)) {
      const raw = datastore.connection[env];
      if (raw === undefined) continue;
      let endpoint: Endpoint | undefined;
      try {
        const connection = resolveSecretString(raw, {
          baseDir: context.baseDir,
          env: context.env,
          field: `datastores.${name}.connection.${env}`,
        });
        endpoint = await normalizeConnection(datastore.kind, connection, context.baseDir);
      } catch (error) {
        // An unresolvable or unparsable production connection cannot be compared by name; the
        // identity recorded by its backups still can.
        if (!isShipError(error)) throw error;
        endpoint = undefined;
      }
      out.push({ datastore: name, environment: env, kind: datastore.kind, endpoint });
    }
  }
  return out;
}

function refuse(store: string, shown: string, match: string, how: string): ShipError {
  return ShipError.usage(
    IsolationErrorCode.targetIsProduction,
    `the DR target of ${store} (${shown}) is the production data store ${match}: ${how}; a drill would overwrite it`,
    {
      details: { datastore: store, target: shown, matches: match, how },
      hint: `point \`drill.targets.${store}\` at a separate DR server, or remove it to restore into a throwaway sandbox`,
    },
  );
}

/** Whether reading the target's identity makes sense: a file target that does not exist is new. */
function hasIdentity(kind: DatastoreKind, target: Target): boolean {
  if (kind !== 'sqlite' && kind !== 'files') return true;
  return existsSync(target.connection);
}

/**
 * Refuses a drill whose DR target is a production data store, with
 * `SHIP_DRILL_TARGET_IS_PRODUCTION` (exit 2) naming the store, the target (redacted), the
 * production store it matches and how. First without connecting: every DR target's connection,
 * normalised, against every data store connection of the drilled environment and of
 * `production` (and two drilled stores may not share one target: `SHIP_DRILL_TARGET_SHARED`).
 * Then each DR target's server identity (read from the target only) against the identities
 * `recordedIdentities` holds for those environments. A target whose identity cannot be read
 * fails with `SHIP_DRILL_TARGET_UNREACHABLE` (exit 3). Sandboxes are not checked: they are ours.
 */
export async function assertIsolated(
  prepared: PreparedDrill,
  context: DrillContext & {
    readonly recordedIdentities: ReadonlyMap<string, readonly ServerIdentity[]>;
  },
): Promise<void> {
  // Messages name a target as the plan shows it (a whole-secret target as its reference).
  const withTargets = prepared.datastores.flatMap((d) =>
    d.target === undefined
      ? []
      : [
          {
            name: d.planned.name,
            kind: d.datastore.kind,
            target: d.target,
            shown:
              d.planned.placement.kind === 'target'
                ? d.planned.placement.target
                : redactConnection(d.target.connection),
          },
        ],
  );
  if (withTargets.length === 0) return;
  const environment = prepared.plan.environment;
  const production = await productionStores(context, environment);
  const seen: { name: string; endpoint: Endpoint }[] = [];
  for (const { name, kind, target, shown } of withTargets) {
    const endpoint = await normalizeConnection(kind, target.connection, context.baseDir);
    for (const store of production) {
      if (store.endpoint === undefined) continue;
      const how = sameEndpoint(endpoint, store.endpoint);
      if (how !== undefined) {
        throw refuse(name, shown, `${store.datastore} (environment ${store.environment})`, how);
      }
    }
    for (const other of seen) {
      const how = sameEndpoint(endpoint, other.endpoint);
      if (how === undefined) continue;
      throw ShipError.usage(
        IsolationErrorCode.targetShared,
        `data stores ${other.name} and ${name} have the same DR target (${shown}): ${how}`,
        {
          details: { datastores: [other.name, name], how },
          hint: `give each data store its own DR target under \`drill.targets\`, or remove one to use a sandbox`,
        },
      );
    }
    seen.push({ name, endpoint });
  }
  const protectedEnvs = protectedEnvironments(environment);
  for (const { name, kind, target, shown } of withTargets) {
    if (!hasIdentity(kind, target)) continue;
    let identity: ServerIdentity;
    try {
      identity = await driverFor(kind).identity(target);
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      throw ShipError.runtime(
        IsolationErrorCode.targetUnreachable,
        `cannot read the identity of the DR target of ${name} (${shown}): ${why}`,
        {
          cause: error,
          details: { datastore: name, target: shown },
          hint: `make sure the DR target is up and reachable, or remove \`drill.targets.${name}\` to use a sandbox`,
        },
      );
    }
    for (const [store, identities] of context.recordedIdentities) {
      for (const recorded of identities) {
        const env = (recorded as RecordedIdentity).environment;
        if (env !== undefined && !protectedEnvs.includes(env)) continue;
        if (recorded.kind !== identity.kind || recorded.id !== identity.id) continue;
        const match = env === undefined ? store : `${store} (environment ${env})`;
        throw refuse(
          name,
          shown,
          match,
          `same ${identity.kind} ${identity.id} as its backups recorded (at ${recorded.location})`,
        );
      }
    }
  }
}
