/**
 * HTTP smoke checks against the service a drill starts on the restored data: one request each,
 * its status, body text and one JSON value compared with the spec. A failing check is data
 * ({@link CheckResult} with `passed: false`), never an exception.
 */
import { performance } from 'node:perf_hooks';

import { formatDuration, isShipError, redact } from '../core/index.js';
import { resolveSecretString, type HttpCheck } from '../spec/index.js';

import { jsonEquals, jsonPathGet } from './json-path.js';
import type { CheckResult } from './types.js';

/** Where header references (`${env:…}`, `${file:…}`) are resolved from. */
export interface HttpCheckContext {
  /** Directory `${file:…}` paths are relative to: the spec's. */
  readonly baseDir: string;
  readonly env: NodeJS.ProcessEnv;
}

/** `actual` and body excerpts are cut to this many characters. */
const SHOWN = 200;

function cut(text: string, max = SHOWN): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function bodyExcerpt(body: string): string {
  return body === '' ? 'empty body' : `body (first ${SHOWN} chars): ${body.slice(0, SHOWN)}`;
}

/** `status 200, body contains "orders", orders[0].id = 1`. */
export function describeHttpExpectation(check: HttpCheck): string {
  const parts = [`status ${check.status}`];
  if (check.body_contains !== undefined)
    parts.push(`body contains ${JSON.stringify(check.body_contains)}`);
  if (check.json !== undefined)
    parts.push(`${check.json.path} = ${JSON.stringify(check.json.equals)}`);
  return parts.join(', ');
}

/** Why a request got no response, in a few words. */
function requestFailure(error: unknown, timeoutMs: number, url: string): string {
  const name = (error as { name?: unknown } | undefined)?.name;
  if (name === 'TimeoutError' || name === 'AbortError')
    return `no response within ${formatDuration(Math.round(timeoutMs))} (${url})`;
  const cause = (error as { cause?: unknown } | undefined)?.cause;
  const code = (cause as { code?: unknown } | undefined)?.code;
  if (code === 'ECONNREFUSED') return `connection refused (${url})`;
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET')
    return `connection closed by the service (${url})`;
  const message = cause instanceof Error ? cause.message : String(error);
  return `request failed (${url}): ${message}`;
}

/** Compares a response with the check: passed or not, and what was found. */
function compare(
  check: HttpCheck,
  status: number,
  body: string,
): { passed: boolean; actual: string } {
  const fail = (actual: string) => ({ passed: false, actual });
  if (status !== check.status) return fail(`status ${status}, ${bodyExcerpt(body)}`);
  if (check.body_contains !== undefined && !body.includes(check.body_contains))
    return fail(bodyExcerpt(body));
  if (check.json === undefined) return { passed: true, actual: `status ${status}` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return fail(`body is not JSON: ${bodyExcerpt(body)}`);
  }
  const { path, equals } = check.json;
  const found = jsonPathGet(parsed, path);
  if (!found.found)
    return fail(found.at === path ? `${path} not found` : `${path} not found (no ${found.at})`);
  const shown = `${path} = ${JSON.stringify(found.value)}`;
  return jsonEquals(found.value, equals)
    ? { passed: true, actual: `status ${status}, ${shown}` }
    : fail(shown);
}

/**
 * Runs one HTTP check against `baseUrl` (e.g. `http://127.0.0.1:4312`): sends `check.request`
 * with its body and headers (references resolved with `ctx`), redirects not followed, within
 * `check.timeout` ms for the whole exchange, then compares status, `body_contains` and
 * `json.path`/`json.equals` in that order. Never throws: a refused connection, a timeout, an
 * unset header secret or a malformed JSON path is a failed check whose `actual` says so
 * (redacted, at most 200 characters).
 *
 * @example
 * await runHttpCheck('http://127.0.0.1:4312', check, { baseDir, env: process.env });
 * // { name: 'orders', kind: 'http', passed: false, expected: 'status 200', actual: 'status 500, …' }
 */
export async function runHttpCheck(
  baseUrl: string,
  check: HttpCheck,
  ctx: HttpCheckContext,
): Promise<CheckResult> {
  const started = performance.now();
  const expected = describeHttpExpectation(check);
  const done = (passed: boolean, actual: string): CheckResult => ({
    name: check.name,
    kind: 'http',
    passed,
    expected,
    actual: cut(redact(actual)),
    durationMs: Math.round((performance.now() - started) * 10) / 10,
  });
  const space = check.request.indexOf(' ');
  const method = check.request.slice(0, space);
  const path = check.request.slice(space + 1);
  const url = `${baseUrl.replace(/\/+$/, '')}${path}`;
  let headers: Record<string, string>;
  try {
    headers = Object.fromEntries(
      Object.entries(check.headers ?? {}).map(([name, value]) => [
        name,
        resolveSecretString(value, {
          baseDir: ctx.baseDir,
          env: ctx.env,
          field: `drill.service.checks.${check.name}.headers.${name}`,
        }),
      ]),
    );
  } catch (error) {
    if (isShipError(error)) return done(false, error.message);
    throw error;
  }
  let status: number;
  let body: string;
  try {
    const response = await fetch(url, {
      method,
      headers,
      redirect: 'manual',
      signal: AbortSignal.timeout(check.timeout),
      ...(check.body === undefined ? {} : { body: check.body }),
    });
    status = response.status;
    body = await response.text();
  } catch (error) {
    return done(false, requestFailure(error, check.timeout, `${method} ${url}`));
  }
  try {
    const { passed, actual } = compare(check, status, body);
    return done(passed, actual);
  } catch (error) {
    // A malformed `json.path` (the spec check should have caught it).
    if (isShipError(error)) return done(false, error.message);
    throw error;
  }
}

/** Runs `checks` one after another (a service under test is not load-tested). */
export async function runHttpChecks(
  baseUrl: string,
  checks: readonly HttpCheck[],
  ctx: HttpCheckContext,
): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const check of checks) results.push(await runHttpCheck(baseUrl, check, ctx));
  return results;
}
