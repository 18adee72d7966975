// What a decoding method returns, and the small interfaces the search needs from its collaborators.

/** Scores [hidden state, z] rows: safety = P(budget holds at the end), value = task value. */
export interface CriticScorer {
  evaluate(hidden: Float32Array, z: Float32Array, rows: number): { safety: Float32Array; value: Float32Array };
}

/**
 * Why an answer ended: an end-of-generation token, a stop sequence, the maxTokens cap, the context
 * (the model's trained context or the engine's KV cells) before the cap, no safe continuation, or
 * an abort.
 */
export type StopReason = "eog" | "stop-sequence" | "max-tokens" | "context" | "fallback" | "aborted";

export interface TraceCandidate {
  beam: number;
  /** How many of the block's N draws produced this candidate. */
  count: number;
  added: string;
  stepCost: number;
  cost: number;
  z: number;
  /** The reward model's score (absent for candidates dropped over budget: they are never ranked). */
  reward?: number;
  safety?: number;
  value?: number;
  score?: number;
  /** Stopped before the block's end, at the token that made it certain to end over budget. */
  stoppedMidBlock?: true;
  /** "dropped: at risk": a cruising continuation within budget but at risk (its block was searched in full). */
  status: "kept" | "finished" | "dropped: over budget" | "dropped: rank" | "dropped: at risk";
}

/** Why a block of branch "auto" searched in full (K beams x N samples) instead of cruising. */
export type BranchReason = "first blocks" | "over budget" | "step cost" | "low budget" | "critic" | "cruise over budget";

export interface TraceBlock {
  block: number;
  attempt: number;
  /** Branch "auto": the best beam alone sampled one continuation (absent in full blocks). */
  cruise?: true;
  /** Branch "auto": why this block searched in full (absent with branch "always"). */
  branched?: BranchReason;
  candidates: TraceCandidate[];
}

export interface GenerationResult {
  method: string;
  text: string;
  tokens: number;
  /** The answer's token ids (what `tokens` counts; after a stop sequence, up to the token that completed it). */
  tokenIds: number[];
  /** Cost of `text` under the cost model (not the sum of step costs). */
  cost: number;
  budget: number | null;
  withinBudget: boolean;
  /** The answer's reward under the reward model (default: mean token log-probability under the base model). */
  reward: number;
  stopReason: StopReason;
  /** True when the search could not find a safe continuation and ended early (or refused). */
  fallback: boolean;
  /** Resampling rounds with penalised logits that were needed. */
  resamples: number;
  /**
   * True when the final check found the search's own answer over budget and emptied it: the search
   * broke the budget and only the safety net held it (never expected; tests require false). A
   * refusal text over budget is a setting's mistake and reported by `warning` instead.
   */
  finalCheckEmptied?: boolean;
  seed: number;
  seconds: number;
  /** Why the answer is not what the settings asked for, when it is not (e.g. a refusal text over budget, sent as ""). */
  warning?: string;
  trace?: TraceBlock[];
}
