/** "Did you mean ...?" suggestions for misspelt keys and names. */

/** Levenshtein edit distance between two strings (insertions, deletions, substitutions each cost 1). */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  if (a.length === 0) return b.length;
  if (b.length === 0) return a.length;
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * The candidate closest to `input`, compared case-insensitively and ignoring '-' and '_', when it is
 * close enough to be a likely typo: at most 1 edit for words of up to 4 characters, else at most 2
 * (or a third of the length for long words), or when one starts with the other (at least 3
 * characters, e.g. "prod" -> "production"). Undefined when nothing is close.
 */
export function closest(input: string, candidates: readonly string[]): string | undefined {
  const squash = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
  const wanted = squash(input);
  if (wanted.length > 100) return undefined;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(wanted, squash(candidate));
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const allowed = wanted.length <= 4 ? 1 : Math.max(2, Math.floor(wanted.length / 3));
  if (bestDistance <= allowed) return best;
  if (wanted.length < 3) return undefined;
  return candidates.find((candidate) => {
    const other = squash(candidate);
    return other.length >= 3 && (other.startsWith(wanted) || wanted.startsWith(other));
  });
}
