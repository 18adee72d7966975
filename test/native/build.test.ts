// native/build.mjs, the addon build `npm install` runs: silent when it works (node-gyp's ~50 lines
// of `gyp info` and compiler progress are kept for a failure), incremental once configured for
// this Node (an up-to-date addon is left in place), and loud with the whole log when it fails.
// node-gyp is replaced by a stand-in that prints like it, so no compiler runs here.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PACKAGE_ROOT } from "../../src/paths.js";

const FAKE_GYP = `
import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
appendFileSync(process.env.FAKE_GYP_CALLS, process.argv.slice(2).join(" ") + "\\n");
for (let i = 0; i < 30; i++) process.stderr.write("gyp info it worked if it ends with ok\\n");
process.stdout.write("  CXX(target) Release/obj.target/inference_guard/native/critic.o\\n");
if (process.argv.includes("rebuild")) { mkdirSync("build", { recursive: true }); writeFileSync("build/config.gypi", "{}"); }
process.exit(Number(process.env.FAKE_GYP_STATUS ?? 0));
`;

function packageCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), "inference-guard-build-"));
  mkdirSync(join(dir, "native"));
  for (const file of ["native/build.mjs", "native/prepare-llama-headers.mjs", "native/sources.mjs", "native/sources.txt", "binding.gyp"]) cpSync(join(PACKAGE_ROOT, file), join(dir, file));
  // Headers already extracted for this node-llama-cpp (the extraction itself needs git and time).
  if (existsSync(join(PACKAGE_ROOT, "native", "llama-headers"))) cpSync(join(PACKAGE_ROOT, "native", "llama-headers"), join(dir, "native", "llama-headers"), { recursive: true });
  symlinkSync(join(PACKAGE_ROOT, "node_modules"), join(dir, "node_modules"));
  writeFileSync(join(dir, "fake-gyp.mjs"), FAKE_GYP);
  return dir;
}

function build(dir: string, status = 0, args: string[] = []) {
  const calls = join(dir, "gyp-calls.txt");
  const r = spawnSync(process.execPath, [join(dir, "native", "build.mjs"), ...args], {
    cwd: dir,
    encoding: "utf8",
    env: { ...process.env, npm_config_node_gyp: join(dir, "fake-gyp.mjs"), FAKE_GYP_CALLS: calls, FAKE_GYP_STATUS: String(status) },
  });
  const gypCalls = existsSync(calls) ? readFileSync(calls, "utf8").trim().split("\n") : [];
  return { status: r.status, output: r.stdout + r.stderr, lastCall: gypCalls.at(-1) };
}

test("a build that works prints nothing; once configured it is incremental; --clean rebuilds", () => {
  const dir = packageCopy();
  const first = build(dir);
  expect([first.status, first.output, first.lastCall]).toEqual([0, "", "rebuild"]);
  const second = build(dir);
  expect([second.status, second.output, second.lastCall]).toEqual([0, "", "build"]);
  expect(build(dir, 0, ["--clean"]).lastCall).toBe("rebuild");
  // Another binding.gyp (or Node) configures again, and so does another source list (gyp reads it when configuring).
  writeFileSync(join(dir, "binding.gyp"), readFileSync(join(dir, "binding.gyp"), "utf8") + "\n");
  expect(build(dir).lastCall).toBe("rebuild");
  expect(build(dir).lastCall).toBe("build");
  writeFileSync(join(dir, "native", "sources.txt"), readFileSync(join(dir, "native", "sources.txt"), "utf8") + "native/extra.cpp\n");
  expect(build(dir).lastCall).toBe("rebuild");
});

test("native/sources.txt, the list binding.gyp and CMakeLists.txt build, names every C++ file in native/ and no other", async () => {
  const { addonSources } = (await import(join(PACKAGE_ROOT, "native", "sources.mjs"))) as { addonSources(): string[] };
  const cpp: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(PACKAGE_ROOT, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory() && entry.name !== "llama-headers") walk(path);
      else if (entry.isFile() && /\.(cpp|cc)$/.test(entry.name)) cpp.push(path);
    }
  };
  walk("native");
  expect([...addonSources()].sort()).toEqual(cpp.sort());
  // Both build files read the list instead of naming sources themselves.
  const gyp = readFileSync(join(PACKAGE_ROOT, "binding.gyp"), "utf8");
  const cmake = readFileSync(join(PACKAGE_ROOT, "CMakeLists.txt"), "utf8");
  expect(gyp).toContain('"sources": ["<!@(node native/sources.mjs)"]');
  expect(cmake).toContain("file(STRINGS native/sources.txt ADDON_SOURCES");
  expect(cpp.filter((path) => gyp.includes(path) || cmake.includes(path))).toEqual([]);
});

test("a build that fails shows node-gyp's whole output and one line saying what failed", () => {
  const dir = packageCopy();
  const r = build(dir, 1);
  expect(r.status).toBe(1);
  expect(r.output).toMatch(/gyp info it worked/);
  expect(r.output).toMatch(/CXX\(target\)/);
  expect(r.output.trim().split("\n").at(-1)).toBe("inference-guard: node-gyp rebuild failed (exit status 1); its output is above");
});
