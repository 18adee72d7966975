// The layering of docs/architecture.md, checked on the source: no import cycles, and no folder
// imports one above it (batch never reaches into the server; only the engine touches node-llama-cpp).
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { PACKAGE_ROOT } from "../src/paths.js";

const SRC = join(PACKAGE_ROOT, "src");

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith(".ts") ? [path] : [];
  });
}

/** Runtime imports (type-only ones leave no trace in the output) of each file, as src-relative paths. */
const graph = new Map<string, { local: string[]; packages: string[] }>();
for (const file of files(SRC)) {
  const text = readFileSync(file, "utf8");
  const local: string[] = [];
  const packages: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\s+(type\s+)?(?:[^;]*?\sfrom\s+)?["']([^"']+)["']/gm)) {
    if (m[1]) continue;
    if (m[2]!.startsWith(".")) local.push(relative(SRC, normalize(join(dirname(file), m[2]!))).replace(/\.js$/, ".ts"));
    else packages.push(m[2]!);
  }
  for (const m of text.matchAll(/import\(["'](\.[^"']+)["']\)/g)) local.push(relative(SRC, normalize(join(dirname(file), m[1]!))).replace(/\.js$/, ".ts"));
  graph.set(relative(SRC, file), { local, packages });
}
const folder = (path: string): string => (path.includes("/") ? path.split("/")[0]! : path);

test("no import cycles", () => {
  const state = new Map<string, "open" | "done">();
  const cycles: string[] = [];
  const visit = (file: string, stack: string[]): void => {
    state.set(file, "open");
    for (const next of graph.get(file)?.local ?? []) {
      if (state.get(next) === "open") cycles.push([...stack.slice(stack.indexOf(next)), next].join(" -> "));
      else if (!state.has(next) && graph.has(next)) visit(next, [...stack, next]);
    }
    state.set(file, "done");
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file, [file]);
  expect(cycles).toEqual([]);
});

test.each([
  ["batch", ["server", "cli", "queue"]],
  ["request", ["server", "batch", "cli", "queue"]],
  ["search", ["critic", "eval", "server", "batch", "cli", "request"]],
  ["engine", ["search", "critic", "cost", "eval", "server", "batch", "cli", "request"]],
  ["cost", ["search", "critic", "eval", "server", "batch", "cli", "request"]],
  ["critic", ["eval", "server", "batch", "cli", "request"]],
  // Known models are the floor: names resolve wherever a model is taken, so they import nothing above.
  ["models", ["engine", "search", "critic", "cost", "eval", "reward", "server", "batch", "cli", "request", "queue", "data", "createGuard.ts", "index.ts", "paths.ts"]],
])("%s imports none of %p", (from, forbidden) => {
  const bad = [...graph].filter(([file]) => folder(file) === from).flatMap(([file, i]) => i.local.filter((to) => forbidden.includes(folder(to))).map((to) => `${file} -> ${to}`));
  expect(bad).toEqual([]);
});

test("only src/engine imports node-llama-cpp", () => {
  const users = [...graph].filter(([, i]) => i.packages.includes("node-llama-cpp")).map(([file]) => file);
  expect(users.every((file) => folder(file) === "engine")).toBe(true);
});
