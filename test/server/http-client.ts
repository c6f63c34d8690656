/**
 * Raw HTTP(S) helpers for tests against a listening server: a request held open by the test
 * (a latch), and a connection attempt that reports whether the port still accepts.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { BIN } from '../helpers/cli.js';

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface HeldRequest {
  /** Resolves when the server has read the request head and said `100 Continue`: it is in flight. */
  continued: Promise<void>;
  /** Sends the body: the server may now finish the request. */
  release(): void;
  response: Promise<Answer>;
}

/**
 * Starts `POST url` with `Expect: 100-continue` and holds its body back until `release()`.
 * The server is then in the middle of a request for as long as the test wants — a latch that
 * needs no test-only code in the server.
 */
export function holdRequest(
  url: string,
  options: { token: string; body: unknown; ca?: string | Buffer },
): HeldRequest {
  const payload = JSON.stringify(options.body);
  const target = new URL(url);
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  const req = send(target, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${options.token}`,
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(payload),
      expect: '100-continue',
    },
    ...(options.ca === undefined ? {} : { ca: options.ca }),
  });
  const continued = once(req, 'continue').then(() => undefined);
  const response = new Promise<Answer>((resolve, reject) => {
    req.on('error', reject);
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      });
      res.on('error', reject);
    });
  });
  req.flushHeaders();
  return { continued, release: () => req.end(payload), response };
}

/** A GET, for tests that need a real socket (TLS). */
export function get(
  url: string,
  options: { ca?: string | Buffer; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const target = new URL(url);
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(target, {
      headers: options.headers ?? {},
      ...(options.ca === undefined ? {} : { ca: options.ca }),
    });
    req.on('error', reject);
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      });
    });
    req.end();
  });
}

/** Whether a TCP connection to host:port is accepted ('accepted') or refused ('refused'). */
export async function tryConnect(host: string, port: number): Promise<'accepted' | 'refused'> {
  const socket = connect(port, host);
  try {
    await once(socket, 'connect');
    return 'accepted';
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ECONNREFUSED') return 'refused';
    throw error;
  } finally {
    socket.destroy();
  }
}

const DIST_MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface ServeProcess {
  child: ChildProcessByStdio<null, Readable, Readable>;
  /** The `--json` line printed once the server listens. */
  listening: Promise<{ url: string; host: string; port: number; tls: boolean }>;
  /** Log lines (stderr), parsed. */
  logs: Record<string, unknown>[];
  /** Resolves with the first log line matching `predicate` (already written or still to come). */
  waitForLog(
    predicate: (line: Record<string, unknown>) => boolean,
  ): Promise<Record<string, unknown>>;
  /** Every stdout line. */
  stdout: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs the built `shipshape serve --json --port 0 ARGS` and follows its output line by line. */
export function spawnServe(
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv },
): ServeProcess {
  if (!existsSync(DIST_MAIN)) {
    throw new Error(
      `${DIST_MAIN} is missing: run \`npm run build\` before the server process tests`,
    );
  }
  const child = spawn(process.execPath, [BIN, 'serve', '--json', '--port', '0', ...args], {
    cwd: options.cwd,
    env: { ...process.env, CI: '1', SHIPSHAPE_DATABASE_URL: '', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const stdout: string[] = [];
  const waiters: {
    predicate: (line: Record<string, unknown>) => boolean;
    resolve: (line: Record<string, unknown>) => void;
  }[] = [];
  let stderrText = '';
  createInterface({ input: child.stderr }).on('line', (text) => {
    stderrText += `${text}\n`;
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    logs.push(line);
    for (const waiter of [...waiters]) {
      if (waiter.predicate(line)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  });
  const exited = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  const listening = new Promise<{ url: string; host: string; port: number; tls: boolean }>(
    (resolve, reject) => {
      createInterface({ input: child.stdout }).on('line', (text) => {
        stdout.push(text);
        if (stdout.length === 1) {
          resolve(JSON.parse(text) as { url: string; host: string; port: number; tls: boolean });
        }
      });
      void exited.then(({ code }) => {
        reject(
          new Error(
            `shipshape serve exited (${String(code)}) before listening:\n${stderrText}${stdout.join('\n')}`,
          ),
        );
      });
    },
  );
  return {
    child,
    listening,
    logs,
    stdout,
    exited,
    waitForLog: (predicate) => {
      const found = logs.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        waiters.push({ predicate, resolve });
        void exited.then(() => {
          reject(new Error(`shipshape serve exited before the awaited log line:\n${stderrText}`));
        });
      });
    },
  };
}
