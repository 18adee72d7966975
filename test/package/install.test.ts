// native/install.mjs, what `npm install` runs for the package in an app: when the prebuilt addon
// does not fit, it says why and what building from source needs. Run here in a copy of the
// package (no .git, as in an app) with a PATH that has no compiler, so nothing compiles; the
// packed package with a prebuild that fits, and a source build that works, are test/package.test.ts's.
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PACKAGE_ROOT } from "../../src/paths.js";

const work = mkdtempSync(join(tmpdir(), "inference-guard-install-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** node alone on the PATH. */
const bareBin = join(work, "bin");
mkdirSync(bareBin);
symlinkSync(process.execPath, join(bareBin, "node"));

/** A copy of the package as an app gets it (addon sources, install scripts; no .git), its dependencies linked. */
function packageCopy(name: string): string {
  const dir = join(work, name);
  mkdirSync(dir);
  cpSync(join(PACKAGE_ROOT, "native"), join(dir, "native"), { recursive: true, filter: (src) => !src.endsWith(join("native", "llama-headers")) });
  cpSync(join(PACKAGE_ROOT, "binding.gyp"), join(dir, "binding.gyp"));
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "inference-guard", type: "module" }));
  symlinkSync(join(PACKAGE_ROOT, "node_modules"), join(dir, "node_modules"));
  return dir;
}

async function sourcesHash(dir: string): Promise<string> {
  const prebuilds = (await import(join(dir, "native", "prebuilds.mjs"))) as { sourcesHash(root?: string): string };
  return prebuilds.sourcesHash(dir);
}

function addPrebuild(dir: string, addon: Buffer, meta: object): void {
  const tagDir = join(dir, "prebuilds", "linux-x64");
  mkdirSync(tagDir, { recursive: true });
  writeFileSync(join(tagDir, "inference_guard.node"), addon);
  writeFileSync(join(tagDir, "inference_guard.json"), JSON.stringify(meta));
}

function install(dir: string, env: NodeJS.ProcessEnv = {}) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(npm_|INFERENCE_GUARD_|CXX$)/.test(k)));
  const r = spawnSync(process.execPath, [join(dir, "native", "install.mjs")], { cwd: dir, encoding: "utf8", env: { ...clean, PATH: bareBin, ...env } });
  return { status: r.status, err: r.stderr.trim() };
}

const NEEDS = "which needs a C++17 compiler (c++, g++ or clang++), make, Python 3 on the PATH. Install them";
const nodeLlamaCpp = JSON.parse(readFileSync(join(PACKAGE_ROOT, "node_modules", "node-llama-cpp", "package.json"), "utf8")).version as string;

const onLinuxX64 = process.platform === "linux" && process.arch === "x64" ? test : test.skip;

test("with no prebuild for the platform it says so, and what a source build needs", () => {
  const r = install(packageCopy("none"));
  expect(r.status).toBe(1);
  expect(r.err).toContain(`inference-guard: no prebuilt addon for ${process.platform}-${process.arch} (the package has none): building the addon from source, ${NEEDS}`);
  expect(r.err).toContain("npm rebuild inference-guard");
});

onLinuxX64("a prebuild from other sources, another node-llama-cpp, or one that does not load is not used", async () => {
  const stale = packageCopy("stale");
  addPrebuild(stale, Buffer.from("not an addon"), { sources: "0".repeat(64), nodeLlamaCpp });
  expect(install(stale).err).toContain("the prebuilt addon for linux-x64 was built from other sources than the package's native/: building the addon from source, which needs");

  const other = packageCopy("other-version");
  addPrebuild(other, Buffer.from("not an addon"), { sources: await sourcesHash(other), nodeLlamaCpp: "3.0.0" });
  expect(install(other).err).toContain(`the prebuilt addon for linux-x64 was built against node-llama-cpp 3.0.0, and ${nodeLlamaCpp} is installed`);

  const broken = packageCopy("broken");
  addPrebuild(broken, Buffer.from("not an addon"), { sources: await sourcesHash(broken), nodeLlamaCpp });
  expect(install(broken).err).toMatch(/the prebuilt addon for linux-x64 does not load here \(.+\): building the addon from source/);
});

test("a toolchain named by $CXX that is not there is named", () => {
  const r = install(packageCopy("cxx"), { CXX: "/opt/no/such-g++ -O2" });
  expect(r.err).toContain("needs the C++ compiler $CXX (/opt/no/such-g++), make, Python 3 on the PATH");
});
