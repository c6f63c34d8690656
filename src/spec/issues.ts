import { z } from 'zod';
import { DURATION_EXPECTED } from '../core/index.js';
import { SpecProblemCode } from './codes.js';
import { expectations, shipIssueParams } from './fields.js';
import { code, dotted, listNames, type PendingProblem } from './pending.js';
import { didYouMean } from '../core/index.js';

type Path = (string | number)[];

/** Strips wrappers that do not change which keys or values a field accepts. */
function layers(schema: z.ZodType | undefined): z.ZodType[] {
  const out: z.ZodType[] = [];
  let current: z.ZodType | undefined = schema;
  while (current !== undefined) {
    out.push(current);
    if (
      current instanceof z.ZodOptional ||
      current instanceof z.ZodDefault ||
      current instanceof z.ZodPrefault ||
      current instanceof z.ZodNullable ||
      current instanceof z.ZodReadonly
    ) {
      current = current.unwrap() as z.ZodType;
    } else if (current instanceof z.ZodPipe) {
      current = current.in as z.ZodType;
    } else {
      current = undefined;
    }
  }
  return out;
}

function child(schema: z.ZodType | undefined, segment: string | number): z.ZodType | undefined {
  for (const layer of layers(schema)) {
    if (layer instanceof z.ZodObject) {
      return (layer.shape as Record<string, z.ZodType>)[String(segment)];
    }
    if (layer instanceof z.ZodRecord) return layer.valueType as z.ZodType;
    if (layer instanceof z.ZodArray) return layer.element as z.ZodType;
  }
  return undefined;
}

/** The schema that validates the value at `path`, if the path exists in the schema. */
export function schemaAt(
  root: z.ZodType,
  path: readonly (string | number)[],
): z.ZodType | undefined {
  let current: z.ZodType | undefined = root;
  for (const segment of path) current = child(current, segment);
  return current;
}

/** The keys an object field allows, or none when the field is not an object. */
export function allowedKeys(root: z.ZodType, path: Path): string[] {
  for (const layer of layers(schemaAt(root, path))) {
    if (layer instanceof z.ZodObject) return Object.keys(layer.shape);
  }
  return [];
}

const TYPE_PHRASES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: '`true` or `false`',
  object: 'a map',
  record: 'a map',
  array: 'a list',
};

const FORMAT_NAMES: Record<string, string> = { url: 'URL', email: 'email address' };

/** What the field at `path` expects, in words. */
function expectedAt(root: z.ZodType, path: Path, fallbackType?: string): string | undefined {
  for (const layer of layers(schemaAt(root, path))) {
    const registered = expectations.get(layer);
    if (registered) return registered.expected;
  }
  return fallbackType === undefined ? undefined : (TYPE_PHRASES[fallbackType] ?? fallbackType);
}

/** How a value found in the YAML is described (never the value itself: it may be a secret). */
function describeValue(value: unknown): string {
  if (value === null) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  switch (typeof value) {
    case 'string':
      return 'a string';
    case 'number':
      return 'a number';
    case 'boolean':
      return `\`${String(value)}\``;
    case 'object':
      return 'a map';
    default:
      return typeof value;
  }
}

/** The raw value at `path`, and whether the last key exists at all. */
function valueAt(data: unknown, path: Path): { exists: boolean; value: unknown } {
  let current = data;
  for (const segment of path) {
    if (current === null || typeof current !== 'object' || !Object.hasOwn(current, segment)) {
      return { exists: false, value: undefined };
    }
    current = (current as Record<string | number, unknown>)[segment];
  }
  return { exists: true, value: current };
}

function wrongTypeHint(value: unknown, expected: string | undefined): { hint?: string } {
  if (value === null) return { hint: 'fill in a value, or remove the key' };
  if (typeof value === 'number' && expected === DURATION_EXPECTED) {
    return { hint: `a duration needs a unit: write e.g. \`${value}m\` or \`${value}s\`` };
  }
  return {};
}

function parentPhrase(path: Path): string {
  return path.length <= 1 ? 'at the top level' : `under ${code(dotted(path.slice(0, -1)))}`;
}

function scalarText(value: unknown): string | undefined {
  return typeof value === 'string' || typeof value === 'number' ? String(value) : undefined;
}

function missingKey(
  root: z.ZodType,
  path: Path,
  issue: z.core.$ZodIssueInvalidType | z.core.$ZodIssueInvalidValue,
): PendingProblem {
  const name = path.at(-1) ?? '';
  const expected = expectedAt(
    root,
    path,
    issue.code === 'invalid_type' ? issue.expected : undefined,
  );
  return {
    code: SpecProblemCode.missingKey,
    path,
    at: 'parent',
    message: `required key ${code(name)} is missing`,
    ...(expected === undefined ? {} : { expected }),
    hint: `add ${code(`${String(name)}:`)} ${parentPhrase(path)}`,
  };
}

