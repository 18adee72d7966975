// The bench scripts' command lines come from one flag table each (bench/flags.ts): --help lists
// what the table declares with its defaults, and a bad value is one line then the usage, exit 2.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { int, type FlagTable } from "../../src/cli/flagTable.js";
import { PACKAGE_ROOT } from "../../src/paths.js";
import { benchUsage } from "../../bench/flags.js";

const TSX = join(PACKAGE_ROOT, "node_modules", ".bin", "tsx");
const bench = (script: string, ...args: string[]) => spawnSync(TSX, [join(PACKAGE_ROOT, "bench", `${script}.ts`), ...args], { encoding: "utf8", cwd: PACKAGE_ROOT });

test("benchUsage: every flag of the table, each with its default, at the bench's column", () => {
  const table = { rounds: { metavar: "N", help: "rounds", parse: int(1), default: 3 }, quiet: { help: "no progress" } } as const satisfies FlagTable;
  const usage = benchUsage("x", "Measures x.", table);
  expect(usage).toContain("Usage: npx tsx bench/x.ts [options]\n\nMeasures x.\n");
  expect(usage).toContain("  --rounds N          rounds (default 3)\n");
  expect(usage).toContain("  --quiet             no progress\n");
});

test("bench/run.ts --help is its table's: every flag, the shape defaults stated", () => {
  const r = bench("run", "--help");
  expect(r.status).toBe(0);
  for (const flag of ["--out FILE", "--quick", "--gpu BACKEND", "--shape NAME", "--no-shape", "--shape-only", "--shape-tokens N", "--shape-seeds N", "--shape-threads N", "--no-build"]) {
    expect(r.stdout).toContain(`  ${flag} `);
  }
  expect(r.stdout).toMatch(/--gpu BACKEND .*\(default cpu\)/);
  expect(r.stdout).toMatch(/--shape-tokens N +answer tokens \(default \d+; \d+ with --quick\)/);
}, 60_000);

test.each([
  ["run", ["--shape-tokens", "0"], "bench/run: --shape-tokens must be at least 1"],
  ["run", ["--gpu", "tpu"], "bench/run: --gpu must be one of cpu, auto, cuda, metal, vulkan (got tpu)"],
  ["concurrency", ["--branch", "never"], 'bench/concurrency: --branch must be one of auto, always; got "never"'],
])("bench/%s %j: one line, then the usage, exit 2, nothing measured", (script, args, line) => {
  const r = bench(script, ...args);
  expect(r.status).toBe(2);
  expect(r.stderr.split("\n")[0]).toBe(line);
  expect(r.stderr).toContain(`Usage: npx tsx bench/${script}.ts`);
  expect(r.stdout).toBe("");
}, 60_000);
