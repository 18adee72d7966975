// The Critic wrapper: loading from files and specs, and the seeded initialiser.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "@jest/globals";
import { UserError } from "../../src/errors.js";
import {
  Critic,
  assertCriticMatchesModel,
  criticLayers,
  randomCriticSpec,
  referenceForward,
  seededRandom,
  writeCriticFile,
} from "../../src/critic/index.js";

const dir = mkdtempSync(join(tmpdir(), "critic-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("Critic", () => {
  test("load() evaluates the file's network like the reference", () => {
    const nEmbd = 128;
    const rand = seededRandom(99);
    const spec = randomCriticSpec({
      nEmbd,
      hidden: [32, 32],
      activation: "silu",
      seed: 42,
      biasScale: 0.2,
      normalization: {
        mean: Array.from({ length: nEmbd + 1 }, () => rand() - 0.5),
        std: Array.from({ length: nEmbd + 1 }, () => 0.2 + rand()),
      },
      model: { name: "m", nEmbd },
    });
    const path = join(dir, "c.igc");
    writeCriticFile(path, spec);
    const critic = Critic.load(path);
    expect(critic.header).toEqual(spec.header);
    expect(critic.nEmbd).toBe(nEmbd);
    expect(assertCriticMatchesModel(critic, { nEmbd, name: "m" })).toEqual([]);

    const rows = 33;
    const hs = Float32Array.from({ length: rows * nEmbd }, () => 2 * rand() - 1);
    const z = Float32Array.from({ length: rows }, () => rand());
    const got = critic.evaluate(hs, z, rows);
    const want = referenceForward(spec, hs, z, rows);
    for (let r = 0; r < rows; r++) {
      expect(Math.abs(got.safety[r] - want.safety[r])).toBeLessThanOrEqual(1e-5);
      expect(Math.abs(got.value[r] - want.value[r])).toBeLessThanOrEqual(1e-5);
    }
  });

  test("fromSpec refuses an inconsistent spec with a UserError", () => {
    const spec = randomCriticSpec({ nEmbd: 16, hidden: [8], activation: "relu", seed: 1 });
    expect(() => Critic.fromSpec({ ...spec, weights: new Float32Array(3) })).toThrow(UserError);
    expect(() => Critic.fromSpec({ ...spec, header: { ...spec.header, activation: "swish" as "relu" } })).toThrow(/activation/);
  });
});

describe("randomCriticSpec", () => {
  test("is deterministic in its seed and Xavier-bounded", () => {
    const a = randomCriticSpec({ nEmbd: 64, hidden: [32], activation: "tanh", seed: 5 });
    const b = randomCriticSpec({ nEmbd: 64, hidden: [32], activation: "tanh", seed: 5 });
    const c = randomCriticSpec({ nEmbd: 64, hidden: [32], activation: "tanh", seed: 6 });
    expect(Array.from(a.weights)).toEqual(Array.from(b.weights));
    expect(Array.from(a.weights)).not.toEqual(Array.from(c.weights));
    expect(a.header).toMatchObject({ inputDim: 65, hiddenDim: 64, hidden: [32], outputs: ["safety", "value"], normalization: false });
    expect(a.header.payloadFloats).toBe(65 * 32 + 32 + 32 * 2 + 2);

    for (const layer of criticLayers(a)) {
      const limit = Math.sqrt(6 / (layer.in + layer.out));
      let maxAbs = 0;
      for (const w of layer.W) maxAbs = Math.max(maxAbs, Math.abs(w));
      expect(maxAbs).toBeLessThanOrEqual(limit);
      expect(maxAbs).toBeGreaterThan(0.8 * limit); // actually spread over the range
      expect(Array.from(layer.b).every((v) => v === 0)).toBe(true); // default biasScale 0
    }
  });

  test("seededRandom gives uniform-looking floats in [0, 1)", () => {
    const rand = seededRandom(123);
    let sum = 0;
    for (let i = 0; i < 10000; i++) {
      const x = rand();
      expect(x >= 0 && x < 1).toBe(true);
      sum += x;
    }
    expect(Math.abs(sum / 10000 - 0.5)).toBeLessThan(0.02);
    expect(seededRandom(2 ** 40 + 1)()).not.toBe(seededRandom(1)()); // high seed bits matter
  });
});
