// Flags declared once (src/cli/flagTable.ts): the parse spec, --help and the typed values of a
// command come from its table, help states the defaults the command really uses, and an old name
// still works with a one-line notice.
import { COST_HELP } from "../../src/cli/cost.js";
import { choice, flagHelp, flagOptions, int, readFlags, type FlagTable } from "../../src/cli/flagTable.js";
import { TRAIN_PROBE_HELP } from "../../src/cli/trainProbe.js";
import { STORY_COST_DEFAULT } from "../../src/cost/defaults.js";
import { TRAIN_PROBE_DEFAULTS } from "../../src/cost/probe/trainProbe.js";
import { UserError } from "../../src/errors.js";
import { statedDefaults } from "../helpers/helpText.js";


test("train-probe --help states the trainer's own defaults (TRAIN_PROBE_DEFAULTS)", () => {
  const d = TRAIN_PROBE_DEFAULTS;
  const expected: Record<string, unknown> = {
    "--max-tokens": d.maxTokens,
    "--pooling": d.pooling,
    "--epochs": d.epochs,
    "--lr": d.learningRate,
    "--l2": d.l2,
    "--batch-size": d.batchSize,
    "--validation-fraction": d.validationFraction,
    "--seed": d.seed,
  };
  const stated = statedDefaults(TRAIN_PROBE_HELP);
  for (const [flag, value] of Object.entries(expected)) expect([flag, stated.get(flag)]).toEqual([flag, String(value)]);
  expect(TRAIN_PROBE_HELP).toContain("(formerly --val-fraction)");
});

test("cost --help states the default cost model it loads", () => {
  expect(STORY_COST_DEFAULT.spec).toMatch(/conflict-lexicon\.json$/);
  expect(statedDefaults(COST_HELP).get("--cost")).toMatch(/^rules:models\/conflict-lexicon\.json/);
  expect(COST_HELP).toMatch(/--in FILE +JSONL texts .*\(required\)/);
});

const TABLE = {
  out: { metavar: "FILE", help: "where", required: true },
  epochs: { metavar: "E", help: "passes", parse: int(1), default: 7 },
  "validation-fraction": { metavar: "F", help: "held out", default: "0.2", aliases: ["val-fraction"] },
  mode: { metavar: "M", help: "a or b", parse: choice(["a", "b"] as const) },
  json: { help: "as JSON" },
} as const satisfies FlagTable;

describe("readFlags", () => {
  const read = (...argv: string[]) => {
    const notices: string[] = [];
    return { ...readFlags(TABLE, argv, (line) => notices.push(line)), notices };
  };

  test("typed values, defaults, switches", () => {
    const r = read("--out", "x", "--epochs", "3", "--json");
    expect(r.values).toEqual({ out: "x", epochs: 3, "validation-fraction": "0.2", mode: undefined, json: true });
    expect(read("--out", "x").values.epochs).toBe(7);
    expect(r.notices).toEqual([]);
  });

  test("an old name is read as the new one, with one notice; both at once is a mistake", () => {
    const r = read("--out", "x", "--val-fraction", "0.3");
    expect(r.values["validation-fraction"]).toBe("0.3");
    expect(r.notices).toEqual(["--val-fraction is now --validation-fraction (the old name still works for now)"]);
    expect(() => read("--out", "x", "--val-fraction", "0.3", "--validation-fraction", "0.1")).toThrow(/--val-fraction is the old name of --validation-fraction/);
  });

  test.each([
    [[], /^--out FILE is required \(see --help\)$/],
    [["--out", ""], /^--out FILE is required/],
    [["--out", "x", "--epochs", "0"], /^--epochs must be at least 1$/],
    [["--out", "x", "--epochs", "1.5"], /^--epochs expects an integer/],
    [["--out", "x", "--mode", "c"], /^--mode must be one of a, b/],
    [["--out", "x", "--nope"], /Unknown option '--nope'/],
  ])("%j is one UserError", (argv, message) => {
    let error: unknown;
    try {
      read(...argv);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toMatch(message);
  });

  test("--help is answered before anything is checked", () => {
    expect(read("--help").help).toBe(true);
  });
});

test("the parse spec and the help lines come from the table", () => {
  expect(Object.keys(flagOptions(TABLE)).sort()).toEqual(["epochs", "help", "json", "mode", "out", "val-fraction", "validation-fraction"]);
  expect(flagHelp(TABLE).split("\n")).toEqual([
    "  --out FILE             where (required)",
    "  --epochs E             passes (default 7)",
    "  --validation-fraction F",
    "                         held out (default 0.2) (formerly --val-fraction)",
    "  --mode M               a or b",
    "  --json                 as JSON",
  ]);
});
