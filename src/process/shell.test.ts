import { describe, expect, it } from 'vitest';

import { shellScript } from './shell.js';

describe('shellScript', () => {
  it('execs a simple command so the program replaces the shell', () => {
    expect(shellScript('node server.js --port $PORT')).toBe('exec node server.js --port $PORT');
    expect(shellScript('  ./bin/api "a b"  ')).toBe('exec ./bin/api "a b"');
  });

  it('runs anything else as written', () => {
    for (const command of [
      'node a.js; node b.js',
      'npm run build && npm start',
      'node server.js > out.log',
      'node server.js &',
      'PORT=8080 node server.js',
      'exec node server.js',
      'cd app',
      'if true; then node x; fi',
      'echo $(date)',
      'node a.js\nnode b.js',
      '! false',
    ]) {
      expect(shellScript(command)).toBe(command);
    }
  });
});
