// Flags that generate, batch and serve share: the search settings and the llama.cpp runtime.
import type { GpuOption } from "../engine/engine.js";
import { definedOnly } from "../util/objects.js";
import { choiceFlag, numberFlag, type OptionSpec } from "./args.js";

export { definedOnly };

type Values = Record<string, unknown>;

export const SEARCH_OPTIONS: OptionSpec = {
  budget: { type: "string" },
  beams: { type: "string" },
  samples: { type: "string" },
  width: { type: "string" },
  "max-resamples": { type: "string" },
  "on-unsafe": { type: "string" },
  "max-tokens": { type: "string" },
  "critic-weight": { type: "string" },
};

export const RUNTIME_OPTIONS: OptionSpec = {
  gpu: { type: "string" },
  threads: { type: "string" },
  "context-size": { type: "string" },
};

/** The search settings given on the command line (only those given, so defaults still apply). */
export function searchFlags(v: Values): Record<string, number | string> {
  return definedOnly({
    budget: numberFlag(v, "budget"),
    beams: numberFlag(v, "beams", "int"),
    samples: numberFlag(v, "samples", "int"),
    width: numberFlag(v, "width", "int"),
    maxResamples: numberFlag(v, "max-resamples", "int"),
    onUnsafe: choiceFlag(v, "on-unsafe", ["truncate", "refuse"] as const),
    maxTokens: numberFlag(v, "max-tokens", "int"),
    criticWeight: numberFlag(v, "critic-weight"),
  });
}

export function runtimeFlags(v: Values): { gpu: GpuOption; threads?: number; contextSize?: number } {
  const gpu = choiceFlag(v, "gpu", ["cpu", "auto", "cuda", "metal", "vulkan"] as const);
  return {
    gpu: gpu === undefined || gpu === "cpu" ? false : gpu,
    threads: numberFlag(v, "threads", "int"),
    contextSize: numberFlag(v, "context-size", "int"),
  };
}
