import { DRILL_GATE, drillSubject, drillSummary, type DrillReportInput } from './evidence.js';
import {
  exactDuration,
  humanBytes,
  humanDuration,
  id12,
  objectiveState,
  timelineRows,
  verdictLabel,
} from './format.js';
import type {
  CheckResult,
  DatastoreOutcome,
  DrillResult,
  ObjectiveResult,
  Placement,
} from './types.js';

/**
 * The drill report as a format-neutral document: sections of fields, tables, lists and code.
 * The Markdown and HTML renderers only decide how each block looks, so both say the same.
 */

export type Tone = 'good' | 'bad' | 'warn' | 'muted';

/** A piece of text with how to show it. */
export interface Cell {
  readonly text: string;
  readonly tone?: Tone;
  /** Show as code (ids, hashes, commands). */
  readonly code?: boolean;
  readonly strong?: boolean;
}

export type Block =
  | { readonly kind: 'fields'; readonly rows: readonly (readonly [string, Cell])[] }
  | {
      readonly kind: 'table';
      readonly headers: readonly string[];
      readonly rows: readonly (readonly Cell[])[];
      /** Columns aligned right (numbers). */
      readonly right?: readonly number[];
    }
  | { readonly kind: 'list'; readonly items: readonly Cell[] }
  | { readonly kind: 'text'; readonly text: Cell }
  | { readonly kind: 'code'; readonly text: string }
  | { readonly kind: 'signoff'; readonly lines: readonly string[] };

export interface Section {
  readonly id: string;
  readonly title: string;
  readonly blocks: readonly Block[];
}

export interface ReportDocument {
  readonly title: string;
  readonly verdict: { readonly label: string; readonly tone: Tone; readonly summary: string };
  readonly sections: readonly Section[];
}

const text = (value: string, extra: Omit<Cell, 'text'> = {}): Cell => ({ text: value, ...extra });
const code = (value: string): Cell => ({ text: value, code: true });
const dash: Cell = { text: '—', tone: 'muted' };

function yesNo(ok: boolean, good = 'ok', bad = 'FAILED'): Cell {
  return ok ? text(good, { tone: 'good' }) : text(bad, { tone: 'bad', strong: true });
}

function objectiveCell(objective: ObjectiveResult | undefined): Cell {
  const state = objectiveState(objective);
  if (objective === undefined) return text(state, { tone: 'muted' });
  if (objective.measuredMs === null) return text(state, { tone: 'bad', strong: true });
  return yesNo(objective.met, 'met', 'MISSED');
}

function offset(ms: number): string {
  return `+${humanDuration(ms)}`;
}

function placementText(placement: Placement): Cell {
  return placement.kind === 'sandbox' ? text('sandbox') : code(`target ${placement.target}`);
}

function header(run: DrillReportInput): Block {
  const { plan } = run.result;
  return {
    kind: 'fields',
    rows: [
      ['Service', text(plan.serviceName, { strong: true })],
      ['Environment', text(plan.environment)],
      ['Run', code(plan.id)],
      ['Verdict', verdictCell(run.result)],
      ['Declared (RTO clock starts)', text(plan.declaredAt)],
      [
        'Disaster time (RPO measured to)',
        text(plan.simulated ? `${plan.disasterAt} (simulated with --at)` : plan.disasterAt),
      ],
      ['Simulated', text(plan.simulated ? 'yes' : 'no')],
      ['Finished', text(run.result.finishedAt)],
      ['Elapsed (until teardown)', text(exactDuration(run.result.elapsedMs))],
      ['Sandboxes kept (--keep)', text(plan.keep ? 'yes' : 'no')],
    ],
  };
}

function verdictCell(result: DrillResult): Cell {
  return text(verdictLabel(result), {
    tone: result.verdict === 'passed' ? 'good' : 'bad',
    strong: true,
  });
}

