/**
 * `shipshape serve`: the HTTP API over a workspace (ledger, tokens), health and readiness,
 * Prometheus metrics, OpenAPI, structured logs, TLS and graceful shutdown. See docs/server.md.
 */
export { createApp, DEFAULT_MAX_BODY_BYTES, type AppOptions, type ShipshapeApp } from './app.js';
export {
  HttpError,
  HttpErrorCode,
  ERROR_STATUSES,
  statusOf,
  type ErrorStatus,
} from './http-error.js';
export {
  createServerLogger,
  serializeError,
  type ServerLogger,
  type ServerLoggerOptions,
} from './logger.js';
export { METRIC_NAMES, ServerMetrics, type ServerMetricsOptions } from './metrics/registry.js';
export { LedgerSeries, OUTCOME_VALUE, datastoreOf } from './metrics/ledger-series.js';
export { buildOpenApi, openApiPath, type OpenApiDocument } from './openapi.js';
export { ROUTES } from './routes/index.js';
export type { Access, AnyRoute, HttpMethod, Lifecycle } from './route.js';
export * from './schemas.js';
export {
  DEFAULT_HOST,
  DEFAULT_PORT,
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
  startServer,
  type ListenOptions,
  type RunningServer,
  type ShutdownReport,
} from './listen.js';