/**
 * Turns one zod issue into problems (one per unknown key). `data` is the document as parsed,
 * used to tell a missing key from a wrong type.
 */
export function problemsFromIssue(
  issue: z.core.$ZodIssue,
  root: z.ZodType,
  data: unknown,
): PendingProblem[] {
  const path = issue.path.filter(
    (segment): segment is string | number => typeof segment !== 'symbol',
  );
  if (issue.code === 'invalid_type' || issue.code === 'invalid_value') {
    if (!valueAt(data, path).exists) return [missingKey(root, path, issue)];
  }
  switch (issue.code) {
    case 'unrecognized_keys': {
      const allowed = allowedKeys(root, path);
      return issue.keys.map((key) => {
        const suggestion = didYouMean(key, allowed);
        return {
          code: SpecProblemCode.unknownKey,
          path: [...path, key],
          at: 'key' as const,
          message: `unknown key ${code(key)}`,
          ...(allowed.length > 0 ? { expected: `one of ${listNames(allowed, 20)}` } : {}),
          hint:
            suggestion === undefined
              ? `remove ${code(key)}, or check docs/spec.md for the keys allowed ${parentPhrase([...path, key])}`
              : `did you mean ${code(suggestion)}?`,
        };
      });
    }
    case 'invalid_type': {
      const found = valueAt(data, path);
      const expected = expectedAt(root, path, issue.expected);
      return [
        {
          code: SpecProblemCode.wrongType,
          path,
          message: `got ${describeValue(found.value)}, not ${TYPE_PHRASES[issue.expected] ?? issue.expected}`,
          ...(expected === undefined ? {} : { expected }),
          ...wrongTypeHint(found.value, expected),
        },
      ];
    }
    case 'invalid_value': {
      const value = valueAt(data, path).value;
      const allowed = issue.values.map(String);
      const shown = scalarText(value);
      const sameType = issue.values.some((allowedValue) => typeof allowedValue === typeof value);
      const suggestion = shown === undefined ? undefined : didYouMean(shown, allowed);
      return [
        {
          code: SpecProblemCode.badValue,
          path,
          message:
            shown === undefined || !sameType
              ? `got ${describeValue(value)}, not one of the allowed values`
              : `${code(shown)} is not an allowed value`,
          expected: expectedAt(root, path) ?? `one of ${listNames(allowed, 20)}`,
          ...(suggestion === undefined ? {} : { hint: `did you mean ${code(suggestion)}?` }),
        },
      ];
    }
    case 'too_small':
    case 'too_big': {
      const value = valueAt(data, path).value;
      const limit = issue.code === 'too_small' ? issue.minimum : issue.maximum;
      const what =
        issue.origin === 'array'
          ? `${describeValue(value)} with ${Array.isArray(value) ? value.length : 0} items`
          : issue.origin === 'string'
            ? typeof value === 'string' && value.length === 0
              ? 'an empty string'
              : 'a string of the wrong length'
            : (scalarText(value) ?? describeValue(value));
      const bound = issue.code === 'too_small' ? 'at least' : 'at most';
      return [
        {
          code: SpecProblemCode.badValue,
          path,
          message: `${what} is too ${issue.code === 'too_small' ? 'small' : 'large'}`,
          expected:
            expectedAt(root, path) ??
            `${bound} ${String(limit)}${issue.origin === 'array' ? ' items' : issue.origin === 'string' ? ' characters' : ''}`,
        },
      ];
    }
    case 'invalid_format': {
      const value = valueAt(data, path).value;
      if (issue.format === 'regex') {
        return [
          {
            code: SpecProblemCode.badName,
            path,
            message: `${code(scalarText(value) ?? '')} is not a valid name`,
            expected: issue.message,
          },
        ];
      }
      const format = FORMAT_NAMES[issue.format] ?? issue.format;
      return [
        {
          code: SpecProblemCode.badValue,
          path,
          message: `not a valid ${format}`,
          expected: expectedAt(root, path) ?? `a valid ${format}`,
        },
      ];
    }
    case 'invalid_key': {
      const key = path.at(-1) ?? '';
      const inner = issue.issues[0];
      return [
        {
          code: SpecProblemCode.badName,
          path,
          at: 'key',
          message: `${code(key)} is not a valid name`,
          ...(inner === undefined ? {} : { expected: inner.message }),
        },
      ];
    }
    case 'custom': {
      const ship = shipIssueParams(issue.params);
      return [
        {
          code: ship?.code ?? SpecProblemCode.badValue,
          path,
          ...(ship?.code === SpecProblemCode.missingKey ? { at: 'key' as const } : {}),
          message: issue.message,
          ...(ship?.expected === undefined ? {} : { expected: ship.expected }),
          ...(ship?.hint === undefined ? {} : { hint: ship.hint }),
        },
      ];
    }
    default:
      return [{ code: SpecProblemCode.badValue, path, message: issue.message }];
  }
}