function objectivesSection(result: DrillResult): Section {
  const { plan } = result;
  const target = (ms: number | undefined, from: string | undefined) =>
    ms === undefined
      ? dash
      : text(`${humanDuration(ms)}${from === undefined ? '' : ` (from ${from})`}`);
  const measured = (ms: number | null) => (ms === null ? dash : text(exactDuration(ms)));
  const overall: Block = {
    kind: 'table',
    headers: ['Objective', 'Target', 'Measured', 'Result'],
    rows: [
      [
        text('RTO', { strong: true }),
        target(plan.objectives.rtoMs, plan.objectives.rtoFrom),
        result.rtoMs === null ? text('not recovered', { tone: 'bad' }) : measured(result.rtoMs),
        objectiveCell(result.objectives.rto),
      ],
      [
        text('RPO', { strong: true }),
        target(plan.objectives.rpoMs, plan.objectives.rpoFrom),
        measured(result.rpoMs),
        objectiveCell(result.objectives.rpo),
      ],
    ],
  };
  const perStore: Block = {
    kind: 'table',
    headers: [
      'Data store',
      'RTO target',
      'Recovered after',
      'RTO',
      'RPO target',
      'RPO measured',
      'RPO',
      'Clock skew bound',
    ],
    rows: result.datastores.map((store) => {
      const planned = plan.datastores.find((d) => d.name === store.name);
      return [
        text(store.name, { strong: true }),
        planned?.objectives.rtoMs === undefined
          ? dash
          : text(humanDuration(planned.objectives.rtoMs)),
        store.recoveredMs === null
          ? text('not recovered', { tone: 'bad' })
          : measured(store.recoveredMs),
        objectiveCell(store.objectives.rto),
        planned?.objectives.rpoMs === undefined
          ? dash
          : text(humanDuration(planned.objectives.rpoMs)),
        measured(store.rpoMs),
        objectiveCell(store.objectives.rpo),
        store.clockSkewBoundMs === null ? dash : text(humanDuration(store.clockSkewBoundMs)),
      ];
    }),
  };
  return {
    id: 'objectives',
    title: 'Objectives vs measured',
    blocks: [
      overall,
      paragraph(
        'RTO: from the declaration until every verification passed. RPO: disaster time minus the ' +
          'newest consistent point restored (the data the service would have lost).',
      ),
      ...(result.datastores.length === 0 ? [] : [perStore]),
    ],
  };
}

function paragraph(value: string, tone?: Tone): Block {
  return { kind: 'text', text: text(value, tone === undefined ? {} : { tone }) };
}

function reasonsSection(result: DrillResult): Section | undefined {
  const errors = [
    ...result.datastores.flatMap((store) =>
      store.error === undefined ? [] : [{ owner: store.name, error: store.error }],
    ),
    ...(result.service?.error === undefined
      ? []
      : [{ owner: 'service', error: result.service.error }]),
  ];
  if (result.verdict === 'passed' && errors.length === 0) return undefined;
  const blocks: Block[] = [
    {
      kind: 'list',
      items:
        result.reasons.length === 0
          ? [text('no reason recorded', { tone: 'muted' })]
          : result.reasons.map((reason) => text(reason, { tone: 'bad' })),
    },
  ];
  if (errors.length > 0) {
    blocks.push({
      kind: 'table',
      headers: ['Where', 'Error', 'Message', 'Hint'],
      rows: errors.map(({ owner, error }) => [
        text(owner),
        code(error.code),
        text(error.message),
        error.hint === undefined ? dash : text(error.hint),
      ]),
    });
  }
  if (result.interrupted === true) {
    blocks.push(paragraph('The drill was interrupted (SIGINT/SIGTERM) and cleaned up.', 'warn'));
  }
  return { id: 'reasons', title: 'Why it did not pass', blocks };
}

function planSection(result: DrillResult): Section {
  const { plan } = result;
  const blocks: Block[] = [
    {
      kind: 'table',
      headers: [
        'Data store',
        'Kind',
        'Repository',
        'Snapshot',
        'Snapshot time',
        'Consistent at',
        'Consistent point',
        'Placement',
        'Size',
        'Checks',
      ],
      right: [8],
      rows: plan.datastores.map((store) => [
        text(store.name, { strong: true }),
        text(store.kind),
        text(store.repository),
        code(id12(store.snapshot.id)),
        text(store.snapshot.time),
        store.snapshot.consistentAt === null ? dash : text(store.snapshot.consistentAt),
        store.snapshot.consistentPoint === null
          ? dash
          : code(`${store.snapshot.consistentPoint.kind} ${store.snapshot.consistentPoint.value}`),
        placementText(store.placement),
        text(`${humanBytes(store.snapshot.bytes)} (${store.snapshot.bytes} B)`),
        store.checks.length === 0 ? dash : text(store.checks.join(', ')),
      ]),
    },
  ];
  if (plan.service !== null) {
    blocks.push({
      kind: 'fields',
      rows: [
        ['Service command', code(plan.service.command)],
        ['Working directory', code(plan.service.cwd)],
        ['Health check', plan.service.health === null ? dash : code(plan.service.health)],
        [
          'Smoke checks',
          plan.service.checks.length === 0 ? dash : text(plan.service.checks.join(', ')),
        ],
      ],
    });
  }
  return { id: 'plan', title: 'Plan', blocks };
}

