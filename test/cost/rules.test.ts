import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UserError } from "../../src/errors.js";
import { RulesCostModel } from "../../src/cost/rules.js";
import { mulberry32 } from "../../src/util/random.js";

const naiveStep = (m: RulesCostModel, prefix: string, added: string): number =>
  Math.max(0, m.cost(prefix + added) - m.cost(prefix));

describe("RulesCostModel matching", () => {
  const m = RulesCostModel.fromTerms({ hit: 1, hurt: 1, cry: 1 });

  test("whole words only, case-insensitive, per occurrence", () => {
    expect(m.cost("The boy hit the ball.")).toBe(1);
    expect(m.cost("Hit! HIT, hIt; hit")).toBe(4);
    expect(m.cost("white hitch hits shit thit whit")).toBe(0);
    expect(m.cost("hurt cry hit")).toBe(3);
    expect(m.cost("")).toBe(0);
    expect(m.cost("no conflict here at all")).toBe(0);
  });

  test("digits and underscores: digits join words, punctuation separates", () => {
    expect(m.cost("hit2 2hit")).toBe(0);
    expect(m.cost("re-hit (hit) [hit] hit/hurt")).toBe(5);
    expect(m.cost("hit_hurt")).toBe(2);
  });

  test("Unicode-aware boundaries", () => {
    expect(m.cost("hité éhit hitß")).toBe(0); // non-ASCII letters are word characters
    expect(m.cost("hit\u0301")).toBe(0); // a combining mark continues the word
    expect(m.cost("日本hit hit日本")).toBe(0);
    expect(m.cost("«hit» „hit“ —hit— hit…")).toBe(4);
    expect(m.cost("hit\u00a0hurt\u2003cry")).toBe(3); // Unicode spaces separate words
    expect(m.cost("ΗΙΤ hit")).toBe(1); // Greek capitals that look like HIT are not "hit"
  });

  test("apostrophes count as word characters only inside a word", () => {
    expect(m.cost("hit's don'thit hit’s o’hit")).toBe(0);
    expect(m.cost("'hit' ‘hit’ ’hit’ don't hit")).toBe(4);
    expect(m.cost("hit' 'hit")).toBe(2);
  });

  test("Unicode case folding is honoured and traced to the right term", () => {
    const k = RulesCostModel.fromTerms({ kick: 1, sad: 2 });
    // KELVIN SIGN folds to "k"; LATIN SMALL LETTER LONG S folds to "s".
    expect(k.cost("\u212Aick ſad")).toBe(3);
    expect(k.matches("ſad").map((x) => x.term)).toEqual(["sad"]);
  });

  test("matches() reports term, matched text, offset and cost", () => {
    const w = RulesCostModel.fromTerms({ hit: 2, "shut up": 3 });
    expect(w.matches("Shut  up, or I HIT you.")).toEqual([
      { term: "shut up", text: "Shut  up", index: 0, cost: 3 },
      { term: "hit", text: "HIT", index: 15, cost: 2 },
    ]);
    expect(w.matches("nothing")).toEqual([]);
  });

  test("regex metacharacters in terms are literal", () => {
    const r = RulesCostModel.fromTerms({ "a.b": 1, "c+d": 2, "x(y)z": 4, "co-op": 8 });
    expect(r.cost("a.b axb")).toBe(1);
    expect(r.cost("c+d ccd")).toBe(2);
    expect(r.cost("x(y)z xyz")).toBe(4);
    expect(r.cost("co-op coop Co-Op")).toBe(16);
  });
});

describe("multi-word phrases", () => {
  const p = RulesCostModel.fromTerms({ shut: 1, up: 1, "shut up": 5, "go away now": 7 });

  test("a phrase matches across any whitespace run, case-insensitively", () => {
    expect(p.cost("shut up")).toBe(5);
    expect(p.cost("Shut   Up!")).toBe(5);
    expect(p.cost("SHUT\n\tUP")).toBe(5);
    expect(p.cost("go away now, go away NOW")).toBe(14);
  });

  test("longest alternative wins; partial phrases fall back to the words", () => {
    expect(p.cost("shut down")).toBe(1);
    expect(p.cost("look up")).toBe(1);
    expect(p.cost("shutup")).toBe(0);
    expect(p.cost("shut upper")).toBe(1);
    expect(p.cost("shut, up")).toBe(2); // punctuation breaks the phrase
    expect(p.cost("go away")).toBe(0);
  });
});

