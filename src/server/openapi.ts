import { z } from 'zod';
import { ActorSchema, LedgerRecordSchema } from '../ledger/index.js';
import type { AnyRoute } from './route.js';
import { ErrorResponseSchema, VerifyReportSchema } from './schemas.js';

type JsonSchema = Record<string, unknown>;

/** An OpenAPI 3.1 document (the parts Shipshape writes). */
// A type alias (not an interface) so it is assignable to a plain JSON object type.
export type OpenApiDocument = {
  openapi: '3.1.0';
  info: {
    title: string;
    version: string;
    description: string;
    license: { name: string; identifier: string };
  };
  jsonSchemaDialect: string;
  servers: { url: string }[];
  security: Record<string, string[]>[];
  tags: { name: string; description: string }[];
  paths: Record<string, Record<string, OpenApiOperation>>;
  components: {
    securitySchemes: Record<string, JsonSchema>;
    schemas: Record<string, JsonSchema>;
    responses: Record<string, JsonSchema>;
  };
};

export interface OpenApiOperation {
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  security: Record<string, string[]>[];
  'x-shipshape-access': string;
  parameters?: JsonSchema[];
  requestBody?: JsonSchema;
  responses: Record<string, JsonSchema>;
}

/** Shared schemas, named in `components.schemas` and referenced wherever they appear. */
const NAMED_SCHEMAS: readonly [string, z.ZodType][] = [
  ['Actor', ActorSchema],
  ['LedgerRecord', LedgerRecordSchema],
  ['VerifyReport', VerifyReportSchema],
  ['ErrorResponse', ErrorResponseSchema],
];

/** Standard error answers, by status: name in `components.responses` and description. */
const ERROR_RESPONSES = {
  400: ['BadRequest', 'The query, path or body is invalid; `error.problems` lists each problem.'],
  401: [
    'Unauthenticated',
    'No token, or the token is invalid, expired or revoked (SHIP_AUTH_UNAUTHENTICATED).',
  ],
  403: ['Forbidden', 'The token’s identity lacks a role this route needs (SHIP_AUTH_FORBIDDEN).'],
  404: ['NotFound', 'No such record or token.'],
  413: ['BodyTooLarge', 'The request body is larger than the server accepts.'],
  415: ['UnsupportedMediaType', 'The request body is not `application/json`.'],
  500: [
    'InternalError',
    'An unexpected failure (SHIP_INTERNAL); the server log has the details under the request id.',
  ],
  503: ['Unavailable', 'The state store is unreachable or busy; retry later (`error.retryable`).'],
} as const;
type ErrorStatusKey = keyof typeof ERROR_RESPONSES;

const BEARER = 'bearerAuth';
const COMPONENT = '#/components/schemas/';

function stripMeta(schema: JsonSchema): JsonSchema {
  const rest = { ...schema };
  delete rest.$schema;
  delete rest.$id;
  return rest;
}

const SHARED = `${COMPONENT}__shared#/$defs/`;

/** Whether a schema is zod's `z.json()`: any JSON value, recursively. */
function isJsonValue(schema: JsonSchema): boolean {
  const anyOf = schema.anyOf;
  if (!Array.isArray(anyOf)) return false;
  const types = anyOf.map((item: unknown) => (item as JsonSchema).type).sort();
  return (
    JSON.stringify(types) ===
    JSON.stringify(['array', 'boolean', 'null', 'number', 'object', 'string'])
  );
}

function rewriteRefs(value: unknown, names: ReadonlyMap<string, string>): unknown {
  if (Array.isArray(value)) return value.map((item) => rewriteRefs(item, names));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => {
      if (key === '$ref' && typeof item === 'string' && item.startsWith(SHARED)) {
        return [key, COMPONENT + (names.get(item.slice(SHARED.length)) ?? item)];
      }
      return [key, rewriteRefs(item, names)];
    }),
  );
}

/**
 * zod puts schemas used recursively (`z.json()`) under `__shared#/$defs/…`, which is not a
 * valid place inside `components.schemas`: move each into a component of its own.
 */
function hoistShared(
  generated: Record<string, JsonSchema>,
  io: 'input' | 'output',
): Record<string, JsonSchema> {
  const { __shared: shared, ...rest } = generated;
  const defs = (shared?.$defs ?? {}) as Record<string, JsonSchema>;
  const names = new Map(
    Object.entries(defs).map(([key, schema]) => [
      key,
      isJsonValue(schema) ? 'JsonValue' : `Shared${capitalized(io)}${capitalized(key)}`,
    ]),
  );
  const out: Record<string, JsonSchema> = {};
  for (const [key, schema] of [...Object.entries(rest), ...Object.entries(defs)]) {
    out[names.get(key) ?? key] = rewriteRefs(stripMeta(schema), names) as JsonSchema;
  }
  return out;
}

/** Hono's `/records/:ref` → OpenAPI's `/records/{ref}`. */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Parameters from a (strict object) schema of the path or the query. */
function parameters(schema: z.ZodType, where: 'path' | 'query'): JsonSchema[] {
  const json = z.toJSONSchema(schema, { io: 'input' }) as {
    properties?: Record<string, JsonSchema>;
    required?: string[];
  };
  return Object.entries(json.properties ?? {}).map(([name, property]) => {
    const { description, ...rest } = property;
    return {
      name,
      in: where,
      required: where === 'path' || (json.required ?? []).includes(name),
      ...(typeof description === 'string' ? { description } : {}),
      schema: rest,
    };
  });
}

