// Builds the C++ addon (`npm install` runs this): extracts llama.cpp's headers from node-llama-cpp,
// then runs node-gyp with its output kept for a failure only, so an install that works prints
// nothing of its ~50 lines of `gyp info` and compiler progress.
//
// Incremental when build/ was configured for this Node, this binding.gyp and this source list
// (native/sources.txt): make then leaves an up-to-date addon as it is. That matters beyond speed:
// the first `npx inference-guard` in the package folder reinstalls the package (npm's
// self-execution of a local bin), and a clean rebuild would delete the addon under processes that
// are using it. `--clean` forces a rebuild from scratch.
// native/install.mjs runs this when no prebuilt addon fits (and always in a git checkout).
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const stampFile = join(root, "build", "inference-guard-build.json");

function run(label, command, args) {
  const r = spawnSync(command, args, { cwd: root, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (r.status === 0) return;
  process.stderr.write(`${r.stdout ?? ""}${r.stderr ?? ""}`);
  const why = r.error ? r.error.message : `exit status ${r.status ?? r.signal}`;
  console.error(`inference-guard: ${label} failed (${why}); its output is above`);
  process.exit(r.status || 1);
}

/** node-gyp as npm runs it (npm_config_node_gyp), else npm's own copy beside this Node, else PATH. */
function nodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    join(dirname(process.execPath), "..", "lib", "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js"),
  ];
  const script = candidates.find((p) => p && existsSync(p));
  return script ? [process.execPath, [script]] : ["node-gyp", []];
}

const stamp = JSON.stringify({
  node: process.version,
  modules: process.versions.modules,
  platform: process.platform,
  arch: process.arch,
  // gyp reads the source list at configure time: another list configures again.
  bindingGyp: createHash("sha256").update(readFileSync(join(root, "binding.gyp"))).update(readFileSync(join(root, "native", "sources.txt"))).digest("hex"),
});
const configured = existsSync(join(root, "build", "config.gypi")) && existsSync(stampFile) && readFileSync(stampFile, "utf8") === stamp;
const clean = process.argv.includes("--clean") || !configured;

run("extracting llama.cpp's headers", process.execPath, [join(root, "native", "prepare-llama-headers.mjs")]);
/**
 * Where node-gyp finds Node's headers: npm's nodedir setting when it has one, else the running
 * Node's own (<prefix>/include/node, as Debian's and the official builds install them), so that
 * node-gyp never tries to download headers (offline machines, and outside `npm run`).
 */
function nodedirArgs() {
  if (process.env.npm_config_nodedir) return [];
  const prefix = join(dirname(process.execPath), "..");
  return existsSync(join(prefix, "include", "node", "node_api.h")) ? [`--nodedir=${prefix}`] : [];
}

const [gyp, gypArgs] = nodeGyp();
run(`node-gyp ${clean ? "rebuild" : "build"}`, gyp, [...gypArgs, clean ? "rebuild" : "build", ...nodedirArgs()]);
writeFileSync(stampFile, stamp);
