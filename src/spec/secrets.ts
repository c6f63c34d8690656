import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { registerSecret, ShipError } from '../core/index.js';

/** The two ways a spec names a secret without containing it. */
export const SECRET_REF_KINDS = ['env', 'file'] as const;
export type SecretRefKind = (typeof SECRET_REF_KINDS)[number];

/** A secret named by a spec value: an environment variable or a file. */
export interface SecretRef {
  kind: SecretRefKind;
  /** The variable name (`env`) or the path as written (`file`, relative to the spec). */
  name: string;
}

/** A `${…}` in a value that is not a valid reference. */
export interface BadSecretRef {
  /** The offending text, e.g. `${ENV:X}`. */
  text: string;
  reason: string;
}

interface ScannedRef extends SecretRef {
  start: number;
  end: number;
}

/** What a reference looks like, for error messages. */
export const SECRET_REF_EXPECTED = '`${env:NAME}` or `${file:path}`';

const REF_AT = /\$\{(env|file):([^}]*)\}/y;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Every `${…}` in `value`, split into valid references and malformed ones. */
export function scanSecretRefs(value: string): { refs: ScannedRef[]; bad: BadSecretRef[] } {
  const refs: ScannedRef[] = [];
  const bad: BadSecretRef[] = [];
  let from = 0;
  for (let start = value.indexOf('${', from); start !== -1; start = value.indexOf('${', from)) {
    REF_AT.lastIndex = start;
    const match = REF_AT.exec(value);
    if (!match) {
      const close = value.indexOf('}', start);
      const text = close === -1 ? value.slice(start, start + 40) : value.slice(start, close + 1);
      bad.push({ text, reason: explainBadRef(text) });
      from = close === -1 ? value.length : close + 1;
      continue;
    }
    const kind = match[1] as SecretRefKind;
    const name = match[2] ?? '';
    const text = match[0];
    if (kind === 'env' && !ENV_NAME.test(name)) {
      bad.push({
        text,
        reason:
          'an environment variable name is letters, digits and `_`, not starting with a digit',
      });
    } else if (kind === 'file' && (name.trim() === '' || name.trim() !== name)) {
      bad.push({ text, reason: 'a file reference needs a path without surrounding spaces' });
    } else {
      refs.push({ kind, name, start, end: REF_AT.lastIndex });
    }
    from = REF_AT.lastIndex;
  }
  return { refs, bad };
}

function explainBadRef(text: string): string {
  if (!text.endsWith('}')) return 'it is not closed with `}`';
  const lower = text.toLowerCase();
  if (lower.startsWith('${env:') || lower.startsWith('${file:')) return 'the kind is lower-case';
  if (/^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/.test(text)) {
    return `say which kind of reference it is: \`\${env:${text.slice(2, -1)}}\``;
  }
  return 'only `env:` and `file:` references exist';
}

/** True when `value` is exactly one secret reference and nothing else. */
export function isSingleSecretRef(value: string): boolean {
  const { refs, bad } = scanSecretRefs(value);
  return (
    bad.length === 0 && refs.length === 1 && refs[0]?.start === 0 && refs[0].end === value.length
  );
}

/**
 * Every valid secret reference inside `value` (a string, or any structure of strings), in
 * order of appearance, each once. Use it to list what a spec needs before running.
 *
 * @example findSecretRefs('postgres://app:${env:PG_PASSWORD}@db/app') // [{ kind: 'env', name: 'PG_PASSWORD' }]
 */
export function findSecretRefs(value: unknown): SecretRef[] {
  const out: SecretRef[] = [];
  const seen = new Set<string>();
  const stack: unknown[] = [value];
  const visited = new WeakSet<object>();
  while (stack.length > 0) {
    const item = stack.pop();
    if (typeof item === 'string') {
      for (const { kind, name } of scanSecretRefs(item).refs) {
        const key = `${kind}:${name}`;
        if (!seen.has(key)) {
          seen.add(key);
          out.push({ kind, name });
        }
      }
    } else if (item !== null && typeof item === 'object' && !visited.has(item)) {
      visited.add(item);
      // Reversed so that the stack pops children in document order.
      stack.push(...Object.values(item as Record<string, unknown>).reverse());
    }
  }
  return out;
}

/** Where to resolve references from. */
export interface SecretContext {
  /** Directory `${file:…}` paths are relative to: the spec's directory. */
  baseDir: string;
  /** Environment to read `${env:…}` from. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** The spec field the value came from, named in errors, e.g. `datastores.orders.connection.production`. */
  field?: string;
}

/**
 * Replaces every `${env:NAME}` and `${file:path}` in `value` with the secret it names. File
 * contents lose one trailing newline. Every resolved secret is registered for redaction
 * before it is returned, so it cannot leak into logs, evidence or error messages.
 *
 * References are resolved only here, at use time: a spec loads and checks without any secret
 * being present.
 *
 * @throws ShipError `SHIP_SECRET_UNSET` (exit 2) naming the variable or file (and the field)
 *   when it is unset or missing; `SHIP_SECRET_UNREADABLE` when a file exists but cannot be
 *   read; `SHIP_SPEC_BAD_SECRET_REF` for a malformed reference.
 */
export function resolveSecretString(value: string, ctx: SecretContext): string {
  const { refs, bad } = scanSecretRefs(value);
  const where = ctx.field === undefined ? '' : ` (referenced by \`${ctx.field}\`)`;
  const firstBad = bad[0];
  if (firstBad) {
    throw ShipError.usage(
      'SHIP_SPEC_BAD_SECRET_REF',
      `\`${firstBad.text}\` is not a secret reference${where}: ${firstBad.reason}`,
      { hint: `write a reference: ${SECRET_REF_EXPECTED}`, details: { field: ctx.field } },
    );
  }
  let out = '';
  let at = 0;
  for (const ref of refs) {
    out += value.slice(at, ref.start) + resolveOne(ref, ctx, where);
    at = ref.end;
  }
  return out + value.slice(at);
}

function resolveOne(ref: SecretRef, ctx: SecretContext, where: string): string {
  let secret: string;
  if (ref.kind === 'env') {
    const found = (ctx.env ?? process.env)[ref.name];
    if (found === undefined) {
      throw ShipError.usage(
        'SHIP_SECRET_UNSET',
        `environment variable ${ref.name} is not set${where}`,
        {
          hint: `set ${ref.name} in the environment of this command, or change the reference in the spec`,
          details: { kind: 'env', name: ref.name, field: ctx.field },
        },
      );
    }
    secret = found;
  } else {
    const path = isAbsolute(ref.name) ? ref.name : resolve(ctx.baseDir, ref.name);
    secret = readSecretFile(path, ref.name, ctx.field, where).replace(/\r?\n$/, '');
  }
  registerSecret(secret);
  return secret;
}

function readSecretFile(path: string, name: string, field: string | undefined, where: string) {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const details = { kind: 'file', name, path, field };
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw ShipError.usage('SHIP_SECRET_UNSET', `secret file ${path} does not exist${where}`, {
        hint: `create ${path} (readable only by you: chmod 600), or change the reference in the spec`,
        details,
      });
    }
    throw ShipError.usage(
      'SHIP_SECRET_UNREADABLE',
      `secret file ${path} cannot be read${where}: ${code ?? 'unknown error'}`,
      { hint: 'check that it is a file and that this user may read it', details, cause: error },
    );
  }
}
