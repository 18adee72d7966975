// Where the package lives, and the files it ships, resolved from it (so they work from any cwd:
// inside an app the package is node_modules/inference-guard, and the app's folder is the cwd).
import { existsSync } from "node:fs";
import { dirname, isAbsolute, join, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { defaultChatModelPath, resolveModel } from "./models/resolve.js";

function findPackageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json")) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

export const PACKAGE_ROOT = findPackageRoot();

/** The shared models folder beside the project checkout (read-only inputs for tests and benchmarks). */
export const SHARED_DIR = resolve(PACKAGE_ROOT, "..", "shared");

export const MODEL_ENV = "INFERENCE_GUARD_MODEL";

/**
 * The files the package ships, by name: cost models (name them in a spec as they are here, e.g.
 * `classifier:harm-classifier.bin`, from any folder), critics and the small default model.
 */
export const SHIPPED_FILES = {
  /** The conflict lexicon (rules), the default cost model of completion prompts. */
  "conflict-lexicon.json": join(PACKAGE_ROOT, "models", "conflict-lexicon.json"),
  /** The first harm classifier (P(unsafe) of a text), trained with the tiny assistant's answers. */
  "harm-classifier.bin": join(PACKAGE_ROOT, "models", "harm-classifier.bin"),
  /** The chat harm classifier (issue 26): the "a" (answer harm) of chat-harm.json, the chat default before it. */
  "chat-harm-classifier.bin": join(PACKAGE_ROOT, "models", "chat-harm-classifier.bin"),
  /** The chat default cost (issue 26): harm:chat-harm.json names the answer-harm, request-harm and compliance classifiers. */
  "chat-harm.json": join(PACKAGE_ROOT, "models", "chat-harm.json"),
  /** P(a request is harmful), the "h" of chat-harm.json. */
  "chat-request-harm.bin": join(PACKAGE_ROOT, "models", "chat-request-harm.bin"),
  /** P(an answer complies rather than refuses), the "c" of chat-harm.json. */
  "chat-compliance.bin": join(PACKAGE_ROOT, "models", "chat-compliance.bin"),
  /** The latent critic trained for stories260K.gguf. */
  "stories260K-critic.bin": join(PACKAGE_ROOT, "models", "stories260K-critic.bin"),
  /** The chat reward head (helpfulness on SmolLM2-135M-Instruct's states), the default reward of chat prompts. */
  "smollm2-135m-instruct-reward.json": join(PACKAGE_ROOT, "models", "smollm2-135m-instruct-reward.json"),
  /** The latent critic trained for SmolLM2-135M-Instruct (Q4_1) under the harm classifier. */
  "smollm2-135m-instruct-critic.bin": join(PACKAGE_ROOT, "models", "smollm2-135m-instruct-critic.bin"),
  /** The tiny assistant testbed's reward head: a fast unit-test asset (its backbone is the testbed GGUF). */
  "tiny-assistant-reward.json": join(PACKAGE_ROOT, "models", "tiny-assistant-reward.json"),
  /** The latent critic trained for the tiny assistant testbed model. */
  "tiny-assistant-critic.bin": join(PACKAGE_ROOT, "models", "tiny-assistant-critic.bin"),
  /** stories260K (260K parameters, MIT): the model used when none is given. In a checkout, only after `npm pack`. */
  "stories260K.gguf": join(PACKAGE_ROOT, "default-model", "stories260K.gguf"),
} as const;

export type ShippedFileName = keyof typeof SHIPPED_FILES;

/**
 * The shipped file a relative path names, when it names one: its bare name
 * (`harm-classifier.bin`) or its path in the package (`models/harm-classifier.bin`); else undefined.
 */
export function shippedFile(path: string): string | undefined {
  if (isAbsolute(path)) return undefined;
  const wanted = normalize(path).split("\\").join("/");
  for (const [name, file] of Object.entries(SHIPPED_FILES)) {
    if (wanted === name || join(PACKAGE_ROOT, wanted) === file) return existsSync(file) ? file : undefined;
  }
  return undefined;
}

/**
 * The prebuilt addon the package ships for this platform, `prebuilds/<platform>-<arch>/` (Linux
 * with musl: `-musl`), as native/prebuilds.mjs names it. native/install.mjs copies it into
 * build/Release when it fits; a loader may fall back to it where install scripts did not run.
 */
export function prebuiltAddonPath(): string {
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  const musl = process.platform === "linux" && !header?.glibcVersionRuntime;
  return join(PACKAGE_ROOT, "prebuilds", `${process.platform}-${process.arch}${musl ? "-musl" : ""}`, "inference_guard.node");
}

/**
 * Default model: $INFERENCE_GUARD_MODEL (a path or a known model's name), else for a chat prompt the
 * default chat model once fetched (else a one-line error saying how to fetch it), else the
 * stories260K.gguf the package ships, else (a checkout before `npm pack`) ../shared/models/stories260K.gguf.
 */
export function defaultModelPath(options: { chat?: boolean } = {}): string {
  if (process.env[MODEL_ENV]) return resolveModel(process.env[MODEL_ENV]!);
  if (options.chat) return defaultChatModelPath();
  const shipped = SHIPPED_FILES["stories260K.gguf"];
  return existsSync(shipped) ? shipped : join(SHARED_DIR, "models", "stories260K.gguf");
}
