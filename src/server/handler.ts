import type { Handler } from 'hono';
import type { z } from 'zod';
import { requirePermission } from '../auth/index.js';
import type { Problem } from '../core/index.js';
import type { Actor } from '../ledger/index.js';
import { HttpError, HttpErrorCode } from './http-error.js';
import type { AnyRoute, AppContext, AppEnv, ServerServices } from './route.js';

type Part = 'path' | 'query' | 'body';

const PART_CODES = {
  path: 'SHIP_HTTP_BAD_PATH',
  query: HttpErrorCode.badQuery,
  body: HttpErrorCode.badBody,
} as const satisfies Record<Part, string>;

const BEARER = /^Bearer +(\S+) *$/i;

/** Issues of a failed parse as Problems; an `actor` in the body gets its own explanation. */
function problemsOf(error: z.ZodError, part: Part): Problem[] {
  return error.issues.map((issue) => {
    const path = issue.path.map(String).join('.');
    if (part === 'body' && issue.code === 'unrecognized_keys' && issue.keys.includes('actor')) {
      return {
        code: PART_CODES[part],
        message: '`actor` is not accepted: the record’s actor is the identity of the bearer token',
        ...(path === '' ? {} : { path }),
        hint: 'remove `actor` from the body; to act as someone else, use their token',
      };
    }
    return { code: PART_CODES[part], message: issue.message, ...(path === '' ? {} : { path }) };
  });
}

function parsePart<S extends z.ZodType>(
  schema: S,
  value: unknown,
  part: Part,
  route: AnyRoute,
): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const problems = problemsOf(parsed.error, part);
  throw HttpError.badRequest(
    PART_CODES[part],
    `The request ${part} is invalid (${route.method} ${route.path}): ${problems.length} problem(s). ${problems
      .map((p) => `${p.path === undefined ? '' : `${p.path}: `}${p.message}`)
      .join('; ')}.`,
    problems,
  );
}

async function readJson(c: AppContext): Promise<unknown> {
  const type = c.req.header('content-type') ?? '';
  if (!/^application\/([a-z0-9.+-]*\+)?json\s*(;|$)/i.test(type)) {
    throw new HttpError(
      415,
      HttpErrorCode.unsupportedMediaType,
      `The request body must be JSON (Content-Type: application/json), got ${type === '' ? 'no Content-Type' : `"${type}"`}.`,
      { hint: 'send the body as JSON with Content-Type: application/json' },
    );
  }
  const text = await c.req.text();
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw HttpError.badRequest(
      HttpErrorCode.badJson,
      `The request body is not valid JSON: ${(error as Error).message}.`,
    );
  }
}

/**
 * The caller's identity from `Authorization: Bearer <token>`, checked against the route's
 * permission. Nothing in the request other than the token decides who is acting.
 */
async function authenticate(
  c: AppContext,
  route: AnyRoute,
  services: ServerServices,
): Promise<Actor> {
  const header = c.req.header('authorization');
  // A header with another scheme is passed on as is, and refused as a malformed token.
  const token = header === undefined ? undefined : (BEARER.exec(header)?.[1] ?? header);
  const actor = await (await services.tokens()).authenticate(token);
  c.set('actor', actor);
  if (route.access !== 'authenticated' && route.access !== 'public') {
    requirePermission(actor, route.access);
  }
  return actor;
}

/**
 * The Hono handler of a route: authenticate and authorise (before anything else, so an
 * anonymous caller learns nothing about the input rules), parse path, query and body with the
 * route's schemas, run it, and answer with its status. With `validateResponses` (tests), every
 * JSON answer is checked against the documented response schema.
 */
export function routeHandler(
  route: AnyRoute,
  services: ServerServices,
  options: { validateResponses: boolean },
): Handler<AppEnv> {
  return async (c) => {
    c.set('route', route.path);
    const actor = route.access === 'public' ? undefined : await authenticate(c, route, services);
    const input = {
      params: route.params ? parsePart(route.params, c.req.param(), 'path', route) : undefined,
      query: route.query ? parsePart(route.query, c.req.query(), 'query', route) : undefined,
      body: route.body ? parsePart(route.body, await readJson(c), 'body', route) : undefined,
      actor,
      services,
      c,
    };
    if (route.response.kind === 'raw') return route.handle(input);
    const result = await route.handle(input);
    if (options.validateResponses) {
      const checked = route.response.schema.safeParse(result);
      if (!checked.success) {
        throw new Error(
          `${route.method} ${route.path} answered outside its response schema: ${checked.error.message}`,
        );
      }
    }
    return c.json(result as object, route.response.status);
  };
}
