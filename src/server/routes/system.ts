import { z } from 'zod';
import { redact } from '../../core/index.js';
import { HttpError } from '../http-error.js';
import { jsonRoute, rawRoute } from '../route.js';
import { OkSchema } from '../schemas.js';

/** Liveness: the process answers. Touches nothing else, so a slow database never restarts it. */
export const healthz = jsonRoute({
  method: 'GET',
  path: '/healthz',
  operationId: 'healthz',
  tag: 'system',
  summary: 'Liveness: the server process answers',
  access: 'public',
  usesStore: false,
  response: { kind: 'json', status: 200, schema: OkSchema, description: 'alive' },
  handle: () => ({ ok: true as const }),
});

/**
 * Readiness: the state store answers a query and the server is not shutting down. Any failure
 * is a 503 (the error says why), so a load balancer takes the replica out of rotation.
 */
export const readyz = jsonRoute({
  method: 'GET',
  path: '/readyz',
  operationId: 'readyz',
  tag: 'system',
  summary: 'Readiness: the state store is reachable and the server is not draining',
  access: 'public',
  usesStore: true,
  response: { kind: 'json', status: 200, schema: OkSchema, description: 'ready' },
  handle: async ({ services }) => {
    if (services.lifecycle.draining) {
      throw new HttpError(503, 'SHIP_SERVER_DRAINING', 'The server is shutting down.', {
        retryable: true,
        hint: 'send requests to another replica',
      });
    }
    try {
      await (await services.workspace.ledger()).count();
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new HttpError(
        503,
        'SHIP_SERVER_NOT_READY',
        `The state store is not reachable: ${redact(reason)}`,
        {
          retryable: true,
          hint: 'check the state store (SHIPSHAPE_DATABASE_URL or .shipshape/state.db) and the server log',
          cause: error,
        },
      );
    }
    return { ok: true as const };
  },
});

export const metrics = rawRoute({
  method: 'GET',
  path: '/metrics',
  operationId: 'metrics',
  tag: 'system',
  summary: 'Prometheus metrics: process, HTTP and domain series from the ledger',
  description: 'See docs/server.md for every series. Gate series appear once a gate result exists.',
  access: 'public',
  usesStore: false,
  response: {
    kind: 'raw',
    status: 200,
    contentType: 'text/plain; version=0.0.4; charset=utf-8',
    description: 'Prometheus text exposition format 0.0.4',
  },
  handle: async ({ services }) => {
    const { contentType, text } = await services.metrics.render();
    return new Response(text, { status: 200, headers: { 'content-type': contentType } });
  },
});

export const openapi = jsonRoute({
  method: 'GET',
  path: '/openapi.json',
  operationId: 'openapi',
  tag: 'system',
  summary: 'This API’s OpenAPI 3.1 document',
  access: 'public',
  usesStore: false,
  response: {
    kind: 'json',
    status: 200,
    schema: z.looseObject({ openapi: z.string(), paths: z.record(z.string(), z.unknown()) }),
    description: 'the OpenAPI document, generated from the schemas that validate requests',
  },
  handle: ({ services }) => services.openapi(),
});
