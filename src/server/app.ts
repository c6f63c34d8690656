import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { methodNotAllowed } from 'hono/method-not-allowed';
import type { TokenService } from '../auth/index.js';
import { VERSION } from '../core/index.js';
import type { Workspace } from '../workspace/index.js';
import { errorResponse } from './error-handler.js';
import { routeHandler } from './handler.js';
import { HttpError, HttpErrorCode } from './http-error.js';
import { createServerLogger, type ServerLogger } from './logger.js';
import { ServerMetrics } from './metrics/registry.js';
import { requestContext } from './middleware/request-context.js';
import { buildOpenApi, type OpenApiDocument } from './openapi.js';
import type { AnyRoute, AppEnv, Lifecycle, ServerServices } from './route.js';
import { ROUTES } from './routes/index.js';

/** Largest request body accepted. @default 1 MiB — evidence is metadata, not artifacts. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

export interface AppOptions {
  /** The workspace whose ledger and tokens the API serves. */
  workspace: Workspace;
  /** @default a logger writing JSON lines to standard error */
  logger?: ServerLogger;
  /** @default a new registry with process metrics, reading the workspace's ledger */
  metrics?: ServerMetrics;
  /** The token service. @default `workspace.tokens()` */
  tokens?: () => Promise<TokenService>;
  /** Shared with the listener, which sets `draining` on shutdown. @default not draining */
  lifecycle?: Lifecycle;
  /** Check every JSON answer against its documented schema (tests turn this on). @default false */
  validateResponses?: boolean;
  /** @default DEFAULT_MAX_BODY_BYTES */
  maxBodyBytes?: number;
  /** Version shown in /openapi.json. @default the package version */
  version?: string;
}

export type ShipshapeApp = Hono<AppEnv>;

/**
 * Builds the HTTP API (docs/server.md) over a workspace. Every route comes from the route
 * table (`routes/index.ts`); errors of any kind reach the client through one handler, as
 * `{ok: false, error}` with the status the contract gives them. Test it in-process:
 *
 * @example
 * const app = createApp({ workspace, logger: createServerLogger({ destination }) });
 * const res = await app.request('/v1/whoami', { headers: { authorization: `Bearer ${token}` } });
 */
export function createApp(options: AppOptions): ShipshapeApp {
  const { workspace } = options;
  const logger = options.logger ?? createServerLogger();
  const metrics =
    options.metrics ??
    new ServerMetrics({
      ledger: () => workspace.ledger(),
      datastores: () => workspace.spec.datastores,
      onLedgerError: (error) => {
        logger.warn({ err: error }, 'metrics: cannot read the ledger');
      },
    });
  const routes: readonly AnyRoute[] = ROUTES;
  let document: OpenApiDocument | undefined;
  const services: ServerServices = {
    workspace,
    tokens: options.tokens ?? (() => workspace.tokens()),
    logger,
    metrics,
    lifecycle: options.lifecycle ?? { draining: false },
    openapi: () => (document ??= buildOpenApi(routes, { version: options.version ?? VERSION })),
  };
  const maxSize = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const validateResponses = options.validateResponses ?? false;

  const app = new Hono<AppEnv>();
  app.use(requestContext({ logger, metrics, lifecycle: services.lifecycle }));
  app.use(
    methodNotAllowed({
      app,
      onMethodNotAllowed: (c, allowed) => {
        throw new HttpError(
          405,
          HttpErrorCode.methodNotAllowed,
          `${c.req.method} is not allowed on ${c.req.path}; allowed: ${allowed.join(', ')}.`,
          { headers: { Allow: allowed.join(', ') } },
        );
      },
    }),
  );
  for (const route of routes) {
    const handler = routeHandler(route, services, { validateResponses });
    if (route.body) {
      const limit = bodyLimit({
        maxSize,
        onError: () => {
          throw new HttpError(
            413,
            HttpErrorCode.bodyTooLarge,
            `The request body is larger than ${maxSize} bytes.`,
            {
              hint: 'evidence is metadata: put large artifacts elsewhere and record their digests',
            },
          );
        },
      });
      app.on(route.method, route.path, limit, handler);
    } else {
      app.on(route.method, route.path, handler);
    }
  }
  app.notFound((c) =>
    errorResponse(
      new HttpError(404, HttpErrorCode.notFound, `There is no ${c.req.path}.`, {
        hint: 'see /openapi.json for the routes',
      }),
      c,
      logger,
    ),
  );
  app.onError((error, c) => errorResponse(error, c, logger));
  return app;
}
