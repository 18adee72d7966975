// The cost model behind the safety budget: how "unsafe" a piece of generated text is.
//
// InferenceGuard keeps a running safety cost per search branch and prunes or penalises branches
// whose cost would exceed the budget B. The cost of a branch is the sum of its step costs, so the
// budget can only be a guarantee on the *final answer* if
//
//     stepCost_1 + stepCost_2 + ... + stepCost_n  >=  cost(final text)
//
// for every way the answer is cut into steps. That is what a step's cost is defined to ensure:
//
//     stepCost(prefix, added) = max(0, cost(prefix + added) - cost(prefix))
//
// i.e. the increase of the model's score over the prefix, clipped at 0. Without the clip the sum
// telescopes to exactly cost(final) - cost("") = cost(final) (cost("") is 0 for a sane model);
// clipping only ever makes steps larger, so the sum is >= cost(final). A model whose score can go
// *down* (a later word "cancels" an earlier one) is therefore charged at its peak, never less than
// the final text's cost. (Floating-point sums of non-integer costs can differ in the last bit;
// integer costs, like the shipped lexicon's, are exact.)
//
// The interface is async-capable because learned models (a classifier, a probe, a GGUF guard
// model) are, but a fast model (the rules lexicon) answers synchronously: callers `await` the
// result, which costs nothing for a plain number.

export interface CostModel {
  /** Where the model came from, for logs and traces, e.g. "rules:/path/file.json". */
  readonly name: string;
  /**
   * The most cost(text) can be, when the model is bounded (a probability: 1); undefined when it is
   * not (a lexicon counts words). A budget at or above it does not bound the answer (the guard warns).
   */
  readonly maxCost?: number;
  /** Total non-negative cost of a whole answer text. */
  cost(text: string): number | Promise<number>;
  /**
   * Cost that `added` adds after `prefix`: max(0, cost(prefix + added) - cost(prefix)) by default
   * (see the comment at the top of this file for why). Batched: one call scores many candidate
   * continuations, so a model can share work between them. Returns one number per item, in order.
   */
  stepCosts(items: ReadonlyArray<{ prefix: string; added: string }>): number[] | Promise<number[]>;
  /**
   * Optional, synchronous and cheap: a lower bound on stepCost(prefix, added + anything), i.e. the
   * charge of the part of `added` that no continuation can change. With it the search stops
   * decoding a candidate mid-block once it is certain to end its block over budget, instead of
   * decoding it to the block's end (issue 18). Only a model whose charges never fall as text grows
   * past a settled point can give one (the lexicon: a word is settled once a barrier follows it);
   * a classifier's score can fall, so it has none.
   */
  settledStepCost?(prefix: string, added: string): number;
  /**
   * Optional: the model bound to one request, for a cost that depends on what was asked (the harm
   * kind charges compliance with a harmful request, src/cost/requestHarm.ts). `request` is the
   * last user message's text for a chat prompt, the prompt for a completion prompt. A generation
   * binds it once at its start (bindRequest); a model without it is used as is.
   */
  forRequest?(request: string): CostModel;
  /** Frees native resources (models, contexts), if the model holds any. */
  dispose?(): void | Promise<void>;
  /**
   * Told once how many generations call it in turn (createGuard's `parallel`): their stepCosts
   * calls interleave (and an async implementation's may overlap), so a model that keeps state from
   * one call for the next (the probe's and guard model's KV prefixes) keeps that many callers' worth.
   */
  shareAmong?(callers: number): void;
}

/** What a request holds that a cost model may read: chat messages, or a completion prompt. */
export interface CostRequest {
  readonly messages?: ReadonlyArray<{ readonly role: string; readonly content: string }>;
  readonly prompt?: string;
}

/** The text a cost model is bound to: the last user message's, else the completion prompt; undefined when neither. */
export function requestText(request: CostRequest): string | undefined {
  if (request.messages) {
    for (let i = request.messages.length - 1; i >= 0; i--) if (request.messages[i]!.role === "user") return request.messages[i]!.content;
    return undefined;
  }
  return request.prompt;
}

/** `cost` bound to the request (CostModel.forRequest), or `cost` itself when it takes none or there is no request text. */
export function bindRequest(cost: CostModel, request: CostRequest): CostModel {
  if (!cost.forRequest) return cost;
  const text = requestText(request);
  return text === undefined ? cost : cost.forRequest(text);
}

/** One (prefix, added) pair as passed to {@link CostModel.stepCosts}. */
export type StepItem = { readonly prefix: string; readonly added: string };

/**
 * The default step cost of a model that only knows how to score whole texts:
 * max(0, cost(prefix + added) - cost(prefix)) for each item, scoring each distinct prefix once.
 * Later (learned) cost models can implement `stepCosts` with this.
 */
export async function stepCostsByDifference(
  cost: (text: string) => number | Promise<number>,
  items: ReadonlyArray<StepItem>,
): Promise<number[]> {
  const prefixCost = new Map<string, Promise<number>>();
  const prefixOf = (prefix: string): Promise<number> => {
    let c = prefixCost.get(prefix);
    if (c === undefined) {
      c = Promise.resolve(cost(prefix));
      prefixCost.set(prefix, c);
    }
    return c;
  };
  return Promise.all(
    items.map(async ({ prefix, added }) => {
      const [before, after] = await Promise.all([prefixOf(prefix), cost(prefix + added)]);
      return clipStep(after - before);
    }),
  );
}

/**
 * stepCostsByDifference for a model that scores many texts in one synchronous batch (the native
 * classifiers): one call scores every distinct prefix once (the beams share a few) and every
 * prefix + added. An empty `added` costs 0.
 */
export function batchedStepCosts(items: ReadonlyArray<StepItem>, scoreTexts: (texts: string[]) => ArrayLike<number>): number[] {
  if (items.length === 0) return [];
  const prefixIndex = new Map<string, number>();
  const texts: string[] = [];
  for (const { prefix } of items) {
    if (!prefixIndex.has(prefix)) {
      prefixIndex.set(prefix, texts.length);
      texts.push(prefix);
    }
  }
  const fullStart = texts.length;
  for (const { prefix, added } of items) texts.push(prefix + added);
  const scores = scoreTexts(texts);
  return items.map(({ prefix, added }, i) => (added.length === 0 ? 0 : clipStep(scores[fullStart + i]! - scores[prefixIndex.get(prefix)!]!)));
}

/**
 * The warning for a budget that limits nothing: at or above the most the cost model charges one
 * answer (e.g. budget 1 with a probability), or undefined when the budget can bind.
 */
export function budgetWarning(cost: Pick<CostModel, "name" | "maxCost">, budget: number): string | undefined {
  if (cost.maxCost === undefined || budget < cost.maxCost) return undefined;
  return `budget ${budget} is at or above the most ${cost.name} charges an answer (${cost.maxCost}): it does not limit the answer's cost; use a smaller budget`;
}

/** max(0, delta), with NaN treated as an error (a cost model must return numbers). */
export function clipStep(delta: number): number {
  if (Number.isNaN(delta)) throw new Error("cost model returned NaN");
  return delta > 0 ? delta : 0;
}
