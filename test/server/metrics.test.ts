import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseExposition, samplesOf, type Exposition } from './exposition.js';
import { createFixture, gateResult, type Fixture } from './fixture.js';

const T1 = '2025-03-01T10:00:00.000Z';
const T2 = '2025-03-02T10:00:00.000Z';
const T3 = '2025-03-03T10:00:00.000Z';
const seconds = (iso: string) => Date.parse(iso) / 1000;

describe('/metrics', () => {
  let f: Fixture;
  let ci: string;

  async function scrape(): Promise<Exposition> {
    const res = await f.request('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain; version=0.0.4');
    expect(res.headers.get('x-request-id')).toBeTruthy();
    return parseExposition(await res.text());
  }

  async function append(subject: string, body: unknown): Promise<void> {
    const res = await f.request('/v1/ledger/records', {
      method: 'POST',
      token: ci,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'gate-result', subject, body }),
    });
    expect(res.status).toBe(201);
  }

  beforeAll(async () => {
    f = await createFixture();
    ci = await f.token('ci');
  });
  afterAll(async () => {
    await f.close();
  });

  it('exports process series and empty domain families before any gate result', async () => {
    const m = await scrape();
    expect(m.types.get('process_cpu_user_seconds_total')).toBe('counter');
    expect(m.types.get('nodejs_heap_size_used_bytes')).toBe('gauge');
    expect(m.types.get('shipshape_gate_last_outcome')).toBe('gauge');
    expect(m.types.get('shipshape_backup_last_success_timestamp_seconds')).toBe('gauge');
    expect(samplesOf(m, 'shipshape_gate_last_outcome')).toEqual([]);
    expect(samplesOf(m, 'shipshape_backup_last_success_timestamp_seconds')).toEqual([]);
    // The token mint is the one record so far.
    expect(samplesOf(m, 'shipshape_ledger_records_total')[0]?.value).toBe(1);
    expect(samplesOf(m, 'shipshape_ledger_up')[0]?.value).toBe(1);
  });

  it('computes gate and backup series from appended gate results', async () => {
    await append('service:shop', gateResult('validate', 'passed', T1));
    await append('datastore:orders', gateResult('backup', 'passed', T1));
    await append('datastore:orders', gateResult('backup', 'passed', T2));
    await append('datastore:orders', gateResult('backup', 'failed', T3));
    await append('service:shop', gateResult('audit', 'error', T3));
    // A subject that needs escaping in the exposition format.
    await append('service:"odd"\\name', gateResult('validate', 'passed', T2));

    const m = await scrape();
    const outcome = (gate: string, subject: string) =>
      samplesOf(m, 'shipshape_gate_last_outcome', { gate, subject }).map((s) => s.value);
    expect(outcome('validate', 'service:shop')).toEqual([1]);
    expect(outcome('backup', 'datastore:orders')).toEqual([0]);
    expect(outcome('audit', 'service:shop')).toEqual([-1]);
    expect(outcome('validate', 'service:"odd"\\name')).toEqual([1]);

    const success = (gate: string, subject: string) =>
      samplesOf(m, 'shipshape_gate_last_success_timestamp_seconds', { gate, subject }).map(
        (s) => s.value,
      );
    expect(success('validate', 'service:shop')).toEqual([seconds(T1)]);
    // The newest passed backup, although the newest backup failed.
    expect(success('backup', 'datastore:orders')).toEqual([seconds(T2)]);
    // Never passed: no success timestamp at all (rather than a misleading 0).
    expect(success('audit', 'service:shop')).toEqual([]);

    expect(
      samplesOf(m, 'shipshape_backup_last_success_timestamp_seconds').map((s) => [
        s.labels.datastore,
        s.value,
      ]),
    ).toEqual([['orders', seconds(T2)]]);
    expect(samplesOf(m, 'shipshape_ledger_records_total')[0]?.value).toBe(
      await (await f.workspace.ledger()).count(),
    );
    expect(
      samplesOf(m, 'shipshape_http_requests_total', {
        method: 'POST',
        route: '/v1/ledger/records',
        status: '201',
      })[0]?.value,
    ).toBe(6);
  });

  it('labels HTTP requests by route pattern, never by raw path', async () => {
    await f.request('/v1/ledger/records/12345', { token: ci });
    await f.request('/v1/ledger/records/67890', { token: ci });
    await f.request('/no/such/path/a');
    await f.request('/no/such/path/b');
    const m = await scrape();
    const routes = new Set(
      samplesOf(m, 'shipshape_http_requests_total').map((s) => s.labels.route),
    );
    expect(routes).toContain('/v1/ledger/records/:ref');
    expect(routes).toContain('(unmatched)');
    for (const route of routes) expect(route).not.toMatch(/12345|67890|such/);
    expect(
      samplesOf(m, 'shipshape_http_requests_total', {
        route: '/v1/ledger/records/:ref',
        status: '404',
      })[0]?.value,
    ).toBe(2);
  });

  it('picks up records appended behind the server’s back at the next scrape', async () => {
    const ledger = await f.workspace.ledger();
    await ledger.append({
      kind: 'gate-result',
      subject: 'datastore:payments',
      actor: { kind: 'system', roles: [] },
      body: { ...gateResult('backup', 'passed', T3), gate: 'backup' },
    });
    const m = await scrape();
    expect(
      samplesOf(m, 'shipshape_backup_last_success_timestamp_seconds', {
        datastore: 'payments',
      })[0]?.value,
    ).toBe(seconds(T3));
    expect(samplesOf(m, 'shipshape_ledger_records_total')[0]?.value).toBe(await ledger.count());
  });
});
