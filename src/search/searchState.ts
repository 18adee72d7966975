// What the modules of one guarded search share: its fixed context (engine, sequences, settings,
// cost, reward and critic), and the hypotheses (beams kept between blocks) and candidates (a
// block's continuations of them) it moves between blocks.
import type { CostModel } from "../cost/costModel.js";
import type { Decoder } from "../engine/decoder.js";
import type { RewardModel, RewardRequest } from "../reward/rewardModel.js";
import type { ResolvedGuardOptions } from "./options.js";
import type { SequencePool } from "../engine/sequencePool.js";
import type { StopSequences } from "./stop.js";
import type { TreeLeaf } from "./tree.js";
import type { TraceRecorder } from "./traceRecorder.js";
import type { CriticScorer, StopReason } from "./types.js";

export interface SearchContext {
  readonly engine: Decoder;
  readonly pool: SequencePool;
  readonly o: ResolvedGuardOptions;
  readonly seed: number;
  /** Answer tokens the search may write: the cap, or fewer where the context ends first (capacity.ts). */
  readonly maxTokens: number;
  readonly stops: StopSequences;
  readonly cost: CostModel;
  readonly critic?: CriticScorer;
  readonly reward: RewardModel;
  /** The request as the reward model reads it. */
  readonly rewardRequest: RewardRequest;
  /** Only when the options ask for a trace. */
  readonly trace?: TraceRecorder;
}

export interface Hypothesis {
  seq: number;
  tokens: number[];
  text: string;
  /** Next KV position: prompt length + answer tokens decoded. */
  pos: number;
  /** The last token in the KV cache (re-decoded when a block is resampled). */
  lastToken: number;
  /** Batch row of its last decode; valid only until the next decode. */
  row: number;
  cost: number;
  sumLogProb: number;
  /** The reward model's score of its text. */
  reward: number;
  score: number;
  finished: StopReason | null;
}

export interface Candidate {
  beam: number;
  /** Its KV sequence; -1 once it ended at an end-of-generation token (nothing left to decode). */
  seq: number;
  /** How many of the N draws produced exactly this candidate. */
  count: number;
  newTokens: number[];
  pos: number;
  lastToken: number;
  row: number;
  sumLogProb: number;
  done: StopReason | null;
  /** Hidden state of its last token, copied out while its row was valid. */
  hidden?: Float32Array;
  added: string;
  /** Set when a stop sequence began before the end of the beam's text: the whole text it keeps. */
  cutText?: string;
  /** Stopped mid-block, certain to end over budget (its last token was never decoded). */
  doomed: boolean;
  stepCost: number;
  cost: number;
  reward: number;
  score: number;
  safety?: number;
  value?: number;
}

export function toCandidate(l: TreeLeaf, live: Hypothesis[]): Candidate {
  return {
    beam: l.root, seq: l.seq, count: l.count, newTokens: l.tokens, pos: l.pos,
    lastToken: l.tokens.length > 0 ? l.tokens[l.tokens.length - 1] : live[l.root].lastToken,
    row: l.row, sumLogProb: l.sumLogProb, done: l.stop === "over-budget" ? null : l.stop, doomed: l.stop === "over-budget", hidden: l.hidden,
    added: "", stepCost: 0, cost: live[l.root].cost, reward: 0, score: 0,
  };
}

/** A kept candidate as the beam it becomes (its sequence goes with it). */
export function toHypothesis(c: Candidate, beam: Hypothesis): Hypothesis {
  return {
    seq: c.seq,
    tokens: beam.tokens.concat(c.newTokens),
    text: c.cutText ?? beam.text + c.added,
    pos: c.pos,
    lastToken: c.lastToken,
    row: c.row,
    cost: c.cost,
    sumLogProb: c.sumLogProb,
    reward: c.reward,
    score: c.score,
    finished: c.done,
  };
}

export function releaseCandidate(pool: SequencePool, c: Candidate): void {
  if (c.seq >= 0) pool.release(c.seq);
}
