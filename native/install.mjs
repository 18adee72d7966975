// What `npm install` runs for this package (package.json "install"). Installed as a dependency,
// it uses the prebuilt addon for this platform when one fits and loads here (no compiler needed,
// nothing compiled), and builds from source otherwise, saying why and what the build needs. In a
// git checkout (where native/ is edited) it always builds from source, incrementally.
//
//   INFERENCE_GUARD_BUILD_FROM_SOURCE=1 npm install inference-guard   forces the source build
//   (so does npm's build-from-source config: npm_config_build_from_source=true in the environment)
import { spawnSync } from "node:child_process";
import { accessSync, constants, copyFileSync, existsSync, mkdirSync, renameSync } from "node:fs";
import { delimiter, isAbsolute, join } from "node:path";
import { PACKAGE_ROOT as root, nodeLlamaCppDir, nodeLlamaCppVersion } from "./node-llama-cpp.mjs";
import { usablePrebuild } from "./prebuilds.mjs";

export const FORCE_SOURCE_ENV = "INFERENCE_GUARD_BUILD_FROM_SOURCE";

function fail(message) {
  console.error(`inference-guard: ${message}`);
  process.exit(1);
}

/** Is `command` an executable file on the PATH (or an executable path)? */
function onPath(command) {
  const exts = process.platform === "win32" ? (process.env.PATHEXT ?? ".EXE;.CMD;.BAT").split(";") : [""];
  const dirs = isAbsolute(command) ? [""] : (process.env.PATH ?? "").split(delimiter).filter(Boolean);
  for (const dir of dirs) {
    for (const ext of exts) {
      try {
        accessSync(join(dir, command + ext), constants.X_OK);
        return true;
      } catch {
        // not here
      }
    }
  }
  return false;
}

/** What node-gyp needs and this machine lacks (MSVC on Windows is node-gyp's to find and report). */
function missingTools() {
  if (process.platform === "win32") return [];
  const missing = [];
  const cxx = process.env.CXX?.trim().split(/\s+/)[0];
  if (!(cxx ? onPath(cxx) : ["c++", "g++", "clang++"].some(onPath))) missing.push(cxx ? `the C++ compiler $CXX (${cxx})` : "a C++17 compiler (c++, g++ or clang++)");
  if (!onPath("make")) missing.push("make");
  const python = process.env.npm_config_python || process.env.PYTHON;
  if (!(python ? onPath(python) : ["python3", "python"].some(onPath))) missing.push("Python 3");
  return missing;
}

let installed;
try {
  installed = nodeLlamaCppVersion(nodeLlamaCppDir());
} catch (error) {
  fail(`${error.message}: it is a dependency of inference-guard, so its install did not complete; reinstall`);
}

const forced = process.env[FORCE_SOURCE_ENV] === "1" || process.env.npm_config_build_from_source === "true";
const checkout = existsSync(join(root, ".git"));
let why = forced ? `building the addon from source (${FORCE_SOURCE_ENV}=1)` : undefined;
if (!forced && !checkout) {
  const prebuild = usablePrebuild(installed);
  if (prebuild.file !== undefined) {
    // Where src/native.ts loads the addon from. Copied beside, then renamed over: a process that
    // has the old file loaded keeps its copy.
    const release = join(root, "build", "Release");
    mkdirSync(release, { recursive: true });
    const target = join(release, "inference_guard.node");
    copyFileSync(prebuild.file, `${target}.tmp`);
    renameSync(`${target}.tmp`, target);
    process.exit(0);
  }
  why = `${prebuild.why}: building the addon from source`;
}

const missing = missingTools();
if (missing.length > 0) {
  fail(
    `${why ?? "building the addon from source"}, which needs ${missing.join(", ")} on the PATH. ` +
      "Install them (Debian/Ubuntu: apt-get install g++ make python3; macOS: xcode-select --install), " +
      "then run `npm rebuild inference-guard`",
  );
}
if (why !== undefined) console.error(`inference-guard: ${why}`);
const build = spawnSync(process.execPath, [join(root, "native", "build.mjs")], { cwd: root, stdio: "inherit" });
process.exit(build.status ?? 1);
