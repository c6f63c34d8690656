import { once } from 'node:events';
import type { Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import { ShipError } from '../core/index.js';
import type { ShipshapeApp } from './app.js';
import type { ServerLogger } from './logger.js';
import type { Lifecycle } from './route.js';

/** Where `shipshape serve` listens unless told otherwise: loopback only (docs/server.md). */
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 8437;
/** How long in-flight requests may take to finish after SIGTERM. */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 30_000;

export interface ListenOptions {
  app: ShipshapeApp;
  /** Shared with the app: set to draining on shutdown, so /readyz answers 503. */
  lifecycle: Lifecycle;
  logger: ServerLogger;
  /** @default DEFAULT_HOST */
  host?: string;
  /** 0 picks a free port. @default DEFAULT_PORT */
  port?: number;
  /** Certificate and key, PEM: serve HTTPS. */
  tls?: { cert: string | Buffer; key: string | Buffer };
}

export interface ShutdownReport {
  /** Every in-flight request finished before the deadline. */
  graceful: boolean;
  /** Connections still open at the deadline, closed by force. */
  forced: number;
}

export interface RunningServer {
  /** `http://127.0.0.1:8437`, with the actual port when 0 was asked for. */
  url: string;
  host: string;
  port: number;
  tls: boolean;
  /** Requests being answered right now. */
  inFlight(): number;
  /**
   * Stops accepting connections, lets in-flight requests finish (answers carry
   * `Connection: close`), and after `deadlineMs` closes whatever is left. Idempotent: a second
   * call returns the same promise. `force()` cuts the wait short.
   */
  shutdown(deadlineMs?: number): Promise<ShutdownReport>;
  /** Closes every connection now (a second SIGTERM). */
  force(): void;
}

function urlOf(tls: boolean, host: string, port: number): string {
  const shown = host.includes(':') ? `[${host}]` : host;
  return `${tls ? 'https' : 'http'}://${shown}:${port}`;
}

function describeListenError(error: NodeJS.ErrnoException, host: string, port: number): ShipError {
  const where = `${host}:${port}`;
  const reasons: Record<string, string> = {
    EADDRINUSE: `${where} is already in use by another process`,
    EACCES: `this user may not listen on ${where}`,
    EADDRNOTAVAIL: `${host} is not an address of this machine`,
  };
  return ShipError.runtime(
    'SHIP_SERVER_LISTEN',
    `Cannot listen on ${where}: ${reasons[error.code ?? ''] ?? error.message}.`,
    {
      hint: 'pick another --port (or stop the other process), and a --host this machine has',
      details: { host, port, code: error.code },
      cause: error,
    },
  );
}

/**
 * Serves `app` over HTTP, or HTTPS when given a certificate and key, and resolves once the
 * socket listens. Tracks in-flight requests for a graceful shutdown.
 *
 * @throws ShipError SHIP_SERVER_TLS (exit 2) for an unusable certificate or key;
 *   SHIP_SERVER_LISTEN (exit 3) when the address cannot be bound.
 */
export async function startServer(options: ListenOptions): Promise<RunningServer> {
  const host = options.host ?? DEFAULT_HOST;
  const requestedPort = options.port ?? DEFAULT_PORT;
  const tls = options.tls !== undefined;
  let server: HttpServer | HttpsServer;
  try {
    server = (
      options.tls
        ? createAdaptorServer({
            fetch: options.app.fetch,
            createServer: createHttpsServer,
            serverOptions: { cert: options.tls.cert, key: options.tls.key },
          })
        : createAdaptorServer({ fetch: options.app.fetch })
    ) as HttpServer | HttpsServer;
  } catch (error) {
    throw ShipError.usage(
      'SHIP_SERVER_TLS',
      `The TLS certificate or key cannot be used: ${(error as Error).message}.`,
      {
        hint: 'pass a PEM certificate (chain) with --tls-cert and its PEM private key with --tls-key',
        cause: error,
      },
    );
  }

  const sockets = new Set<Socket>();
  // Raw TCP sockets, so that TLS handshakes in progress are counted (and closed) too.
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  let inFlight = 0;
  server.on('request', (_req, res: NodeJS.EventEmitter) => {
    inFlight += 1;
    res.once('close', () => (inFlight -= 1));
  });

  server.listen(requestedPort, host);
  try {
    await Promise.race([
      once(server, 'listening'),
      once(server, 'error').then(([error]) => {
        throw error;
      }),
    ]);
  } catch (error) {
    throw describeListenError(error as NodeJS.ErrnoException, host, requestedPort);
  }
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : requestedPort;
  const url = urlOf(tls, host, port);

  let forceNow: () => void = () => undefined;
  let shutdown: Promise<ShutdownReport> | undefined;
  const stop = (deadlineMs: number): Promise<ShutdownReport> => {
    options.lifecycle.draining = true;
    const closed = new Promise<void>((resolve) =>
      server.close(() => {
        resolve();
      }),
    );
    // Keep-alive connections with no request in progress would hold close() open.
    server.closeIdleConnections();
    options.logger.info(
      { url, inFlight, connections: sockets.size, deadlineMs },
      'shutting down: no new connections; waiting for in-flight requests',
    );
    return new Promise<ShutdownReport>((resolve) => {
      let forced: number | undefined;
      const timer = setTimeout(() => {
        forceNow();
      }, deadlineMs);
      forceNow = () => {
        if (forced !== undefined) return;
        clearTimeout(timer);
        forced = sockets.size;
        server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
        options.logger.warn({ forced }, 'shutdown deadline reached: closed connections by force');
      };
      void closed.then(() => {
        clearTimeout(timer);
        resolve({ graceful: forced === undefined, forced: forced ?? 0 });
      });
    });
  };

  options.logger.info({ url, tls }, 'listening');
  return {
    url,
    host,
    port,
    tls,
    inFlight: () => inFlight,
    shutdown: (deadlineMs = DEFAULT_SHUTDOWN_TIMEOUT_MS) => (shutdown ??= stop(deadlineMs)),
    force: () => {
      forceNow();
    },
  };
}
