/**
 * Integrity checks of a restored copy (`datastores.<name>.integrity.checks`): an SQL query's one
 * value, or a Redis key's existence, type, size and value, compared with the spec. A check that
 * fails or cannot run is data ({@link CheckResult} with `passed: false`), never an exception.
 */
import { performance } from 'node:perf_hooks';

import { isShipError, redact } from '../core/index.js';
import {
  queryValue,
  redisKeyFacts,
  type RedisKeyFacts,
  type SqlValue,
  type Target,
} from '../datastores/index.js';
import type { DatastoreKind, IntegrityCheck } from '../spec/index.js';

import type { CheckResult } from './types.js';

/** `actual` is cut to this many characters. */
const SHOWN = 200;

function cut(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > SHOWN ? `${flat.slice(0, SHOWN - 1)}…` : flat;
}

const NUMERIC = /^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$/;
const INTEGER = /^\s*[-+]?\d+\s*$/;

/** The value as a number, when it is one or is numeric text (bigint/numeric come as text). */
function numeric(value: SqlValue): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && NUMERIC.test(value)) return Number(value);
  return undefined;
}

const TRUE = new Set(['1', 't', 'true']);
const FALSE = new Set(['0', 'f', 'false']);

/**
 * Does `value` equal the spec's `equals`? Numbers compare numerically (`'42'` from a bigint
 * equals `42`; integers beyond 2^53 compare exactly); `true` equals `true`, `1`, `'1'`, `'t'`,
 * `'true'` (MariaDB and SQLite have no boolean type), `false` likewise; strings compare exactly.
 * NULL equals nothing.
 */
export function sqlValueEquals(value: SqlValue, expected: string | number | boolean): boolean {
  if (value === null) return false;
  if (typeof expected === 'boolean') {
    const text = String(value).trim().toLowerCase();
    return expected ? TRUE.has(text) : FALSE.has(text);
  }
  if (typeof expected === 'number') {
    if (typeof value === 'boolean') return expected === (value ? 1 : 0);
    if (typeof value === 'string' && INTEGER.test(value) && Number.isInteger(expected))
      return BigInt(value.trim()) === BigInt(expected);
    const number = numeric(value);
    return number !== undefined && number === expected;
  }
  return String(value) === expected;
}

/** `= 0`, `>= 1`, `<= 9`, `between 1 and 10`, joined with `, `. */
function describeBounds(check: IntegrityCheck, subject = ''): string[] {
  const prefix = subject === '' ? '' : `${subject} `;
  if (check.min !== undefined && check.max !== undefined)
    return [`${prefix}between ${check.min} and ${check.max}`];
  if (check.min !== undefined) return [`${prefix}>= ${check.min}`];
  if (check.max !== undefined) return [`${prefix}<= ${check.max}`];
  return [];
}

function showExpected(value: string | number | boolean): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/** What an SQL or key check expects, readable: `= 0`, `exists, type hash, size >= 3`. */
export function describeIntegrityExpectation(check: IntegrityCheck): string {
  if (check.key !== undefined) {
    if (check.exists === false) return 'absent';
    const parts = ['exists'];
    if (check.type !== undefined) parts.push(`type ${check.type}`);
    if (check.equals !== undefined) parts.push(`value = ${showExpected(check.equals)}`);
    parts.push(...describeBounds(check, 'size'));
    return parts.join(', ');
  }
  const parts = check.equals === undefined ? [] : [`= ${showExpected(check.equals)}`];
  parts.push(...describeBounds(check));
  return parts.join(', ');
}

/** A value as shown in `actual`: numbers (and numeric text) bare, other text quoted, `NULL`. */
function showValue(value: SqlValue): string {
  if (value === null) return 'NULL';
  if (typeof value === 'string') return NUMERIC.test(value) ? value.trim() : JSON.stringify(value);
  return String(value);
}

/** Does `value` lie within `min`/`max`? */
function withinBounds(value: number, check: IntegrityCheck): boolean {
  return (
    (check.min === undefined || value >= check.min) &&
    (check.max === undefined || value <= check.max)
  );
}

