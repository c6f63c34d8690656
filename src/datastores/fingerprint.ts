import { createHash } from 'node:crypto';

/** One table, key space or file of a fingerprint. */
export interface FingerprintEntry {
  /** Rows (tables) or entries; absent for files. */
  readonly rows?: number;
  /** Size in bytes (files). */
  readonly bytes?: number;
  /** Content digest (`full` mode, and files). */
  readonly digest?: string;
  /** File mode bits as octal text (files). */
  readonly mode?: string;
}

/**
 * What the data looked like: one entry per table (or file), and one digest over all of them so
 * that equality is one comparison. Computed the same way for a live source, inside the backup's
 * snapshot, and for a restored copy.
 */
export interface Fingerprint {
  readonly mode: 'counts' | 'full';
  readonly entries: Readonly<Record<string, FingerprintEntry>>;
  /** SHA-256 hex over the canonical form of `mode` and `entries`. */
  readonly digest: string;
}

/** Canonical JSON of an entry: keys in a fixed order, absent fields left out. */
function canonicalEntry(entry: FingerprintEntry): string {
  const parts: string[] = [];
  if (entry.bytes !== undefined) parts.push(`"bytes":${entry.bytes}`);
  if (entry.digest !== undefined) parts.push(`"digest":${JSON.stringify(entry.digest)}`);
  if (entry.mode !== undefined) parts.push(`"mode":${JSON.stringify(entry.mode)}`);
  if (entry.rows !== undefined) parts.push(`"rows":${entry.rows}`);
  return `{${parts.join(',')}}`;
}

/**
 * Builds a fingerprint and its digest: SHA-256 over
 * `{"entries":{<name>:<entry>,…},"mode":…}` with names sorted by UTF-16 code units and each
 * entry's keys in alphabetical order.
 *
 * @example
 * makeFingerprint('counts', { 'public.orders': { rows: 3 } }).digest
 */
export function makeFingerprint(
  mode: Fingerprint['mode'],
  entries: Record<string, FingerprintEntry>,
): Fingerprint {
  const names = Object.keys(entries).sort();
  const sorted: Record<string, FingerprintEntry> = {};
  const body = names
    .flatMap((name) => {
      const entry = entries[name];
      if (entry === undefined) return [];
      sorted[name] = entry;
      return [`${JSON.stringify(name)}:${canonicalEntry(entry)}`];
    })
    .join(',');
  const canonical = `{"entries":{${body}},"mode":${JSON.stringify(mode)}}`;
  return { mode, entries: sorted, digest: createHash('sha256').update(canonical).digest('hex') };
}

/** How two fingerprints differ. */
export interface FingerprintComparison {
  readonly equal: boolean;
  /** Entries present in both whose counts, sizes or digests differ. */
  readonly changed: string[];
  /** Entries only in the expected fingerprint. */
  readonly missing: string[];
  /** Entries only in the actual fingerprint. */
  readonly extra: string[];
}

/**
 * Compares an expected fingerprint (e.g. the one in a snapshot manifest) with an actual one
 * (e.g. of the restored copy). Fingerprints of different modes compare by row counts and sizes
 * only.
 */
export function compareFingerprints(
  expected: Fingerprint,
  actual: Fingerprint,
): FingerprintComparison {
  if (expected.mode === actual.mode && expected.digest === actual.digest) {
    return { equal: true, changed: [], missing: [], extra: [] };
  }
  const sameMode = expected.mode === actual.mode;
  const changed: string[] = [];
  const missing: string[] = [];
  for (const [name, want] of Object.entries(expected.entries)) {
    const got = actual.entries[name];
    if (got === undefined) {
      missing.push(name);
      continue;
    }
    const differs =
      want.rows !== got.rows ||
      want.bytes !== got.bytes ||
      (sameMode && (want.digest !== got.digest || want.mode !== got.mode));
    if (differs) changed.push(name);
  }
  const extra = Object.keys(actual.entries).filter((name) => !(name in expected.entries));
  return {
    equal: changed.length === 0 && missing.length === 0 && extra.length === 0,
    changed,
    missing,
    extra,
  };
}

/** Reads a fingerprint back from a manifest's `fingerprints` (shape-checked; undefined if absent). */
export function fingerprintFromManifest(
  fingerprints: Record<string, unknown> | undefined,
): Fingerprint | undefined {
  const value = fingerprints?.['datastore'];
  if (typeof value !== 'object' || value === null) return undefined;
  const { mode, entries, digest } = value as Record<string, unknown>;
  if ((mode !== 'counts' && mode !== 'full') || typeof digest !== 'string') return undefined;
  if (typeof entries !== 'object' || entries === null) return undefined;
  return { mode, entries: entries as Record<string, FingerprintEntry>, digest };
}

/** The manifest `fingerprints` field for a fingerprint (`{ datastore: … }`). */
export function fingerprintForManifest(
  fingerprint: Fingerprint | undefined,
): Record<string, unknown> | undefined {
  return fingerprint === undefined ? undefined : { datastore: fingerprint };
}