function timelineSection(result: DrillResult): Section {
  const rows = timelineRows(result);
  const blocks: Block[] = [
    {
      kind: 'table',
      headers: ['Where', 'Phase', 'Start', 'End', 'Duration', 'Result', ''],
      right: [2, 3, 4],
      rows: rows.map((row) => [
        text(row.owner),
        text(row.phase.phase),
        text(offset(row.phase.startMs)),
        text(offset(row.phase.endMs)),
        text(exactDuration(row.phase.durationMs), row.slowest ? { strong: true } : {}),
        yesNo(row.phase.ok),
        row.slowest ? text('◀ slowest', { tone: 'warn', strong: true }) : text(''),
      ]),
    },
    paragraph(
      'Offsets are from the declaration, on a monotonic clock. Teardown is not part of the RTO.',
    ),
  ];
  if (result.timeline.length > 0) {
    blocks.push({
      kind: 'table',
      headers: ['At', 'Event'],
      right: [0],
      rows: result.timeline.map((event) => [text(offset(event.atMs)), text(event.event)]),
    });
  }
  return { id: 'timeline', title: 'Timeline', blocks };
}

function integrityRows(store: DatastoreOutcome): Cell[] {
  const fp = store.fingerprint;
  if (fp === null)
    return [text(store.name), text('not compared', { tone: 'muted' }), dash, dash, dash, dash];
  if (fp.state === 'skipped') {
    return [
      text(store.name),
      text(`skipped: ${fp.why}`, { tone: 'muted' }),
      dash,
      dash,
      dash,
      dash,
    ];
  }
  const differs = [
    ...fp.changed.map((t) => `changed ${t}`),
    ...fp.missing.map((t) => `missing ${t}`),
    ...fp.extra.map((t) => `extra ${t}`),
  ];
  return [
    text(store.name),
    text(fp.mode),
    code(fp.expected),
    code(fp.actual),
    yesNo(fp.state === 'match', 'match', 'MISMATCH'),
    differs.length === 0 ? dash : text(differs.join(', '), { tone: 'bad' }),
  ];
}

function integritySection(result: DrillResult): Section {
  return {
    id: 'integrity',
    title: 'Integrity',
    blocks: [
      {
        kind: 'table',
        headers: [
          'Data store',
          'Fingerprint',
          'Expected (manifest)',
          'Actual (restored)',
          'Result',
          'Differs',
        ],
        rows: result.datastores.map(integrityRows),
      },
    ],
  };
}

function checkRow(scope: string, check: CheckResult): Cell[] {
  return [
    text(scope),
    text(check.name, { strong: true }),
    text(check.kind),
    code(check.expected),
    code(check.actual),
    yesNo(check.passed, 'passed', 'FAILED'),
    text(humanDuration(check.durationMs)),
  ];
}

function checksSection(result: DrillResult): Section {
  const rows = [
    ...result.datastores.flatMap((store) => store.checks.map((c) => checkRow(store.name, c))),
    ...(result.service?.checks ?? []).map((c) => checkRow('service', c)),
  ];
  return {
    id: 'checks',
    title: 'Checks',
    blocks:
      rows.length === 0
        ? [paragraph('No integrity or smoke checks ran.', 'muted')]
        : [
            {
              kind: 'table',
              headers: ['Where', 'Check', 'Kind', 'Expected', 'Actual', 'Result', 'Took'],
              right: [6],
              rows,
            },
          ],
  };
}

