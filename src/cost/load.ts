// Turns a cost-model spec from the command line or a config ("rules:PATH", or a bare "PATH.json")
// into a CostModel. Kinds live in a small registry: later kinds (classifier, probe, guard) add
// themselves with registerCostModelKind.
import { existsSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { UserError } from "../errors.js";
import { SHIPPED_FILES, shippedFile } from "../paths.js";
import type { CostModel } from "./costModel.js";
import { RulesCostModel } from "./rules.js";

export interface LoadCostModelOptions {
  /** Directory that relative paths in the spec are resolved against (default: process.cwd()). */
  baseDir?: string;
}

export interface CostModelKind {
  /** The prefix before the colon, e.g. "rules". */
  readonly kind: string;
  /** Usage shown in error messages, e.g. "rules:PATH (a JSON lexicon of term -> cost)". */
  readonly usage: string;
  /** Builds the model from the text after "kind:" (already known to be non-empty). */
  load(arg: string, options: Required<LoadCostModelOptions>): Promise<CostModel>;
}

const kinds = new Map<string, CostModelKind>();

/** Adds (or replaces) a spec kind. */
export function registerCostModelKind(kind: CostModelKind): void {
  if (!/^[a-z][a-z0-9_-]+$/.test(kind.kind)) throw new Error(`invalid cost model kind name: ${kind.kind}`);
  kinds.set(kind.kind, kind);
}

/** The registered kinds, in registration order. */
export function costModelKinds(): CostModelKind[] {
  return [...kinds.values()];
}

registerCostModelKind({
  kind: "rules",
  usage: "rules:PATH (a JSON lexicon {\"terms\": {term: cost}}; a bare PATH ending in .json means the same)",
  async load(arg, { baseDir }) {
    return RulesCostModel.fromFile(isAbsolute(arg) ? arg : resolve(baseDir, arg));
  },
});

// The learned kinds load their modules only when used (they pull in native code and llama.cpp).
registerCostModelKind({
  kind: "classifier",
  usage: "classifier:PATH (a text classifier trained with `inference-guard train-cost`)",
  async load(arg, { baseDir }) {
    return (await import("./classifier/classifier.js")).loadClassifierCostModel(arg, baseDir);
  },
});

registerCostModelKind({
  kind: "harm",
  usage: "harm:PATH (request-aware harm: a JSON naming answer-harm, request-harm and compliance classifiers by sha256; the chat default)",
  async load(arg, { baseDir }) {
    return (await import("./requestHarm.js")).loadHarmCostModel(arg, baseDir);
  },
});

registerCostModelKind({
  kind: "probe",
  usage: "probe:PATH (a latent probe on the base model's hidden states, from `inference-guard train-probe`)",
  async load(arg, { baseDir }) {
    return (await import("./probe/probe.js")).loadProbeCostModel(arg, baseDir);
  },
});

registerCostModelKind({
  kind: "guard",
  usage: "guard:PATH (a guard GGUF such as Llama Guard, or a JSON config {model, template, unsafe, safe})",
  async load(arg, { baseDir }) {
    return (await import("./guardModel.js")).loadGuardCostModel(arg, baseDir);
  },
});

/**
 * A spec's PATH as the kinds read it: a file relative to `baseDir` when there is one, else the file
 * the package ships under that name (`harm-classifier.bin`, `models/harm-classifier.bin`), so the
 * shipped cost models work from any folder (an app's cwd is not this package's). Else unchanged,
 * for the kind to report as missing.
 */
export function resolveCostModelPath(arg: string, baseDir: string): string {
  if (isAbsolute(arg) || existsSync(resolve(baseDir, arg))) return arg;
  return shippedFile(arg) ?? arg;
}

/**
 * Loads the cost model a spec names: `rules:PATH`, or a bare path ending in `.json` (rules). A
 * relative PATH is read from `baseDir` (default: the cwd), else from the files the package ships.
 */
export async function loadCostModel(spec: string, opts: LoadCostModelOptions = {}): Promise<CostModel> {
  const options: Required<LoadCostModelOptions> = { baseDir: resolve(opts.baseDir ?? process.cwd()) };
  const trimmed = spec.trim();
  // "kind:rest" with a kind of two or more characters ("C:\x.json" is a Windows path, not a kind).
  const m = /^([A-Za-z][A-Za-z0-9_-]+):(.*)$/s.exec(trimmed);
  if (m !== null) {
    const kind = kinds.get(m[1]!.toLowerCase());
    if (kind === undefined) {
      throw new UserError(`unknown cost model kind "${m[1]}" in "${spec}": supported are ${supported()}`);
    }
    const arg = m[2]!.trim();
    if (arg.length === 0) throw new UserError(`cost model spec "${spec}" is missing its argument: use ${kind.usage}`);
    return kind.load(resolveCostModelPath(arg, options.baseDir), options);
  }
  if (trimmed.length === 0) throw new UserError(`empty cost model spec: supported are ${supported()}`);
  if (trimmed.toLowerCase().endsWith(".json")) return kinds.get("rules")!.load(resolveCostModelPath(trimmed, options.baseDir), options);
  throw new UserError(`cannot tell what kind of cost model "${spec}" is: supported are ${supported()}`);
}

function supported(): string {
  return costModelKinds()
    .map((k) => k.usage)
    .join("; ");
}

/** Absolute path of the shipped conflict lexicon, models/conflict-lexicon.json. */
export const DEFAULT_COST_RULES: string = SHIPPED_FILES["conflict-lexicon.json"];
