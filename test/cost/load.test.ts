import { existsSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import { UserError } from "../../src/errors.js";
import {
  DEFAULT_COST_RULES,
  RulesCostModel,
  costModelKinds,
  loadCostModel,
  registerCostModelKind,
  stepCostsByDifference,
  type CostModel,
} from "../../src/cost/index.js";

describe("shipped conflict lexicon", () => {
  test("DEFAULT_COST_RULES is the absolute path of models/conflict-lexicon.json", () => {
    expect(isAbsolute(DEFAULT_COST_RULES)).toBe(true);
    expect(DEFAULT_COST_RULES.endsWith(join("models", "conflict-lexicon.json"))).toBe(true);
    expect(existsSync(DEFAULT_COST_RULES)).toBe(true);
  });

  test("loads and charges the reference sentence 2", async () => {
    const m = await loadCostModel(`rules:${DEFAULT_COST_RULES}`);
    expect(m.name).toBe(`rules:${DEFAULT_COST_RULES}`);
    expect(await m.cost("The boy hit the ball and cried.")).toBe(2);
    expect(await m.stepCosts([{ prefix: "The boy hi", added: "t the ball and cried." }])).toEqual([2]);
  });

  test("covers the required words and inflections, each at cost 1", () => {
    const file = JSON.parse(readFileSync(DEFAULT_COST_RULES, "utf8")) as { description: string; terms: Record<string, number> };
    expect(file.description.length).toBeGreaterThan(20);
    const required = [
      "hit", "hits", "hitting", "hurt", "hurts", "hurting", "angry", "angrily", "cry", "cried", "cries", "crying",
      "fight", "fights", "fighting", "fought", "mean", "meaner", "meanest", "scared", "scare", "scares", "scaring",
      "sad", "sadly", "sadness", "bad", "worse", "broke", "broken", "break", "breaks", "breaking", "kill", "kills",
      "killed", "killing", "kick", "kicks", "kicked", "kicking", "yell", "yells", "yelled", "yelling", "shout",
      "shouts", "shouted", "shouting", "scream", "punch", "hate", "upset", "mad", "afraid", "fear", "frighten",
      "bite", "steal",
    ];
    for (const w of required) expect([w, file.terms[w]]).toEqual([w, 1]);
    for (const cost of Object.values(file.terms)) expect(cost).toBe(1);
  });

  test("charges conflict words, not look-alikes", () => {
    const m = RulesCostModel.fromFile(DEFAULT_COST_RULES);
    expect(m.cost("Lily was happy. She played with her white kitten in the park.")).toBe(0);
    expect(m.cost("Tom was ANGRY. He yelled and kicked the box, and it broke.")).toBe(4);
    expect(m.cost("The madness? No: a mad dog was scary and Sue was afraid.")).toBe(3);
    expect(m.matches("He fought, she cried.").map((x) => x.term)).toEqual(["fought", "cried"]);
  });
});

describe("loadCostModel", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "ig-load-"));
    writeFileSync(join(dir, "lex.json"), '{"terms": {"hit": 2}}');
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test("rules:PATH relative to baseDir", async () => {
    const m = await loadCostModel("rules:lex.json", { baseDir: dir });
    expect(m.name).toBe(`rules:${join(dir, "lex.json")}`);
    expect(await m.cost("hit hit")).toBe(4);
  });

  test("a bare .json path means rules", async () => {
    const m = await loadCostModel("lex.json", { baseDir: dir });
    expect(m).toBeInstanceOf(RulesCostModel);
    expect(await m.cost("Hit!")).toBe(2);
    const abs = await loadCostModel(join(dir, "lex.json"));
    expect(abs.name).toBe(`rules:${join(dir, "lex.json")}`);
  });

  test("problems are UserErrors that say what is supported", async () => {
    await expect(loadCostModel("oracle:model.gguf")).rejects.toThrow(UserError);
    await expect(loadCostModel("oracle:model.gguf")).rejects.toThrow(/unknown cost model kind "oracle".*rules:PATH.*classifier:PATH.*probe:PATH.*guard:PATH/);
    await expect(loadCostModel("guard:model.gguf")).rejects.toThrow(/guard model not found/);
    await expect(loadCostModel("lexicon.txt")).rejects.toThrow(/cannot tell.*rules:PATH/);
    await expect(loadCostModel("")).rejects.toThrow(UserError);
    await expect(loadCostModel("rules:")).rejects.toThrow(/missing its argument/);
    const missing = loadCostModel("rules:missing.json", { baseDir: dir });
    await expect(missing).rejects.toBeInstanceOf(UserError);
    await expect(missing).rejects.toThrow(`cost rules file not found: ${join(dir, "missing.json")}`);
  });

  test("later kinds plug into the registry", async () => {
    const fake: CostModel = {
      name: "len:x",
      cost: async (text) => text.length,
      stepCosts: (items) => stepCostsByDifference(fake.cost, items),
    };
    registerCostModelKind({ kind: "len", usage: "len:ANY (test)", load: async (arg) => ({ ...fake, name: `len:${arg}` }) });
    expect(costModelKinds().map((k) => k.kind)).toEqual(["rules", "classifier", "harm", "probe", "guard", "len"]);
    const m = await loadCostModel("len:abc");
    expect(m.name).toBe("len:abc");
    expect(await m.cost("four")).toBe(4);
    await expect(loadCostModel("nope:x")).rejects.toThrow(/rules:PATH.*len:ANY/);
  });
});

describe("stepCostsByDifference", () => {
  test("computes max(0, cost(prefix+added) - cost(prefix)) with async costs, scoring each prefix once", async () => {
    const seen: string[] = [];
    const cost = async (text: string): Promise<number> => {
      seen.push(text);
      return (text.match(/x/g) ?? []).length - (text.match(/y/g) ?? []).length * 2;
    };
    const out = await stepCostsByDifference(cost, [
      { prefix: "ax", added: "xx" },
      { prefix: "ax", added: "y" },
      { prefix: "", added: "x" },
    ]);
    expect(out).toEqual([2, 0, 1]);
    expect(seen.filter((t) => t === "ax")).toHaveLength(1);
  });
});
