// The layering of docs/architecture.md, checked on the source: every folder and root file of src/
// has a floor, imports go only to lower floors (type-only imports count: a type is a dependency
// too, and a type import today is a value import tomorrow), no import cycles, and only src/engine
// touches node-llama-cpp.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { PACKAGE_ROOT } from "../src/paths.js";

const SRC = join(PACKAGE_ROOT, "src");

/**
 * The floors, lowest first (docs/architecture.md draws them). A unit (a folder or a root file of
 * src/) may import its own files and units on lower floors; units on one floor are siblings that
 * never import each other.
 */
const FLOORS: readonly (readonly string[])[] = [
  ["errors.ts"],
  ["util"],
  ["models", "chatMessages.ts"],
  ["paths.ts"],
  ["native.ts"],
  ["engine", "data"],
  ["cost", "reward"],
  ["settings.ts"],
  ["search"],
  ["critic"],
  ["eval", "createGuard.ts"],
  ["index.ts", "request"],
  ["batch", "server"],
  ["queue"],
  ["cli"],
];
const floorOf = new Map(FLOORS.flatMap((units, floor) => units.map((unit) => [unit, floor] as const)));

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith(".ts") ? [path] : [];
  });
}

/** Every import of each file, type-only ones included, as src-relative paths (local) or package names. */
const graph = new Map<string, { local: string[]; packages: string[] }>();
for (const file of files(SRC)) {
  const text = readFileSync(file, "utf8");
  const local: string[] = [];
  const packages: string[] = [];
  const add = (target: string): void => {
    if (target.startsWith(".")) local.push(relative(SRC, normalize(join(dirname(file), target))).replace(/\.js$/, ".ts"));
    else packages.push(target);
  };
  for (const m of text.matchAll(/^\s*(?:import|export)\s+(?:type\s+)?(?:[^;]*?\sfrom\s+)?["']([^"']+)["']/gm)) add(m[1]!);
  for (const m of text.matchAll(/import\(["']([^"']+)["']\)/g)) add(m[1]!);
  graph.set(relative(SRC, file), { local, packages });
}
const unitOf = (path: string): string => (path.includes("/") ? path.split("/")[0]! : path);

test("the graph is read: type-only imports count, and the known ones are seen", () => {
  // chatMessages.ts has none; createGuard.ts imports the chat messages, a type among them.
  expect(graph.get("createGuard.ts")!.local).toContain("chatMessages.ts");
  const typeOnly = [...graph].filter(([file]) => /^\s*import\s+type\s/m.test(readFileSync(join(SRC, file), "utf8")));
  expect(typeOnly.length).toBeGreaterThan(10);
  for (const [file] of typeOnly.slice(0, 10)) expect(graph.get(file)!.local.length + graph.get(file)!.packages.length).toBeGreaterThan(0);
});

test("every folder and root file of src/ has a floor, and every floor names what exists", () => {
  const units = readdirSync(SRC).filter((name) => statSync(join(SRC, name)).isDirectory() || name.endsWith(".ts"));
  expect(units.filter((unit) => !floorOf.has(unit))).toEqual([]);
  expect([...floorOf.keys()].filter((unit) => !units.includes(unit))).toEqual([]);
});

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

test("no import goes up a floor, or across to a sibling on the same floor", () => {
  const bad = [...graph].flatMap(([file, imports]) =>
    imports.local
      .filter((to) => unitOf(to) !== unitOf(file) && !((floorOf.get(unitOf(to)) ?? Infinity) < (floorOf.get(unitOf(file)) ?? -Infinity)))
      .map((to) => `${file} -> ${to}`),
  );
  expect(bad).toEqual([]);
});

test("only src/engine imports node-llama-cpp (type imports too)", () => {
  const users = [...graph].filter(([, i]) => i.packages.some((p) => p === "node-llama-cpp" || p.startsWith("node-llama-cpp/"))).map(([file]) => file);
  expect(users.length).toBeGreaterThan(0);
  expect(users.filter((file) => unitOf(file) !== "engine")).toEqual([]);
});