function serviceSection(result: DrillResult): Section | undefined {
  const service = result.service;
  if (service === null) return undefined;
  const blocks: Block[] = [
    {
      kind: 'fields',
      rows: [
        ['Command', code(service.command)],
        ['Port', service.port === null ? dash : text(String(service.port))],
        ['Log file', service.logFile === null ? dash : code(service.logFile)],
      ],
    },
  ];
  if (service.logTail !== '') blocks.push({ kind: 'code', text: service.logTail });
  return { id: 'service', title: 'Service', blocks };
}

function keptSection(result: DrillResult): Section | undefined {
  const kept = result.datastores.filter((store) => store.kept !== undefined);
  if (kept.length === 0) return undefined;
  return {
    id: 'kept',
    title: 'Sandboxes left running',
    blocks: [
      {
        kind: 'list',
        items: kept.flatMap((store) =>
          store.kept === undefined
            ? []
            : [
                code(`${store.name}: ${store.kept.connection}`),
                code(`stop ${store.name}: ${store.kept.stop}`),
              ],
        ),
      },
    ],
  };
}

function environmentSection(result: DrillResult): Section {
  const env = result.environment;
  const tools = Object.entries(env.tools).sort(([a], [b]) => a.localeCompare(b));
  return {
    id: 'environment',
    title: 'Environment',
    blocks: [
      {
        kind: 'fields',
        rows: [
          ['Host', text(env.host)],
          ['Platform', text(env.platform)],
          ['CPUs', text(String(env.cpus))],
          ['Node.js', text(env.node)],
          ['Shipshape', text(env.shipshape)],
          ...tools.map(([tool, version]): [string, Cell] => [tool, text(version)]),
        ],
      },
    ],
  };
}

function evidenceSection(run: DrillReportInput): Section {
  const ledger = run.ledger;
  if (ledger === undefined) {
    return {
      id: 'evidence',
      title: 'Evidence',
      blocks: [
        paragraph(
          'This result is not recorded in the evidence ledger: it cannot serve as evidence of the ' +
            'dr-drill gate until it is.',
          'bad',
        ),
      ],
    };
  }
  return {
    id: 'evidence',
    title: 'Evidence',
    blocks: [
      {
        kind: 'fields',
        rows: [
          ['Ledger record', text(`#${ledger.seq}`)],
          ['Record hash', code(ledger.hash)],
          ['Recorded at', ledger.recordedAt === undefined ? dash : text(ledger.recordedAt)],
          ['Subject', code(ledger.subject ?? drillSubject(run.result))],
          ['Gate', code(DRILL_GATE)],
          ['Show the record', code(`shipshape ledger show ${ledger.seq}`)],
          ['Verify the chain', code('shipshape ledger verify')],
        ],
      },
    ],
  };
}

function signoffSection(run: DrillReportInput): Section {
  const details = JSON.stringify({
    run: run.result.plan.id,
    ...(run.ledger === undefined ? {} : { seq: run.ledger.seq, hash: run.ledger.hash }),
  });
  const subject = run.ledger?.subject ?? drillSubject(run.result);
  return {
    id: 'sign-off',
    title: 'Sign-off',
    blocks: [
      paragraph(
        'I have reviewed this drill: the plan, the measured RTO and RPO against their objectives, ' +
          'the integrity results and the checks.',
      ),
      { kind: 'signoff', lines: ['Reviewed by', 'Role', 'Date', 'Signature'] },
      paragraph('Record the sign-off in the ledger:'),
      {
        kind: 'code',
        text: `shipshape ledger append --event sign-off --subject ${subject} --details '${details}'`,
      },
    ],
  };
}

/** Builds the report of one recorded drill run. */
export function drillReport(run: DrillReportInput): ReportDocument {
  const { result } = run;
  const sections = [
    { id: 'summary', title: 'Summary', blocks: [header(run)] },
    objectivesSection(result),
    reasonsSection(result),
    planSection(result),
    timelineSection(result),
    integritySection(result),
    checksSection(result),
    serviceSection(result),
    keptSection(result),
    environmentSection(result),
    evidenceSection(run),
    signoffSection(run),
  ].filter((section): section is Section => section !== undefined);
  return {
    title: `DR drill report: ${result.plan.serviceName} (${result.plan.environment})`,
    verdict: {
      label: verdictLabel(result),
      tone: result.verdict === 'passed' ? 'good' : 'bad',
      summary: drillSummary(result),
    },
    sections,
  };
}
