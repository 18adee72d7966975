// The Node.js requirement package.json (and README) states is true of every installed package:
// `npm install` on a supported Node prints no EBADENGINE warning.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createRequire } from "node:module";
import { PACKAGE_ROOT } from "../src/paths.js";

// npm's own range logic (installed with fastify; it ships no types).
const semver = createRequire(import.meta.url)("semver") as {
  satisfies(version: string, range: string): boolean;
  minVersion(range: string): { version: string } | null;
};

const ours = JSON.parse(readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8")).engines.node as string;

/** Every package.json under node_modules (nested ones too), with its engines.node. */
function installedEngines(): Array<{ name: string; version: string; node: string }> {
  const found: Array<{ name: string; version: string; node: string }> = [];
  const walk = (modules: string): void => {
    if (!existsSync(modules)) return;
    for (const entry of readdirSync(modules)) {
      if (entry.startsWith(".")) continue;
      const dirs = entry.startsWith("@") ? readdirSync(join(modules, entry)).map((e) => join(modules, entry, e)) : [join(modules, entry)];
      for (const dir of dirs) {
        const file = join(dir, "package.json");
        if (!existsSync(file)) continue;
        const pkg = JSON.parse(readFileSync(file, "utf8"));
        if (typeof pkg.engines?.node === "string") found.push({ name: pkg.name, version: pkg.version, node: pkg.engines.node });
        walk(join(dir, "node_modules"));
      }
    }
  };
  walk(join(PACKAGE_ROOT, "node_modules"));
  return found;
}

test("each supported Node line's first release satisfies every installed package's engines.node", () => {
  // The lowest version of each range our engines field allows (e.g. 20.17.0 and 22.9.0).
  const lowest = ours.split("||").map((range) => semver.minVersion(range.trim())!.version);
  expect(lowest.length).toBeGreaterThan(0);
  const unmet = installedEngines().flatMap((p) =>
    lowest.filter((v) => !semver.satisfies(v, p.node)).map((v) => `${p.name}@${p.version} needs node ${p.node}, not ${v}`),
  );
  expect(unmet).toEqual([]);
});

test("README states the same Node.js requirement", () => {
  const readme = readFileSync(join(PACKAGE_ROOT, "README.md"), "utf8");
  for (const range of ours.split("||")) expect(readme).toContain(semver.minVersion(range.trim())!.version.replace(/\.0$/, ""));
});
