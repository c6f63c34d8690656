import { describe, expect, it } from 'vitest';
import { isLoopbackHost, webhookUrlProblem } from './webhook-url.js';

describe('webhookUrlProblem', () => {
  it.each([
    'https://hooks.example.com/shipshape',
    'https://10.0.0.5:8443/x?y=1',
    'http://127.0.0.1:9000/hook',
    'http://127.8.9.10/hook',
    'http://localhost:3000/hook',
    'http://LOCALHOST/hook',
    'http://[::1]:9000/hook',
  ])('accepts %s', (url) => {
    expect(webhookUrlProblem(url)).toBeUndefined();
  });

  it.each([
    ['http://hooks.example.com/x', 'plain http'],
    ['http://10.0.0.5/x', 'plain http'],
    ['http://127.0.0.1.example.com/x', 'plain http'],
    ['http://localhost.example.com/x', 'plain http'],
    ['ftp://hooks.example.com/x', '`ftp:` is not a webhook URL scheme'],
    ['hooks.example.com/x', 'not a valid URL'],
    ['', 'not a valid URL'],
  ])('refuses %s', (url, message) => {
    expect(webhookUrlProblem(url)?.message).toContain(message);
  });

  it('never echoes the path or query, which may hold a token', () => {
    const problem = webhookUrlProblem('http://hooks.example.com/T0/secret-token?key=abc');
    expect(JSON.stringify(problem)).not.toContain('secret-token');
    expect(JSON.stringify(problem)).not.toContain('abc');
  });

  it('recognises IPv4 loopback in any notation URL normalises', () => {
    expect(isLoopbackHost(new URL('http://2130706433/').hostname)).toBe(true);
    expect(isLoopbackHost(new URL('http://0x7f.1/').hostname)).toBe(true);
    expect(isLoopbackHost('128.0.0.1')).toBe(false);
  });
});
