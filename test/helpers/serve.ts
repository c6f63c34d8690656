import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { BIN } from './cli.js';

export interface RunningServer {
  url: string;
  child: ChildProcess;
  /** Every line the server wrote (logs on stderr, the listening line on stdout). */
  output: string[];
  stop(): Promise<number | null>;
}

/**
 * Starts the built `shipshape serve --json` on a free loopback port and resolves once it prints
 * the line saying where it listens (an event, not a sleep).
 */
export async function startServe(
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv },
): Promise<RunningServer> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--json', ...args], {
    cwd: options.cwd,
    env: { ...process.env, CI: '1', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  createInterface({ input: child.stderr }).on('line', (line) => output.push(line));
  const exited = once(child, 'exit');
  const url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      output.push(line);
      try {
        const message = JSON.parse(line) as { listening?: boolean; url?: string };
        if (message.listening && message.url) resolve(message.url);
      } catch {
        // not the listening line
      }
    });
    void exited.then(([code]) => {
      reject(
        new Error(
          `shipshape serve exited with ${String(code)} before listening:\n${output.join('\n')}`,
        ),
      );
    });
  });
  return {
    url,
    child,
    output,
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      return code;
    },
  };
}
