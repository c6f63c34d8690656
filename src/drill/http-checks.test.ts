import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { HttpCheck } from '../spec/index.js';

import { describeHttpExpectation, runHttpCheck, runHttpChecks } from './http-checks.js';

const TOKEN = 'tok-8c1f4e2a9b7d';

/** Responses kept open by `/hang`, ended after the tests. */
const hanging: ServerResponse[] = [];

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    });
  });
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => {
    server.close(() => {
      resolve();
    });
  });
}

let server: Server;
let base: string;
const ctx = { baseDir: '/', env: { SMOKE_TOKEN: TOKEN } };

beforeAll(async () => {
  server = createServer((req, res) => {
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      switch (`${req.method ?? ''} ${req.url ?? ''}`) {
        case 'GET /orders':
          json(200, { count: 2, orders: [{ id: 1, customer: 'Ada' }, { id: 2 }] });
          return;
        case 'GET /broken':
          res.writeHead(500).end('database connection failed');
          return;
        case 'GET /text':
          res.writeHead(200).end('orders: plain text, not JSON');
          return;
        case 'GET /old':
          res.writeHead(302, { location: '/orders' }).end();
          return;
        case 'POST /orders':
          json(201, { received: JSON.parse(body) as unknown });
          return;
        case 'GET /private':
          if (req.headers.authorization === `Bearer ${TOKEN}`) json(200, { ok: true });
          else res.writeHead(401).end(`bad token: ${req.headers.authorization ?? ''}`);
          return;
        case 'GET /echo':
          res.writeHead(418).end(`you sent ${req.headers.authorization ?? ''}`);
          return;
        case 'GET /long':
          res.writeHead(503).end('x'.repeat(1000));
          return;
        case 'GET /hang':
          hanging.push(res);
          return;
        default:
          res.writeHead(404).end('not found');
      }
    });
  });
  base = await listen(server);
});

afterAll(async () => {
  for (const res of hanging) res.destroy();
  await close(server);
});

function check(fields: Partial<HttpCheck> & { request: string }): HttpCheck {
  return { name: 'smoke', status: 200, timeout: 5_000, ...fields };
}

