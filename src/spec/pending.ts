import type { SpecProblemCodeValue } from './codes.js';

/** A problem found in the spec's data, before it is given a file position. */
export interface PendingProblem {
  code: SpecProblemCodeValue;
  /** Path of the offending field (map keys and sequence indexes). */
  path: (string | number)[];
  /**
   * Where to point: at the field's value (default), at its key (a bad or unknown map key), or
   * at the key of its parent (a missing field has no node of its own).
   */
  at?: 'value' | 'key' | 'parent';
  message: string;
  expected?: string;
  hint?: string;
}

/** `datastores.orders.connection.production`; indexes are kept as `roles.admin.0`. */
export function dotted(path: readonly (string | number)[]): string {
  return path.map(String).join('.');
}

/** Inline code for a name in a message. */
export function code(text: string | number): string {
  const full = String(text);
  // A hostile document can have a key of a megabyte; a message needs only its start.
  const shown = full.length > MAX_SHOWN ? `${full.slice(0, MAX_SHOWN)}…` : full;
  return `\`${shown}\``;
}

const MAX_SHOWN = 80;

/** `a, b and c`, listing at most `max` and saying how many more. */
export function listNames(names: readonly string[], max = 8): string {
  if (names.length === 0) return 'none';
  const shown = names.slice(0, max).map(code);
  const more = names.length - shown.length;
  return more > 0 ? `${shown.join(', ')} and ${more} more` : shown.join(', ');
}
