// Counter-based seeds: every draw is a pure function of (user seed, block, attempt, token step),
// so a run is reproducible whatever the order in which candidates are pruned.
const MASK = (1n << 64n) - 1n;

function splitmix64(x: bigint): bigint {
  x = (x + 0x9e3779b97f4a7c15n) & MASK;
  x = ((x ^ (x >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK;
  x = ((x ^ (x >> 27n)) * 0x94d049bb133111ebn) & MASK;
  return x ^ (x >> 31n);
}

export function deriveSeed(seed: number, ...counters: number[]): bigint {
  let state = splitmix64(BigInt.asUintN(64, BigInt(Math.trunc(seed))));
  for (const c of counters) state = splitmix64(state ^ BigInt.asUintN(64, BigInt(c)));
  return state;
}

/** A fresh random seed for callers that did not pass one (reported back so the run can be repeated). */
export function randomSeed(): number {
  return Math.floor(Math.random() * 2 ** 31);
}
