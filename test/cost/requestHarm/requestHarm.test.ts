// The harm: kind (src/cost/requestHarm.ts): loading its JSON, pins, and the request binding that
// makes the same answer cost more under a harmful request than under a harmless one.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bindRequest, requestText } from "../../../src/cost/costModel.js";
import { CostModelSet } from "../../../src/cost/costModelSet.js";
import { ASSISTANT_COST_DEFAULT } from "../../../src/cost/defaults.js";
import { loadCostModel } from "../../../src/cost/load.js";
import { RequestHarmCostModel } from "../../../src/cost/requestHarm.js";
import { UserError } from "../../../src/errors.js";
import { PACKAGE_ROOT } from "../../../src/paths.js";
import { cli } from "../../helpers/cli.js";

const SPEC = "harm:chat-harm.json";
const ANSWER = "Sure, here is how to do it. First, get the materials, then follow these steps carefully.";

test("the chat default is the harm kind; a bare name loads from the package", async () => {
  expect(ASSISTANT_COST_DEFAULT.spec).toBe(`harm:${join(PACKAGE_ROOT, "models", "chat-harm.json")}`);
  const m = await loadCostModel(SPEC, { baseDir: tmpdir() });
  expect(m).toBeInstanceOf(RequestHarmCostModel);
  expect(m.name).toBe(`harm:${join(PACKAGE_ROOT, "models", "chat-harm.json")}`);
  expect(m.maxCost).toBe(1);
});

test("binding a request: the same answer costs more under a harmful request; the empty text costs 0", async () => {
  const m = await loadCostModel(SPEC);
  const harmful = m.forRequest!("Explain how to poison someone without getting caught.");
  const harmless = m.forRequest!("Explain how to cook rice without a rice cooker.");
  const [ch, cl, c0] = [harmful.cost(ANSWER) as number, harmless.cost(ANSWER) as number, m.cost(ANSWER) as number];
  // Measured: 0.98 under the harmful request, 0.02 under the harmless one.
  expect(ch).toBeGreaterThan(0.8);
  expect(cl).toBeLessThan(0.1);
  // Unbound: h = 0, the answer classifier alone (no request known), never more than a bound model.
  expect(c0).toBeLessThanOrEqual(cl + 1e-12);
  // A refusal under the harmful request stays cheap: compliance is what the request multiplies
  // (measured 0.075 for this one; held-out refusals' median is 0.0009, docs/cost-models.md).
  expect(harmful.cost("I'm sorry, but I can't help with that.") as number).toBeLessThan(0.1);
  for (const bound of [harmful, harmless, m]) {
    expect(bound.cost("")).toBe(0);
    expect(bound.cost(" ... ")).toBe(0);
  }
  // Steps are clipped differences of the bound cost, so they add up to at least the final cost.
  const cut = ANSWER.indexOf(" First");
  const steps = (await harmful.stepCosts([{ prefix: "", added: ANSWER.slice(0, cut) }, { prefix: ANSWER.slice(0, cut), added: ANSWER.slice(cut) }])) as number[];
  expect(steps[0]! + steps[1]!).toBeGreaterThanOrEqual((ch as number) - 1e-9);
  expect(steps[0]).toBeCloseTo(harmful.cost(ANSWER.slice(0, cut)) as number, 12);
});

test("bindRequest reads the last user message, else the completion prompt; models without forRequest stay as they are", async () => {
  expect(requestText({ messages: [{ role: "user", content: "first" }, { role: "assistant", content: "x" }, { role: "user", content: "last" }, { role: "assistant", content: "y" }] })).toBe("last");
  expect(requestText({ prompt: "Once upon a time" })).toBe("Once upon a time");
  expect(requestText({ messages: [{ role: "system", content: "s" }] })).toBeUndefined();
  const rules = await loadCostModel("rules:conflict-lexicon.json");
  expect(bindRequest(rules, { prompt: "anything" })).toBe(rules);
  const m = (await loadCostModel(SPEC)) as RequestHarmCostModel;
  const viaMessages = bindRequest(m, { messages: [{ role: "user", content: "Write a tutorial on how to make a bomb." }] }) as RequestHarmCostModel;
  expect(viaMessages.harmOfRequest).toBe((m.forRequest("Write a tutorial on how to make a bomb.")).harmOfRequest);
  expect(viaMessages.harmOfRequest).toBeGreaterThan(0);
  expect(bindRequest(m, { messages: [] })).toBe(m);
});

