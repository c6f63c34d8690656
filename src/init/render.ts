import { stringify } from 'yaml';
import { NAME_RULES, variableBase } from '../spec/index.js';
import type { DetectedDatastore, Detection } from './detect.js';

/** Options for the starter spec. */
export interface StarterOptions {
  /** The service's name; made into a DNS label if it is not one. */
  serviceName: string;
  /** The OS user running `init`: becomes the first person, holding admin and sre-lead. */
  osUser: string;
  /** Where the ledger's public key is (relative to the spec). @default '.shipshape/keys/ledger.pub' */
  publicKeyPath?: string;
  /** Reference to the ledger's private key. @default '${file:.shipshape/keys/ledger.key}' */
  signingKeyRef?: string;
  /** Reference to the backup repository key. @default '${file:.shipshape/keys/backup.key}' */
  repositoryKeyRef?: string;
}

/** Environments every starter spec has. */
const ENVIRONMENTS = ['staging', 'production'] as const;

/** A YAML scalar, quoted only when needed. */
function scalar(value: string): string {
  return stringify(value, { lineWidth: 0 }).trimEnd();
}

function slug(raw: string, fallback: string, rule: RegExp, maxLength: number): string {
  const cleaned = raw
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^[^a-z]+/, '')
    .slice(0, maxLength)
    .replace(/-+$/, '');
  return rule.test(cleaned) ? cleaned : fallback;
}

/** `My Shop!` → `my-shop`: a valid service name from anything. */
export function toServiceName(raw: string): string {
  return slug(raw, 'service', NAME_RULES.service.pattern, 63);
}

function uniqueNames(stores: DetectedDatastore[]): [string, DetectedDatastore][] {
  const used = new Set<string>();
  return stores.map((store) => {
    const base = slug(store.service, store.kind, NAME_RULES.name.pattern, 60);
    let name = base;
    for (let n = 2; used.has(name); n += 1) name = `${base}-${n}`;
    used.add(name);
    return [name, store];
  });
}

function list(indent: string, key: string, items: string[]): string[] {
  if (items.length === 0) return [];
  return [`${indent}${key}:`, ...items.map((item) => `${indent}  - ${scalar(item)}`)];
}

function datastoreLines(service: string, detection: Detection, repository: string): string[] {
  const stores = uniqueNames(detection.datastores);
  if (stores.length === 0) {
    return [
      '# Data stores to back up, restore and drill. None was detected; for example:',
      '#   orders:',
      '#     kind: postgres          # postgres, mysql, mariadb, redis, sqlite, files or command',
      '#     connection:',
      `#       production: \${env:${variableBase(service, 'orders', 'production')}_URL}`,
      `#     repository: ${repository}`,
      "#     schedule: { cron: '0 3 * * *', timezone: UTC }",
      '#     retention: { keep_daily: 7, keep_weekly: 4, keep_monthly: 6 }',
      '#     objectives: { rto: 1h, rpo: 24h }',
      'datastores: {}',
    ];
  }
  const lines = [
    '# Data stores to back up, restore and drill. Each environment connects through its own',
    '# reference: set the variables where shipshape runs (a URL may embed ${env:…} for the',
    '# password alone). Literal passwords are refused.',
    'datastores:',
  ];
  for (const [name, store] of stores) {
    lines.push(
      `  ${name}:`,
      `    # Found in ${store.source}: service \`${store.service}\`, image ${store.image}.`,
      `    kind: ${store.kind}`,
      '    connection:',
      ...ENVIRONMENTS.map((env) => `      ${env}: \${env:${variableBase(service, name, env)}_URL}`),
      `    repository: ${repository}`,
      '    schedule:',
      "      cron: '0 3 * * *'      # daily at 03:00",
      '      timezone: UTC           # an IANA zone; UTC has no daylight-saving jumps',
      '    retention:',
      '      keep_daily: 7',
      '      keep_weekly: 4',
      '      keep_monthly: 6',
      '    objectives:',
      '      rto: 1h                 # longest acceptable restore, checked by DR drills',
      '      rpo: 24h                # most data (as time) you accept to lose',
    );
  }
  return lines;
}