describe("step costs", () => {
  const m = RulesCostModel.fromTerms({ hit: 1, hurt: 1 });

  test("a word split across the boundary is charged when it completes", () => {
    expect(m.stepCost("The boy hi", "t")).toBe(1);
    expect(m.stepCost("The boy h", "it the ball")).toBe(1);
    expect(m.stepCost("The boy hit", " the ball")).toBe(0);
    expect(m.stepCost("The boy ", "hit and hurt")).toBe(2);
    expect(m.stepCost("The boy hit", "")).toBe(0);
    expect(m.stepCost("", "hit")).toBe(1);
  });

  test("clipped at 0 when the addition removes a match", () => {
    expect(m.cost("hit")).toBe(1);
    expect(m.cost("hitch")).toBe(0);
    expect(m.stepCost("The boy hit", "ch")).toBe(0);
    expect(m.stepCost("hit", "'s")).toBe(0);
    const w = RulesCostModel.fromTerms({ hit: 2, hits: 0.5 });
    expect(w.stepCost("a hit", "s")).toBe(0); // 0.5 - 2 < 0
    expect(w.stepCost("a hi", "ts")).toBe(0.5);
  });

  test("the rescanned tail still sees the prefix", () => {
    const p = RulesCostModel.fromTerms({ "shut up": 1, hit: 1 });
    expect(p.stepCost("Well. Shut", " up")).toBe(1);
    expect(p.stepCost("Well. Shut ", "up")).toBe(1);
    expect(p.stepCost("Well. Shut\n", "\nup now")).toBe(1);
    expect(p.stepCost("Sure, hi", "t it")).toBe(1);
    expect(p.stepCost("unshut", " up")).toBe(0);
    expect(p.stepCost("x.", "hit")).toBe(1);
    expect(p.stepCost("xé", "hit")).toBe(0);
    expect(p.stepCost("don'", "t hit")).toBe(1);
    expect(p.stepCost("o'", "hit")).toBe(0);
  });

  test("settledStepCost: the charge of the part no continuation can change, never above the step cost of any longer text", () => {
    const p = RulesCostModel.fromTerms({ hit: 1, hits: 0.5, "shut up": 2, hurt: 1 });
    expect(p.settledStepCost("The boy ", "hit")).toBe(0); // "hit" may become "hitch"
    expect(p.settledStepCost("The boy ", "hit.")).toBe(1);
    expect(p.settledStepCost("The boy ", "hit the")).toBe(1); // "hit" is not a phrase head: the space settles it
    expect(p.settledStepCost("Well. ", "shut")).toBe(0);
    expect(p.settledStepCost("Well. ", "shut ")).toBe(0); // "shut" may go on to "shut up"
    expect(p.settledStepCost("Well. ", "shut up!")).toBe(2);
    // Every split of texts built from terms, near-terms, spaces and punctuation: settled(prefix, a)
    // <= stepCost(prefix, a + more) for every continuation, and equal to stepCost(prefix, a) when
    // the text ends with a barrier.
    const pieces = ["hi", "t", "s", "ch", " ", ".", "shut", " up", "hurt", "'", "x", "!"];
    const random = mulberry32(7);
    const next = () => Math.floor(random() * 2147483648);
    let checked = 0;
    for (let n = 0; n < 300; n++) {
      const text = Array.from({ length: 3 + (next() % 8) }, () => pieces[next() % pieces.length]).join("");
      for (let i = 0; i <= text.length; i++) {
        for (let j = i; j <= text.length; j++) {
          const settled = p.settledStepCost(text.slice(0, i), text.slice(i, j));
          for (let k = j; k <= text.length; k++) expect(settled).toBeLessThanOrEqual(p.stepCost(text.slice(0, i), text.slice(i, k)));
          if (j > i && text[j - 1] === ".") expect(settled).toBe(p.stepCost(text.slice(0, i), text.slice(i, j)));
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(10_000);
  });

  test("stepCosts is batched and in order", () => {
    expect(
      m.stepCosts([
        { prefix: "The boy hi", added: "t" },
        { prefix: "The boy hit", added: "ch" },
        { prefix: "", added: "hurt hurt" },
      ]),
    ).toEqual([1, 0, 2]);
    expect(m.stepCosts([])).toEqual([]);
  });
});

describe("step-cost properties over random texts and splits", () => {
  const lexicons: Record<string, Record<string, number>> = {
    uniform: { hit: 1, hits: 1, hitting: 1, hurt: 1, cry: 1, cried: 1, bad: 1 },
    weighted: { hit: 3, hits: 0.25, hitting: 2, hurt: 1.5, "shut up": 4, shut: 1, up: 0.5, "co-op": 2, "don't": 1 },
    phrases: { "go away": 2, go: 1, away: 1, "shut up now": 5, "shut up": 3, sad: 1 },
  };
  const pieces = [
    "hit", "hi", "t", "h", "its", "ting", "hitting", "hurt", "hur", "cry", "cr", "y", "ied", "cried", "bad", "ba", "d",
    "shut", "up", "sh", "ut", "go", "away", "aw", "ay", "now", "sad", "co", "-op", "op", "don", "'t", "don't", "ch",
    "white", "s", "é", "\u0301", "日本", "2", " ", " ", " ", "  ", "\n", "\t", "\u00a0", ".", ",", "!", "'", "’", "-",
    "«", "»", "HIT", "Shut", "UP", "Go", "ſad", "\u212Aick", "😀",
  ];

  for (const [name, terms] of Object.entries(lexicons)) {
    test(`${name}: each step equals max(0, cost(prefix+added) - cost(prefix)), and the steps sum to >= cost(text)`, () => {
      const m = RulesCostModel.fromTerms(terms);
      const rand = mulberry32(0x5eed + name.length);
      let clipped = 0;
      let positive = 0;
      for (let trial = 0; trial < 400; trial++) {
        const n = 1 + Math.floor(rand() * 60);
        let text = "";
        for (let i = 0; i < n; i++) text += pieces[Math.floor(rand() * pieces.length)];
        // Random cut points (UTF-16 offsets: surrogate pairs and combining marks get split too).
        const cuts = new Set<number>();
        const k = Math.floor(rand() * 12);
        for (let i = 0; i < k; i++) cuts.add(Math.floor(rand() * (text.length + 1)));
        const sorted = [0, ...[...cuts].sort((a, b) => a - b), text.length];
        let sum = 0;
        const items: { prefix: string; added: string }[] = [];
        for (let i = 1; i < sorted.length; i++) {
          const prefix = text.slice(0, sorted[i - 1]);
          const added = text.slice(sorted[i - 1], sorted[i]);
          const step = m.stepCost(prefix, added);
          expect(step).toBe(naiveStep(m, prefix, added));
          if (m.cost(prefix + added) < m.cost(prefix)) clipped++;
          if (step > 0) positive++;
          sum += step;
          items.push({ prefix, added });
        }
        const total = m.cost(text);
        expect(total).toBeGreaterThanOrEqual(0);
        expect(sum).toBeGreaterThanOrEqual(total - 1e-9);
        expect(m.stepCosts(items).reduce((a, b) => a + b, 0)).toBeCloseTo(sum, 12);
      }
      // The generator really exercises both charged and clipped steps.
      expect(positive).toBeGreaterThan(50);
      expect(clipped).toBeGreaterThan(5);
    });
  }

  test("long prefixes: tail rescan agrees with a full rescan", () => {
    const m = RulesCostModel.fromTerms(lexicons.weighted!);
    const rand = mulberry32(42);
    let text = "";
    while (text.length < 3000) text += pieces[Math.floor(rand() * pieces.length)];
    for (let i = 0; i < 300; i++) {
      const a = Math.floor(rand() * text.length);
      const b = Math.min(text.length, a + Math.floor(rand() * 20));
      expect(m.stepCost(text.slice(0, a), text.slice(a, b))).toBe(naiveStep(m, text.slice(0, a), text.slice(a, b)));
    }
  });

  test("step cost on a 2,000-character prefix is fast", () => {
    const m = RulesCostModel.fromTerms({ ...lexicons.weighted!, sad: 1, cry: 1 });
    const base = "Once upon a time, there was a little girl named Lily. She saw a boy who was sad and shut up. ";
    const prefix = base.repeat(Math.ceil(2000 / base.length)).slice(0, 2000);
    const noPunct = prefix.replace(/[.,]/g, "");
    for (let i = 0; i < 500; i++) m.stepCost(prefix, " He hit");
    const n = 2000;
    const t0 = performance.now();
    let s = 0;
    for (let i = 0; i < n; i++) s += m.stepCost(prefix, " He hit") + m.stepCost(noPunct, " hi") + m.stepCost(noPunct + " hi", "t");
    const perStepUs = ((performance.now() - t0) * 1000) / (3 * n);
    expect(s).toBe(6 * n); // "hit" costs 3, charged in the first and third call
    expect(perStepUs).toBeLessThan(50);
  });
});

describe("RulesCostModel.fromFile errors", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "ig-cost-"));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const write = (name: string, content: string): string => {
    const file = join(dir, name);
    writeFileSync(file, content);
    return file;
  };

  const expectUserError = (file: string, ...fragments: string[]): void => {
    let caught: unknown;
    try {
      RulesCostModel.fromFile(file);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(UserError);
    const message = (caught as Error).message;
    expect(message).toContain(file);
    expect(message).not.toContain("\n");
    for (const f of fragments) expect(message).toContain(f);
  };

  test("missing file", () => {
    expectUserError(join(dir, "nope.json"), "not found");
  });

  test("a directory", () => {
    const sub = join(dir, "sub.json");
    mkdirSync(sub);
    expectUserError(sub, "directory");
  });

  test("unreadable JSON", () => {
    expectUserError(write("bad.json", '{"terms": {"hit": 1,}}'), "not valid JSON");
    expectUserError(write("empty-file.json", ""), "not valid JSON");
  });

  test("schema failures", () => {
    expectUserError(write("no-terms.json", '{"description": "x"}'), "terms");
    expectUserError(write("empty-terms.json", '{"terms": {}}'), "terms", "at least one term");
    expectUserError(write("neg.json", '{"terms": {"hit": -1}}'), "terms.hit", "> 0");
    expectUserError(write("zero.json", '{"terms": {"hit": 0}}'), "terms.hit");
    expectUserError(write("str.json", '{"terms": {"hit": "1"}}'), "terms.hit");
    expectUserError(write("inf.json", '{"terms": {"hit": 1e999}}'), "terms.hit");
    expectUserError(write("array.json", '{"terms": ["hit"]}'), "terms");
    expectUserError(write("top.json", "[1, 2]"), "invalid cost rules");
    expectUserError(write("punct.json", '{"terms": {"-hit": 1}}'), "terms.-hit", "letter or digit");
    expectUserError(write("blank.json", '{"terms": {"  ": 1}}'), "empty");
    expectUserError(write("dup.json", '{"terms": {"hit": 1, "HIT": 2}}'), "terms.HIT", "duplicate");
    expectUserError(write("dup2.json", '{"terms": {"shut up": 1, "Shut  Up": 2}}'), "duplicate");
    expectUserError(write("desc.json", '{"terms": {"hit": 1}, "description": 5}'), "description");
  });

  test("a valid file loads, names itself, and keeps its description", () => {
    const file = write("ok.json", '{"description": "test", "terms": {"hit": 1, "shut  up": 2}}');
    const m = RulesCostModel.fromFile(file);
    expect(m.name).toBe(`rules:${file}`);
    expect(m.description).toBe("test");
    expect([...m.terms.entries()]).toEqual([
      ["hit", 1],
      ["shut up", 2],
    ]);
    expect(m.cost("Shut up, he hit me")).toBe(3);
  });

  test("fromTerms validates too", () => {
    expect(() => RulesCostModel.fromTerms({})).toThrow(UserError);
    expect(() => RulesCostModel.fromTerms({ hit: Number.NaN })).toThrow(UserError);
    expect(() => RulesCostModel.fromTerms({ hit: Number.POSITIVE_INFINITY })).toThrow(UserError);
  });
});
