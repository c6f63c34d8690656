import { ShipError } from '../core/index.js';

/**
 * A lone (unpaired) UTF-16 surrogate. With the `u` flag a valid pair is one code point, so
 * only unpaired halves match. I-JSON (RFC 7493), which RFC 8785 requires, forbids them: two
 * different byte strings would otherwise encode "the same" text after replacement.
 */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Serialises a JSON value canonically per RFC 8785 (JSON Canonicalization Scheme): object
 * keys sorted by UTF-16 code units, no whitespace, ECMAScript number formatting, minimal
 * string escaping. Equal values always give identical text, so the text can be hashed and
 * signed.
 *
 * Accepted: `null`, booleans, finite numbers, strings without lone surrogates, arrays and
 * plain objects of those. Object properties whose value is `undefined` are dropped (as
 * `JSON.stringify` does). Anything else (NaN, Infinity, `undefined` in an array, bigint,
 * functions, symbols, Dates, class instances, cycles) throws `SHIP_LEDGER_NOT_JSON`.
 *
 * @example
 * canonicalJson({ b: 1, a: [true, null, 'x'] }) // '{"a":[true,null,"x"],"b":1}'
 */
export function canonicalJson(value: unknown): string {
  const parts: string[] = [];
  write(value, parts, '$', new Set());
  return parts.join('');
}

function write(value: unknown, out: string[], path: string, ancestors: Set<object>): void {
  if (value === null) {
    out.push('null');
    return;
  }
  switch (typeof value) {
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return;
    case 'number':
      out.push(serializeNumber(value, path));
      return;
    case 'string':
      out.push(serializeString(value, path));
      return;
    case 'object':
      break;
    default:
      throw notJson(path, `a ${typeof value}`);
  }
  if (ancestors.has(value)) throw notJson(path, 'a circular reference');
  ancestors.add(value);
  if (Array.isArray(value)) {
    out.push('[');
    value.forEach((item: unknown, index) => {
      if (index > 0) out.push(',');
      // JSON.stringify would silently turn these into null; a hashed record must not change shape.
      if (item === undefined) throw notJson(`${path}[${index}]`, 'undefined inside an array');
      write(item, out, `${path}[${index}]`, ancestors);
    });
    out.push(']');
  } else {
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      throw notJson(path, `an instance of ${value.constructor.name}`);
    }
    const record = value as Record<string, unknown>;
    // Default sort compares UTF-16 code units, which is exactly what RFC 8785 §3.2.3 asks for.
    const keys = Object.keys(record)
      .filter((key) => record[key] !== undefined)
      .sort();
    out.push('{');
    keys.forEach((key, index) => {
      if (index > 0) out.push(',');
      out.push(serializeString(key, `${path} (key)`), ':');
      write(record[key], out, `${path}.${key}`, ancestors);
    });
    out.push('}');
  }
  ancestors.delete(value);
}

/**
 * RFC 8785 §3.2.2.3: numbers are written as ECMAScript's Number.prototype.toString writes them
 * (shortest round-trip form, exponent from 1e21), with -0 written as 0.
 */
function serializeNumber(value: number, path: string): string {
  if (!Number.isFinite(value)) throw notJson(path, `the number ${String(value)}`);
  if (Object.is(value, -0)) return '0';
  return String(value);
}

const SHORT_ESCAPES: Readonly<Record<string, string>> = {
  '"': '\\"',
  '\\': '\\\\',
  '\b': '\\b',
  '\t': '\\t',
  '\n': '\\n',
  '\f': '\\f',
  '\r': '\\r',
};

/**
 * RFC 8785 §3.2.2.2: escape only `"`, `\` and U+0000..U+001F (the five with short forms use
 * them, the rest `\u00xx` in lowercase hex); everything else, including U+2028/U+2029 and
 * non-ASCII, is written as itself.
 */
function serializeString(value: string, path: string): string {
  if (LONE_SURROGATE.test(value)) throw notJson(path, 'a string with an unpaired surrogate');
  // eslint-disable-next-line no-control-regex -- the control range is exactly what must be escaped
  const escaped = value.replace(/["\\\u0000-\u001f]/g, (ch) => {
    const short = SHORT_ESCAPES[ch];
    return short ?? `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
  return `"${escaped}"`;
}

function notJson(path: string, what: string): ShipError {
  return ShipError.usage(
    'SHIP_LEDGER_NOT_JSON',
    `Value at ${path} is ${what}, which has no canonical JSON form.`,
    {
      hint: 'Evidence may hold only null, booleans, finite numbers, well-formed strings, arrays and plain objects.',
      details: { path },
    },
  );
}
