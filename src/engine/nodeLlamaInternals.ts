// The TypeScript side's one coupling to node-llama-cpp's private parts (the C++ side's is
// native/engine/llama_api.h). We read `LlamaModel._model`, node-llama-cpp's native model object, and hand
// it to our addon, which reads the llama_model* out of it (a private C++ class) and calls the
// libllama node-llama-cpp loaded. All of it holds for the exact version pinned in package.json;
// checkNodeLlamaCpp() refuses another one before a model loads, and test/engine/contract.test.ts
// fails loudly when an upgrade breaks what we rely on.
import { getModuleVersion, type LlamaModel } from "node-llama-cpp";
import { UserError } from "../errors.js";
import { nativeAddon, type NativeBatchContext, type NativeBatchContextOptions } from "../native.js";

/** The node-llama-cpp version whose internals (and llama.cpp headers) this adapter was written for. */
export const PINNED_NODE_LLAMA_CPP_VERSION = "3.22.1";

/** Set to 1 to run against another node-llama-cpp version at your own risk (contract tests tell). */
const ALLOW_OTHER_VERSION_ENV = "INFERENCE_GUARD_ALLOW_NODE_LLAMA_CPP_VERSION";

/** What native/engine/llama_api.cpp's errors start with when node-llama-cpp is not what the addon expects. */
const NATIVE_MISMATCH = "node-llama-cpp mismatch: ";

/**
 * Before the first model loads: the installed node-llama-cpp is the pinned version, and the addon
 * was compiled against it (it reads a private C++ class whose layout may change between versions).
 */
export async function checkNodeLlamaCpp(): Promise<void> {
  const problem = nodeLlamaCppMismatch({
    installed: await getModuleVersion(),
    built: nativeAddon().NODE_LLAMA_CPP_BUILD_VERSION,
    allowOtherVersion: process.env[ALLOW_OTHER_VERSION_ENV] === "1",
  });
  if (problem !== undefined) throw new UserError(problem);
}

/** Why the installed node-llama-cpp cannot be used with this package and addon, or undefined when it can. */
export function nodeLlamaCppMismatch(o: { installed: string; built: string | undefined; allowOtherVersion: boolean }): string | undefined {
  if (o.installed !== PINNED_NODE_LLAMA_CPP_VERSION && !o.allowOtherVersion) {
    return (
      `inference-guard reads node-llama-cpp ${PINNED_NODE_LLAMA_CPP_VERSION} internals, but ${o.installed} is installed: ` +
      `reinstall with \`npm ci\`, or set ${ALLOW_OTHER_VERSION_ENV}=1 and run the contract tests`
    );
  }
  if (o.built !== o.installed) {
    return (
      `the native addon was built against node-llama-cpp ${o.built ?? "(unknown: an older build)"} but ${o.installed} is installed: ` +
      "rebuild it with `npm run build:native`"
    );
  }
  return undefined;
}

/**
 * Our batch context on a model node-llama-cpp loaded: its native `AddonModel` object
 * (`model._model`, internal) goes to the addon, which builds its own context on the loaded weights.
 */
export function createBatchContext(model: LlamaModel, options: NativeBatchContextOptions): NativeBatchContext {
  const addonModel = (model as unknown as { _model?: unknown })._model;
  if (addonModel == null || typeof addonModel !== "object") {
    throw new UserError(`node-llama-cpp's internals are not what inference-guard expects (LlamaModel._model is missing): reinstall with \`npm ci\``);
  }
  try {
    return new (nativeAddon().BatchContext)(addonModel, options);
  } catch (error) {
    const message = (error as Error).message;
    if (message.startsWith(NATIVE_MISMATCH)) {
      throw new UserError(`${message.slice(NATIVE_MISMATCH.length)}: reinstall with \`npm ci\` and rebuild with \`npm run build:native\``, { cause: error });
    }
    throw error;
  }
}
