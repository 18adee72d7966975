// Sampling rollouts from the base model: the critic's training data.
//
// For every prompt, R continuations are sampled at once: the prompt is prefilled once, its
// sequence forked R times (the forks share the prompt's KV cells), and all live continuations of
// several prompts extend by one token per batched decode, as in the guard's expand(). After every
// W-token block (and at the end) a state is recorded exactly as the guard sees a candidate: the
// hidden state of the block's last token, and the cumulative sum of clipped step costs (the
// guard's cost, hence its z = 1 - cost/d).
import { rewardOfAnswer } from "../reward/answerReward.js";
import { LOGPROB_REWARD, type RewardModel } from "../reward/rewardModel.js";
import { basename } from "node:path";
import { bindRequest, type CostModel } from "../cost/costModel.js";
import { DETOKENIZE_CONTEXT } from "../engine/constants.js";
import type { Engine } from "../engine/engine.js";
import { UserError } from "../errors.js";
import { deriveSeed } from "../search/seed.js";
import type { Progress } from "../util/progress.js";
import { ROLLOUT_FORMAT_VERSION, type Rollout, type RolloutSet } from "./rolloutFile.js";

export interface SampleRolloutsOptions {
  engine: Engine;
  /** SHA-256 of the engine's model file (recorded so training can refuse other models' rollouts). */
  modelSha256: string;
  cost: CostModel;
  /** The cost spec as the user wrote it (recorded). */
  costSpec: string;
  /** The reward of each rollout (the critic's value labels); default: mean token log-probability. */
  reward?: RewardModel;
  prompts: readonly string[];
  /** Render each prompt as a user message with the model's chat template (instruction models). */
  chat?: boolean;
  rolloutsPerPrompt: number;
  width: number;
  maxTokens: number;
  budget: number;
  seed: number;
  temperature?: number;
  progress?: Progress;
  signal?: AbortSignal;
}

interface Live {
  rollout: Rollout;
  seq: number;
  /** Answer tokens so far. */
  tokens: number[];
  /** Tokens of the current, not yet costed block. */
  block: number[];
  text: string;
  sumLogProb: number;
  pos: number;
  row: number;
  done: boolean;
  hidden: Float32Array[];
  /** The cost model bound to this rollout's request (a request-aware cost charges compliance with it). */
  cost: CostModel;
}

/** KV cells sampleRollouts needs for a group of prompts (forks share the prompt cells). */
export function rolloutContextCells(maxPromptTokens: number, rolloutsPerPrompt: number, maxTokens: number, promptsPerGroup: number): number {
  return promptsPerGroup * (maxPromptTokens + rolloutsPerPrompt * (maxTokens + 1)) + 16;
}

/** Prompts sampled together: as many as the engine's sequences hold (R sequences each). */
export function promptsPerGroup(maxSequences: number, rolloutsPerPrompt: number): number {
  return Math.max(1, Math.floor(maxSequences / rolloutsPerPrompt));
}