function sqlVerdict(check: IntegrityCheck, value: SqlValue): { passed: boolean; actual: string } {
  const shown = showValue(value);
  if (check.equals !== undefined && !sqlValueEquals(value, check.equals))
    return { passed: false, actual: shown };
  if (check.min !== undefined || check.max !== undefined) {
    const number = value === null ? undefined : numeric(value);
    if (number === undefined) return { passed: false, actual: `${shown} (not a number)` };
    if (!withinBounds(number, check)) return { passed: false, actual: shown };
  }
  return { passed: true, actual: shown };
}

function describeKey(facts: RedisKeyFacts, withValue: boolean): string {
  if (!facts.exists) return 'absent';
  const parts = ['exists', `type ${facts.type ?? 'unknown'}`];
  if (withValue && facts.type === 'string') {
    parts.push(
      facts.value === null ? 'value longer than 64 KiB' : `value ${JSON.stringify(facts.value)}`,
    );
  }
  if (facts.size !== null) parts.push(`size ${facts.size}`);
  return parts.join(', ');
}

/**
 * Redis: `exists` (default true) then `type`, then `equals` against the string value (numbers
 * compare numerically, as for SQL; only strings up to 64 KiB have a value), then `min`/`max`
 * against the size: STRLEN for a string (its length, not its numeric value), LLEN, SCARD, ZCARD,
 * HLEN or XLEN otherwise. `exists: false` passes when the key is absent, whatever else is set.
 */
function keyVerdict(
  check: IntegrityCheck,
  facts: RedisKeyFacts,
): { passed: boolean; actual: string } {
  const actual = describeKey(facts, check.equals !== undefined);
  if (check.exists === false) return { passed: !facts.exists, actual };
  const passed =
    facts.exists &&
    (check.type === undefined || facts.type === check.type) &&
    (check.equals === undefined ||
      (facts.value !== null && sqlValueEquals(facts.value, check.equals))) &&
    (check.min === undefined && check.max === undefined
      ? true
      : facts.size !== null && withinBounds(facts.size, check));
  return { passed, actual };
}

async function runOne(
  kind: DatastoreKind,
  target: Target,
  check: IntegrityCheck,
): Promise<{ kind: 'sql' | 'key'; passed: boolean; actual: string }> {
  if (check.key !== undefined) {
    if (kind !== 'redis') {
      return {
        kind: 'key',
        passed: false,
        actual: `a \`key\` check needs a redis data store; ${target.name} is ${kind}`,
      };
    }
    return { kind: 'key', ...keyVerdict(check, await redisKeyFacts(target, check.key)) };
  }
  if (check.sql === undefined) throw new Error(`integrity check ${check.name} has no sql or key`);
  return { kind: 'sql', ...sqlVerdict(check, await queryValue(kind, target, check.sql)) };
}

/**
 * Runs `checks` one after another against a restored copy (`target`, of data store kind `kind`)
 * and says for each whether it held. SQL checks run read-only with a time limit (see
 * `queryValue`); Redis checks read one key (see `redisKeyFacts`). A check that cannot run
 * (an SQL error, a result of the wrong shape, an unreachable server, a `key` check on an SQL
 * store) is a failed check whose `actual` is the (redacted) error message. `durationMs` is
 * measured with `performance.now()`.
 *
 * @example
 * await runIntegrityChecks('postgres', target, [
 *   { name: 'no negative totals', sql: 'SELECT count(*) FROM orders WHERE total < 0', equals: 0 },
 * ]); // [{ name: 'no negative totals', kind: 'sql', passed: true, expected: '= 0', actual: '0', … }]
 */
export async function runIntegrityChecks(
  kind: DatastoreKind,
  target: Target,
  checks: readonly IntegrityCheck[],
): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const check of checks) {
    const started = performance.now();
    const checkKind = check.key === undefined ? 'sql' : 'key';
    let outcome: { kind: 'sql' | 'key'; passed: boolean; actual: string };
    try {
      outcome = await runOne(kind, target, check);
    } catch (error) {
      if (!isShipError(error)) throw error;
      outcome = { kind: checkKind, passed: false, actual: error.message };
    }
    results.push({
      name: check.name,
      kind: outcome.kind,
      passed: outcome.passed,
      expected: describeIntegrityExpectation(check),
      actual: cut(redact(outcome.actual)),
      durationMs: Math.round((performance.now() - started) * 10) / 10,
    });
  }
  return results;
}
