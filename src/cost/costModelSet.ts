// Named cost models for per-request selection (`guard: {cost: "NAME"}` in a request or a batch
// line): the server and batch look a request's model up with get() and pass it to that one
// guard.generate call. As a CostModel itself the set is its default model, so the Guard can own
// it (and dispose every model with it). The names, their rule and the loading are the one
// named-model registry's (src/util/namedModels.ts), shared with the reward models.
import type { CostModel } from "./costModel.js";
import { ASSISTANT_COST_DEFAULT, STORY_COST_DEFAULT } from "./defaults.js";
import { loadCostModel } from "./load.js";
import { NamedModels, parseNamedSpecs, type NamedModelKind } from "../util/namedModels.js";

export const DEFAULT_COST_NAME = "default";
/** The built-in cost model for chat prompts, in a set whose operator named no default (--cost). */
export const ASSISTANT_COST_NAME = "assistant";
const RESERVED_NAMES = [DEFAULT_COST_NAME, ASSISTANT_COST_NAME];

const COST_MODELS: NamedModelKind<CostModel> = { noun: "cost", offeredBy: "server", reserved: [], load: loadCostModel, dispose: (m) => m.dispose?.() };

/**
 * The cost models of a server, batch or worker: the operator's default (--cost) and named ones
 * (--cost-model). Without --cost, each prompt kind gets its own built-in default
 * (src/cost/defaults.ts): "default" for completion prompts, "assistant" for chat prompts.
 */
export function costModelSpecs<T extends string | CostModel>(defaultSpec: T | undefined, named: Readonly<Record<string, T>> = {}): Record<string, T | string> {
  if (defaultSpec !== undefined) return { [DEFAULT_COST_NAME]: defaultSpec, ...named };
  return { [DEFAULT_COST_NAME]: STORY_COST_DEFAULT.spec, [ASSISTANT_COST_NAME]: ASSISTANT_COST_DEFAULT.spec, ...named };
}

/** The cost model a request is answered with, and the budget that goes with it when the request sets none. */
export interface SelectedCostModel {
  name: string;
  /** For guard.generate: the model, and the budget when the request or the model sets one. */
  options: { cost: CostModel; budget?: number };
}

export class CostModelSet implements CostModel {
  private constructor(private readonly models: NamedModels<CostModel>) {}

  /**
   * Loads every spec once, up front, so a bad file stops the server at startup rather than
   * failing the first request that names it. `specs` maps a name to a spec ("rules:PATH", ...);
   * it must contain DEFAULT_COST_NAME.
   */
  static async load(specs: Readonly<Record<string, string | CostModel>>): Promise<CostModelSet> {
    if (!(DEFAULT_COST_NAME in specs)) throw new Error(`cost model set needs a "${DEFAULT_COST_NAME}" entry`);
    return new CostModelSet(await NamedModels.load(COST_MODELS, specs));
  }

  names(): string[] {
    return this.models.names();
  }

  has(name: string): boolean {
    return this.models.has(name);
  }

  /** The cost model called `name` (the default one when name is undefined). */
  get(name: string | undefined): CostModel {
    return this.models.get(name ?? DEFAULT_COST_NAME);
  }

  /**
   * The model named by a request, else the default for its kind of prompt: chat prompts get the
   * built-in assistant model when the set has one. A budget the request sets wins; else the
   * assistant model brings its own, and the others leave the library's default.
   */
  select(name: string | undefined, chat: boolean, requestBudget?: number): SelectedCostModel {
    const chosen = name ?? (chat && this.models.has(ASSISTANT_COST_NAME) ? ASSISTANT_COST_NAME : DEFAULT_COST_NAME);
    const budget = requestBudget ?? (chosen === ASSISTANT_COST_NAME ? ASSISTANT_COST_DEFAULT.budget : undefined);
    return { name: chosen, options: { cost: this.get(chosen), ...(budget !== undefined ? { budget } : {}) } };
  }

  private current(): CostModel {
    return this.models.get(DEFAULT_COST_NAME);
  }

  get name(): string {
    return this.current().name;
  }

  get maxCost(): number | undefined {
    return this.current().maxCost;
  }

  cost(text: string): number | Promise<number> {
    return this.current().cost(text);
  }

  stepCosts(items: ReadonlyArray<{ prefix: string; added: string }>): number[] | Promise<number[]> {
    return this.current().stepCosts(items);
  }

  /** The default model's settled step cost, when it has one (a getter: absent when it has not). */
  get settledStepCost(): ((prefix: string, added: string) => number) | undefined {
    const model = this.current();
    return model.settledStepCost?.bind(model);
  }

  /** The default model bound to a request, when it takes one (a getter: absent when it does not). */
  get forRequest(): ((request: string) => CostModel) | undefined {
    const model = this.current();
    return model.forRequest?.bind(model);
  }

  shareAmong(callers: number): void {
    for (const model of this.models.values()) model.shareAmong?.(callers);
  }

  /** Every model of the set, ready-made ones too: the guard that owns the set owns them. */
  async dispose(): Promise<void> {
    await this.models.dispose(true);
  }
}

/** Parses repeated `--cost-model NAME=SPEC` flags into a name → spec map. */
export function parseNamedCostSpecs(entries: readonly string[]): Record<string, string> {
  return parseNamedSpecs("--cost-model", "cost", entries, { example: "strict=rules:strict.json", reserved: RESERVED_NAMES, reservedHint: "set the default model with --cost" });
}