export async function sampleRollouts(o: SampleRolloutsOptions): Promise<RolloutSet> {
  const { engine } = o;
  const R = o.rolloutsPerPrompt;
  const nEmbd = engine.info.nEmbd;
  if (!Number.isInteger(R) || R < 1) throw new UserError(`rollouts per prompt must be a positive integer (got ${R})`);
  if (R > engine.info.maxSequences) throw new UserError(`rollouts per prompt (${R}) exceed the engine's ${engine.info.maxSequences} sequences`);
  if (R > engine.info.batchSize) throw new UserError(`rollouts per prompt (${R}) exceed the engine's batch size ${engine.info.batchSize}`);
  const group = promptsPerGroup(Math.min(engine.info.maxSequences, engine.info.batchSize), R);
  const promptTokens = o.prompts.map((p) => (o.chat ? engine.chatPrompt([{ role: "user", content: p }]) : engine.completionPrompt(p)));
  for (const [i, t] of promptTokens.entries()) {
    if (t.length + o.maxTokens > engine.info.trainContextSize) {
      throw new UserError(`prompt ${i + 1} has ${t.length} tokens: with ${o.maxTokens} answer tokens it exceeds the model's context ${engine.info.trainContextSize}`);
    }
  }
  const maxPrompt = Math.max(...promptTokens.map((t) => t.length));
  const cells = rolloutContextCells(maxPrompt, R, o.maxTokens, Math.min(group, o.prompts.length));
  if (cells > engine.info.contextSize) {
    throw new UserError(`sampling ${R} rollouts of ${o.maxTokens} tokens needs ${cells} KV cells but the context has ${engine.info.contextSize}`);
  }
  const params = { temperature: o.temperature ?? 1, topK: 0, topP: 1 };

  const rollouts: Rollout[] = [];
  const hiddenChunks: Float32Array[] = [];
  for (let start = 0; start < o.prompts.length; start += group) {
    if (o.signal?.aborted) throw new UserError("rollout sampling was aborted");
    const members = promptTokens.slice(start, start + group).map((tokens, g) => ({ index: start + g, tokens }));
    const lives = await sampleGroup(engine, o, members, params);
    for (const live of lives) {
      rollouts.push(live.rollout);
      hiddenChunks.push(...live.hidden);
    }
    o.progress?.tick(members.length);
  }
  const hidden = new Float32Array(hiddenChunks.length * nEmbd);
  hiddenChunks.forEach((h, i) => hidden.set(h, i * nEmbd));
  return {
    header: {
      formatVersion: ROLLOUT_FORMAT_VERSION,
      model: { file: basename(engine.info.modelPath), sha256: o.modelSha256, nEmbd, nVocab: engine.info.nVocab },
      cost: { spec: o.costSpec, name: o.cost.name },
      ...(o.reward && o.reward !== LOGPROB_REWARD ? { reward: o.reward.name } : {}),
      budget: o.budget,
      width: o.width,
      maxTokens: o.maxTokens,
      rolloutsPerPrompt: R,
      temperature: params.temperature,
      seed: o.seed,
      prompts: [...o.prompts],
      ...(o.chat ? { chat: true } : {}),
      rollouts,
      hiddenRows: hiddenChunks.length,
      createdAt: new Date().toISOString(),
    },
    hidden,
  };
}

