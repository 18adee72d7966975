// Known models by name: the registry, the cache folder, fetch, and name resolution.
export { KNOWN_MODELS, DEFAULT_CHAT_MODEL, knownModel, knownModelNames, fetchCommandLine, type KnownModel } from "./registry.js";
export { MODELS_DIR_ENV, modelsDir, cachedModelPath, cachedModelFile } from "./cache.js";
export { PYTHON_ENV } from "./pip.js";
export { modelStatus, type ModelState, type ModelStatus } from "./verify.js";
export { fetchModel, ModelFetchError, ModelFetchInterrupted, type FetchOptions, type FetchProgress, type FetchResult } from "./fetch.js";
export { resolveModel, isKnownModelName, fetchedModelPath, defaultChatModelPath, modelPathFor, ModelNotFetchedError } from "./resolve.js";