describe('runHttpCheck', () => {
  it('passes on the expected status, body text and JSON value', async () => {
    const result = await runHttpCheck(
      base,
      check({
        name: 'orders',
        request: 'GET /orders',
        body_contains: '"customer":"Ada"',
        json: { path: 'orders[0].id', equals: 1 },
      }),
      ctx,
    );
    expect(result).toMatchObject({
      name: 'orders',
      kind: 'http',
      passed: true,
      expected: 'status 200, body contains "\\"customer\\":\\"Ada\\"", orders[0].id = 1',
      actual: 'status 200, orders[0].id = 1',
    });
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('fails on another status and shows the start of the body', async () => {
    const result = await runHttpCheck(base, check({ request: 'GET /broken' }), ctx);
    expect(result.passed).toBe(false);
    expect(result.expected).toBe('status 200');
    expect(result.actual).toBe('status 500, body (first 200 chars): database connection failed');
  });

  it('fails when the body lacks the text', async () => {
    const result = await runHttpCheck(
      base,
      check({ request: 'GET /orders', body_contains: 'Grace' }),
      ctx,
    );
    expect(result.passed).toBe(false);
    expect(result.actual).toMatch(/^body \(first 200 chars\): \{"count":2/);
  });

  it('fails on a JSON value that differs, naming the value found', async () => {
    const result = await runHttpCheck(
      base,
      check({ request: 'GET /orders', json: { path: 'orders[1].id', equals: 1 } }),
      ctx,
    );
    expect(result).toMatchObject({
      passed: false,
      expected: 'status 200, orders[1].id = 1',
      actual: 'orders[1].id = 2',
    });
  });

  it('compares objects and arrays deeply', async () => {
    const result = await runHttpCheck(
      base,
      check({ request: 'GET /orders', json: { path: 'orders[1]', equals: { id: 2 } } }),
      ctx,
    );
    expect(result.passed).toBe(true);
  });

  it('fails on a missing path, naming the missing part', async () => {
    const result = await runHttpCheck(
      base,
      check({ request: 'GET /orders', json: { path: 'orders[5].id', equals: 1 } }),
      ctx,
    );
    expect(result).toMatchObject({
      passed: false,
      actual: 'orders[5].id not found (no orders[5])',
    });
  });

  it('fails when the body is not JSON', async () => {
    const result = await runHttpCheck(
      base,
      check({ request: 'GET /text', json: { path: 'count', equals: 2 } }),
      ctx,
    );
    expect(result.passed).toBe(false);
    expect(result.actual).toBe(
      'body is not JSON: body (first 200 chars): orders: plain text, not JSON',
    );
  });

  it('reports a malformed JSON path as a failed check', async () => {
    const result = await runHttpCheck(
      base,
      check({ request: 'GET /orders', json: { path: 'orders[x]', equals: 1 } }),
      ctx,
    );
    expect(result.passed).toBe(false);
    expect(result.actual).toContain('the JSON path "orders[x]" has a bad index');
  });

  it('sends the method and body', async () => {
    const result = await runHttpCheck(
      base,
      check({
        request: 'POST /orders',
        body: '{"sku":"A-1"}',
        status: 201,
        json: { path: 'received.sku', equals: 'A-1' },
      }),
      ctx,
    );
    expect(result).toMatchObject({ passed: true, actual: 'status 201, received.sku = "A-1"' });
  });

  it('does not follow redirects', async () => {
    const result = await runHttpCheck(base, check({ request: 'GET /old', status: 302 }), ctx);
    expect(result).toMatchObject({ passed: true, actual: 'status 302' });
  });

  it('resolves ${env:} references in headers', async () => {
    const headers = { authorization: 'Bearer ${env:SMOKE_TOKEN}' };
    const ok = await runHttpCheck(base, check({ request: 'GET /private', headers }), ctx);
    expect(ok.passed).toBe(true);
    const wrong = await runHttpCheck(base, check({ request: 'GET /private', headers }), {
      baseDir: '/',
      env: { SMOKE_TOKEN: 'other-value' },
    });
    expect(wrong).toMatchObject({ passed: false });
    expect(wrong.actual).toMatch(/^status 401/);
  });

  it('redacts a resolved secret the service echoes back', async () => {
    const result = await runHttpCheck(
      base,
      check({ request: 'GET /echo', headers: { authorization: 'Bearer ${env:SMOKE_TOKEN}' } }),
      ctx,
    );
    expect(result.passed).toBe(false);
    expect(result.actual).toMatch(/^status 418, body \(first 200 chars\): you sent Bearer /);
    expect(result.actual).not.toContain(TOKEN);
  });

  it('fails, without throwing, when a header secret is unset', async () => {
    const result = await runHttpCheck(
      base,
      check({ request: 'GET /private', headers: { authorization: 'Bearer ${env:NOT_SET_X}' } }),
      { baseDir: '/', env: {} },
    );
    expect(result.passed).toBe(false);
    expect(result.actual).toContain('NOT_SET_X');
  });

  it('fails with the reason when the service does not answer in time', async () => {
    const result = await runHttpCheck(base, check({ request: 'GET /hang', timeout: 200 }), ctx);
    expect(result.passed).toBe(false);
    expect(result.actual).toBe(`no response within 200ms (GET ${base}/hang)`);
  });

  it('fails with the reason when the connection is refused', async () => {
    const gone = createServer();
    const url = await listen(gone);
    await close(gone);
    const result = await runHttpCheck(url, check({ request: 'GET /orders' }), ctx);
    expect(result.passed).toBe(false);
    expect(result.actual).toBe(`connection refused (GET ${url}/orders)`);
  });

  it('cuts a long body to 200 characters', async () => {
    const result = await runHttpCheck(base, check({ request: 'GET /long' }), ctx);
    expect(result.passed).toBe(false);
    expect(result.actual).toMatch(/^status 503, body \(first 200 chars\): x+…$/);
    expect(result.actual).toHaveLength(200);
  });
});

describe('runHttpChecks', () => {
  it('runs every check in order and reports each', async () => {
    const results = await runHttpChecks(
      `${base}/`,
      [
        check({ name: 'a', request: 'GET /orders' }),
        check({ name: 'b', request: 'GET /broken' }),
        check({ name: 'c', request: 'GET /missing', status: 404 }),
      ],
      ctx,
    );
    expect(results.map((r) => [r.name, r.passed])).toEqual([
      ['a', true],
      ['b', false],
      ['c', true],
    ]);
  });
});

describe('describeHttpExpectation', () => {
  it('lists status, body text and JSON value', () => {
    expect(
      describeHttpExpectation(
        check({
          request: 'GET /',
          status: 201,
          body_contains: 'orders',
          json: { path: 'a.b', equals: [1, 'x'] },
        }),
      ),
    ).toBe('status 201, body contains "orders", a.b = [1,"x"]');
  });
});