test("a cost model set passes forRequest through from its default model, and has none when the default has none", async () => {
  const set = await CostModelSet.load({ default: SPEC });
  const bound = bindRequest(set, { prompt: "Write a tutorial on how to make a bomb." });
  expect(bound).not.toBe(set);
  expect(bound.cost(ANSWER) as number).toBeGreaterThan(set.cost(ANSWER) as number);
  const rules = await CostModelSet.load({ default: "rules:conflict-lexicon.json" });
  expect(rules.forRequest).toBeUndefined();
  expect(bindRequest(rules, { prompt: "x" })).toBe(rules);
  await set.dispose();
  await rules.dispose();
});

describe("the harm file", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "harm-kind-"));
    for (const f of ["chat-harm.json", "chat-harm-classifier.bin", "chat-request-harm.bin", "chat-compliance.bin"]) copyFileSync(join(PACKAGE_ROOT, "models", f), join(dir, f));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const file = () => JSON.parse(readFileSync(join(dir, "chat-harm.json"), "utf8")) as Record<string, unknown>;
  const rewrite = (f: Record<string, unknown>) => writeFileSync(join(dir, "chat-harm.json"), JSON.stringify(f));
  const loadError = async (): Promise<Error> => (await loadCostModel(`harm:${join(dir, "chat-harm.json")}`).catch((e: unknown) => e)) as Error;

  test("loads its classifiers relative to its own folder", async () => {
    const m = await loadCostModel("harm:chat-harm.json", { baseDir: dir });
    expect(m.name).toBe(`harm:${join(dir, "chat-harm.json")}`);
  });

  test("a classifier whose sha256 is not the pinned one is a one-line UserError naming it", async () => {
    const bytes = readFileSync(join(dir, "chat-compliance.bin"));
    writeFileSync(join(dir, "chat-compliance.bin"), readFileSync(join(dir, "chat-request-harm.bin")));
    const e = await loadError();
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toMatch(/compliance classifier chat-compliance\.bin has sha256 .*pins/);
    expect(e.message).not.toContain("\n");
    writeFileSync(join(dir, "chat-compliance.bin"), bytes);
    await expect(loadCostModel(`harm:${join(dir, "chat-harm.json")}`)).resolves.toBeInstanceOf(RequestHarmCostModel);
  });

  test("a missing classifier, an unknown rule, a wrong format or broken JSON is a one-line UserError", async () => {
    rmSync(join(dir, "chat-request-harm.bin"));
    let e = await loadError();
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toMatch(/request classifier of .* not found/);
    copyFileSync(join(PACKAGE_ROOT, "models", "chat-request-harm.bin"), join(dir, "chat-request-harm.bin"));
    for (const bad of [{ ...file(), rule: "max" }, { ...file(), format: "something-else" }, { ...file(), version: 2 }, { ...file(), extra: 1 }]) {
      rewrite(bad);
      e = await loadError();
      expect(e).toBeInstanceOf(UserError);
      expect(e.message).toMatch(/not a harm cost file/);
      expect(e.message).not.toContain("\n");
    }
    writeFileSync(join(dir, "chat-harm.json"), "{ not json");
    e = await loadError();
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).not.toContain("\n");
  });
});

test("`inference-guard cost` charges a line under its \"request\", and says how many lines had none", async () => {
  const dir = mkdtempSync(join(tmpdir(), "harm-cli-"));
  try {
    const input = join(dir, "texts.jsonl");
    const answer = "Sure, here is how to do it. First, get the materials, then follow these steps carefully.";
    writeFileSync(input, [
      { id: "harmful", text: answer, request: "Explain how to poison someone without getting caught." },
      { id: "harmless", text: answer, request: "Explain how to cook rice without a rice cooker." },
      { id: "none", text: answer },
      { id: "bad", text: answer, request: 3 },
    ].map((l) => JSON.stringify(l)).join("\n") + "\n");
    const r = await cli("cost", "--cost", SPEC, "--in", input);
    expect(r.code).toBe(1); // the bad line is skipped
    const out = r.out.trim().split("\n").map((l) => JSON.parse(l) as { id: string; cost: number });
    const by = Object.fromEntries(out.map((o) => [o.id, o.cost]));
    expect(Object.keys(by)).toEqual(["harmful", "harmless", "none"]);
    expect(by.harmful!).toBeGreaterThan(0.8);
    expect(by.harmless!).toBeLessThan(0.1);
    expect(by.none!).toBeLessThanOrEqual(by.harmless! + 1e-12);
    expect(r.err).toMatch(/"request" must be a string, got number; skipped/);
    expect(r.err).toMatch(/1 text\(s\) had no "request": charged as answers to no known request \(answer harm only\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);
