import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const SERVER = fileURLToPath(new URL('../../examples/demo/service/server.mjs', import.meta.url));
const NODE_MODULES = fileURLToPath(new URL('../../node_modules', import.meta.url));

describe('examples/demo service', () => {
  let dir: string;
  let child: ChildProcess;
  let base: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shipshape-demo-service-'));
    child = spawn(process.execPath, [SERVER], {
      cwd: dir,
      env: {
        ...process.env,
        PORT: '0',
        ORDERS_DB: join(dir, 'data/orders.db'),
        NODE_PATH: NODE_MODULES,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    // Wait for the line the service prints once it listens: an event, not a sleep.
    const lines = createInterface({ input: child.stdout! });
    for await (const line of lines) {
      const message = JSON.parse(line) as { msg: string; port: number };
      if (message.msg === 'listening') {
        base = `http://127.0.0.1:${message.port}`;
        break;
      }
    }
  });

  afterAll(async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('answers health and readiness probes', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
  });

  it('stores and returns orders', async () => {
    const created = await fetch(`${base}/orders`, {
      method: 'POST',
      body: JSON.stringify({ customer: 'Zoë 🚀', amount_cents: 1200 }),
    });
    expect(created.status).toBe(201);
    const order = (await created.json()) as { id: number; customer: string };
    expect(order.customer).toBe('Zoë 🚀');
    const fetched = await fetch(`${base}/orders/${order.id}`);
    expect(await fetched.json()).toMatchObject({ id: order.id, amount_cents: 1200 });
    const list = (await (await fetch(`${base}/orders`)).json()) as { orders: unknown[] };
    expect(list.orders).toHaveLength(1);
  });

  it('rejects bad input with 400 and unknown orders with 404', async () => {
    const bad = await fetch(`${base}/orders`, { method: 'POST', body: '{"customer":""}' });
    expect(bad.status).toBe(400);
    expect((await fetch(`${base}/orders/999`)).status).toBe(404);
    expect((await fetch(`${base}/orders`, { method: 'POST', body: 'not json' })).status).toBe(400);
  });

  it('shuts down cleanly on SIGTERM', async () => {
    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
  });
});
