import { ShipError } from '../core/index.js';
import { resolveSecretString } from '../spec/index.js';

/** A `${drill:…}` reference in a service environment value. */
const DRILL_REF = /\$\{drill:([^}]*)\}/g;
/** Stand-in for a drill reference while `${env:…}`/`${file:…}` are resolved. */
const HOLE = (index: number) => `\u0000${index}\u0000`;
// eslint-disable-next-line no-control-regex -- NUL cannot occur in YAML text: a safe stand-in
const HOLE_AT = /\u0000(\d+)\u0000/g;

/** What `${drill:…}` can name: `port`, or a data store of the drill. */
export interface DrillBindings {
  /** The port allocated for the service. */
  readonly port: number;
  /** Connection of each restored copy (URL, DSN or path), by data store name. */
  readonly connections: ReadonlyMap<string, string>;
}

/** The names `${drill:…}` may use in `drill.service.env`, for the plan's early check. */
export function drillRefsIn(env: Readonly<Record<string, string>>): string[] {
  const names = new Set<string>();
  for (const value of Object.values(env)) {
    for (const match of value.matchAll(DRILL_REF)) names.add(match[1] ?? '');
  }
  return [...names];
}

/**
 * Checks every `${drill:…}` in `env` names `port` or one of `datastores`, before anything is
 * restored: a typo should cost seconds, not a whole drill.
 */
export function checkDrillRefs(
  env: Readonly<Record<string, string>>,
  datastores: readonly string[],
): void {
  for (const name of drillRefsIn(env)) {
    if (name === 'port' || datastores.includes(name)) continue;
    throw ShipError.usage(
      'SHIP_DRILL_BAD_REFERENCE',
      `drill.service.env uses \${drill:${name}}, which is neither \`port\` nor a data store of this drill`,
      {
        details: { reference: name, datastores: [...datastores] },
        hint: `use \${drill:port} or one of ${datastores.map((d) => `\${drill:${d}}`).join(', ') || '(no data stores)'}`,
      },
    );
  }
}

/**
 * The service's environment: `${drill:port}` and `${drill:<datastore>}` replaced by the drill's
 * values, `${env:…}`/`${file:…}` resolved as everywhere in the spec.
 */
export function serviceEnvironment(
  env: Readonly<Record<string, string>>,
  bindings: DrillBindings,
  context: { baseDir: string; env: NodeJS.ProcessEnv },
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, raw] of Object.entries(env)) {
    const values: string[] = [];
    const holed = raw.replace(DRILL_REF, (_match, name: string) => {
      const value = name === 'port' ? String(bindings.port) : bindings.connections.get(name);
      if (value === undefined) {
        throw ShipError.usage(
          'SHIP_DRILL_BAD_REFERENCE',
          `drill.service.env.${key} uses \${drill:${name}}, which names no data store of this drill`,
          { hint: 'use ${drill:port} or ${drill:<a data store being drilled>}' },
        );
      }
      values.push(value);
      return HOLE(values.length - 1);
    });
    const resolved = resolveSecretString(holed, {
      baseDir: context.baseDir,
      env: context.env,
      field: `drill.service.env.${key}`,
    });
    out[key] = resolved.replace(HOLE_AT, (_m, index: string) => values[Number(index)] ?? '');
  }
  return out;
}
