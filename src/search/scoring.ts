// Ranking a block's candidates within budget: score = the reward model's reward (helpfulness;
// default the mean token log-probability), + criticWeight x the critic's penalised-return estimate
// safety*value - (1 - safety)*violationPenalty on [hidden state, z].
import { safetyStateAfter } from "./safetyState.js";
import type { Candidate, Hypothesis, SearchContext } from "./searchState.js";

export async function scoreCandidates(ctx: SearchContext, live: Hypothesis[], safe: Candidate[]): Promise<void> {
  const { reward, critic, o } = ctx;
  const rewards = await reward.score(
    ctx.rewardRequest,
    safe.map((c) => {
      const beam = live[c.beam];
      return { tokens: beam.tokens.concat(c.newTokens), text: c.cutText ?? beam.text + c.added, sumLogProb: c.sumLogProb, hidden: c.hidden };
    }),
  );
  safe.forEach((c, i) => {
    if (!Number.isFinite(rewards[i])) throw new Error(`reward model ${reward.name} returned an invalid reward: ${rewards[i]}`);
    c.reward = c.score = rewards[i];
  });
  if (!critic || o.criticWeight === 0) return;
  const nEmbd = ctx.engine.info.nEmbd;
  const hidden = new Float32Array(safe.length * nEmbd);
  const z = new Float32Array(safe.length);
  safe.forEach((c, i) => {
    hidden.set(c.hidden!, i * nEmbd);
    z[i] = safetyStateAfter(c.cost, o.budget);
  });
  const { safety, value } = critic.evaluate(hidden, z, safe.length);
  safe.forEach((c, i) => {
    c.safety = safety[i];
    c.value = value[i];
    const penalisedReturn = safety[i] * value[i] - (1 - safety[i]) * o.violationPenalty;
    c.score += o.criticWeight * penalisedReturn;
  });
}
