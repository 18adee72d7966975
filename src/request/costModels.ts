// Named cost models for per-request selection (`guard: {cost: "NAME"}` in a request or a batch
// line): the server and batch look a request's model up with get() and pass it to that one
// guard.generate call. As a CostModel itself the set is its default model, so the Guard can own
// it (and dispose every model with it).
//
// Clients pick models by the names the operator configured, never by spec: a spec is a file path,
// and a network client must not make the server open files of its choosing.
import type { CostModel } from "../cost/costModel.js";
import { ASSISTANT_COST_DEFAULT, STORY_COST_DEFAULT } from "../cost/defaults.js";
import { loadCostModel } from "../cost/load.js";
import { UserError } from "../errors.js";

export const DEFAULT_COST_NAME = "default";
/** The built-in cost model for chat prompts, in a set whose operator named no default (--cost). */
export const ASSISTANT_COST_NAME = "assistant";
const RESERVED_NAMES = [DEFAULT_COST_NAME, ASSISTANT_COST_NAME];

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

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export class CostModelSet implements CostModel {
  private constructor(private readonly models: ReadonlyMap<string, CostModel>) {}

  /**
   * Loads every spec once, up front, so a bad file stops the server at startup rather than
   * failing the first request that names it. `specs` maps a name to a spec ("rules:PATH", ...);
   * it must contain DEFAULT_COST_NAME.
   */
  static async load(specs: Readonly<Record<string, string | CostModel>>): Promise<CostModelSet> {
    if (!(DEFAULT_COST_NAME in specs)) throw new Error(`cost model set needs a "${DEFAULT_COST_NAME}" entry`);
    const models = new Map<string, CostModel>();
    try {
      for (const [name, spec] of Object.entries(specs)) {
        if (!NAME_PATTERN.test(name)) throw new UserError(`invalid cost model name "${name}": use letters, digits, '.', '_' or '-'`);
        models.set(name, typeof spec === "string" ? await loadCostModel(spec) : spec);
      }
    } catch (error) {
      await Promise.all([...models.values()].map((m) => m.dispose?.()));
      throw error;
    }
    return new CostModelSet(models);
  }

  names(): string[] {
    return [...this.models.keys()];
  }

  has(name: string): boolean {
    return this.models.has(name);
  }

  /** The cost model called `name` (the default one when name is undefined). */
  get(name: string | undefined): CostModel {
    const model = this.models.get(name ?? DEFAULT_COST_NAME);
    if (model === undefined) throw new UserError(`unknown cost model "${name}": this server offers ${this.names().join(", ")}`);
    return model;
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
    return this.models.get(DEFAULT_COST_NAME)!;
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

  shareAmong(callers: number): void {
    for (const model of this.models.values()) model.shareAmong?.(callers);
  }

  async dispose(): Promise<void> {
    await Promise.all([...this.models.values()].map((m) => m.dispose?.()));
  }
}

/** Parses repeated `NAME=SPEC` flags into a name → spec map. */
export function parseNamedCostSpecs(entries: readonly string[]): Record<string, string> {
  const specs: Record<string, string> = {};
  for (const entry of entries) {
    const eq = entry.indexOf("=");
    const name = eq > 0 ? entry.slice(0, eq).trim() : "";
    const spec = eq > 0 ? entry.slice(eq + 1).trim() : "";
    if (name === "" || spec === "") throw new UserError(`--cost-model expects NAME=SPEC (e.g. strict=rules:strict.json), got "${entry}"`);
    if (!NAME_PATTERN.test(name)) throw new UserError(`invalid cost model name "${name}": use letters, digits, '.', '_' or '-'`);
    if (RESERVED_NAMES.includes(name)) throw new UserError(`--cost-model ${name}=... is reserved: set the default model with --cost`);
    if (name in specs) throw new UserError(`--cost-model "${name}" is given twice`);
    specs[name] = spec;
  }
  return specs;
}
