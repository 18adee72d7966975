// The addon's source list, native/sources.txt, as binding.gyp reads it (CMakeLists.txt reads the
// file itself): `node native/sources.mjs` prints one path per line for gyp's <!@(...).
import { readFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));

/** The paths in native/sources.txt (relative to the package root), comments and blank lines left out. */
export function addonSources(root = join(here, "..")) {
  return readFileSync(join(root, "native", "sources.txt"), "utf8")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
}

if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))) {
  process.stdout.write(addonSources().join("\n") + "\n");
}
