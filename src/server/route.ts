import type { Context } from 'hono';
import type { z } from 'zod';
import type { Permission, TokenService } from '../auth/index.js';
import type { Actor } from '../ledger/index.js';
import type { Workspace } from '../workspace/index.js';
import type { ServerLogger } from './logger.js';
import type { ServerMetrics } from './metrics/registry.js';
import type { OpenApiDocument } from './openapi.js';

/** Hono's per-request variables in this app. */
export interface AppEnv {
  Variables: {
    /** The request id: the client's sane `x-request-id`, else a fresh UUID. */
    requestId: string;
    /** The matched route's path pattern (`/v1/ledger/records/:ref`), for logs and metrics. */
    route: string;
    /** The authenticated caller, once the route's auth step ran. */
    actor: Actor | undefined;
    /** The SHIP_* code of the error answered, for the access log. */
    errorCode: string | undefined;
    /** Why a token was refused (never told to the client), for the access log. */
    authFailure: string | undefined;
  };
}
export type AppContext = Context<AppEnv>;

/**
 * Who may call a route: anyone (`public`), any valid token (`authenticated`), or a token whose
 * identity holds the permission (src/auth/permissions.ts).
 */
export type Access = 'public' | 'authenticated' | Permission;

export const HTTP_METHODS = ['GET', 'POST', 'DELETE'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

/** Whether the server is shutting down; readiness answers 503 while it drains. */
export interface Lifecycle {
  draining: boolean;
}

/** What every handler can use. */
export interface ServerServices {
  workspace: Workspace;
  /** The token service of the workspace (authenticates every bearer token). */
  tokens: () => Promise<TokenService>;
  lifecycle: Lifecycle;
  logger: ServerLogger;
  metrics: ServerMetrics;
  /** The OpenAPI document of this app (built once, from the route table). */
  openapi: () => OpenApiDocument;
}

type Parsed<S> = S extends z.ZodType ? z.output<S> : undefined;

/** What a handler receives: parsed, validated input and the caller. */
export interface RouteInput<P, Q, B, A extends Access> {
  params: Parsed<P>;
  query: Parsed<Q>;
  body: Parsed<B>;
  /** The caller; always set unless the route is public. */
  actor: A extends 'public' ? undefined : Actor;
  services: ServerServices;
  c: AppContext;
}

interface RouteCommon<P, Q, B, A extends Access> {
  method: HttpMethod;
  /** Hono path pattern, e.g. `/v1/ledger/records/:ref`. */
  path: string;
  /** Unique, camelCase: the OpenAPI operationId. */
  operationId: string;
  summary: string;
  description?: string;
  tag: 'system' | 'identity' | 'ledger' | 'tokens';
  access: A;
  params?: P;
  query?: Q;
  body?: B;
  /** The route can answer 404 (e.g. an unknown record or token id). */
  canNotFind?: boolean;
  /** The route touches the state store, so it can answer 503 when the store is unreachable. */
  usesStore: boolean;
}

/** A route answering JSON validated by `response.schema`. */
export interface JsonRoute<P, Q, B, A extends Access, R extends z.ZodType> extends RouteCommon<
  P,
  Q,
  B,
  A
> {
  response: { kind: 'json'; status: 200 | 201; schema: R; description: string };
  handle(input: RouteInput<P, Q, B, A>): Promise<z.input<R>> | z.input<R>;
}

/** A route answering something else (Prometheus text, NDJSON); the handler builds the Response. */
export interface RawRoute<P, Q, B, A extends Access> extends RouteCommon<P, Q, B, A> {
  response: { kind: 'raw'; status: 200; contentType: string; description: string };
  handle(input: RouteInput<P, Q, B, A>): Promise<Response> | Response;
}

type Erased = z.ZodType | undefined;

/** A route of any shape, as the route table holds it (generics erased; each entry was checked when declared). */
export type AnyRoute =
  JsonRoute<Erased, Erased, Erased, Access, z.ZodType> | RawRoute<Erased, Erased, Erased, Access>;

/**
 * Declares a route that answers JSON, type-checking its handler against its schemas.
 *
 * @example
 * export const countRecords = jsonRoute({
 *   method: 'GET', path: '/v1/ledger/count', operationId: 'countRecords', tag: 'ledger',
 *   summary: 'Number of records', access: 'ledger.read', usesStore: true,
 *   response: { kind: 'json', status: 200, schema: CountSchema, description: 'the count' },
 *   handle: async ({ services }) => ({ count: await (await services.workspace.ledger()).count() }),
 * });
 */
export function jsonRoute<
  A extends Access,
  R extends z.ZodType,
  P extends Erased = undefined,
  Q extends Erased = undefined,
  B extends Erased = undefined,
>(route: JsonRoute<P, Q, B, A, R>): AnyRoute {
  return route;
}

/** Declares a route whose handler builds the Response itself (text, NDJSON). */
export function rawRoute<
  A extends Access,
  P extends Erased = undefined,
  Q extends Erased = undefined,
  B extends Erased = undefined,
>(route: RawRoute<P, Q, B, A>): AnyRoute {
  return route;
}
