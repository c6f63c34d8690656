import type { Writable } from 'node:stream';
import type { Actor, AppendInput, LedgerRecord } from './evidence.js';
import type { ExportSummary, Ledger, ListOptions } from './ledger.js';
import type { VerifyReport } from './verify.js';

type WithoutActor<T> = T extends unknown ? Omit<T, 'actor'> : never;

/** New evidence as a caller gives it: who records it is decided by where it is recorded. */
export type NewEvidence = WithoutActor<AppendInput>;

/**
 * The evidence ledger as commands use it, local (the state store) or remote (`shipshape serve`):
 * same calls, same results, same errors.
 */
export interface EvidenceLedger {
  /** Where the evidence lives, for messages: a store location or a server origin. */
  readonly location: string;
  /** Appends as the local operator (local) or as the token's person (remote). */
  record(input: NewEvidence): Promise<LedgerRecord>;
  list(options?: ListOptions): Promise<LedgerRecord[]>;
  get(ref: number | string): Promise<LedgerRecord>;
  count(): Promise<number>;
  verify(): Promise<VerifyReport>;
  export(out: Writable | string): Promise<ExportSummary>;
}

/** The local ledger, recording as a fixed actor (the OS user's person and roles). */
export class LocalEvidenceLedger implements EvidenceLedger {
  readonly location: string;
  readonly #ledger: Ledger;
  readonly #actor: Actor;
  readonly #authorize: (actor: Actor) => void;

  /**
   * @param authorize throws when `actor` may not record evidence (the auth layer's permission
   * check); the ledger itself knows no permissions. @default allows everything
   */
  constructor(
    ledger: Ledger,
    actor: Actor,
    location: string,
    authorize: (actor: Actor) => void = () => undefined,
  ) {
    this.#ledger = ledger;
    this.#actor = actor;
    this.location = location;
    this.#authorize = authorize;
  }

  record(input: NewEvidence): Promise<LedgerRecord> {
    this.#authorize(this.#actor);
    return this.#ledger.append({ ...input, actor: this.#actor });
  }

  list(options?: ListOptions): Promise<LedgerRecord[]> {
    return this.#ledger.list(options);
  }

  get(ref: number | string): Promise<LedgerRecord> {
    return this.#ledger.get(ref);
  }

  count(): Promise<number> {
    return this.#ledger.count();
  }

  verify(): Promise<VerifyReport> {
    return this.#ledger.verify();
  }

  export(out: Writable | string): Promise<ExportSummary> {
    return this.#ledger.export(out);
  }
}
