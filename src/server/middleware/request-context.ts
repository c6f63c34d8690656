import { randomUUID } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import type { ServerLogger } from '../logger.js';
import type { ServerMetrics } from '../metrics/registry.js';
import type { AppEnv, Lifecycle } from '../route.js';

/** The `route` label of a request no route matched (keeps the metric's cardinality bounded). */
export const UNMATCHED_ROUTE = '(unmatched)';

/** A client's request id is kept only when it is short and plain; anything else is replaced. */
const SANE_REQUEST_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** The request id to use: the client's `x-request-id` when sane, else a fresh UUID. */
export function requestIdFrom(header: string | undefined): string {
  return header !== undefined && SANE_REQUEST_ID.test(header) ? header : randomUUID();
}

/**
 * Gives each request an id (echoed in `x-request-id`), and when the answer is ready counts it
 * and writes the one access log line: id, method, route pattern, path, status, duration and
 * who called. Headers are never logged, so neither is the Authorization header.
 */
export function requestContext(deps: {
  logger: ServerLogger;
  metrics: ServerMetrics;
  lifecycle: Lifecycle;
}): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    const requestId = requestIdFrom(c.req.header('x-request-id'));
    c.set('requestId', requestId);
    c.set('route', UNMATCHED_ROUTE);
    await next();
    c.header('x-request-id', requestId);
    // While draining, ask keep-alive clients to reconnect (to another replica).
    if (deps.lifecycle.draining) c.header('connection', 'close');
    const status = c.res.status;
    const route = c.get('route');
    deps.metrics.countRequest(c.req.method, route, status);
    const actor = c.get('actor');
    const errorCode = c.get('errorCode');
    const authFailure = c.get('authFailure');
    deps.logger.info(
      {
        reqId: requestId,
        method: c.req.method,
        route,
        path: c.req.path,
        status,
        durationMs: Math.round((performance.now() - started) * 1000) / 1000,
        ...(actor
          ? {
              actor: {
                kind: actor.kind,
                ...(actor.person === undefined ? {} : { person: actor.person }),
                ...(actor.tokenId === undefined ? {} : { tokenId: actor.tokenId }),
                roles: actor.roles,
              },
            }
          : {}),
        ...(errorCode === undefined ? {} : { errorCode }),
        ...(authFailure === undefined ? {} : { authFailure }),
      },
      'request',
    );
  };
}