/** The error statuses a route can answer, derived from what it declares. */
export function errorStatuses(route: AnyRoute): ErrorStatusKey[] {
  const statuses: ErrorStatusKey[] = [];
  if (route.params || route.query || route.body) statuses.push(400);
  if (route.access !== 'public') statuses.push(401);
  if (route.access !== 'public' && route.access !== 'authenticated') statuses.push(403);
  if (route.canNotFind) statuses.push(404);
  if (route.body) statuses.push(413, 415);
  statuses.push(500);
  if (route.usesStore) statuses.push(503);
  return statuses;
}

/**
 * Builds the OpenAPI 3.1 document of `routes` from the same zod schemas that validate requests
 * (`io: 'input'`: what a client may send) and describe answers (`io: 'output'`).
 *
 * @example buildOpenApi(ROUTES, { version: '0.1.0' }).paths['/v1/whoami']?.get?.operationId // 'whoami'
 */
export function buildOpenApi(
  routes: readonly AnyRoute[],
  options: { version: string },
): OpenApiDocument {
  const outputs = z.registry<{ id: string }>();
  const inputs = z.registry<{ id: string }>();
  const nameOf = new Map<z.ZodType, string>();
  const name = (registry: typeof outputs, schema: z.ZodType, id: string): string => {
    const known = nameOf.get(schema);
    if (known !== undefined) return known;
    registry.add(schema, { id });
    nameOf.set(schema, id);
    return id;
  };
  for (const [id, schema] of NAMED_SCHEMAS) name(outputs, schema, id);

  const paths: OpenApiDocument['paths'] = {};
  for (const route of routes) {
    const op = capitalized(route.operationId);
    const success: JsonSchema =
      route.response.kind === 'json'
        ? {
            description: route.response.description,
            content: {
              'application/json': {
                schema: { $ref: COMPONENT + name(outputs, route.response.schema, `${op}Response`) },
              },
            },
          }
        : {
            description: route.response.description,
            content: { [route.response.contentType]: { schema: { type: 'string' } } },
          };
    const responses: Record<string, JsonSchema> = { [String(route.response.status)]: success };
    for (const status of errorStatuses(route)) {
      responses[String(status)] = { $ref: `#/components/responses/${ERROR_RESPONSES[status][0]}` };
    }
    const params = [
      ...(route.params ? parameters(route.params, 'path') : []),
      ...(route.query ? parameters(route.query, 'query') : []),
    ];
    const operation: OpenApiOperation = {
      operationId: route.operationId,
      summary: route.summary,
      ...(route.description === undefined ? {} : { description: route.description }),
      tags: [route.tag],
      security: route.access === 'public' ? [] : [{ [BEARER]: [] }],
      'x-shipshape-access': route.access,
      ...(params.length > 0 ? { parameters: params } : {}),
      ...(route.body
        ? {
            requestBody: {
              required: true,
              content: {
                'application/json': {
                  schema: { $ref: COMPONENT + name(inputs, route.body, `${op}Request`) },
                },
              },
            },
          }
        : {}),
      responses,
    };
    const path = openApiPath(route.path);
    paths[path] = { ...paths[path], [route.method.toLowerCase()]: operation };
  }

  const uri = (id: string) => COMPONENT + id;
  const schemas: Record<string, JsonSchema> = {};
  for (const [registry, io] of [
    [outputs, 'output'],
    [inputs, 'input'],
  ] as const) {
    const generated = z.toJSONSchema(registry, { io, uri }).schemas;
    Object.assign(schemas, hoistShared(generated, io));
  }

  const errorResponses: Record<string, JsonSchema> = {};
  for (const [, [id, description]] of Object.entries(ERROR_RESPONSES)) {
    errorResponses[id] = {
      description,
      content: { 'application/json': { schema: { $ref: `${COMPONENT}ErrorResponse` } } },
    };
  }

  return {
    openapi: '3.1.0',
    info: {
      title: 'Shipshape API',
      version: options.version,
      description:
        'Read and verify the evidence ledger and append evidence as the token’s identity. ' +
        'Errors are `{ok: false, error: {code, message, exitCode, retryable, hint?, details?, problems?}}`. ' +
        'See docs/server.md.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    servers: [{ url: '/' }],
    security: [{ [BEARER]: [] }],
    tags: [
      { name: 'system', description: 'health, readiness, metrics and this document (no token)' },
      { name: 'identity', description: 'who the token belongs to' },
      { name: 'ledger', description: 'the evidence ledger' },
      { name: 'tokens', description: 'API tokens (admin)' },
    ],
    paths,
    components: {
      securitySchemes: {
        [BEARER]: {
          type: 'http',
          scheme: 'bearer',
          description:
            'A Shipshape token (`ssp_…`) minted with `shipshape users token PERSON`; the caller acts as that person, with the token’s roles.',
        },
      },
      schemas,
      responses: errorResponses,
    },
  };
}
