// The project's near-copy rule for prompts, the one scripts/testbed/corpus.py applies: two prompts
// are near copies when their word sets (lowercased runs of [a-z0-9']) overlap with Jaccard >= 0.6,
// or are equal. Finding every near pair between two large sets uses prefix filtering, which is
// exact: sets with Jaccard >= t share a word among the first |x| - ceil(t |x|) + 1 words of each,
// with words ordered rarest first.

export const NEAR_COPY_JACCARD = 0.6;

/** The word set the rule compares (as corpus.py's `words`). */
export function promptWords(text: string): string[] {
  return [...new Set(text.toLowerCase().match(/[a-z0-9']+/g) ?? [])];
}

export function jaccard(a: readonly string[], b: readonly string[]): number {
  if (a.length === 0 && b.length === 0) return 1;
  const sa = new Set(a);
  let inter = 0;
  for (const w of new Set(b)) if (sa.has(w)) inter++;
  return inter / (sa.size + new Set(b).size - inter);
}

/** Whether two prompts are near copies under the rule (equal word sets included). */
export function isNearCopy(a: string, b: string): boolean {
  const wa = promptWords(a);
  const wb = promptWords(b);
  if (wa.length === 0 || wb.length === 0) return wa.length === wb.length && a.trim().toLowerCase() === b.trim().toLowerCase();
  return jaccard(wa, wb) >= NEAR_COPY_JACCARD;
}

/**
 * Every pair (i, j) with left[i] a near copy of right[j]. Prompts without a word are compared by
 * their trimmed lowercased text only.
 */
export function nearCopyPairs(left: readonly string[], right: readonly string[], threshold = NEAR_COPY_JACCARD): Array<[number, number]> {
  const L = left.map(promptWords);
  const R = right.map(promptWords);
  const df = new Map<string, number>();
  for (const ws of [...L, ...R]) for (const w of ws) df.set(w, (df.get(w) ?? 0) + 1);
  const order = (ws: string[]): string[] => [...ws].sort((x, y) => df.get(x)! - df.get(y)! || (x < y ? -1 : x > y ? 1 : 0));
  const prefixLength = (n: number): number => n - Math.ceil(threshold * n - 1e-9) + 1;
  const index = new Map<string, number[]>();
  const Rsorted = R.map(order);
  Rsorted.forEach((ws, j) => {
    for (const w of ws.slice(0, prefixLength(ws.length))) {
      let list = index.get(w);
      if (!list) index.set(w, (list = []));
      list.push(j);
    }
  });
  const pairs: Array<[number, number]> = [];
  const emptyRight = new Map<string, number[]>();
  right.forEach((t, j) => {
    if (R[j].length === 0) {
      const k = t.trim().toLowerCase();
      emptyRight.set(k, [...(emptyRight.get(k) ?? []), j]);
    }
  });
  L.forEach((ws, i) => {
    if (ws.length === 0) {
      for (const j of emptyRight.get(left[i].trim().toLowerCase()) ?? []) pairs.push([i, j]);
      return;
    }
    const sorted = order(ws);
    const seen = new Set<number>();
    const mine = new Set(ws);
    for (const w of sorted.slice(0, prefixLength(sorted.length))) {
      for (const j of index.get(w) ?? []) {
        if (seen.has(j)) continue;
        seen.add(j);
        const other = R[j];
        // Size filter: |small| / |large| >= t is necessary.
        const small = Math.min(ws.length, other.length);
        const large = Math.max(ws.length, other.length);
        if (small < threshold * large - 1e-9) continue;
        let inter = 0;
        for (const x of other) if (mine.has(x)) inter++;
        if (inter / (ws.length + other.length - inter) >= threshold - 1e-12) pairs.push([i, j]);
      }
    }
  });
  return pairs;
}
