// bench/run.ts section 3: native vs TypeScript critic forward.
import { Critic, randomCriticSpec, referenceForward, seededRandom } from "../../src/critic/index.js";
import { benchCall, fmt, fmtAuto, summarize, table } from "../measure.js";
import { ACTIVATION, print, progress, type Config } from "../harness.js";

export function criticForward(cfg: Config) {
  const c = cfg.criticBench;
  const results = [];
  progress.begin("3/7 critic forward", c.nEmbd.length * c.rows.length);
  for (const nEmbd of c.nEmbd) {
    const spec = randomCriticSpec({ nEmbd, hidden: c.hidden, activation: ACTIVATION, seed: 7 });
    const critic = Critic.fromSpec(spec, "random critic");
    for (const rows of c.rows) {
      progress.tick(`nEmbd ${nEmbd} rows ${rows}`);
      const rand = seededRandom(nEmbd * 1000 + rows);
      // Inputs of the scale a normalised last-layer state has; z spans the safety state's range.
      const hidden = Float32Array.from({ length: rows * nEmbd }, () => 4 * rand() - 2);
      const z = Float32Array.from({ length: rows }, () => rand());
      const native = benchCall(() => critic.evaluate(hidden, z, rows), c.samples, c.sampleMs);
      const ts = benchCall(() => referenceForward(spec, hidden, z, rows), c.samples, c.sampleMs);
      const out = critic.evaluate(hidden, z, rows);
      const ref = referenceForward(spec, hidden, z, rows);
      let safetyDiff = 0;
      let valueDiff = 0;
      for (let r = 0; r < rows; r++) {
        safetyDiff = Math.max(safetyDiff, Math.abs(out.safety[r] - ref.safety[r]));
        valueDiff = Math.max(valueDiff, Math.abs(out.value[r] - ref.value[r]));
      }
      const n = summarize(native.usPerCall);
      const t = summarize(ts.usPerCall);
      results.push({
        nEmbd,
        rows,
        hidden: c.hidden,
        native: { ...native, summary: n },
        typescript: { ...ts, summary: t },
        speedup: { mean: t.mean / n.mean, best: t.min / n.min },
        maxAbsDiff: { safety: safetyDiff, value: valueDiff },
      });
    }
  }
  print(`## 3. Critic forward: native C++ vs TypeScript referenceForward (hidden [${c.hidden}], ${ACTIVATION}, ${c.samples} samples)`);
  print(
    table(
      ["nEmbd x rows", "C++ us/call", "C++ best", "C++ us/row", "TS us/call", "TS best", "TS us/row", "speedup", "speedup best", "max|diff| safety", "max|diff| value"],
      results.map((r) => [
        `${r.nEmbd} x ${r.rows}`,
        fmtAuto(r.native.summary.mean),
        fmtAuto(r.native.summary.min),
        fmtAuto(r.native.summary.mean / r.rows),
        fmtAuto(r.typescript.summary.mean),
        fmtAuto(r.typescript.summary.min),
        fmtAuto(r.typescript.summary.mean / r.rows),
        fmt(r.speedup.mean, 1),
        fmt(r.speedup.best, 1),
        r.maxAbsDiff.safety.toExponential(1),
        r.maxAbsDiff.value.toExponential(1),
      ]),
    ),
  );
  print("TS = the float64 reference implementation (clear, not tuned); C++ = float32 SIMD kernel. us/row uses the mean.");
  return results;
}
