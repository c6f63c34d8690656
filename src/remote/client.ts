import { ExitCode, ShipError, type ExitCodeValue, type Problem } from '../core/index.js';

/** Where the server is and who we are to it. */
export interface RemoteTarget {
  /** Base URL of `shipshape serve`, e.g. `https://shipshape.internal:8437`. */
  url: string;
  /** Bearer token (`ssp_…`) from `shipshape users token`. */
  token: string;
}

export interface RequestOptions {
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  /** Expect a streamed body instead of JSON. */
  stream?: boolean;
}

interface ErrorBody {
  ok: false;
  error: {
    code: string;
    message: string;
    exitCode: number;
    retryable?: boolean;
    hint?: string;
    details?: Record<string, unknown>;
    problems?: Problem[];
  };
}

function isErrorBody(value: unknown): value is ErrorBody {
  if (typeof value !== 'object' || value === null) return false;
  const error = (value as { error?: unknown }).error;
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { code?: unknown }).code === 'string' &&
    typeof (error as { message?: unknown }).message === 'string'
  );
}

const KNOWN_EXIT_CODES = new Set<number>(Object.values(ExitCode));

/**
 * Resolves the remote target from flags and the environment: `--server` / `SHIPSHAPE_SERVER` and
 * `SHIPSHAPE_TOKEN`. Returns undefined in local mode (no server named).
 */
export function remoteTarget(
  server: string | undefined,
  env: NodeJS.ProcessEnv,
): RemoteTarget | undefined {
  const url = server ?? (env.SHIPSHAPE_SERVER === '' ? undefined : env.SHIPSHAPE_SERVER);
  if (url === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw ShipError.usage('SHIP_REMOTE_BAD_URL', `--server ${url} is not a URL`, {
      hint: 'pass the base URL of `shipshape serve`, e.g. --server https://shipshape.internal:8437',
    });
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw ShipError.usage('SHIP_REMOTE_BAD_URL', `--server ${url} must be an http(s) URL`, {
      hint: 'use https://… (or http://127.0.0.1:… for a local server)',
    });
  }
  const token = env.SHIPSHAPE_TOKEN;
  if (token === undefined || token === '') {
    throw ShipError.usage(
      'SHIP_REMOTE_NO_TOKEN',
      `remote mode (${parsed.origin}) needs a token in SHIPSHAPE_TOKEN`,
      {
        hint: 'ask an admin for one (`shipshape users token PERSON`) and set SHIPSHAPE_TOKEN from your CI secret store',
      },
    );
  }
  return { url: parsed.href.replace(/\/+$/, ''), token };
}

/**
 * A thin HTTP client for the `shipshape serve` API. A server-side failure is rebuilt as the
 * same `ShipError` (code, message, hint, problems, exit code), so remote mode prints and exits
 * exactly like local mode.
 */
export class RemoteClient {
  readonly target: RemoteTarget;
  readonly #fetch: typeof fetch;

  constructor(target: RemoteTarget, fetchImpl: typeof fetch = fetch) {
    this.target = target;
    this.#fetch = fetchImpl;
  }

  /** The server's origin, for messages (never includes the token). */
  get origin(): string {
    return new URL(this.target.url).origin;
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.raw(method, path, options);
    return (await response.json()) as T;
  }

  /** Sends the request and returns the response once it is known to be a success. */
  async raw(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const url = new URL(`${this.target.url}${path}`);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    let response: Response;
    try {
      response = await this.#fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${this.target.token}`,
          accept: options.stream ? 'application/x-ndjson' : 'application/json',
          ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      });
    } catch (error) {
      const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
      throw ShipError.runtime(
        'SHIP_REMOTE_UNREACHABLE',
        `cannot reach the shipshape server at ${this.origin}: ${(cause as Error).message}`,
        {
          retryable: true,
          hint: 'check --server / SHIPSHAPE_SERVER and that `shipshape serve` is running there',
        },
      );
    }
    if (response.ok) return response;
    throw await this.#errorFrom(response);
  }

  async #errorFrom(response: Response): Promise<ShipError> {
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (isErrorBody(body)) {
      const e = body.error;
      const exitCode = (
        KNOWN_EXIT_CODES.has(e.exitCode) ? e.exitCode : ExitCode.runtime
      ) as ExitCodeValue;
      return new ShipError(e.code, e.message, {
        exitCode,
        retryable: e.retryable ?? false,
        ...(e.hint === undefined ? {} : { hint: e.hint }),
        ...(e.details === undefined ? {} : { details: e.details }),
        ...(e.problems === undefined ? {} : { problems: e.problems }),
      });
    }
    return ShipError.runtime(
      'SHIP_REMOTE_BAD_RESPONSE',
      `the server at ${this.origin} answered ${response.status} ${response.statusText} without a shipshape error body`,
      {
        retryable: response.status >= 500,
        hint: 'check that --server points at `shipshape serve` and not at a proxy error page',
      },
    );
  }
}
