/**
 * The ledger's integration suite, run once per store backend (SQLite file, real PostgreSQL):
 * round trip, tampering done with SQL straight in the database, and concurrent appends from
 * several processes.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { registerSecret } from '../../src/core/index.js';
import {
  GENESIS_HASH,
  Ledger,
  generateSigningKeyPair,
  hashRecord,
  loadPrivateKey,
  loadPublicKey,
  verifyExportFile,
  type ActorInput,
  type AppendInput,
  type ChainRecord,
  type LedgerOptions,
  type VerifyReport,
} from '../../src/ledger/index.js';
import type { Store, StoreLocation } from '../../src/store/index.js';
import { openStore } from '../../src/store/index.js';
import { runTogether } from '../helpers/workers.js';
import { rechain, signAll } from './chain-builder.js';

export interface Backend {
  name: string;
  /** A fresh, empty database for this file. */
  create(): Promise<{ location: StoreLocation; cleanup: () => Promise<void> }>;
}

const WORKERS = 8;
const APPENDS_PER_WORKER = 200;

const actor: ActorInput = {
  kind: 'os-user',
  osUser: 'alice',
  person: 'Alice',
  roles: ['sre-lead'],
};

function gateResult(gate: 'backup' | 'dr-drill' | 'validate', subject: string): AppendInput {
  return {
    kind: 'gate-result',
    subject,
    actor,
    body: {
      gate,
      outcome: 'passed',
      startedAt: '2025-05-01T10:00:00Z',
      finishedAt: '2025-05-01T10:01:30Z',
      validFor: '1d',
      measurements: [{ name: 'duration_seconds', value: 90, unit: 'seconds' }],
      artifacts: [{ name: 'dump.tar', digest: `sha256:${'ab'.repeat(32)}`, size: 1024 }],
      summary: `${gate} of ${subject}`,
    },
  };
}

function note(text: string, subject = 'service:shop'): AppendInput {
  return { kind: 'event', subject, actor, body: { type: 'note', details: { text } } };
}

function codes(report: VerifyReport): string[] {
  return [...new Set(report.problems.map((p) => p.code))].sort();
}

