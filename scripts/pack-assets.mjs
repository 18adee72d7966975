// Puts the small default model into the package before `npm pack` (prepack): stories260K.gguf
// (260K parameters, MIT, 1.2 MB, karpathy/tinyllamas) from ../shared/models into default-model/,
// a folder git ignores but `files` in package.json ships, so `npx inference-guard generate`
// works in any app without a model of its own. The copy is checked against the file's known hash.
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const SHA256 = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";
const source = join(root, "..", "shared", "models", "stories260K.gguf");
const target = join(root, "default-model", "stories260K.gguf");

const sha256 = (file) => createHash("sha256").update(readFileSync(file)).digest("hex");

if (existsSync(target) && sha256(target) === SHA256) process.exit(0);
if (!existsSync(source)) {
  console.error(`inference-guard: cannot pack: the default model ${source} is missing (the package ships a copy of it)`);
  process.exit(1);
}
if (sha256(source) !== SHA256) {
  console.error(`inference-guard: cannot pack: ${source} is not the stories260K.gguf the package ships (sha256 ${SHA256})`);
  process.exit(1);
}
mkdirSync(dirname(target), { recursive: true });
copyFileSync(source, `${target}.tmp`);
chmodSync(`${target}.tmp`, 0o644); // shared/ is read-only, and the copy keeps its mode
renameSync(`${target}.tmp`, target);