function iacLines(detection: Detection): string[] {
  const sections = [
    ...list('  ', 'terraform', detection.terraform),
    ...list('  ', 'kubernetes', detection.kubernetes),
    ...list('  ', 'dockerfiles', detection.dockerfiles),
    ...list('  ', 'workflows', detection.workflows),
    ...list('  ', 'prometheus', detection.prometheus),
    ...list('  ', 'alertmanager', detection.alertmanager),
  ];
  if (sections.length === 0) {
    return [
      '# Infrastructure as code that `shipshape audit` and `validate` check. None was detected;',
      '# for example:',
      '# iac:',
      '#   terraform: [infra/terraform]',
      '#   kubernetes: [infra/k8s]',
      '#   dockerfiles: [Dockerfile]',
      '#   workflows: [.github/workflows/deploy.yml]',
    ];
  }
  return [
    '# Infrastructure as code that `shipshape audit` and `validate` check (found by init).',
    'iac:',
    ...sections,
  ];
}

/**
 * A commented starter `shipshape.yaml` for a detected project: the detected data stores (with
 * `${env:…}` connections named after the service), IaC paths, the current OS user as the first
 * person (admin, sre-lead, deployer), staging and production environments, a local backup
 * repository and ledger signing. The result always loads with `parseSpec`.
 */
export function renderStarterSpec(detection: Detection, opts: StarterOptions): string {
  const service = toServiceName(opts.serviceName);
  const person = slug(opts.osUser, 'me', NAME_RULES.person.pattern, 63);
  const repository = 'local';
  const repositoryKey = opts.repositoryKeyRef ?? '${file:.shipshape/keys/backup.key}';
  const signingKey = opts.signingKeyRef ?? '${file:.shipshape/keys/ledger.key}';
  const publicKey = opts.publicKeyPath ?? '.shipshape/keys/ledger.pub';
  const lines = [
    `# shipshape.yaml: the stack spec of ${service}, written by \`shipshape init\`.`,
    '# Check it with `shipshape spec check`; every field is described in docs/spec.md.',
    '# Secrets never go in this file: reference them as ${env:NAME} or ${file:path}',
    '# (paths are relative to this file). References are resolved only when used.',
    'version: 1',
    '',
    'service:',
    `  name: ${service}`,
    '  # description: What the service does.',
    '  # owner: the owning team',
    '',
    '# People who act in Shipshape. `os_users`: OS logins that act as the person when they run',
    '# the CLI here. `tokens: true`: the person may hold API tokens (CI, remote use).',
    'people:',
    `  ${person}:`,
    `    name: ${scalar(opts.osUser === '' ? person : opts.osUser)}`,
    '    os_users:',
    `      - ${scalar(opts.osUser === '' ? person : opts.osUser)}`,
    '',
    '# Who holds which role. This is the only place roles are granted. Built-in roles:',
    '# sre-lead, security-lead, architect, qa-lead, deployer, admin; add your own freely.',
    'roles:',
    `  admin: [${person}]`,
    `  sre-lead: [${person}]`,
    `  deployer: [${person}]`,
    '',
    'environments:',
    '  staging:',
    '    release:',
    '      branches: [main]',
    '  production:',
    '    release:',
    "      tags: ['v*']            # releases to production only from version tags",
    '      approval:',
    '        roles: [sre-lead]',
    '        count: 1',
    '        # With one person in the spec they must approve their own releases; set this to',
    '        # false once a second person holds sre-lead.',
    '        requester_can_approve: true',
    '        pending_timeout: 24h    # a request not approved by then expires',
    '        valid_for: 2h           # a granted approval must be used within this',
    '',
    '# Where backups go: a local folder here; use s3://bucket/prefix for object storage.',
    'repositories:',
    `  ${repository}:`,
    '    url: .shipshape/backups',
    `    key: ${repositoryKey}`,
    '',
    ...datastoreLines(service, detection, repository),
    '',
    ...iacLines(detection),
    '',
    '# Evidence ledger: checkpoints are signed with this Ed25519 key, kept outside the database.',
    'ledger:',
    `  signing_key: ${signingKey}`,
    `  public_key: ${scalar(publicKey)}`,
    '',
  ];
  return lines.join('\n');
}
