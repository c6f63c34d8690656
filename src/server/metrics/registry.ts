import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import {
  BACKUP_STATES,
  datastoreBackupStatus,
  type DatastoreBackupStatus,
} from '../../datastores/index.js';
import type { Datastore } from '../../spec/index.js';
import { LedgerSeries, OUTCOME_VALUE, type LedgerSource } from './ledger-series.js';

export interface ServerMetricsOptions {
  /** The ledger the domain series are computed from (opened lazily). */
  ledger: () => Promise<LedgerSource>;
  /** Include the process and Node.js series (`process_*`, `nodejs_*`). @default true */
  processMetrics?: boolean;
  /** Told when the ledger cannot be read for a scrape (the scrape still answers). */
  onLedgerError?: (error: unknown) => void;
  /**
   * The spec's data stores, for the backup status gauges (schedule, RPO). @default none: only
   * the last-success gauge is exported
   */
  datastores?: () => Readonly<Record<string, Datastore>>;
  /** The clock backup ages are measured with. @default () => new Date() */
  now?: () => Date;
}

/** The metric names Shipshape exports, for docs and tests. See docs/server.md. */
export const METRIC_NAMES = {
  gateLastOutcome: 'shipshape_gate_last_outcome',
  gateLastSuccess: 'shipshape_gate_last_success_timestamp_seconds',
  ledgerRecords: 'shipshape_ledger_records_total',
  ledgerUp: 'shipshape_ledger_up',
  backupLastSuccess: 'shipshape_backup_last_success_timestamp_seconds',
  backupAge: 'shipshape_backup_age_seconds',
  backupRpo: 'shipshape_backup_rpo_seconds',
  backupRpoAtRisk: 'shipshape_backup_rpo_at_risk',
  backupStatus: 'shipshape_backup_status',
  httpRequests: 'shipshape_http_requests_total',
} as const;

