// Extracts llama.cpp's public headers from the source bundle that ships inside node-llama-cpp,
// so the addon compiles against exactly the llama.cpp release whose binaries it calls.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, renameSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const llamaDir = join(root, "node_modules", "node-llama-cpp", "llama");
const bundle = join(llamaDir, "gitRelease.bundle");
const outDir = join(root, "native", "llama-headers");
const stamp = join(outDir, "release.json");

function fail(message) {
  console.error(`inference-guard: ${message}`);
  process.exit(1);
}

if (!existsSync(bundle)) fail(`cannot find ${bundle}; run npm install so node-llama-cpp is present`);
const release = readFileSync(join(llamaDir, "llama.cpp.info.json"), "utf8");
if (existsSync(stamp) && readFileSync(stamp, "utf8") === release) process.exit(0);

const tmp = `${outDir}.tmp`;
rmSync(tmp, { recursive: true, force: true });
mkdirSync(dirname(outDir), { recursive: true });
try {
  execFileSync("git", ["clone", "--quiet", "--no-checkout", bundle, tmp], { stdio: ["ignore", "ignore", "inherit"] });
  execFileSync("git", ["-C", tmp, "-c", "advice.detachedHead=false", "checkout", "--quiet", "HEAD", "--", "include", "ggml/include"], { stdio: ["ignore", "ignore", "inherit"] });
} catch (error) {
  fail(`could not extract llama.cpp headers with git (is git installed?): ${error.message}`);
}
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
renameSync(join(tmp, "include"), join(outDir, "include"));
renameSync(join(tmp, "ggml", "include"), join(outDir, "ggml-include"));
rmSync(tmp, { recursive: true, force: true });
writeFileSync(stamp, release);
