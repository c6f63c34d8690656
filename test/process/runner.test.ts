import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { ExitCode, ShipError, registerSecret } from '../../src/core/index.js';
import {
  ProcessErrorCode,
  allocatePorts,
  startProcess,
  type ProcessSpec,
  type RunningProcess,
} from '../../src/process/index.js';

const FIXTURES = new URL('fixtures/', import.meta.url).pathname;
const SERVER = `node ${join(FIXTURES, 'server.mjs')}`;
const TCP = `node ${join(FIXTURES, 'tcp.mjs')}`;

let dir: string;
let counter = 0;
const started: RunningProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shipshape-process-test-'));
});
afterEach(async () => {
  await Promise.all(started.splice(0).map((p) => p.stop()));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function start(spec: Omit<ProcessSpec, 'cwd' | 'name'> & Partial<ProcessSpec>) {
  const running = await startProcess({ cwd: dir, name: 'service test', ...spec });
  started.push(running);
  return running;
}

async function failure(promise: Promise<unknown>): Promise<ShipError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ShipError);
  return error as ShipError;
}

function pidFile(): string {
  counter++;
  return join(dir, `pid-${counter}`);
}

async function readPid(file: string): Promise<number> {
  return Number(await readFile(file, 'utf8'));
}

/** True once `pid` has ended. A zombie counts as ended: this machine's init reaps orphans late. */
function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
  try {
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1];
    return state?.startsWith('Z') === true;
  } catch {
    return true;
  }
}

/** Listens on an ephemeral loopback port and returns it. */
async function listen(server: Server | HttpServer): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('no address');
  return address.port;
}

async function get(url: string): Promise<string> {
  const res = await fetch(url, { headers: { connection: 'close' } });
  return res.text();
}