/**
 * The server's Prometheus registry: process defaults, HTTP request counts, and domain series
 * computed from the ledger (incrementally, see LedgerSeries) at each scrape.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly #series = new LedgerSeries();
  readonly #options: ServerMetricsOptions;
  readonly #httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly #gateOutcome: Gauge<'gate' | 'subject'>;
  readonly #gateSuccess: Gauge<'gate' | 'subject'>;
  readonly #records: Counter;
  #recordsPublished = 0;
  readonly #ledgerUp: Gauge;
  readonly #backupSuccess: Gauge<'datastore'>;
  readonly #backupAge: Gauge<'datastore'>;
  readonly #backupRpo: Gauge<'datastore'>;
  readonly #backupRpoAtRisk: Gauge<'datastore'>;
  readonly #backupStatus: Gauge<'datastore' | 'status'>;

  constructor(options: ServerMetricsOptions) {
    this.#options = options;
    const registers = [this.registry];
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    this.#httpRequests = new Counter({
      name: METRIC_NAMES.httpRequests,
      help: 'HTTP requests answered, by method, route pattern and status.',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.#gateOutcome = new Gauge({
      name: METRIC_NAMES.gateLastOutcome,
      help: 'Outcome of the newest result of each gate and subject: 1 passed, 0 failed, -1 error.',
      labelNames: ['gate', 'subject'],
      registers,
    });
    this.#gateSuccess = new Gauge({
      name: METRIC_NAMES.gateLastSuccess,
      help: 'When the newest passed result of each gate and subject finished (Unix seconds).',
      labelNames: ['gate', 'subject'],
      registers,
    });
    // A counter (the ledger only grows), so rate() gives appends per second.
    this.#records = new Counter({
      name: METRIC_NAMES.ledgerRecords,
      help: 'Records in the evidence ledger.',
      registers,
    });
    this.#ledgerUp = new Gauge({
      name: METRIC_NAMES.ledgerUp,
      help: '1 when this scrape read the ledger; 0 when it could not (the domain series then hold the last values read).',
      registers,
    });
    this.#backupSuccess = new Gauge({
      name: METRIC_NAMES.backupLastSuccess,
      help: 'When the newest passed backup of each data store finished (Unix seconds).',
      labelNames: ['datastore'],
      registers,
    });
    this.#backupAge = new Gauge({
      name: METRIC_NAMES.backupAge,
      help: "Age of the newest successful backup's data per data store (seconds; absent before any).",
      labelNames: ['datastore'],
      registers,
    });
    this.#backupRpo = new Gauge({
      name: METRIC_NAMES.backupRpo,
      help: 'Recovery point objective of each data store from the spec (seconds).',
      labelNames: ['datastore'],
      registers,
    });
    this.#backupRpoAtRisk = new Gauge({
      name: METRIC_NAMES.backupRpoAtRisk,
      help: 'Per data store: 1 when the newest backup is older than its RPO (or there is none), else 0.',
      labelNames: ['datastore'],
      registers,
    });
    this.#backupStatus = new Gauge({
      name: METRIC_NAMES.backupStatus,
      help: 'Backup status per data store, as `shipshape backup status` reports it: 1 for the current status, 0 for the others.',
      labelNames: ['datastore', 'status'],
      registers,
    });
  }

  /**
   * The backup status of every spec data store, from the ledger as of the last refresh: the
   * same function `shipshape backup status` uses.
   */
  backupStatuses(): DatastoreBackupStatus[] {
    const datastores = this.#options.datastores?.() ?? {};
    const now = this.#options.now?.() ?? new Date();
    return Object.entries(datastores).map(([name, datastore]) =>
      datastoreBackupStatus(name, datastore, this.#series.backupFacts(name), now),
    );
  }

  /** Counts one answered request. `route` is the route pattern (bounded), never the raw path. */
  countRequest(method: string, route: string, status: number): void {
    this.#httpRequests.inc({ method, route, status: String(status) });
  }

  /** The exposition text (Prometheus text format 0.0.4) after folding in new ledger records. */
  async render(): Promise<{ contentType: string; text: string }> {
    try {
      await this.#series.refresh(await this.#options.ledger());
      this.#ledgerUp.set(1);
    } catch (error) {
      this.#ledgerUp.set(0);
      this.#options.onLedgerError?.(error);
    }
    this.#publish();
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }

  #publish(): void {
    const total = this.#series.total;
    if (total < this.#recordsPublished) {
      // A replaced or restored store: a counter reset, which Prometheus understands.
      this.#records.reset();
      this.#recordsPublished = 0;
    }
    this.#records.inc(total - this.#recordsPublished);
    this.#recordsPublished = total;
    this.#gateOutcome.reset();
    this.#gateSuccess.reset();
    for (const series of this.#series.gates()) {
      const labels = { gate: series.gate, subject: series.subject };
      this.#gateOutcome.set(labels, OUTCOME_VALUE[series.outcome]);
      if (series.lastSuccessSeconds !== undefined) {
        this.#gateSuccess.set(labels, series.lastSuccessSeconds);
      }
    }
    this.#backupSuccess.reset();
    for (const [datastore, seconds] of this.#series.backups()) {
      this.#backupSuccess.set({ datastore }, seconds);
    }
    this.#backupAge.reset();
    this.#backupRpo.reset();
    this.#backupRpoAtRisk.reset();
    this.#backupStatus.reset();
    for (const status of this.backupStatuses()) {
      const labels = { datastore: status.datastore };
      if (status.ageSeconds !== null) this.#backupAge.set(labels, status.ageSeconds);
      if (status.rpoSeconds !== null) this.#backupRpo.set(labels, status.rpoSeconds);
      this.#backupRpoAtRisk.set(labels, status.rpoAtRisk ? 1 : 0);
      for (const state of BACKUP_STATES) {
        this.#backupStatus.set({ ...labels, status: state }, state === status.status ? 1 : 0);
      }
    }
  }
}
