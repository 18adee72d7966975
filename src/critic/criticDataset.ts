// Rollouts -> critic training rows. One row per recorded state that is still within budget
// (z >= 0: the only states the guard keeps and scores; a state over budget is lost for sure):
//
//   input   [hidden state, z],  z = 1 - cost_so_far / d
//   ySafe   1 if the rollout's final cost <= d, else 0  (the safety head's target)
//   yValue  gamma^(T - t) * (reward if safe else -violationPenalty)  (the penalised return)
//
// with t the tokens written at the state, T the rollout's length, reward its mean token log-prob.
import { seededRandom } from "./critic.js";
import { isOverBudget, safetyStateAfter } from "../search/safetyState.js";
import { rolloutRowOffsets, type RolloutSet } from "./rolloutFile.js";

export interface LabelOptions {
  budget: number;
  /** Discount per token, gamma in (0, 1]. */
  gamma: number;
  /** Return of a rollout that ends over budget is -violationPenalty. */
  violationPenalty: number;
}

export interface CriticRows {
  rows: number;
  nEmbd: number;
  /** rows x nEmbd. */
  hidden: Float32Array;
  z: Float32Array;
  ySafe: Float32Array;
  yValue: Float32Array;
  /** Per row: the prompt, the rollout (index in the rollout set) and the state's block (1-based). */
  prompt: Int32Array;
  rollout: Int32Array;
  block: Int32Array;
}

/** Labels every within-budget state of the rollouts whose prompt passes `keepPrompt`. */
export function buildCriticRows(set: RolloutSet, labels: LabelOptions, keepPrompt: (prompt: number) => boolean = () => true): CriticRows {
  const { header } = set;
  const nEmbd = header.model.nEmbd;
  const offsets = rolloutRowOffsets(header);
  const picked: Array<{ src: number; rollout: number; state: number }> = [];
  header.rollouts.forEach((r, i) => {
    if (!keepPrompt(r.prompt)) return;
    r.states.forEach(([, cost], s) => {
      if (!isOverBudget(cost, labels.budget)) picked.push({ src: offsets[i] + s, rollout: i, state: s });
    });
  });
  const n = picked.length;
  const out: CriticRows = {
    rows: n,
    nEmbd,
    hidden: new Float32Array(n * nEmbd),
    z: new Float32Array(n),
    ySafe: new Float32Array(n),
    yValue: new Float32Array(n),
    prompt: new Int32Array(n),
    rollout: new Int32Array(n),
    block: new Int32Array(n),
  };
  picked.forEach(({ src, rollout, state }, row) => {
    const r = header.rollouts[rollout];
    const [tokens, cost] = r.states[state];
    const safe = !isOverBudget(r.cost, labels.budget);
    out.hidden.set(set.hidden.subarray(src * nEmbd, (src + 1) * nEmbd), row * nEmbd);
    out.z[row] = safetyStateAfter(cost, labels.budget);
    out.ySafe[row] = safe ? 1 : 0;
    out.yValue[row] = labels.gamma ** (r.tokens - tokens) * (safe ? r.reward : -labels.violationPenalty);
    out.prompt[row] = r.prompt;
    out.rollout[row] = rollout;
    out.block[row] = state + 1;
  });
  return out;
}

/** Splits prompt indices 0..n-1 into training and held-out validation prompts (seeded). */
export function splitPrompts(n: number, validationFraction: number, seed: number): { train: Set<number>; validation: Set<number> } {
  const order = Array.from({ length: n }, (_, i) => i);
  const rand = seededRandom(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const nVal = validationFraction > 0 ? Math.max(1, Math.min(n - 1, Math.round(n * validationFraction))) : 0;
  return { validation: new Set(order.slice(0, nVal)), train: new Set(order.slice(nVal)) };
}

/** Smallest std kept: a constant feature is left unscaled instead of blown up. */
const MIN_STD = 1e-3;

/** Per-feature mean and std of the [hidden, z] inputs (float64 sums), for the critic file. */
export function inputNormalization(rows: CriticRows): { mean: Float32Array; std: Float32Array } {
  const dim = rows.nEmbd + 1;
  const sum = new Float64Array(dim);
  const sq = new Float64Array(dim);
  for (let r = 0; r < rows.rows; r++) {
    for (let k = 0; k < rows.nEmbd; k++) {
      const x = rows.hidden[r * rows.nEmbd + k];
      sum[k] += x;
      sq[k] += x * x;
    }
    sum[rows.nEmbd] += rows.z[r];
    sq[rows.nEmbd] += rows.z[r] * rows.z[r];
  }
  const mean = new Float32Array(dim);
  const std = new Float32Array(dim).fill(1);
  if (rows.rows === 0) return { mean, std };
  for (let k = 0; k < dim; k++) {
    const m = sum[k] / rows.rows;
    mean[k] = m;
    const variance = Math.max(0, sq[k] / rows.rows - m * m);
    std[k] = Math.max(MIN_STD, Math.sqrt(variance));
  }
  return { mean, std };
}
