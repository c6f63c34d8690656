/**
 * `repo forget`: removes snapshot manifests, either the ones named or the ones a retention
 * policy does not keep. Only manifests go: the data they referenced is removed by prune.
 */
import { ExitCode, ShipError, failpoint, isShipError } from '../core/index.js';
import { FileType, type Backend } from './backend/index.js';
import type { RepoSubkeys } from './crypto/index.js';
import {
  isHexId,
  listSnapshots,
  readSnapshot,
  resolveSnapshotRef,
  type StoredSnapshot,
} from './format/index.js';
import {
  GroupBy,
  applyRetention,
  groupOf,
  validatePolicy,
  type RetentionOptions,
  type RetentionPolicy,
} from './retention.js';

/** What to forget: named snapshots, or what a policy does not keep. */
export interface ForgetRequest extends RetentionOptions {
  /** Snapshot references (`latest` or id prefixes ≥ 4 hex) to remove. */
  ids?: readonly string[];
  /** Retention policy; exclusive with `ids`. */
  policy?: RetentionPolicy;
  /** Only snapshots whose source name is this. */
  source?: string;
  /** Plan only. @default false */
  dryRun?: boolean;
}

/** One snapshot in a forget plan. */
export interface ForgetDecision {
  readonly id: string;
  /** Empty when the manifest cannot be read (a named, damaged snapshot). */
  readonly time: string;
  readonly host: string;
  /** `type:name` of its source. */
  readonly source: string;
  readonly group: string;
  readonly keep: boolean;
  /** Rules that keep it; for a removed snapshot, why it goes (`not kept by the policy`, `named`). */
  readonly reasons: readonly string[];
}

/** The result of a forget. */
export interface ForgetResult {
  readonly dryRun: boolean;
  readonly plan: readonly ForgetDecision[];
  /** Ids of the snapshots removed (none with `dryRun`). */
  readonly removed: readonly string[];
}

/**
 * Plans and (unless `dryRun`) carries out a forget. The caller holds the exclusive lock and
 * has checked that the handle may delete. Each removal is followed by the failpoint
 * `forget.snapshot.deleted`.
 */
export async function forgetSnapshots(
  ctx: { readonly backend: Backend; readonly keys: RepoSubkeys },
  request: ForgetRequest,
): Promise<ForgetResult> {
  const ids = request.ids ?? [];
  if (ids.length > 0 && request.policy !== undefined) {
    throw ShipError.usage(
      'SHIP_CLI_BAD_FLAG',
      'give either snapshot ids or --keep-* rules to forget, not both',
      {
        hint: '`repo forget ID…` removes the named snapshots; `repo forget --keep-daily 7` applies a policy',
      },
    );
  }
  let plan: ForgetDecision[];
  if (ids.length > 0) {
    plan = [];
    for (const ref of ids) {
      const decision = await named(ctx, ref, request.source);
      if (!plan.some((d) => d.id === decision.id)) plan.push(decision);
    }
  } else {
    if (request.policy === undefined) {
      throw ShipError.usage(
        'SHIP_REPO_EMPTY_POLICY',
        'nothing to forget: no snapshot ids and no --keep-* rule',
        {
          hint: 'e.g. `repo forget --keep-daily 7 --keep-weekly 4`, or `repo forget ID…`',
        },
      );
    }
    validatePolicy(request.policy);
    const snapshots = await listSnapshots(
      ctx.backend,
      ctx.keys.encryption,
      request.source === undefined ? {} : { source: request.source },
    );
    const byId = new Map(snapshots.map((s) => [s.id, s]));
    plan = applyRetention(
      snapshots.map((s) => ({
        id: s.id,
        time: s.manifest.time,
        host: s.manifest.host,
        source: s.manifest.source,
        tags: s.manifest.tags,
      })),
      request.policy,
      request,
    ).map((d) => {
      const manifest = (byId.get(d.id) as StoredSnapshot).manifest;
      return {
        id: d.id,
        time: d.time,
        host: manifest.host,
        source: sourceOf(manifest.source),
        group: d.group,
        keep: d.keep,
        reasons: d.keep ? d.reasons : ['not kept by the policy'],
      };
    });
  }
  const removed: string[] = [];
  if (request.dryRun !== true) {
    for (const decision of plan) {
      if (decision.keep) continue;
      await ctx.backend.remove(FileType.snapshots, decision.id);
      removed.push(decision.id);
      failpoint('forget.snapshot.deleted');
    }
  }
  return { dryRun: request.dryRun === true, plan, removed };
}

/** Resolves a named snapshot; a damaged manifest can still be forgotten by its full id or prefix. */
async function named(
  ctx: { readonly backend: Backend; readonly keys: RepoSubkeys },
  ref: string,
  source: string | undefined,
): Promise<ForgetDecision> {
  let snapshot: StoredSnapshot | undefined;
  let id: string;
  if (ref === 'latest' || !/^[0-9a-f]{4,64}$/.test(ref)) {
    snapshot = await resolveSnapshotRef(
      ctx.backend,
      ctx.keys.encryption,
      ref,
      source === undefined ? {} : { source },
    );
    id = snapshot.id;
  } else {
    const matches: string[] = [];
    for await (const { name } of ctx.backend.list(FileType.snapshots)) {
      if (isHexId(name) && name.startsWith(ref)) matches.push(name);
    }
    if (matches.length !== 1) {
      // Not found or ambiguous: the shared resolver says which, with its hint.
      snapshot = await resolveSnapshotRef(ctx.backend, ctx.keys.encryption, ref);
      id = snapshot.id;
    } else {
      id = matches[0] as string;
      try {
        snapshot = { id, manifest: await readSnapshot(ctx.backend, ctx.keys.encryption, id) };
      } catch (error) {
        if (!isShipError(error) || error.exitCode !== ExitCode.repoCorrupt) throw error;
      }
    }
  }
  if (snapshot === undefined) {
    return {
      id,
      time: '',
      host: '',
      source: '',
      group: '',
      keep: false,
      reasons: ['named (manifest unreadable)'],
    };
  }
  const manifest = snapshot.manifest;
  if (source !== undefined && manifest.source.name !== source) {
    throw ShipError.usage(
      'SHIP_REPO_SNAPSHOT_NOT_FOUND',
      `snapshot ${id} is of source ${manifest.source.name ?? manifest.source.type}, not ${source}`,
      { hint: 'drop --source, or name a snapshot of that source' },
    );
  }
  return {
    id,
    time: manifest.time,
    host: manifest.host,
    source: sourceOf(manifest.source),
    group: groupOf(
      {
        id,
        time: manifest.time,
        host: manifest.host,
        source: manifest.source,
        tags: manifest.tags,
      },
      GroupBy.source,
    ),
    keep: false,
    reasons: ['named'],
  };
}

function sourceOf(source: { type: string; name?: string }): string {
  return source.name === undefined ? source.type : `${source.type}:${source.name}`;
}
