// A known model's name where a model path is taken (--model NAME, $INFERENCE_GUARD_MODEL=NAME, a
// config's "model", createGuard({model})): the fetched, verified file, or one line saying how to
// fetch it. Anything that is not a known name is a path and passes through unchanged.
import { UserError } from "../errors.js";
import { cachedModelPath } from "./cache.js";
import { DEFAULT_CHAT_MODEL, fetchCommandLine, knownModel, type KnownModel } from "./registry.js";
import { modelStatus } from "./verify.js";

/** A known model that is not (or not correctly) in the cache folder. */
export class ModelNotFetchedError extends UserError {
  constructor(
    readonly model: KnownModel,
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

export function isKnownModelName(spec: string): boolean {
  return knownModel(spec) !== undefined;
}

/** A known model's verified path; a ModelNotFetchedError when it is absent or not the pinned file. */
export function fetchedModelPath(name: string, why = `model ${name}`): string {
  const model = knownModel(name);
  if (model === undefined) throw new Error(`not a known model: ${name}`);
  const status = modelStatus(model);
  if (status.state === "verified") return status.path;
  if (status.state === "absent") throw new ModelNotFetchedError(model, status.path, `${why} is not fetched yet: run \`${fetchCommandLine(name)}\``);
  throw new ModelNotFetchedError(model, status.path, `${why} at ${status.path} is not the pinned file (${status.reason}): run \`${fetchCommandLine(name)}\` to fetch it again`);
}

/** `spec` resolved: a known name to its fetched file (or a one-line error), anything else unchanged. */
export function resolveModel(spec: string): string;
export function resolveModel(spec: string | undefined): string | undefined;
export function resolveModel(spec: string | undefined): string | undefined {
  return spec !== undefined && isKnownModelName(spec) ? fetchedModelPath(spec) : spec;
}

/** Where `spec` points, checking nothing (for a warning that must not throw): a known name's cache path, else `spec`. */
export function modelPathFor(spec: string): string {
  const model = knownModel(spec);
  return model ? cachedModelPath(model) : spec;
}

/** The model of a chat prompt when none is named: the default chat model once fetched, else how to fetch it. */
export function defaultChatModelPath(): string {
  return fetchedModelPath(DEFAULT_CHAT_MODEL, `a chat prompt with no model named uses ${DEFAULT_CHAT_MODEL}, which`);
}
