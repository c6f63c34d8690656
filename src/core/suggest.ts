const MAX_NAME_LENGTH = 100;

/** Edit distance (insertions, deletions, substitutions; a swap of neighbours counts once). */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) =>
    Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number): number => d[i]?.[j] ?? Number.MAX_SAFE_INTEGER;
  for (let i = 1; i < rows; i += 1) {
    const row = d[i] ?? [];
    for (let j = 1; j < cols; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, at(i - 2, j - 2) + 1);
      }
      row[j] = best;
    }
  }
  return at(a.length, b.length);
}

/**
 * The candidate closest to `input`, if it is close enough to be a plausible typo (at most a
 * third of the longer word differs, and at least two characters are allowed). Comparison
 * ignores case and treats `_` and `-` alike, since those are the common slips in YAML keys.
 *
 * @example didYouMean('retension', ['schedule', 'retention']) // 'retention'
 */
export function didYouMean(input: string, candidates: Iterable<string>): string | undefined {
  // Names are short; a long input cannot be a typo of one, and would make this quadratic.
  if (input.length > MAX_NAME_LENGTH) return undefined;
  const norm = (s: string) => s.toLowerCase().replaceAll('_', '-');
  const wanted = norm(input);
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    if (candidate === input || candidate.length > MAX_NAME_LENGTH) continue;
    const distance = editDistance(wanted, norm(candidate));
    const limit = Math.max(2, Math.floor(Math.max(wanted.length, candidate.length) / 3));
    if (distance <= limit && distance < bestDistance && distance < candidate.length) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}