/** Samples R rollouts for each of a few prompts, all stepping together. */
async function sampleGroup(
  engine: Engine,
  o: SampleRolloutsOptions,
  members: Array<{ index: number; tokens: number[] }>,
  params: { temperature: number; topK: number; topP: number },
): Promise<Live[]> {
  const R = o.rolloutsPerPrompt;
  engine.clear();
  const requestOf = (index: number) => (o.chat ? { messages: [{ role: "user" as const, content: o.prompts[index]! }] } : { prompt: o.prompts[index]! });
  const costs = members.map((m) => bindRequest(o.cost, requestOf(m.index)));
  const lives: Live[][] = members.map((m, g) =>
    Array.from({ length: R }, (_, j) => ({
      cost: costs[g]!,
      rollout: { prompt: m.index, sample: j, source: "sample" as const, tokens: 0, tokenIds: [], cost: 0, textCost: 0, reward: 0, stop: "max-tokens" as const, states: [] },
      seq: g * R + j, tokens: [], block: [], text: "", sumLogProb: 0, pos: m.tokens.length, row: 0, done: false, hidden: [],
    })),
  );
  // Each prompt draws from its own seed stream, so a rollout does not depend on its group.
  // Draws one token for each live rollout of prompt g; returns those that ended (EOG).
  const draw = (g: number, step: number, extending: Live[]): Live[] => {
    const active = lives[g].filter((l) => !l.done);
    if (active.length === 0) return [];
    const { tokens, logProbs } = engine.sample(Int32Array.from(active, (l) => l.row), params, deriveSeed(o.seed, members[g].index, step));
    const ended: Live[] = [];
    active.forEach((l, i) => {
      if (engine.isEndOfGeneration(tokens[i])) {
        l.done = true;
        l.rollout.stop = "eog";
        ended.push(l);
        return;
      }
      l.tokens.push(tokens[i]);
      l.block.push(tokens[i]);
      l.sumLogProb += logProbs[i];
      extending.push(l);
    });
    return ended;
  };
  // A rollout that ends mid-block is scored like a finished guard candidate: the hidden state of
  // its last decoded token (its row still belongs to the last decode).
  const recordEnds = async (ended: Live[]) => {
    const pending = ended.filter((l) => l.block.length > 0 || l.rollout.states.length === 0);
    if (pending.length > 0) await recordStates(engine, o, pending);
  };

  let extending: Live[] = [];
  // Each prompt is prefilled in one call, as the guard does (so states see the same numerics),
  // and its first tokens drawn at once: a prefill's row is valid only until the next decode.
  for (const [g, m] of members.entries()) {
    const row = engine.prefill(g * R, m.tokens);
    for (const l of lives[g]) {
      if (l.seq !== g * R) engine.fork(g * R, l.seq);
      l.row = row;
    }
    await recordEnds(draw(g, 0, extending));
  }
  for (let step = 0; step < o.maxTokens; step++) {
    if (step > 0) {
      extending = [];
      const ended: Live[] = [];
      members.forEach((_, g) => ended.push(...draw(g, step, extending)));
      await recordEnds(ended);
    }
    if (extending.length === 0) break;
    engine.step(
      Int32Array.from(extending, (l) => l.tokens[l.tokens.length - 1]),
      Int32Array.from(extending, (l) => l.pos),
      Int32Array.from(extending, (l) => l.seq),
    );
    extending.forEach((l, i) => {
      l.row = i;
      l.pos++;
    });
    const atBoundary = extending.filter((l) => l.block.length === o.width || l.tokens.length === o.maxTokens);
    if (atBoundary.length > 0) await recordStates(engine, o, atBoundary);
  }

  const all = lives.flat();
  const textCosts = await Promise.all(all.map((l) => l.cost.cost(l.text)));
  all.forEach((l, i) => {
    const r = l.rollout;
    r.tokens = l.tokens.length;
    r.tokenIds = l.tokens;
    r.textCost = textCosts[i];
    r.reward = l.tokens.length > 0 ? l.sumLogProb / l.tokens.length : 0;
  });
  for (const l of all) engine.release(l.seq);
  // The search's reward, when it is not likelihood: each whole rollout scored as the guard scores a
  // candidate. A head on this model's own states reads the state recorded at the rollout's last token
  // (the guard's candidate state; no second pass over the answer); another reward re-reads the answer.
  if (o.reward && o.reward !== LOGPROB_REWARD) {
    for (const [i, l] of all.entries()) {
      const m = members[Math.floor(i / o.rolloutsPerPrompt)]!;
      const request = requestOf(m.index);
      const last = l.hidden[l.hidden.length - 1];
      l.rollout.reward =
        o.reward.needsHidden && last !== undefined
          ? (await o.reward.score({ ...request, promptTokens: m.tokens }, [{ tokens: l.tokens, text: l.text, sumLogProb: l.sumLogProb, hidden: last }]))[0]!
          : await rewardOfAnswer(engine, o.reward, { ...request, promptTokens: m.tokens }, { tokenIds: l.tokens, text: l.text, sumLogProb: l.sumLogProb });
    }
  }
  return all;
}

/** Charges each rollout's pending block and records its state (hidden state of its current row). */
async function recordStates(engine: Engine, o: SampleRolloutsOptions, lives: Live[]): Promise<void> {
  const nEmbd = engine.info.nEmbd;
  const states = engine.hidden(Int32Array.from(lives, (l) => l.row));
  const added = lives.map((l) => {
    const before = l.tokens.slice(0, l.tokens.length - l.block.length);
    return l.block.length === 0 ? "" : engine.detokenize(l.block, before.slice(-DETOKENIZE_CONTEXT));
  });
  // One batched call per bound cost model (per prompt: rollouts of several prompts step together).
  const steps: number[] = new Array(lives.length);
  for (const cost of new Set(lives.map((l) => l.cost))) {
    const mine = lives.flatMap((l, i) => (l.cost === cost ? [i] : []));
    const got = await cost.stepCosts(mine.map((i) => ({ prefix: lives[i]!.text, added: added[i]! })));
    mine.forEach((i, k) => (steps[i] = got[k]!));
  }
  lives.forEach((l, i) => {
    if (!(steps[i] >= 0)) throw new Error(`cost model ${o.cost.name} returned an invalid step cost: ${steps[i]}`);
    l.text += added[i];
    l.rollout.cost += steps[i];
    l.block = [];
    l.rollout.states.push([l.tokens.length, l.rollout.cost]);
    l.hidden.push(states.slice(i * nEmbd, (i + 1) * nEmbd));
  });
}
