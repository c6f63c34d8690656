import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll } from 'vitest';

import { sqliteDriver } from '../../src/datastores/index.js';

import { runDriverConformance, type MadeTarget } from './conformance.js';

let dir: string;
let counter = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shipshape-sqlite-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function at(name: string): MadeTarget {
  counter++;
  return {
    target: { name: 'app', connection: join(dir, `${counter}-${name}`) },
    drop: () => Promise.resolve(),
  };
}

function seed(path: string): void {
  const db = new Database(path);
  try {
    db.pragma('journal_mode = WAL');
    db.exec(`
      CREATE TABLE "odd ""name"" é" (id INTEGER PRIMARY KEY, t TEXT, b BLOB, r REAL, big INTEGER);
      CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);
      CREATE INDEX notes_body ON notes(body);
      CREATE VIEW v AS SELECT id FROM notes;
    `);
    const insert = db.prepare('INSERT INTO "odd ""name"" é" VALUES (?, ?, ?, ?, ?)');
    insert.run(1, null, null, null, null);
    insert.run(
      2,
      'ünïcødé 🚀 中文 \' "',
      Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
      0.1,
      9007199254740993n,
    );
    insert.run(3, 'x'.repeat(100_000), Buffer.alloc(1024 * 1024, 7), -0, -9223372036854775808n);
    const note = db.prepare('INSERT INTO notes (body) VALUES (?)');
    db.transaction(() => {
      for (let i = 0; i < 3000; i++) note.run(`note ${i}`);
    })();
    for (let i = 1; i <= 40; i++) {
      db.exec(`CREATE TABLE many_${i} (id INTEGER PRIMARY KEY, v TEXT)`);
      const row = db.prepare(`INSERT INTO many_${i} (v) VALUES (?)`);
      for (let j = 0; j < i; j++) row.run(`v${j}`);
    }
  } finally {
    db.close();
  }
}

runDriverConformance({
  name: 'sqlite',
  driver: sqliteDriver,
  empty: () => Promise.resolve(at('app.sqlite')),
  seed: (target) => {
    seed(target.connection);
    return Promise.resolve();
  },
  change: (target) => {
    const db = new Database(target.connection);
    db.prepare('UPDATE notes SET body = ? WHERE id = 7').run('changed');
    db.close();
    return Promise.resolve();
  },
  expectEntries: ['odd "name" é', 'notes', 'many_40'],
  faults: [
    {
      name: 'the database file does not exist',
      code: 'SHIP_DATASTORE_NOT_FOUND',
      make: () => Promise.resolve(at('missing.sqlite')),
    },
    {
      name: 'the file is not an SQLite database',
      code: 'SHIP_DATASTORE_TOOL_FAILED',
      make: async () => {
        const made = at('garbage.sqlite');
        await writeFile(made.target.connection, 'this is not a database, just text '.repeat(200));
        return made;
      },
    },
  ],
});
