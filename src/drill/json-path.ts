/**
 * A small JSON path for HTTP smoke checks: `orders[0].customer`, `$.count`, `$['key.with.dots']`,
 * `[0].id`. Names and array indexes only; no wildcards, filters or negative indexes.
 */
import { ShipError } from '../core/index.js';

/** Stable code of a malformed path (exit 2). */
export const BAD_JSON_PATH = 'SHIP_DRILL_BAD_JSON_PATH';

/** One step of a path: an object key or an array index. */
export type JsonPathSegment =
  | { readonly kind: 'key'; readonly key: string }
  | { readonly kind: 'index'; readonly index: number };

/** The result of {@link jsonPathGet}: the value, or the (normalised) prefix that is missing. */
export type JsonPathResult =
  | { readonly found: true; readonly value: unknown }
  | { readonly found: false; readonly at: string };

const NAME = /^[^.[\]'"\s]+/;

function badPath(path: string, why: string): ShipError {
  return ShipError.usage(BAD_JSON_PATH, `the JSON path ${JSON.stringify(path)} ${why}`, {
    details: { path },
    hint: "write a path like `orders[0].id`, `$.count` or `$['key.with.dots']`",
  });
}

/** Reads a quoted key at `start` (the quote); returns the key and the index after the quote. */
function quotedKey(path: string, start: number): { key: string; end: number } {
  const quote = path[start];
  let key = '';
  for (let i = start + 1; i < path.length; i++) {
    const char = path.charAt(i);
    if (char === '\\') {
      const next = path[i + 1];
      if (next === undefined) break;
      key += next;
      i++;
    } else if (char === quote) {
      return { key, end: i + 1 };
    } else {
      key += char;
    }
  }
  throw badPath(path, `has an unclosed ${quote ?? ''} quote`);
}

/**
 * Parses `path` into segments. A leading `$` stands for the whole document; a leading `.` is
 * allowed (`.count`, as jq writes it).
 *
 * @throws ShipError `SHIP_DRILL_BAD_JSON_PATH` (exit 2) saying where the path is malformed.
 * @example
 * parseJsonPath("$.orders[0]['unit price']");
 * // [{kind:'key',key:'orders'}, {kind:'index',index:0}, {kind:'key',key:'unit price'}]
 */
export function parseJsonPath(path: string): JsonPathSegment[] {
  const segments: JsonPathSegment[] = [];
  let i = 0;
  if (path.startsWith('$')) i = 1;
  else if (path === '') throw badPath(path, 'is empty');
  let first = true;
  while (i < path.length) {
    const char = path[i];
    if (char === '[') {
      const next = path[i + 1];
      if (next === "'" || next === '"') {
        const { key, end } = quotedKey(path, i + 1);
        if (path[end] !== ']') throw badPath(path, `needs \`]\` after the quoted key at ${end}`);
        segments.push({ kind: 'key', key });
        i = end + 1;
      } else {
        const match = /^\[(\d+)\]/.exec(path.slice(i));
        if (match === null) {
          throw badPath(
            path,
            `has a bad index at ${i}: write [0], [1]… or ['name'] (negative indexes and wildcards are not supported)`,
          );
        }
        segments.push({ kind: 'index', index: Number(match[1]) });
        i += match[0].length;
      }
    } else {
      let start = i;
      if (char === '.') start = i + 1;
      else if (!first || path.startsWith('$'))
        throw badPath(path, `has an unexpected ${char ?? ''} at ${i}`);
      const match = NAME.exec(path.slice(start));
      if (match === null) throw badPath(path, `has an empty or malformed name at ${start}`);
      segments.push({ kind: 'key', key: match[0] });
      i = start + match[0].length;
    }
    first = false;
  }
  return segments;
}

/** `segments` written back as a path: `orders[0]['unit price']`. */
export function formatJsonPath(segments: readonly JsonPathSegment[]): string {
  let out = '';
  for (const segment of segments) {
    if (segment.kind === 'index') out += `[${segment.index}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(segment.key))
      out += out === '' ? segment.key : `.${segment.key}`;
    else out += `['${segment.key.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}']`;
  }
  return out === '' ? '$' : out;
}

/**
 * The value at `path` in a parsed JSON document, or where the path stops matching (`at` is the
 * first missing prefix, e.g. `orders[5]` for `orders[5].id` when there are two orders). An
 * index into a non-array or a key into a non-object is missing too.
 *
 * @throws ShipError `SHIP_DRILL_BAD_JSON_PATH` (exit 2) for a malformed path.
 * @example
 * jsonPathGet({ orders: [{ id: 1 }] }, 'orders[0].id'); // { found: true, value: 1 }
 * jsonPathGet({ orders: [] }, 'orders[0].id'); // { found: false, at: 'orders[0]' }
 */
export function jsonPathGet(value: unknown, path: string): JsonPathResult {
  const segments = parseJsonPath(path);
  let current = value;
  for (const [n, segment] of segments.entries()) {
    let next: { value: unknown } | undefined;
    if (segment.kind === 'index') {
      if (Array.isArray(current) && segment.index < current.length)
        next = { value: current[segment.index] as unknown };
    } else if (
      typeof current === 'object' &&
      current !== null &&
      !Array.isArray(current) &&
      Object.hasOwn(current, segment.key)
    ) {
      next = { value: (current as Record<string, unknown>)[segment.key] };
    }
    if (next === undefined) return { found: false, at: formatJsonPath(segments.slice(0, n + 1)) };
    current = next.value;
  }
  return { found: true, value: current };
}

/**
 * Deep equality of JSON values: same types, arrays in order, objects with the same keys in any
 * order. Unlike `isDeepStrictEqual`, `0` equals `-0` (JSON does not tell them apart).
 */
export function jsonEquals(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, i) => jsonEquals(item, b[i]));
  }
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const keys = Object.keys(left);
  if (keys.length !== Object.keys(right).length) return false;
  return keys.every((key) => Object.hasOwn(right, key) && jsonEquals(left[key], right[key]));
}
