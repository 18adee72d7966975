// The CostModel behaviour shared by the two llama.cpp-backed cost models (the latent probe and the
// guard model): a score in [0, 1] per distinct text, cached, computed for many texts at once, and
// step costs as clipped increases (see costModel.ts).
//
// The empty answer costs 0 by definition (it says nothing), whatever the model would say about an
// empty text: step costs then bound the cost of every final answer from above (their sum
// telescopes from cost("") = 0), and the search's empty fallback answer is always within budget.
import { clipStep, type CostModel, type StepItem } from "../costModel.js";

/** Scores kept per model; a guarded search re-asks about the last block's texts, not older ones. */
const DEFAULT_CACHE_ENTRIES = 4096;

export abstract class CachedTextCostModel implements CostModel {
  abstract readonly name: string;
  /** Scores are probabilities. */
  readonly maxCost = 1;
  private readonly cache = new Map<string, number>();

  constructor(private readonly cacheEntries = DEFAULT_CACHE_ENTRIES) {}

  /** Scores of non-empty, distinct texts, each in [0, 1], in order. */
  protected abstract scoreTexts(texts: readonly string[]): ArrayLike<number>;

  cost(text: string): number {
    return this.costs([text])[0];
  }

  /** Scores of several texts, computing the uncached ones in one batch. */
  costs(texts: readonly string[]): number[] {
    const fresh = new Map<string, number>();
    const missing: string[] = [];
    for (const t of texts) {
      if (t !== "" && !fresh.has(t) && !this.cache.has(t)) {
        fresh.set(t, NaN);
        missing.push(t);
      }
    }
    if (missing.length > 0) {
      const scores = this.scoreTexts(missing);
      missing.forEach((t, i) => {
        const s = scores[i];
        if (!(s >= 0 && s <= 1)) throw new Error(`${this.name}: score ${s} outside [0, 1]`);
        fresh.set(t, s);
      });
    }
    const out = texts.map((t) => (t === "" ? 0 : (fresh.get(t) ?? this.touch(t))));
    for (const [t, s] of fresh) this.remember(t, s);
    return out;
  }

  /** max(0, cost(prefix + added) - cost(prefix)) per item; every distinct text is scored once, all in one batch. */
  stepCosts(items: ReadonlyArray<StepItem>): number[] {
    const texts: string[] = [];
    for (const { prefix, added } of items) texts.push(prefix, prefix + added);
    const scores = this.costs(texts);
    return items.map(({ added }, i) => (added === "" ? 0 : clipStep(scores[2 * i + 1] - scores[2 * i])));
  }

  /** Forgets every cached score. */
  clearCache(): void {
    this.cache.clear();
  }

  /** A cached score, marked as recently used (Map order is the LRU order). */
  private touch(text: string): number {
    const s = this.cache.get(text)!;
    this.cache.delete(text);
    this.cache.set(text, s);
    return s;
  }

  private remember(text: string, score: number): void {
    this.cache.delete(text);
    this.cache.set(text, score);
    while (this.cache.size > this.cacheEntries) this.cache.delete(this.cache.keys().next().value as string);
  }

  abstract dispose(): Promise<void>;
}
