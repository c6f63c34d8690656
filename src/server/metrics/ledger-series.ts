import { NO_BACKUP_FACTS, foldBackupRecord, type BackupFacts } from '../../datastores/index.js';
import type { LedgerRecord, ListOptions, Outcome } from '../../ledger/index.js';

/** `shipshape_gate_last_outcome` values. */
export const OUTCOME_VALUE = { passed: 1, failed: 0, error: -1 } as const satisfies Record<
  Outcome,
  number
>;

export interface GateSeries {
  gate: string;
  subject: string;
  /** Outcome of the newest (highest seq) result. */
  outcome: Outcome;
  /** Newest `finishedAt` among passed results, in Unix seconds; undefined before any pass. */
  lastSuccessSeconds: number | undefined;
}

/** What the domain series are computed from: the part of the ledger API they need. */
export interface LedgerSource {
  list(options: ListOptions): Promise<LedgerRecord[]>;
  count(): Promise<number>;
}

/** Gate results read per query while catching up. */
const PAGE = 1000;

/** The data store a `backup` result is about: `datastore:orders` → `orders`. */
export function datastoreOf(subject: string): string {
  return subject.startsWith('datastore:') ? subject.slice('datastore:'.length) : subject;
}

/**
 * The domain metrics' state, kept incrementally: each refresh reads only the gate results
 * appended since the last one (by seq), so a scrape costs one count query and, usually, one
 * empty page — not a scan of the whole ledger.
 */
export class LedgerSeries {
  #afterSeq = 0;
  #total = 0;
  readonly #gates = new Map<string, GateSeries>();
  readonly #backups = new Map<string, BackupFacts>();
  #refreshing: Promise<void> | undefined;

  /** Records in the ledger as of the last refresh. */
  get total(): number {
    return this.#total;
  }

  /** Highest gate-result seq folded in so far. */
  get seq(): number {
    return this.#afterSeq;
  }

  gates(): GateSeries[] {
    return [...this.#gates.values()];
  }

  /** Newest successful backup per data store, in Unix seconds. */
  backups(): [datastore: string, seconds: number][] {
    const out: [string, number][] = [];
    for (const [datastore, facts] of this.#backups) {
      if (facts.lastSuccess !== undefined) {
        out.push([datastore, facts.lastSuccess.finishedAt.getTime() / 1000]);
      }
    }
    return out;
  }

  /** What the ledger says about `datastore`'s backups (input of `datastoreBackupStatus`). */
  backupFacts(datastore: string): BackupFacts {
    return this.#backups.get(datastore) ?? NO_BACKUP_FACTS;
  }

  /** Folds in everything appended since the last refresh. Concurrent callers share one read. */
  refresh(ledger: LedgerSource): Promise<void> {
    this.#refreshing ??= this.#catchUp(ledger).finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async #catchUp(ledger: LedgerSource): Promise<void> {
    const total = await ledger.count();
    // Fewer records than already seen: a different (restored, replaced) store. Start over.
    if (total < this.#afterSeq) this.#reset();
    for (;;) {
      const page = await ledger.list({
        afterSeq: this.#afterSeq,
        kind: 'gate-result',
        order: 'asc',
        limit: PAGE,
      });
      for (const record of page) this.add(record);
      if (page.length < PAGE) break;
    }
    this.#total = total;
  }

  /** Folds one record in (records must come in ascending seq). */
  add(record: LedgerRecord): void {
    this.#afterSeq = Math.max(this.#afterSeq, record.seq);
    if (record.kind !== 'gate-result') return;
    const { gate, outcome, finishedAt } = record.body;
    const key = `${gate}\u0000${record.subject}`;
    const previous = this.#gates.get(key);
    const finished = Date.parse(finishedAt) / 1000;
    const passed = outcome === 'passed';
    this.#gates.set(key, {
      gate,
      subject: record.subject,
      outcome,
      lastSuccessSeconds: passed
        ? Math.max(finished, previous?.lastSuccessSeconds ?? -Infinity)
        : previous?.lastSuccessSeconds,
    });
    if (gate === 'backup') {
      const datastore = datastoreOf(record.subject);
      this.#backups.set(
        datastore,
        foldBackupRecord(this.#backups.get(datastore) ?? NO_BACKUP_FACTS, record),
      );
    }
  }

  #reset(): void {
    this.#afterSeq = 0;
    this.#total = 0;
    this.#gates.clear();
    this.#backups.clear();
  }
}
