// train-reward's head training (src/reward/trainHead.ts) end to end on the tiny assistant: the
// feature pass over a few hundred examples, the logistic fit, the folding of the standardisation
// into the head's vector, the held-out metrics, and a written head that loads and ranks as measured.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PACKAGE_ROOT, SHARED_DIR } from "../../src/paths.js";
import { rewardOfAnswer } from "../../src/reward/answerReward.js";
import { writeHeadFile } from "../../src/reward/headFormat.js";
import { HeadRewardModel } from "../../src/reward/headReward.js";
import { normalise } from "../../src/reward/rewardData.js";
import { trainRewardHead } from "../../src/reward/trainHead.js";
import { Engine } from "../../src/engine/engine.js";

const MODEL = join(PACKAGE_ROOT, "models", "testbed", "tiny-assistant.gguf");
const dir = mkdtempSync(join(tmpdir(), "inference-guard-train-head-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("a head trained on 2,000 examples ranks held-out requests' compliant answers above refusals, and the written file scores the same", async () => {
  const outPath = join(dir, "head.json");
  const excluded = "How can I kill a Python process?";
  const { head, metrics, examples } = await trainRewardHead({
    modelPath: MODEL,
    dataDir: join(SHARED_DIR, "data"),
    exclude: new Set([normalise(excluded)]),
    outPath,
    seed: 1,
    heldOutFraction: 0.3,
    prefixes: [8],
    maxAnswerTokens: 32,
    maxExamples: 2000,
    fit: { epochs: 40, learningRate: 0.01, l2: 1e-3, batchSize: 64 },
    threads: 1,
  });
  expect(examples).toBeGreaterThan(1800); // whole request groups: about maxExamples
  expect(examples).toBeLessThan(2300);
  // Well above chance on requests it never saw: measured 0.739 held out (653 refusal pairs, a standard
  // error of about 0.02), 0.839 in training. Train-side requests only (the splits): 1,200 examples gave
  // 0.66 (before the splits held the data, 1,200 gave 0.83; with 500 the held-out AUC was 0.54).
  expect(metrics.heldOut.examples).toBeGreaterThan(150);
  expect(metrics.heldOut.aucComplianceVsRefusal).toBeGreaterThan(0.68);
  expect(metrics.train.aucComplianceVsRefusal).toBeGreaterThan(metrics.heldOut.aucComplianceVsRefusal - 0.1);
  const training = head.training as { data: { sources: string[]; excludedRequests: number } };
  expect(training.data.sources).toContain("gptfuzz-train");
  expect(training.data.excludedRequests).toBe(1);
  expect(head.backbone).toMatchObject({ file: "tiny-assistant.gguf", nEmbd: 256 });

  // Written and loaded, the head scores answers with the vector the metrics were computed with:
  // on raw hidden states (the standardisation folded in), so a compliant answer beats a refusal.
  writeHeadFile(outPath, head);
  const model = await HeadRewardModel.load(outPath, { policyModelPath: MODEL });
  const engine = await Engine.load({ modelPath: MODEL, threads: 1, contextSize: 1024, maxSequences: 4 });
  try {
    const messages = [{ role: "user" as const, content: "How do I bake bread at home?" }];
    const promptTokens = engine.chatPrompt(messages);
    const score = (text: string) => rewardOfAnswer(engine, model, { messages, promptTokens }, { tokenIds: engine.tokenize(text), text, sumLogProb: 0 });
    const answer = await score("Mix flour, water, yeast and salt, knead the dough, let it rise for an hour, then bake it at 220 degrees for 30 minutes.");
    const refusal = await score("I'm sorry, but I can't assist with that.");
    expect(answer).toBeGreaterThan(refusal);
  } finally {
    await engine.dispose();
    await model.dispose();
  }
}, 300_000);

test("a stop that arrives during the (synchronous) fit writes nothing: training ends with the stop's one-line error", async () => {
  const controller = new AbortController();
  const run = trainRewardHead({
    modelPath: MODEL,
    dataDir: join(SHARED_DIR, "data"),
    exclude: new Set<string>(),
    outPath: join(dir, "stopped.json"),
    seed: 1,
    heldOutFraction: 0.3,
    prefixes: [],
    maxAnswerTokens: 16,
    maxExamples: 200,
    fit: { epochs: 5, learningRate: 0.01, l2: 1e-3, batchSize: 64 },
    threads: 1,
    signal: controller.signal,
    // The first fit epoch aborts, as a SIGTERM handled mid-fit would.
    onProgress: (phase) => phase === "fit" && controller.abort(),
  });
  await expect(run).rejects.toThrow("train-reward was stopped before it finished; nothing was written");
});
