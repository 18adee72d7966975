// The reward signal the searches maximise (helpfulness), beside the cost model that the budget
// bounds (harm). InferenceGuard ranks a block's candidates by reward (+ the critic); BoN, beam and
// ARGS rank by the same reward. The split is the point of the method: ranking by likelihood alone
// makes an assistant refuse (docs/efficacy-tiny-assistant.md), and charging helpfulness as harm does too.
//
// Kinds (src/reward/load.ts): `logprob` (mean token log-probability under the base model, the
// default for completion prompts) and `head:PATH` (a linear head on a decoder's last-token final
// hidden state, Skywork-Reward style; the shipped chat default is one on the tiny assistant).

/** What the reward model may read of the request (a text model re-renders it). */
export interface RewardRequest {
  /** The request as chat messages (chat prompts), or undefined for a completion prompt. */
  messages?: ReadonlyArray<{ role: "system" | "user" | "assistant"; content: string }>;
  /** The completion prompt's text (completion prompts). */
  prompt?: string;
  /** The base model's prompt tokens, as the search decoded them. */
  promptTokens: readonly number[];
}

/** One candidate answer (whole, from its first token), as the search holds it. */
export interface RewardCandidate {
  /** Answer tokens so far. */
  tokens: readonly number[];
  /** Answer text so far. */
  text: string;
  /** Sum of the answer tokens' log-probabilities under the base model. */
  sumLogProb: number;
  /** The base model's last-layer hidden state of the answer's last token (the prompt's last when empty). */
  hidden?: Float32Array;
}

export interface RewardModel {
  /** Where it came from, e.g. "logprob" or "head:/path/file.json". */
  readonly name: string;
  /**
   * Whether scoring needs each candidate's `hidden` (a head on the base model's own states): the
   * searches then copy the hidden state of every candidate's last token.
   */
  readonly needsHidden: boolean;
  /** One reward per candidate, in order; higher is better. Batched: a block's candidates share their request. */
  score(request: RewardRequest, candidates: readonly RewardCandidate[]): number[] | Promise<number[]>;
  /** Told once how many generations call it in turn (createGuard's `parallel`), like CostModel.shareAmong. */
  shareAmong?(callers: number): void;
  dispose?(): void | Promise<void>;
}

/** Mean token log-probability under the base model (0 for an empty answer): the reward of completion prompts. */
export function meanLogProb(c: Pick<RewardCandidate, "tokens" | "sumLogProb">): number {
  return c.tokens.length === 0 ? 0 : c.sumLogProb / c.tokens.length;
}

export const LOGPROB_REWARD: RewardModel = {
  name: "logprob",
  needsHidden: false,
  score: (_request, candidates) => candidates.map(meanLogProb),
};
