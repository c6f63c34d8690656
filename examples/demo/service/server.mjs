// orders-demo: a small HTTP service backed by SQLite, used by `shipshape demo`.
//
//   GET  /healthz          liveness: the process is up
//   GET  /readyz           readiness: the database answers
//   GET  /orders           list orders (newest first)
//   GET  /orders/:id       one order
//   POST /orders           {"customer": "...", "amount_cents": 1234} → 201 with the order
//
// Configuration (environment): PORT (default 8080), HOST (default 127.0.0.1),
// ORDERS_DB (SQLite file, default ./data/orders.db).
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';

// better-sqlite3 is resolved through CommonJS so that NODE_PATH (set by shipshape when it runs
// this service) can point at shipshape's own node_modules.
const require = createRequire(import.meta.url);
const Database = require('better-sqlite3');

const port = Number(process.env.PORT ?? 8080);
const host = process.env.HOST ?? '127.0.0.1';
const file = process.env.ORDERS_DB ?? 'data/orders.db';

mkdirSync(dirname(file), { recursive: true });
const db = new Database(file);
db.pragma('journal_mode = WAL');
db.exec(`CREATE TABLE IF NOT EXISTS orders (
  id INTEGER PRIMARY KEY,
  customer TEXT NOT NULL,
  amount_cents INTEGER NOT NULL CHECK (amount_cents >= 0),
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
)`);

const insert = db.prepare('INSERT INTO orders (customer, amount_cents) VALUES (?, ?) RETURNING *');
const list = db.prepare('SELECT * FROM orders ORDER BY id DESC LIMIT 100');
const one = db.prepare('SELECT * FROM orders WHERE id = ?');

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

async function readJson(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 64 * 1024) throw new Error('body too large');
    chunks.push(chunk);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

const server = createServer(async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  try {
    if (req.method === 'GET' && url.pathname === '/healthz') return send(res, 200, { ok: true });
    if (req.method === 'GET' && url.pathname === '/readyz') {
      db.prepare('SELECT 1').get();
      return send(res, 200, { ok: true });
    }
    if (req.method === 'GET' && url.pathname === '/orders')
      return send(res, 200, { orders: list.all() });
    const match = /^\/orders\/(\d+)$/.exec(url.pathname);
    if (req.method === 'GET' && match) {
      const order = one.get(Number(match[1]));
      return order ? send(res, 200, order) : send(res, 404, { error: 'no such order' });
    }
    if (req.method === 'POST' && url.pathname === '/orders') {
      const body = await readJson(req);
      if (typeof body.customer !== 'string' || body.customer.length === 0)
        return send(res, 400, { error: 'customer must be a non-empty string' });
      if (!Number.isInteger(body.amount_cents) || body.amount_cents < 0)
        return send(res, 400, { error: 'amount_cents must be a non-negative integer' });
      return send(res, 201, insert.get(body.customer, body.amount_cents));
    }
    return send(res, 404, { error: 'not found' });
  } catch (error) {
    return send(res, 400, { error: String(error instanceof Error ? error.message : error) });
  }
});

server.listen(port, host, () => {
  const address = server.address();
  console.log(JSON.stringify({ msg: 'listening', port: address.port, host }));
});

function shutdown() {
  server.close(() => {
    db.close();
    process.exit(0);
  });
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
