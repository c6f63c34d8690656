import { request } from 'node:http';
import { connect } from 'node:net';

import { badSpec } from './errors.js';

/**
 * How to tell that a started process is ready: an HTTP GET that answers 2xx or 3xx, or a TCP
 * port that accepts a connection, both on the loopback interface.
 */
export type HealthCheck =
  | {
      /** A path (`/readyz`, needs `port`) or a full `http://127.0.0.1:PORT/readyz` URL. */
      http: string;
      port?: number;
    }
  | { tcp: number };

/** A resolved health check. */
export interface HealthProbe {
  /** What is probed, for messages: `http://127.0.0.1:8080/readyz` or `tcp 127.0.0.1:5432`. */
  readonly target: string;
  /** Probes once; resolves `undefined` when healthy, else why not (`ECONNREFUSED`, `HTTP 503`). */
  probe(timeoutMs: number): Promise<string | undefined>;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

function validPort(port: number): boolean {
  return Number.isInteger(port) && port > 0 && port < 65536;
}

function reason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  return code ?? (error instanceof Error ? error.message : String(error));
}

function httpProbe(url: URL): HealthProbe {
  return {
    target: url.href,
    probe: (timeoutMs) =>
      new Promise((resolve) => {
        const req = request(url, { method: 'GET', agent: false, timeout: timeoutMs }, (res) => {
          res.resume();
          const status = res.statusCode ?? 0;
          resolve(status >= 200 && status < 400 ? undefined : `HTTP ${status}`);
        });
        req.once('timeout', () => {
          req.destroy(new Error(`no answer within ${timeoutMs} ms`));
        });
        req.once('error', (error) => {
          resolve(reason(error));
        });
        req.end();
      }),
  };
}

function tcpProbe(port: number): HealthProbe {
  return {
    target: `tcp 127.0.0.1:${port}`,
    probe: (timeoutMs) =>
      new Promise((resolve) => {
        const socket = connect({ host: '127.0.0.1', port, timeout: timeoutMs });
        socket.once('connect', () => {
          socket.destroy();
          resolve(undefined);
        });
        socket.once('timeout', () => {
          socket.destroy(new Error(`no answer within ${timeoutMs} ms`));
        });
        socket.once('error', (error) => {
          resolve(reason(error));
        });
      }),
  };
}

/**
 * Checks a {@link HealthCheck} and returns its probe; a malformed check, a non-loopback URL or a
 * bad port is `SHIP_PROCESS_BAD_SPEC` (exit 2).
 */
export function healthProbe(name: string, check: HealthCheck): HealthProbe {
  if ('tcp' in check) {
    if (!validPort(check.tcp)) {
      throw badSpec(
        name,
        'health.tcp',
        `health.tcp must be a port (1-65535), got ${check.tcp}`,
        'set health.tcp to the port the service listens on',
      );
    }
    return tcpProbe(check.tcp);
  }
  const { http, port } = check;
  if (port !== undefined && !validPort(port)) {
    throw badSpec(
      name,
      'health.port',
      `health.port must be a port (1-65535), got ${port}`,
      'set health.port to the port the service listens on',
    );
  }
  if (http.startsWith('/')) {
    if (port === undefined) {
      throw badSpec(
        name,
        'health.port',
        `health.http is a path (${http}) but no port is given`,
        'give health.port, or a full URL such as http://127.0.0.1:8080/readyz',
      );
    }
    return httpProbe(new URL(http, `http://127.0.0.1:${port}`));
  }
  let url: URL;
  try {
    url = new URL(http);
  } catch {
    throw badSpec(
      name,
      'health.http',
      `health.http is neither a path nor a URL: "${http}"`,
      'use a path such as /readyz with health.port, or http://127.0.0.1:8080/readyz',
    );
  }
  if (url.protocol !== 'http:' || !LOOPBACK.has(url.hostname)) {
    throw badSpec(
      name,
      'health.http',
      `health.http must be an http:// URL on 127.0.0.1 or localhost, got ${url.href}`,
      'probe the service on the loopback interface, e.g. http://127.0.0.1:8080/readyz',
    );
  }
  if (port !== undefined) url.port = String(port);
  return httpProbe(url);
}
