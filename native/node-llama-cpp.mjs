// Where the installed node-llama-cpp is, found the way Node finds it from this package (the lookup
// lives in native/prepare-llama-headers.mjs, which must run on its own). Inside an app npm hoists
// it to the app's node_modules, so binding.gyp and CMakeLists.txt ask here for its private addon
// headers instead of assuming ./node_modules:
//   node native/node-llama-cpp.mjs [SUBPATH]   prints the folder (joined with SUBPATH)
import { realpathSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { nodeLlamaCppDir } from "./prepare-llama-headers.mjs";

export { PACKAGE_ROOT, nodeLlamaCppDir, nodeLlamaCppVersion } from "./prepare-llama-headers.mjs";

if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))) {
  try {
    // binding.gyp reads this with <!(...): one string, so a path with spaces stays whole.
    process.stdout.write(join(nodeLlamaCppDir(), process.argv[2] ?? "") + "\n");
  } catch (error) {
    console.error(`inference-guard: ${error.message}`);
    process.exit(1);
  }
}
