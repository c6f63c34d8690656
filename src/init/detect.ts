import type { Dirent } from 'node:fs';
import { open, readdir } from 'node:fs/promises';
import { join, posix, relative, sep } from 'node:path';
import { parse } from 'yaml';

/** Data-store kinds `init` recognises in docker-compose images. */
export const DETECTABLE_KINDS = ['postgres', 'mysql', 'mariadb', 'redis'] as const;
export type DetectableKind = (typeof DETECTABLE_KINDS)[number];

/** A docker-compose service that looks like a data store. */
export interface DetectedDatastore {
  /** The compose service name, as written. */
  service: string;
  kind: DetectableKind;
  image: string;
  /** The compose file it was found in, relative to the project. */
  source: string;
}

/** What `shipshape init` found in a project. Paths are relative to `dir`, with `/`. */
export interface Detection {
  dir: string;
  dockerfiles: string[];
  /** GitHub Actions workflow files. */
  workflows: string[];
  /** Folders holding `*.tf` files. */
  terraform: string[];
  /** Folders holding Kubernetes manifests (YAML with `apiVersion` and `kind`). */
  kubernetes: string[];
  /** Prometheus configuration and rule files. */
  prometheus: string[];
  /** Alertmanager configuration files. */
  alertmanager: string[];
  composeFiles: string[];
  datastores: DetectedDatastore[];
}

// Folders that hold dependencies, build output or tool state, never the project's own IaC.
const SKIP_DIRS = new Set([
  'node_modules',
  'vendor',
  'dist',
  'build',
  'target',
  'coverage',
  '__pycache__',
  'venv',
  '.venv',
  '.terraform',
  '.git',
  '.shipshape',
]);

/** Bounds so that `init` in a huge tree (or at `/`) stays quick. */
const MAX_DEPTH = 8;
const MAX_ENTRIES = 20_000;
const MAX_READ_BYTES = 256 * 1024;

const COMPOSE_FILE = /^(docker-)?compose(\.[\w-]+)?\.ya?ml$/;
const DOCKERFILE = /^(Dockerfile|Containerfile)(\.[\w.-]+)?$|\.Dockerfile$/;
const YAML_FILE = /\.ya?ml$/;

async function readHead(path: string): Promise<string> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(MAX_READ_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, MAX_READ_BYTES, 0);
    return buffer.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
}

/** Which kind a container image is, from its name (`bitnami/postgresql:16` → postgres). */
export function kindOfImage(image: string): DetectableKind | undefined {
  const name = (image.split('@')[0] ?? '').replace(/:[^/]*$/, '').toLowerCase();
  const last = name.split('/').at(-1) ?? '';
  // Tools around a data store are named after it but hold no data: exporters, admin UIs, proxies.
  if (/exporter|admin|commander|insight|bouncer|proxy|backup/.test(last)) return undefined;
  if (/postgres|postgis|timescale/.test(last)) return 'postgres';
  if (/mariadb/.test(last)) return 'mariadb';
  if (/mysql|percona/.test(last)) return 'mysql';
  if (/redis|valkey|keydb/.test(last)) return 'redis';
  return undefined;
}

function composeDatastores(text: string, source: string): DetectedDatastore[] {
  let doc: unknown;
  try {
    doc = parse(text, { maxAliasCount: 100, logLevel: 'silent', merge: true });
  } catch {
    return []; // Not our file to validate; an unreadable compose file just detects nothing.
  }
  const services = (doc as { services?: unknown } | null)?.services;
  if (services === null || typeof services !== 'object') return [];
  const out: DetectedDatastore[] = [];
  for (const [service, settings] of Object.entries(services as Record<string, unknown>)) {
    const image = (settings as { image?: unknown } | null)?.image;
    if (typeof image !== 'string') continue;
    const kind = kindOfImage(image);
    if (kind !== undefined) out.push({ service, kind, image, source });
  }
  return out;
}

function classifyYaml(text: string): 'kubernetes' | 'prometheus' | 'alertmanager' | undefined {
  if (/^apiVersion:\s*\S/m.test(text) && /^kind:\s*\S/m.test(text)) return 'kubernetes';
  if (/^scrape_configs:/m.test(text) || (/^groups:/m.test(text) && /^\s+rules:/m.test(text))) {
    return 'prometheus';
  }
  if (/^route:/m.test(text) && /^receivers:/m.test(text)) return 'alertmanager';
  return undefined;
}

/**
 * Looks through a project for what a starter spec can fill in: Dockerfiles, GitHub workflows,
 * Terraform and Kubernetes folders, Prometheus/Alertmanager files, and docker-compose services
 * whose image looks like PostgreSQL, MySQL, MariaDB or Redis. Dependency and build folders are
 * skipped, symlinks are not followed, and the walk is bounded in depth and size.
 */
export async function detectProject(dir: string): Promise<Detection> {
  const found: Detection = {
    dir,
    dockerfiles: [],
    workflows: [],
    terraform: [],
    kubernetes: [],
    prometheus: [],
    alertmanager: [],
    composeFiles: [],
    datastores: [],
  };
  const terraform = new Set<string>();
  const kubernetes = new Set<string>();
  const queue: { path: string; depth: number }[] = [{ path: dir, depth: 0 }];
  let seen = 0;
  for (let next = queue.shift(); next !== undefined && seen < MAX_ENTRIES; next = queue.shift()) {
    let entries: Dirent[];
    try {
      entries = await readdir(next.path, { withFileTypes: true });
    } catch {
      continue; // Unreadable folder: detect what we can elsewhere.
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      seen += 1;
      const full = join(next.path, entry.name);
      const rel = relative(dir, full).split(sep).join(posix.sep);
      const folder = posix.dirname(rel);
      if (entry.isDirectory()) {
        const hidden = entry.name.startsWith('.') && entry.name !== '.github';
        if (!hidden && !SKIP_DIRS.has(entry.name) && next.depth < MAX_DEPTH) {
          queue.push({ path: full, depth: next.depth + 1 });
        }
        continue;
      }
      if (!entry.isFile()) continue;
      if (DOCKERFILE.test(entry.name)) found.dockerfiles.push(rel);
      else if (entry.name.endsWith('.tf')) terraform.add(folder);
      else if (folder === '.github/workflows' && YAML_FILE.test(entry.name))
        found.workflows.push(rel);
      else if (COMPOSE_FILE.test(entry.name)) {
        found.composeFiles.push(rel);
        found.datastores.push(...composeDatastores(await readHead(full).catch(() => ''), rel));
      } else if (YAML_FILE.test(entry.name) && !/^shipshape\.ya?ml$/.test(entry.name)) {
        if (rel.startsWith('.github/')) continue;
        const kind = classifyYaml(await readHead(full).catch(() => ''));
        if (kind === 'kubernetes') kubernetes.add(folder);
        else if (kind !== undefined) found[kind].push(rel);
      }
    }
  }
  found.terraform = [...terraform];
  found.kubernetes = [...kubernetes];
  for (const list of [
    found.dockerfiles,
    found.workflows,
    found.terraform,
    found.kubernetes,
    found.prometheus,
    found.alertmanager,
    found.composeFiles,
  ]) {
    list.sort();
  }
  return found;
}
