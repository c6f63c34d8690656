import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { ExitCode, ShipError, formatDuration, parseDuration } from '../../core/index.js';
import {
  DEFAULT_HOST,
  DEFAULT_PORT,
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
  createApp,
  createServerLogger,
  startServer,
  type Lifecycle,
} from '../../server/index.js';
import { examples, withCommonOptions, withSpecOption, withWorkspace, type Cli } from '../cli.js';
import { out } from '../io.js';

interface ServeOptions {
  json: boolean;
  spec?: string;
  host: string;
  port: string;
  tlsCert?: string;
  tlsKey?: string;
  shutdownTimeout: string;
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d{1,5}$/.test(value) || port > 65_535) {
    throw ShipError.usage('SHIP_CLI_BAD_FLAG', `--port must be 0–65535, got "${value}"`, {
      hint: `pass e.g. --port ${DEFAULT_PORT} (0 picks a free port)`,
    });
  }
  return port;
}

async function readPem(path: string, flag: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw ShipError.usage(
      'SHIP_SERVER_TLS',
      `${flag} ${path} cannot be read: ${(error as Error).message}`,
      { hint: `pass the path of a PEM file with ${flag}` },
    );
  }
}

async function tlsOptions(
  options: ServeOptions,
): Promise<{ cert: Buffer; key: Buffer } | undefined> {
  if (options.tlsCert === undefined && options.tlsKey === undefined) return undefined;
  if (options.tlsCert === undefined || options.tlsKey === undefined) {
    throw ShipError.usage('SHIP_CLI_BAD_FLAG', '--tls-cert and --tls-key go together', {
      hint: 'pass both the certificate and its private key, or neither (then put a TLS-terminating proxy in front)',
    });
  }
  return {
    cert: await readPem(options.tlsCert, '--tls-cert'),
    key: await readPem(options.tlsKey, '--tls-key'),
  };
}

/** Resolves with the first of SIGTERM/SIGINT; `onAgain` is called for each later one. */
function nextSignal(onAgain: () => void): { signal: Promise<NodeJS.Signals>; dispose: () => void } {
  let first: NodeJS.Signals | undefined;
  let resolve: (signal: NodeJS.Signals) => void = () => undefined;
  const signal = new Promise<NodeJS.Signals>((r) => (resolve = r));
  const handler = (received: NodeJS.Signals) => {
    if (first === undefined) {
      first = received;
      resolve(received);
    } else {
      onAgain();
    }
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  return {
    signal,
    dispose: () => {
      process.off('SIGTERM', handler);
      process.off('SIGINT', handler);
    },
  };
}

export function registerServeCommand(program: Command, cli: Cli): void {
  withSpecOption(withCommonOptions(program.command('serve')))
    .description(
      'serve the HTTP API (ledger, evidence, tokens), /healthz, /readyz, /metrics and /openapi.json',
    )
    .option('--host <host>', 'address to listen on (loopback unless you mean it)', DEFAULT_HOST)
    .option('--port <port>', 'port to listen on; 0 picks a free one', String(DEFAULT_PORT))
    .option('--tls-cert <file>', 'PEM certificate (chain): serve HTTPS (with --tls-key)')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .option(
      '--shutdown-timeout <duration>',
      'on SIGTERM/SIGINT, how long in-flight requests may take to finish',
      formatDuration(DEFAULT_SHUTDOWN_TIMEOUT_MS),
    )
    .addHelpText(
      'after',
      examples(
        'shipshape serve',
        'shipshape serve --host 0.0.0.0 --port 8443 --tls-cert tls/cert.pem --tls-key tls/key.pem',
        'shipshape serve --json     # prints {"listening":true,"url":…} once it listens',
      ) +
        '\n\nLogs: JSON lines on stderr. Stop with SIGTERM or Ctrl-C: in-flight requests finish, then it exits 0' +
        '\n(130 when the shutdown timeout cut requests off). See docs/server.md.',
    )
    .action(async (options: ServeOptions) => {
      const port = parsePort(options.port);
      const deadlineMs = parseDuration(options.shutdownTimeout);
      const tls = await tlsOptions(options);
      await withWorkspace(cli, options.spec, async (workspace) => {
        // Open the store now: a server that cannot reach it should fail at start, not per request.
        await workspace.ledger();
        const logger = createServerLogger({
          destination: { write: (line) => cli.io.stderr.write(line) },
        });
        const lifecycle: Lifecycle = { draining: false };
        const app = createApp({ workspace, logger, lifecycle });
        const server = await startServer({
          app,
          lifecycle,
          logger,
          host: options.host,
          port,
          ...(tls === undefined ? {} : { tls }),
        });
        const signals = nextSignal(() => {
          server.force();
        });
        try {
          if (options.json) {
            out(
              cli.io,
              JSON.stringify({
                listening: true,
                url: server.url,
                host: server.host,
                port: server.port,
                tls: server.tls,
              }),
            );
          } else {
            out(cli.io, `listening on ${server.url} (Ctrl-C or SIGTERM to stop)`);
          }
          const signal = await signals.signal;
          logger.info({ signal }, `received ${signal}`);
          const report = await server.shutdown(deadlineMs);
          logger.info({ ...report }, 'stopped');
          if (!options.json) {
            out(
              cli.io,
              report.graceful
                ? `stopped (${signal}): every in-flight request completed`
                : `stopped (${signal}): ${report.forced} connection(s) cut off after ${options.shutdownTimeout}`,
            );
          }
          cli.exitCode = report.graceful ? ExitCode.ok : ExitCode.interrupted;
        } finally {
          signals.dispose();
        }
      });
    });
}
