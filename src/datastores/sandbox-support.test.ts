import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { runChild, startChild } from './process.js';
import { killAndRemoveCommand, releaseChild, shellQuote } from './sandbox-support.js';

describe('kept sandbox commands', () => {
  it('quotes paths so that the shell hands them over unchanged', async () => {
    for (const text of ['/tmp/plain-path_1.x', "/tmp/it's here", '/tmp/$HOME `x` "y" *']) {
      const echoed = await runChild('/bin/sh', ['-c', `printf %s ${shellQuote(text)}`], {
        what: 'sh',
      });
      expect(echoed).toBe(text);
    }
    expect(shellQuote('/tmp/plain')).toBe('/tmp/plain');
  });

  it('stops a released server and removes its directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), "shipshape-test sandbox '"));
    await writeFile(join(dir, 'data'), 'restored');
    const running = startChild('/bin/sh', ['-c', 'trap "exit 0" TERM; while :; do sleep 1; done'], {
      detached: true,
    });
    const pid = releaseChild(running);
    await runChild('/bin/sh', ['-c', killAndRemoveCommand(pid, dir)], { what: 'stop' });
    expect((await running.exited).code).toBe(0);
    expect(existsSync(dir)).toBe(false);
  });
});
