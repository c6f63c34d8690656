import { createWriteStream } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type {
  ExportSummary,
  LedgerCheckpoint,
  LedgerRecord,
  EvidenceLedger,
  ListOptions,
  NewEvidence,
  VerifyReport,
} from '../ledger/index.js';
import type { RemoteClient } from './client.js';

/**
 * The evidence ledger of a `shipshape serve` instance, reached over its API. The server appends
 * as the token's person: this client never sends an actor.
 */
export class RemoteLedger implements EvidenceLedger {
  readonly #client: RemoteClient;

  constructor(client: RemoteClient) {
    this.#client = client;
  }

  get location(): string {
    return this.#client.origin;
  }

  record(input: NewEvidence): Promise<LedgerRecord> {
    return this.#client.request<LedgerRecord>('POST', '/v1/ledger/records', {
      body: { kind: input.kind, subject: input.subject, body: input.body },
    });
  }

  async list(options: ListOptions = {}): Promise<LedgerRecord[]> {
    const { records } = await this.#client.request<{ records: LedgerRecord[] }>(
      'GET',
      '/v1/ledger/records',
      { query: { ...options } },
    );
    return records;
  }

  get(ref: number | string): Promise<LedgerRecord> {
    return this.#client.request<LedgerRecord>(
      'GET',
      `/v1/ledger/records/${encodeURIComponent(String(ref))}`,
    );
  }

  async count(): Promise<number> {
    return (await this.#client.request<{ count: number }>('GET', '/v1/ledger/count')).count;
  }

  verify(): Promise<VerifyReport> {
    return this.#client.request<VerifyReport>('GET', '/v1/ledger/verify');
  }

  /** Streams the server's JSONL export to `out` (a path is written atomically). */
  async export(out: Writable | string): Promise<ExportSummary> {
    const response = await this.#client.raw('GET', '/v1/ledger/export', { stream: true });
    if (response.body === null) throw new Error('export response has no body');
    const summary: ExportSummary = {
      records: 0,
      checkpoints: 0,
      signedHead: null,
      verified: false,
    };
    let pending = '';
    const count = (line: string) => {
      if (line === '') return;
      const entry = JSON.parse(line) as { type?: string };
      if (entry.type === 'record') summary.records += 1;
      if (entry.type === 'checkpoint') {
        summary.checkpoints += 1;
        summary.signedHead = entry as unknown as LedgerCheckpoint;
      }
    };
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        const lines = (pending + chunk.toString('utf8')).split('\n');
        pending = lines.pop() ?? '';
        lines.forEach(count);
        done(null, chunk);
      },
      flush(done) {
        count(pending);
        done();
      },
    });
    const source = Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
    if (typeof out !== 'string') {
      await pipeline(source, counter, out, { end: false });
    } else {
      const temporary = `${out}.tmp-${process.pid}-${randomUUID().slice(0, 8)}`;
      try {
        await pipeline(source, counter, createWriteStream(temporary, { mode: 0o644 }));
        const handle = await open(temporary, 'r+');
        await handle.sync().finally(() => handle.close());
        await rename(temporary, out);
      } catch (error) {
        await rm(temporary, { force: true });
        throw error;
      }
    }
    // The server only signs a head for a ledger that verified.
    summary.verified = summary.signedHead !== null;
    return summary;
  }
}
