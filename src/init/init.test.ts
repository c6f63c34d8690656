import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatProblem, isShipError } from '../core/index.js';
import { parseSpec, type LoadedSpec } from '../spec/index.js';
import {
  detectProject,
  kindOfImage,
  renderStarterSpec,
  toServiceName,
  type Detection,
} from './index.js';

function project(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'shipshape-init-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

function parses(text: string): LoadedSpec {
  try {
    return parseSpec(text, 'shipshape.yaml');
  } catch (error) {
    if (isShipError(error)) {
      throw new Error(`${error.problems.map(formatProblem).join('\n')}\n---\n${text}`);
    }
    throw error;
  }
}

const compose = `
services:
  db:
    image: postgres:16-alpine
    environment:
      POSTGRES_PASSWORD: example
  cache:
    image: redis:7
  legacy_db:
    image: docker.io/library/mariadb:11@sha256:abc
  web:
    build: .
  queue:
    image: rabbitmq:3
`;

const shop = {
  Dockerfile: 'FROM node:20\n',
  'api/Dockerfile.prod': 'FROM node:20\n',
  '.github/workflows/ci.yml': 'on: push\n',
  '.github/workflows/deploy.yaml': 'on: push\n',
  '.github/dependabot.yml': 'version: 2\n',
  'infra/terraform/main.tf': 'resource "x" "y" {}\n',
  'infra/terraform/modules/db/main.tf': '',
  'infra/k8s/deployment.yaml': 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n',
  'infra/k8s/service.yaml': '---\napiVersion: v1\nkind: Service\n',
  'monitoring/prometheus.yml': 'global: {}\nscrape_configs: []\n',
  'monitoring/rules.yml':
    'groups:\n  - name: x\n    rules:\n      - alert: Down\n        expr: up == 0\n',
  'monitoring/alertmanager.yml': 'route:\n  receiver: x\nreceivers:\n  - name: x\n',
  'docker-compose.yml': compose,
  'compose.override.yaml':
    'services:\n  replica:\n    image: bitnami/postgresql:16\n  db:\n    image: valkey/valkey:8\n',
  'config/app.yaml': 'port: 8080\n',
  'node_modules/pkg/Dockerfile': 'FROM x\n',
  'node_modules/pkg/main.tf': '',
  '.hidden/main.tf': '',
  'broken/docker-compose.yml': 'services: [unclosed\n',
};

describe('detectProject', () => {
  it('finds Dockerfiles, workflows, IaC folders, monitoring files and compose data stores', async () => {
    const root = project(shop);
    const found = await detectProject(root);
    expect(found).toEqual({
      dir: root,
      dockerfiles: ['Dockerfile', 'api/Dockerfile.prod'],
      workflows: ['.github/workflows/ci.yml', '.github/workflows/deploy.yaml'],
      terraform: ['infra/terraform', 'infra/terraform/modules/db'],
      kubernetes: ['infra/k8s'],
      prometheus: ['monitoring/prometheus.yml', 'monitoring/rules.yml'],
      alertmanager: ['monitoring/alertmanager.yml'],
      composeFiles: ['broken/docker-compose.yml', 'compose.override.yaml', 'docker-compose.yml'],
      datastores: [
        {
          service: 'replica',
          kind: 'postgres',
          image: 'bitnami/postgresql:16',
          source: 'compose.override.yaml',
        },
        { service: 'db', kind: 'redis', image: 'valkey/valkey:8', source: 'compose.override.yaml' },
        {
          service: 'db',
          kind: 'postgres',
          image: 'postgres:16-alpine',
          source: 'docker-compose.yml',
        },
        { service: 'cache', kind: 'redis', image: 'redis:7', source: 'docker-compose.yml' },
        {
          service: 'legacy_db',
          kind: 'mariadb',
          image: 'docker.io/library/mariadb:11@sha256:abc',
          source: 'docker-compose.yml',
        },
      ],
    });
  });

  it('finds nothing in an empty folder', async () => {
    const found = await detectProject(project({}));
    expect(found.datastores).toEqual([]);
    expect(found.dockerfiles).toEqual([]);
  });
});

describe('kindOfImage', () => {
  it.each([
    ['postgres', 'postgres'],
    ['postgis/postgis:16-3.4', 'postgres'],
    ['timescale/timescaledb:latest-pg16', 'postgres'],
    ['mysql:8.4', 'mysql'],
    ['percona:8', 'mysql'],
    ['mariadb:11', 'mariadb'],
    ['registry.example.com:5000/redis:7', 'redis'],
    ['redis/redis-stack', 'redis'],
    ['nginx:1.27', undefined],
    ['oliver006/redis_exporter', undefined],
    ['prometheuscommunity/postgres-exporter', undefined],
    ['rediscommander/redis-commander', undefined],
    ['dpage/pgadmin4', undefined],
  ])('%s → %s', (image, kind) => {
    expect(kindOfImage(image)).toBe(kind);
  });
});

describe('renderStarterSpec', () => {
  it('renders a valid, filled-in spec for a detected project', async () => {
    const detection = await detectProject(project(shop));
    const text = renderStarterSpec(detection, { serviceName: 'shop', osUser: 'alice' });
    const { spec } = parses(text);
    expect(spec.service.name).toBe('shop');
    expect(spec.people).toEqual({ alice: { name: 'alice', os_users: ['alice'] } });
    expect(spec.roles).toEqual({ admin: ['alice'], 'sre-lead': ['alice'], deployer: ['alice'] });
    expect(Object.keys(spec.datastores)).toEqual(['replica', 'db', 'db-2', 'cache', 'legacy-db']);
    expect(spec.datastores['db-2']).toMatchObject({
      kind: 'postgres',
      connection: {
        staging: '${env:SHOP_DB_2_STAGING_URL}',
        production: '${env:SHOP_DB_2_PRODUCTION_URL}',
      },
      repository: 'local',
      schedule: { cron: '0 3 * * *', timezone: 'UTC' },
      objectives: { rto: 3_600_000, rpo: 86_400_000 },
    });
    expect(spec.iac).toEqual({
      terraform: ['infra/terraform', 'infra/terraform/modules/db'],
      kubernetes: ['infra/k8s'],
      dockerfiles: ['Dockerfile', 'api/Dockerfile.prod'],
      workflows: ['.github/workflows/ci.yml', '.github/workflows/deploy.yaml'],
      prometheus: ['monitoring/prometheus.yml', 'monitoring/rules.yml'],
      alertmanager: ['monitoring/alertmanager.yml'],
    });
    expect(spec.ledger).toEqual({
      signing_key: '${file:.shipshape/keys/ledger.key}',
      public_key: '.shipshape/keys/ledger.pub',
      checkpoint_every: 1,
      checkpoint_log: '.shipshape/ledger-checkpoints.jsonl',
    });
    expect(text).toContain(
      '# Found in docker-compose.yml: service `db`, image postgres:16-alpine.',
    );
  });

  it('renders a valid spec when nothing was detected, with commented examples', async () => {
    const detection = await detectProject(project({}));
    const text = renderStarterSpec(detection, {
      serviceName: 'My Shop!',
      osUser: 'Jörg.Müller',
      publicKeyPath: 'keys/ledger.pub',
      signingKeyRef: '${env:LEDGER_KEY}',
      repositoryKeyRef: '${env:BACKUP_KEY}',
    });
    const { spec } = parses(text);
    expect(spec.service.name).toBe('my-shop');
    expect(spec.people).toEqual({
      'j-rg-m-ller': { name: 'Jörg.Müller', os_users: ['Jörg.Müller'] },
    });
    expect(spec.datastores).toEqual({});
    expect(spec.iac).toBeUndefined();
    expect(spec.ledger?.signing_key).toBe('${env:LEDGER_KEY}');
    expect(spec.repositories.local?.key).toBe('${env:BACKUP_KEY}');
    expect(text).toContain('#   orders:');
  });

  it('survives awkward names', () => {
    const empty: Detection = {
      dir: '/',
      dockerfiles: ['weird path/Dockerfile: x'],
      workflows: [],
      terraform: ["it's"],
      kubernetes: [],
      prometheus: [],
      alertmanager: [],
      composeFiles: [],
      datastores: [{ service: '123', kind: 'redis', image: 'redis', source: 'x' }],
    };
    const { spec } = parses(renderStarterSpec(empty, { serviceName: '---', osUser: '' }));
    expect(spec.service.name).toBe('service');
    expect(Object.keys(spec.people)).toEqual(['me']);
    expect(Object.keys(spec.datastores)).toEqual(['redis']);
    expect(spec.iac?.dockerfiles).toEqual(['weird path/Dockerfile: x']);
  });
});

describe('toServiceName', () => {
  it.each([
    ['shop', 'shop'],
    ['My_Shop', 'my-shop'],
    ['123-api', 'api'],
    ['x'.repeat(80), 'x'.repeat(63)],
    ['', 'service'],
  ])('%j → %s', (raw, name) => {
    expect(toServiceName(raw)).toBe(name);
  });
});
