import { describe, expect, it } from 'vitest';

import { runChild, startChild } from './process.js';

async function readAll(stream: AsyncIterable<unknown>): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += String(chunk);
  return text;
}

describe('child processes', () => {
  it('keeps the output of a child that exits before anyone reads it', async () => {
    const running = startChild('/bin/sh', ['-c', 'printf "early output"; exit 0'], {
      stdoutStream: true,
    });
    // The child is gone before the reader starts: Node would discard unread output here
    // unless a consumer was attached at spawn.
    expect((await running.exited).code).toBe(0);
    expect(await readAll(running.stdout)).toBe('early output');
  });

  it('reports a failing child with its redacted error output', async () => {
    await expect(
      runChild(
        '/bin/sh',
        ['-c', 'echo "login postgres://u:hunter2secret@db/x failed" >&2; exit 5'],
        {
          what: 'the tool',
        },
      ),
    ).rejects.toMatchObject({
      code: 'SHIP_DATASTORE_TOOL_FAILED',
      message: 'the tool exited with 5: login postgres://u:[REDACTED]@db/x failed',
    });
  });

  it('passes and removes environment variables', async () => {
    process.env.SHIPSHAPE_TEST_REMOVE_ME = 'x';
    try {
      const out = await runChild(
        '/bin/sh',
        ['-c', 'echo "${A-unset} ${SHIPSHAPE_TEST_REMOVE_ME-unset}"'],
        {
          what: 'env',
          env: { A: 'set', SHIPSHAPE_TEST_REMOVE_ME: undefined },
        },
      );
      expect(out.trim()).toBe('set unset');
    } finally {
      delete process.env.SHIPSHAPE_TEST_REMOVE_ME;
    }
  });
});