describe('startProcess', () => {
  it('starts a service with its env and port and waits for its HTTP health check', async () => {
    const { http } = await allocatePorts(['http']);
    const service = await start({
      command: SERVER,
      env: { PORT: String(http), GREETING: 'hello from the runner' },
      baseEnv: { PATH: process.env.PATH, INHERITED: 'yes' },
      health: { http: '/readyz', port: http },
    });
    expect(service.name).toBe('service test');
    expect(service.startedInMs).toBeGreaterThan(0);
    expect(await get(`http://127.0.0.1:${http}/env/GREETING`)).toBe('hello from the runner');
    expect(await get(`http://127.0.0.1:${http}/env/INHERITED`)).toBe('yes');
    // baseEnv replaces process.env: nothing else leaks in.
    expect(await get(`http://127.0.0.1:${http}/env/HOME`)).toBe('');
    expect(await get(`http://127.0.0.1:${http}/env/PORT`)).toBe(String(http));
  });

  it('accepts a full loopback URL as the health check', async () => {
    const { http } = await allocatePorts(['http']);
    const service = await start({
      command: SERVER,
      env: { PORT: String(http) },
      health: { http: `http://localhost:${http}/readyz` },
    });
    expect(await get(`http://127.0.0.1:${http}/env/PORT`)).toBe(String(http));
    expect(service.logTail()).toContain(`listening on ${http}`);
  });

  it('waits for a TCP health check', async () => {
    const { tcp } = await allocatePorts(['tcp']);
    const service = await start({ command: TCP, env: { PORT: String(tcp) }, health: { tcp } });
    expect(service.logTail()).toContain(`tcp listening on ${tcp}`);
    expect((await service.stop()).how).toBe('terminated');
  });

  it('fails with the last 20 lines of output when the process exits before it is healthy', async () => {
    const { http } = await allocatePorts(['http']);
    const error = await failure(
      start({
        command:
          'for i in $(seq 1 30); do echo "line $i"; done; echo "fatal: no config" >&2; exit 3',
        health: { http: '/readyz', port: http },
      }),
    );
    expect(error.code).toBe(ProcessErrorCode.exited);
    expect(error.exitCode).toBe(ExitCode.runtime);
    expect(error.message).toContain('service test exited with code 3 before it was healthy');
    expect(error.message).toMatch(/^fatal: no config$/m);
    expect(error.message).toMatch(/^line 12$/m);
    expect(error.message).not.toMatch(/^line 11$/m);
    expect(error.details).toMatchObject({ exitCode: 3, signal: null });
    expect(error.hint).toContain('run `for i in');
  });

  it('stops the service and names the URL when the health check does not pass in time', async () => {
    // The health endpoint is the test's, up from the start, so the last probe answer is known.
    const health = createHttpServer((_req, res) => {
      res.writeHead(503).end();
    });
    const port = await listen(health);
    try {
      const error = await failure(
        start({
          command: 'echo "warming up" && exec sleep 60',
          health: { http: `http://127.0.0.1:${port}/readyz` },
          startTimeoutMs: 400,
          probeIntervalMs: 20,
        }),
      );
      expect(error.code).toBe(ProcessErrorCode.unhealthy);
      expect(error.exitCode).toBe(ExitCode.runtime);
      expect(error.message).toContain(
        `did not become healthy within 400 ms: http://127.0.0.1:${port}/readyz last failed with HTTP 503`,
      );
      expect(error.message).toContain('warming up');
      expect(error.details).toMatchObject({ lastError: 'HTTP 503', startTimeoutMs: 400 });
      expect(gone(error.details.pid as number)).toBe(true);
    } finally {
      health.closeAllConnections();
      await new Promise((resolve) => health.close(resolve));
    }
  });

  it('names a command the shell cannot find', async () => {
    const error = await failure(
      start({ command: 'shipshape-no-such-program --serve', health: { tcp: 1 } }),
    );
    expect(error.code).toBe(ProcessErrorCode.notFound);
    expect(error.message).toContain('command not found: shipshape-no-such-program --serve');
    expect(error.message).toContain('not found');
    expect(error.hint).toContain('PATH');
  });

  it('hints at a port collision when the service fails with EADDRINUSE', async () => {
    const { http } = await allocatePorts(['http']);
    // Holds the port; resets connections so the health probe fails fast.
    const holder: Server = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => holder.listen(http, '127.0.0.1', resolve));
    try {
      const error = await failure(
        start({
          command: SERVER,
          env: { PORT: String(http) },
          health: { http: '/readyz', port: http },
        }),
      );
      expect(error.code).toBe(ProcessErrorCode.exited);
      expect(error.message).toContain('EADDRINUSE');
      expect(error.hint).toContain(`(${http}) is already in use (EADDRINUSE)`);
      expect(error.details).toMatchObject({ port: http });
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  it('stops the service and throws an interrupted error when the start is aborted', async () => {
    const { http } = await allocatePorts(['http']);
    const file = pidFile();
    const controller = new AbortController();
    // The service calls this once it has written its pid: the latch that aborts the start.
    const latch = createHttpServer((_req, res) => {
      res.end();
      controller.abort();
    });
    const latchPort = await listen(latch);
    try {
      const error = await failure(
        start({
          command: SERVER,
          env: {
            PORT: String(http),
            PID_FILE: file,
            READY_STATUS: '503',
            NOTIFY_URL: `http://127.0.0.1:${latchPort}/`,
          },
          health: { http: '/readyz', port: http },
          signal: controller.signal,
        }),
      );
      expect(error.code).toBe(ProcessErrorCode.interrupted);
      expect(error.exitCode).toBe(ExitCode.interrupted);
      expect(gone(await readPid(file))).toBe(true);
    } finally {
      latch.closeAllConnections();
      await new Promise((resolve) => latch.close(resolve));
    }
  });

  it('does not start anything when the signal is already aborted', async () => {
    const file = pidFile();
    const error = await failure(
      start({ command: SERVER, env: { PID_FILE: file }, signal: AbortSignal.abort() }),
    );
    expect(error.code).toBe(ProcessErrorCode.interrupted);
    await expect(stat(file)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('rejects a bad spec before starting anything', async () => {
    const cases: [Partial<ProcessSpec>, string][] = [
      [{ command: '  ' }, 'the command is empty'],
      [{ cwd: join(dir, 'missing') }, 'does not exist'],
      [{ health: { http: '/readyz' } }, 'no port is given'],
      [{ health: { http: 'http://example.com/readyz' } }, '127.0.0.1 or localhost'],
      [{ health: { tcp: 70000 } }, 'health.tcp must be a port'],
      [{ stopTimeoutMs: 0 }, 'stopTimeoutMs must be a positive number'],
    ];
    for (const [override, message] of cases) {
      const error = await failure(start({ command: SERVER, ...override }));
      expect(error.code).toBe(ProcessErrorCode.badSpec);
      expect(error.exitCode).toBe(ExitCode.usage);
      expect(error.message).toContain(message);
    }
  });
});

describe('RunningProcess.stop', () => {
  it('ends a service that handles SIGTERM: terminated, exit code 0', async () => {
    const { http } = await allocatePorts(['http']);
    const service = await start({
      command: SERVER,
      env: { PORT: String(http) },
      health: { http: '/readyz', port: http },
    });
    const outcome = await service.stop();
    expect(outcome.how).toBe('terminated');
    expect(await service.exited).toEqual({ code: 0, signal: null });
    expect(service.logTail()).toMatch(/stopping\n$/);
    expect(gone(service.pid)).toBe(true);
    // Idempotent: the same outcome again.
    expect(await service.stop()).toEqual(outcome);
  });

  it('kills a service that ignores SIGTERM once the deadline passes', async () => {
    const { http } = await allocatePorts(['http']);
    const service = await start({
      command: SERVER,
      env: { PORT: String(http), STUBBORN: '1' },
      health: { http: '/readyz', port: http },
      stopTimeoutMs: 300,
    });
    const outcome = await service.stop();
    expect(outcome.how).toBe('killed');
    expect(await service.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(service.logTail()).toContain('ignoring SIGTERM');
    expect(gone(service.pid)).toBe(true);
  });

  it('stops the programs a shell command started (the whole process group)', async () => {
    const { http } = await allocatePorts(['http']);
    const file = pidFile();
    const service = await start({
      // Two commands: the shell stays the parent, the server is its child.
      command: `${SERVER}; echo "server ended"`,
      env: { PORT: String(http), PID_FILE: file },
      health: { http: '/readyz', port: http },
    });
    const server = await readPid(file);
    expect(server).not.toBe(service.pid);
    expect(gone(server)).toBe(false);
    expect((await service.stop()).how).toBe('terminated');
    expect(gone(server)).toBe(true);
    expect(gone(service.pid)).toBe(true);
  });

  it('kills a grandchild that ignores SIGTERM', async () => {
    const { http } = await allocatePorts(['http']);
    const file = pidFile();
    const service = await start({
      command: `${SERVER} && echo "server ended"`,
      env: { PORT: String(http), PID_FILE: file, STUBBORN: '1' },
      health: { http: '/readyz', port: http },
      stopTimeoutMs: 300,
    });
    const server = await readPid(file);
    expect((await service.stop()).how).toBe('killed');
    expect(gone(server)).toBe(true);
  });

  it('reports a service that already exited by itself', async () => {
    const service = await start({ command: 'echo done' });
    expect(await service.exited).toEqual({ code: 0, signal: null });
    expect((await service.stop()).how).toBe('exited');
    expect(service.logTail()).toBe('done\n');
  });
});

describe('logs', () => {
  it('appends redacted output to a log file created with mode 0600', async () => {
    registerSecret('hunter2-process-secret');
    const { http } = await allocatePorts(['http']);
    const logFile = join(dir, 'service.log');
    const service = await start({
      command: SERVER,
      env: { PORT: String(http), SAY: 'token=hunter2-process-secret ready' },
      health: { http: '/readyz', port: http },
      logFile,
    });
    expect(service.logTail()).toContain('token=[REDACTED] ready');
    expect(service.logTail()).not.toContain('hunter2');
    await service.stop();
    const text = await readFile(logFile, 'utf8');
    expect(text).toContain('token=[REDACTED] ready');
    expect(text).toContain(`listening on ${http}`);
    expect(text).toContain('stopping');
    expect(text).not.toContain('hunter2');
    expect((await stat(logFile)).mode & 0o777).toBe(0o600);
  });

  it('names a log file it cannot open', async () => {
    const error = await failure(
      start({ command: 'true', logFile: join(dir, 'no-such-dir', 'service.log') }),
    );
    expect(error.code).toBe(ProcessErrorCode.logFailed);
    expect(error.message).toContain('no-such-dir/service.log (ENOENT)');
  });
});

describe('allocatePorts', () => {
  it('returns a distinct free port for each name', async () => {
    const ports = await allocatePorts(['http', 'metrics', 'admin']);
    expect(Object.keys(ports)).toEqual(['http', 'metrics', 'admin']);
    expect(new Set(Object.values(ports)).size).toBe(3);
    // Each is free: it can be bound right away.
    for (const port of Object.values(ports)) {
      const server = createServer();
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
