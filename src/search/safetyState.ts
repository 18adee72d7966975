// The safety state of Sauté RL / InferenceGuard: the share of the budget still unspent.
// z0 = 1 and z <- z - c/d after a step of cost c, so z < 0 exactly when the cumulative cost exceeds d.

export const INITIAL_SAFETY_STATE = 1;

/** Float sums of step costs may drift by an ulp; never let that flip a verdict. */
const TOLERANCE = 1e-9;

export function safetyStateAfter(cumulativeCost: number, budget: number): number {
  return 1 - cumulativeCost / budget;
}

export function isOverBudget(cumulativeCost: number, budget: number): boolean {
  return cumulativeCost > budget + TOLERANCE;
}
