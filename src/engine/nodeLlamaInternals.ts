// The ONE place that reaches into node-llama-cpp internals. Everything here is tied to the exact
// version pinned in package.json; test/engine/contract.test.ts fails loudly when an upgrade breaks it.
import { getModuleVersion, type LlamaModel } from "node-llama-cpp";

/** The node-llama-cpp version whose internals (and llama.cpp headers) this adapter was written for. */
export const PINNED_NODE_LLAMA_CPP_VERSION = "3.22.1";

/** Set to 1 to run against another node-llama-cpp version at your own risk (contract tests tell). */
const ALLOW_OTHER_VERSION_ENV = "INFERENCE_GUARD_ALLOW_NODE_LLAMA_CPP_VERSION";

export async function assertPinnedNodeLlamaCpp(): Promise<void> {
  const version = await getModuleVersion();
  if (version !== PINNED_NODE_LLAMA_CPP_VERSION && process.env[ALLOW_OTHER_VERSION_ENV] !== "1") {
    throw new Error(
      `inference-guard reads node-llama-cpp ${PINNED_NODE_LLAMA_CPP_VERSION} internals, but ${version} is installed: ` +
        `reinstall with \`npm ci\`, or set ${ALLOW_OTHER_VERSION_ENV}=1 and run the contract tests`,
    );
  }
}

/**
 * The native `AddonModel` object behind a LlamaModel (`model._model`, internal). Our addon unwraps it
 * to get the `llama_model*` and build its own context on the already-loaded weights.
 */
export function addonModelOf(model: LlamaModel): object {
  const addonModel = (model as unknown as { _model?: unknown })._model;
  if (addonModel == null || typeof addonModel !== "object") {
    throw new Error("node-llama-cpp internals changed: LlamaModel._model is missing");
  }
  return addonModel;
}