export function ledgerSuite(backend: Backend): void {
  describe(`ledger on ${backend.name}`, () => {
    const keys = generateSigningKeyPair();
    const privateKey = loadPrivateKey(keys.privateKeyPem);
    const publicKey = loadPublicKey(keys.publicKeyPem);
    const dir = mkdtempSync(join(tmpdir(), `shipshape-ledger-${backend.name}-`));
    let witnessNo = 0;
    let location: StoreLocation;
    let cleanup: () => Promise<void>;
    let store: Store;
    let witness: string;

    beforeAll(async () => {
      ({ location, cleanup } = await backend.create());
      store = await openStore(location);
      await store.migrate();
    });

    afterAll(async () => {
      await store.close();
      await cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    beforeEach(async () => {
      await store.db.deleteFrom('ledger_checkpoints').execute();
      await store.db.deleteFrom('ledger_records').execute();
      witnessNo += 1;
      witness = join(dir, `witness-${witnessNo}.jsonl`);
    });

    const open = (options: LedgerOptions = {}) =>
      new Ledger(store, { signer: { privateKey }, checkpointLog: witness, ...options });

    async function seed(count: number, options: LedgerOptions = {}): Promise<Ledger> {
      const ledger = open(options);
      for (let i = 1; i <= count; i += 1) {
        await ledger.append(i % 3 === 0 ? gateResult('backup', 'datastore:orders') : note(`n${i}`));
      }
      return ledger;
    }

    /** The stored chain as records, read with SQL, for rewriting. */
    async function storedChain(): Promise<ChainRecord[]> {
      const rows = await store.db.selectFrom('ledger_records').selectAll().orderBy('seq').execute();
      return rows.map((row) => ({
        seq: row.seq,
        id: row.id,
        kind: row.kind,
        subject: row.subject,
        actor: JSON.parse(row.actor) as unknown,
        recordedAt: row.recorded_at,
        body: JSON.parse(row.body) as unknown,
        prevHash: row.prev_hash,
        hash: row.hash,
      }));
    }

    async function overwrite(records: readonly ChainRecord[]): Promise<void> {
      for (const record of records) {
        await store.db
          .updateTable('ledger_records')
          .set({
            subject: record.subject,
            body: JSON.stringify(record.body),
            prev_hash: record.prevHash,
            hash: record.hash,
          })
          .where('seq', '=', record.seq)
          .execute();
      }
    }

    describe('round trip', () => {
      it('appends, lists, gets, counts and verifies', async () => {
        const ledger = open();
        const first = await ledger.append(gateResult('backup', 'datastore:orders'));
        expect(first).toMatchObject({
          seq: 1,
          kind: 'gate-result',
          prevHash: GENESIS_HASH,
          body: { gate: 'backup', durationMs: 90_000, validUntil: '2025-05-02T10:01:30.000Z' },
        });
        expect(first.hash).toBe(hashRecord(first));
        const second = await ledger.append(note('hello'));
        expect(second.prevHash).toBe(first.hash);
        await ledger.append(gateResult('dr-drill', 'datastore:orders'));
        await ledger.append(gateResult('backup', 'datastore:users'));

        expect(await ledger.count()).toBe(4);
        expect((await ledger.list()).map((r) => r.seq)).toEqual([1, 2, 3, 4]);
        expect((await ledger.list({ order: 'desc', limit: 2 })).map((r) => r.seq)).toEqual([4, 3]);
        expect((await ledger.list({ gate: 'backup' })).map((r) => r.seq)).toEqual([1, 4]);
        expect((await ledger.list({ kind: 'event' })).map((r) => r.seq)).toEqual([2]);
        expect((await ledger.list({ subject: 'datastore:orders' })).map((r) => r.seq)).toEqual([
          1, 3,
        ]);
        expect((await ledger.list({ afterSeq: 1, beforeSeq: 4 })).map((r) => r.seq)).toEqual([
          2, 3,
        ]);

        expect(await ledger.get(2)).toEqual(second);
        expect(await ledger.get('2')).toEqual(second);
        expect(await ledger.get(second.id)).toEqual(second);
        await expect(ledger.get(99)).rejects.toMatchObject({
          code: 'SHIP_LEDGER_NOT_FOUND',
          exitCode: 2,
          message: 'There is no ledger record #99.',
        });
        await expect(ledger.get('nope')).rejects.toMatchObject({ code: 'SHIP_LEDGER_NOT_FOUND' });
        await expect(ledger.list({ gate: 'backups' })).rejects.toMatchObject({
          code: 'SHIP_LEDGER_BAD_FILTER',
          exitCode: 2,
        });

        const report = await ledger.verify();
        expect(report).toMatchObject({
          ok: true,
          records: 4,
          checkpoints: { total: 4, valid: 4 },
          witness: { total: 4, valid: 4 },
          head: { seq: 4 },
          signedThrough: 4,
          problems: [],
          warnings: [],
        });
        // The witness file holds one line per checkpoint.
        expect(readFileSync(witness, 'utf8').trim().split('\n')).toHaveLength(4);
      });

      it('rejects bad input with every problem and stores nothing', async () => {
        const ledger = open();
        const bad = gateResult('backup', 'x');
        await expect(
          ledger.append({
            ...bad,
            body: { ...bad.body, outcome: 'ok', validFor: 'forever' },
          } as unknown as AppendInput),
        ).rejects.toMatchObject({
          code: 'SHIP_LEDGER_BAD_INPUT',
          exitCode: 2,
          problems: [
            expect.objectContaining({ path: 'body.outcome' }),
            expect.objectContaining({ path: 'body.validFor' }),
          ],
        });
        expect(await ledger.count()).toBe(0);
      });

      it('redacts secrets before they are hashed and stored', async () => {
        const secret = `canary-${backend.name}-7f3a9c`;
        registerSecret(secret);
        const ledger = open();
        await ledger.append(note(`password is ${secret}`, `service:${secret}`));
        const rows = await store.db.selectFrom('ledger_records').selectAll().execute();
        expect(JSON.stringify(rows)).not.toContain(secret);
        expect((await ledger.get(1)).subject).toBe('service:[REDACTED]');
        expect((await ledger.verify()).ok).toBe(true);
      });

      it('exports with a freshly signed head and verifies the export offline', async () => {
        const ledger = await seed(7);
        const file = join(dir, `export-${witnessNo}.jsonl`);
        const summary = await ledger.export(file);
        expect(summary).toMatchObject({ records: 7, checkpoints: 8, verified: true });
        expect(summary.signedHead).toMatchObject({ seq: 7, keyId: keys.keyId });

        const lines = readFileSync(file, 'utf8').trim().split('\n');
        expect(JSON.parse(lines[0]!)).toMatchObject({
          format: 'shipshape-ledger-export',
          version: 1,
          records: 7,
        });
        expect(lines).toHaveLength(1 + 7 + 8);
        expect(JSON.parse(lines.at(-1)!)).toEqual({ type: 'checkpoint', ...summary.signedHead });

        const offline = await verifyExportFile(file, keys.publicKeyPem);
        expect(offline).toMatchObject({ ok: true, records: 7, signedThrough: 7 });
        expect(offline.head).toEqual((await ledger.verify()).head);

        // The same to a stream, which is left open for the caller.
        const sink = new PassThrough();
        const chunks: Buffer[] = [];
        sink.on('data', (chunk: Buffer) => chunks.push(chunk));
        await ledger.export(sink);
        expect(sink.writableEnded).toBe(false);
        expect(Buffer.concat(chunks).toString().trim().split('\n')).toHaveLength(16);
      });

      it('signs every N records and covers the tail when exporting', async () => {
        const ledger = await seed(12, { checkpointEvery: 5 });
        const report = await ledger.verify();
        expect(report).toMatchObject({ ok: true, checkpoints: { total: 2 }, signedThrough: 10 });
        expect(report.warnings).toEqual([
          'Records 11..12 are not covered by any valid signed checkpoint.',
        ]);
        const file = join(dir, `export-${witnessNo}.jsonl`);
        expect((await ledger.export(file)).signedHead?.seq).toBe(12);
        expect(await verifyExportFile(file, keys.publicKeyPem)).toMatchObject({
          ok: true,
          signedThrough: 12,
          warnings: [],
        });
      });

      it('chains without signing when no signer is configured, and says so', async () => {
        const ledger = new Ledger(store);
        await ledger.append(note('unsigned'));
        const report = await ledger.verify();
        expect(report).toMatchObject({ ok: true, signaturesChecked: false, signedThrough: 0 });
        expect(report.warnings[0]).toMatch(/Signatures were not checked/);
        // A verifier that has the public key does not accept it.
        const strict = await new Ledger(store, { publicKey }).verify();
        expect(codes(strict)).toEqual(['SHIP_LEDGER_UNSIGNED_TAIL']);
      });

      it('refuses a signing key that does not match the public key', () => {
        const other = generateKeyPairSync('ed25519');
        expect(
          () => new Ledger(store, { signer: { privateKey }, publicKey: other.publicKey }),
        ).toThrow(expect.objectContaining({ code: 'SHIP_LEDGER_KEY_MISMATCH' }));
      });
    });

    describe('tampering with SQL in the database', () => {
      it('catches an edited record (UPDATE)', async () => {
        const ledger = await seed(6);
        await store.db
          .updateTable('ledger_records')
          .set({ body: '{"details":{"text":"edited"},"type":"note"}' })
          .where('seq', '=', 2)
          .execute();
        const report = await ledger.verify();
        expect(report.ok).toBe(false);
        expect(report.problems).toEqual(
          expect.arrayContaining([
            expect.objectContaining({ code: 'SHIP_LEDGER_HASH_MISMATCH', seq: 2 }),
            expect.objectContaining({ code: 'SHIP_LEDGER_CHECKPOINT_MISMATCH', seq: 2 }),
          ]),
        );
      });

      it('catches a deleted record (DELETE)', async () => {
        const ledger = await seed(6);
        await store.db.deleteFrom('ledger_records').where('seq', '=', 3).execute();
        expect(codes(await ledger.verify())).toEqual([
          'SHIP_LEDGER_CHAIN_BROKEN',
          'SHIP_LEDGER_CHECKPOINT_MISMATCH',
          'SHIP_LEDGER_SEQUENCE',
        ]);
      });

      it('catches an inserted record (INSERT, later records renumbered)', async () => {
        const ledger = await seed(6);
        // Make room at seq 4 in two steps (unique seq), then insert a well-formed forgery.
        await store.db
          .updateTable('ledger_records')
          .set((eb) => ({ seq: eb.neg(eb.ref('seq')) }))
          .where('seq', '>=', 4)
          .execute();
        await store.db
          .updateTable('ledger_records')
          .set((eb) => ({ seq: eb(eb.neg(eb.ref('seq')), '+', 1) }))
          .where('seq', '<', 0)
          .execute();
        const [, , third] = await storedChain();
        const forged = {
          seq: 4,
          id: '00000000-0000-4000-8000-000000000004',
          kind: 'event',
          subject: 'service:shop',
          actor: { kind: 'os-user', osUser: 'mallory', roles: ['sre-lead'] },
          recordedAt: '2025-05-01T00:00:00.000Z',
          body: { type: 'approval-granted', details: {} },
          prevHash: third!.hash,
        };
        await store.db
          .insertInto('ledger_records')
          .values({
            seq: 4,
            id: forged.id,
            kind: forged.kind,
            gate: null,
            event_type: 'approval-granted',
            subject: forged.subject,
            actor: JSON.stringify(forged.actor),
            recorded_at: forged.recordedAt,
            body: JSON.stringify(forged.body),
            prev_hash: forged.prevHash,
            hash: hashRecord(forged),
          })
          .execute();
        const report = await ledger.verify();
        expect(codes(report)).toEqual(
          expect.arrayContaining(['SHIP_LEDGER_CHAIN_BROKEN', 'SHIP_LEDGER_CHECKPOINT_MISMATCH']),
        );
        expect(report.problems.find((p) => p.code === 'SHIP_LEDGER_CHAIN_BROKEN')?.seq).toBe(5);
      });

      it('catches two reordered records (seq swapped)', async () => {
        const ledger = await seed(6);
        await store.db
          .updateTable('ledger_records')
          .set({ seq: -1 })
          .where('seq', '=', 3)
          .execute();
        await store.db.updateTable('ledger_records').set({ seq: 3 }).where('seq', '=', 4).execute();
        await store.db
          .updateTable('ledger_records')
          .set({ seq: 4 })
          .where('seq', '=', -1)
          .execute();
        expect(codes(await ledger.verify())).toEqual([
          'SHIP_LEDGER_CHAIN_BROKEN',
          'SHIP_LEDGER_CHECKPOINT_MISMATCH',
          'SHIP_LEDGER_HASH_MISMATCH',
        ]);
      });

      it('catches a consistent rewrite of the whole chain through the checkpoints', async () => {
        const ledger = await seed(6);
        const rewritten = rechain(
          (await storedChain()).map((record) => ({ ...record, subject: 'service:rewritten' })),
        );
        await overwrite(rewritten);
        // The chain on its own is now perfectly consistent…
        const chainOnly = await new Ledger(store).verify();
        expect(codes(chainOnly)).toEqual(['SHIP_LEDGER_CHECKPOINT_MISMATCH']);
        expect(chainOnly.problems.every((p) => p.source !== undefined)).toBe(true);
        // …but every signed checkpoint disagrees with it.
        const report = await ledger.verify();
        expect(report.ok).toBe(false);
        expect(
          report.problems.filter((p) => p.code === 'SHIP_LEDGER_CHECKPOINT_MISMATCH'),
        ).toHaveLength(12); // 6 in the database, 6 in the witness
        expect(report.signedThrough).toBe(0);
      });

      it('catches a rewrite that also deletes the checkpoints, through the witness file', async () => {
        const ledger = await seed(6);
        await overwrite(rechain((await storedChain()).map((r) => ({ ...r, subject: 'forged' }))));
        await store.db.deleteFrom('ledger_checkpoints').execute();
        const report = await open({ allowUnsignedTail: true }).verify();
        expect(codes(report)).toEqual(['SHIP_LEDGER_CHECKPOINT_MISMATCH']);
        expect(report.problems.every((p) => p.source === 'witness')).toBe(true);
        // With the default strictness the unsigned history is a problem of its own.
        expect(codes(await ledger.verify())).toEqual([
          'SHIP_LEDGER_CHECKPOINT_MISMATCH',
          'SHIP_LEDGER_UNSIGNED_TAIL',
        ]);
      });

      it('catches a rewrite re-signed with the attacker’s own key', async () => {
        const ledger = await seed(4);
        const rewritten = rechain((await storedChain()).map((r) => ({ ...r, subject: 'forged' })));
        await overwrite(rewritten);
        await store.db.deleteFrom('ledger_checkpoints').execute();
        const forged = signAll(rewritten, generateKeyPairSync('ed25519').privateKey);
        await store.db
          .insertInto('ledger_checkpoints')
          .values(
            forged.map((c) => ({
              seq: c.seq,
              head_hash: c.headHash,
              signed_at: c.signedAt,
              key_id: c.keyId,
              signature: c.signature,
            })),
          )
          .execute();
        expect(codes(await ledger.verify())).toEqual([
          'SHIP_LEDGER_CHECKPOINT_MISMATCH',
          'SHIP_LEDGER_UNKNOWN_KEY',
          'SHIP_LEDGER_UNSIGNED_TAIL',
        ]);
      });

      it('catches a truncated tail through the witness, and an earlier export still verifies', async () => {
        const ledger = await seed(8);
        const file = join(dir, `export-${witnessNo}.jsonl`);
        await ledger.export(file);
        await store.db.deleteFrom('ledger_records').where('seq', '>', 5).execute();
        await store.db.deleteFrom('ledger_checkpoints').where('seq', '>', 5).execute();
        // Without the witness the shorter ledger is indistinguishable from a younger one.
        expect((await new Ledger(store, { publicKey }).verify()).ok).toBe(true);
        const report = await ledger.verify();
        expect(codes(report)).toEqual(['SHIP_LEDGER_TRUNCATED']);
        expect(report.problems.map((p) => p.seq)).toEqual([6, 7, 8]);
        expect((await verifyExportFile(file, publicKey)).ok).toBe(true);
        // A new export does not sign the truncated head.
        const again = await ledger.export(join(dir, `export-${witnessNo}-after.jsonl`));
        expect(again).toMatchObject({ verified: false, signedHead: null });
      });

      it('catches a tampered checkpoint signature and a checkpoint from an unknown key', async () => {
        const ledger = await seed(4);
        const row = await store.db
          .selectFrom('ledger_checkpoints')
          .selectAll()
          .where('seq', '=', 2)
          .executeTakeFirstOrThrow();
        const signature = Buffer.from(row.signature, 'base64');
        signature[0] = signature[0]! ^ 0xff;
        await store.db
          .updateTable('ledger_checkpoints')
          .set({ signature: signature.toString('base64') })
          .where('seq', '=', 2)
          .execute();
        const [forged] = signAll(
          (await storedChain()).slice(2, 3),
          generateKeyPairSync('ed25519').privateKey,
        );
        await store.db
          .updateTable('ledger_checkpoints')
          .set({ key_id: forged!.keyId, signature: forged!.signature })
          .where('seq', '=', 3)
          .execute();
        const report = await new Ledger(store, { publicKey }).verify();
        expect(report.problems.map((p) => [p.code, p.seq])).toEqual([
          ['SHIP_LEDGER_BAD_SIGNATURE', 2],
          ['SHIP_LEDGER_UNKNOWN_KEY', 3],
        ]);
        expect(report.checkpoints).toEqual({ total: 4, valid: 2 });
        expect((await ledger.verify()).ok).toBe(false);
      });

      it('catches an index column that disagrees with the hashed record', async () => {
        const ledger = await seed(3);
        await store.db
          .updateTable('ledger_records')
          .set({ gate: 'audit' })
          .where('seq', '=', 3)
          .execute();
        const report = await ledger.verify();
        expect(report.problems).toEqual([
          expect.objectContaining({ code: 'SHIP_LEDGER_BAD_RECORD', seq: 3 }),
        ]);
      });

      it('reports a record whose JSON was corrupted, and refuses to list it', async () => {
        const ledger = await seed(3);
        await store.db
          .updateTable('ledger_records')
          .set({ body: '{"type":' })
          .where('seq', '=', 2)
          .execute();
        const report = await ledger.verify();
        expect(codes(report)).toEqual([
          'SHIP_LEDGER_BAD_RECORD',
          'SHIP_LEDGER_CHECKPOINT_MISMATCH',
        ]);
        await expect(ledger.list()).rejects.toMatchObject({
          code: 'SHIP_LEDGER_BAD_RECORD',
          exitCode: 10,
        });
      });
    });

    describe('concurrency', () => {
      const workerArgs = (workers: number, count: number): string[][] =>
        Array.from({ length: workers }, (_, worker) => [
          JSON.stringify({
            location,
            count,
            worker,
            privateKeyPem: keys.privateKeyPem,
            checkpointLog: witness,
          }),
        ]);

      it('verify and export run while other processes append never report a false problem', async () => {
        const workers = { finished: false };
        const running = runTogether('test/ledger/append-worker.ts', workerArgs(2, 300)).finally(
          () => {
            workers.finished = true;
          },
        );
        const reader = new Ledger(store, { publicKey, checkpointLog: witness });
        const exporter = open();
        const discard = new Writable({
          write: (_chunk, _encoding, done) => {
            done();
          },
        });
        const failed: unknown[] = [];
        let rounds = 0;
        // Each round is real work (a verification and an export), not a wait; it ends with the workers.
        for (;;) {
          const report = await reader.verify();
          if (!report.ok) failed.push(report.problems);
          const exported = await exporter.export(discard);
          if (!exported.verified) failed.push(exported);
          rounds += 1;
          if (workers.finished) break;
        }
        const results = await running;
        for (const result of results) expect(result.code, result.stderr).toBe(0);
        expect(failed).toEqual([]);
        expect(rounds).toBeGreaterThan(0);
        expect(await reader.verify()).toMatchObject({ ok: true, records: 600, signedThrough: 600 });
      });

      it(`${WORKERS} processes × ${APPENDS_PER_WORKER} appends form one linear, signed chain`, async () => {
        const results = await runTogether(
          'test/ledger/append-worker.ts',
          workerArgs(WORKERS, APPENDS_PER_WORKER),
        );
        for (const result of results) {
          expect(result.code, result.stderr).toBe(0);
          expect(JSON.parse(result.lines[0] ?? '{}')).toMatchObject({
            appended: APPENDS_PER_WORKER,
          });
        }

        const total = WORKERS * APPENDS_PER_WORKER;
        const seqs = (
          await store.db.selectFrom('ledger_records').select('seq').orderBy('seq').execute()
        ).map((row) => row.seq);
        expect(seqs).toEqual(Array.from({ length: total }, (_, i) => i + 1));

        const report = await new Ledger(store, { publicKey, checkpointLog: witness }).verify();
        expect(report).toMatchObject({
          ok: true,
          records: total,
          checkpoints: { total, valid: total },
          witness: { total, valid: total },
          head: { seq: total },
          signedThrough: total,
          problems: [],
        });
        // Every worker's appends are all there, in its own order.
        for (let worker = 0; worker < WORKERS; worker += 1) {
          const mine = await new Ledger(store).list({ subject: `worker:${worker}`, limit: 10_000 });
          expect(mine.map((r) => (r.kind === 'event' ? r.body.details.n : null))).toEqual(
            Array.from({ length: APPENDS_PER_WORKER }, (_, i) => i + 1),
          );
        }
      });
    });
  });
}
