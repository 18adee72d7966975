// Charging a block's candidates: each one's new text (cut at a stop sequence) is priced by the
// cost model against its beam's text, which gives its step cost and cumulative cost. With a cost
// model that knows which part of a text is settled, a candidate certain to end over budget is
// stopped mid-block (doomedCheck) instead of being decoded to the block's end.
import { DETOKENIZE_CONTEXT } from "../engine/constants.js";
import { isOverBudget } from "./safetyState.js";
import type { Candidate, Hypothesis, SearchContext } from "./searchState.js";
import type { StopSequences } from "./stop.js";

export async function chargeCosts(ctx: SearchContext, live: Hypothesis[], candidates: Candidate[]): Promise<void> {
  for (const c of candidates) {
    const beam = live[c.beam];
    c.added = c.newTokens.length === 0 ? "" : ctx.engine.detokenize(c.newTokens, beam.tokens.slice(-DETOKENIZE_CONTEXT));
    applyStop(ctx.stops, beam, c);
  }
  const costs = await ctx.cost.stepCosts(candidates.map((c) => ({ prefix: c.cutText ?? live[c.beam].text, added: c.added })));
  candidates.forEach((c, i) => {
    const stepCost = costs[i];
    if (!(stepCost >= 0)) throw new Error(`cost model ${ctx.cost.name} returned an invalid step cost: ${stepCost}`);
    c.stepCost = stepCost;
    c.cost = live[c.beam].cost + stepCost;
    // Its sequence lacks its last token: it must never be kept (a settled cost above the step cost is a cost model bug).
    if (c.doomed && !isOverBudget(c.cost, ctx.o.budget)) {
      throw new Error(`cost model ${ctx.cost.name}: a settled step cost was above the step cost of the same text and more`);
    }
  });
}

/**
 * A candidate whose text would contain a stop sequence ends before it (stopReason
 * "stop-sequence"). A sequence that began in the beam's own text cuts into it: the streamed text
 * never reached that far (see streamCommit.ts), and the cut text is charged as it is.
 */
function applyStop(stops: StopSequences, beam: Hypothesis, c: Candidate): void {
  if (stops.empty || c.added === "") return;
  const full = beam.text + c.added;
  const at = stops.find(full, beam.text.length);
  if (at < 0) return;
  c.done = "stop-sequence";
  if (at >= beam.text.length) c.added = full.slice(beam.text.length, at);
  else {
    c.cutText = full.slice(0, at);
    c.added = "";
  }
}

/**
 * With a cost model that knows which part of a text is settled (the lexicon), the check that
 * stops a candidate mid-block once that part puts it over budget: it would be dropped at the
 * block's end anyway, so its later tokens are not decoded (issue 18). Text where a stop sequence
 * may begin is not counted: the candidate may yet end before it.
 */
export function doomedCheck(ctx: SearchContext, live: Hypothesis[]): ((root: number, tokens: readonly number[]) => boolean) | undefined {
  const { cost, stops, engine } = ctx;
  const settled = cost.settledStepCost;
  if (settled === undefined) return undefined;
  const { budget } = ctx.o;
  return (root, tokens) => {
    const beam = live[root];
    let added = engine.detokenize(tokens, beam.tokens.slice(-DETOKENIZE_CONTEXT));
    if (!stops.empty) {
      const start = stops.firstPossibleStart(beam.text + added, beam.text.length) - beam.text.length;
      if (start < 0) return false; // it may cut into the beam's own text
      added = added.slice(0, start);
    }
    return isOverBudget(beam.cost + settled.call(cost, beam.text, added), budget);
  };
}
