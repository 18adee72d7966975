// The one registry of named models: the cost models and reward models an operator names
// (`--cost-model NAME=SPEC`, `--reward-model NAME=SPEC`, createGuard's rewardModels) and a request
// picks by name. One name rule, one NAME=SPEC parser, one "unknown name" message, and the models
// this registry loaded from specs released with it (objects given ready-made stay the caller's).
//
// Clients pick models by the names the operator configured, never by spec: a spec is a file path,
// and a network client must not make the server open files of its choosing.
import { UserError } from "../errors.js";

/** A model name: letters, digits, '.', '_' or '-', at most 64 characters, not starting with a punctuation mark. */
export const MODEL_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface NamedModelKind<T> {
  /** "cost" or "reward": how messages name it. */
  noun: string;
  /** Who offers the names, in the unknown-name message ("this server offers ..."). */
  offeredBy: string;
  /** Names the caller provides itself (e.g. "logprob"), never configured in the registry. */
  reserved: readonly string[];
  load(spec: string): Promise<T>;
  dispose(model: T): unknown;
}

/** Throws the one-line UserError for a name that is malformed or reserved. */
export function checkModelName(noun: string, name: string, reserved: readonly string[] = []): void {
  if (!MODEL_NAME_PATTERN.test(name) || reserved.includes(name)) {
    throw new UserError(`invalid ${noun} model name "${name}": use letters, digits, '.', '_' or '-'${reserved.length > 0 ? `, not ${reserved.join(" or ")}` : ""}`);
  }
}

/**
 * Repeated `NAME=SPEC` flag values (`flag` e.g. "--cost-model") as a name -> spec map; a malformed
 * entry, a bad or reserved name or a name given twice is a one-line UserError naming the flag.
 */
export function parseNamedSpecs(flag: string, noun: string, entries: readonly string[], o: { example: string; reserved?: readonly string[]; reservedHint?: string }): Record<string, string> {
  const specs: Record<string, string> = {};
  for (const entry of entries) {
    const eq = entry.indexOf("=");
    const name = eq > 0 ? entry.slice(0, eq).trim() : "";
    const spec = eq > 0 ? entry.slice(eq + 1).trim() : "";
    if (name === "" || spec === "") throw new UserError(`${flag} expects NAME=SPEC (e.g. ${o.example}), got "${entry}"`);
    checkModelName(noun, name);
    if (o.reserved?.includes(name)) throw new UserError(`${flag} ${name}=... is reserved${o.reservedHint ? `: ${o.reservedHint}` : ""}`);
    if (name in specs) throw new UserError(`${flag} "${name}" is given twice`);
    specs[name] = spec;
  }
  return specs;
}

export class NamedModels<T> {
  private constructor(
    private readonly kind: NamedModelKind<T>,
    private readonly models: ReadonlyMap<string, T>,
    /** The models loaded here from specs (the registry releases them). */
    readonly owned: readonly T[],
  ) {}

  /**
   * Loads every spec once, up front, so a bad file stops the server at startup rather than failing
   * the first request that names it; on a failure the models loaded so far are released.
   */
  static async load<T>(kind: NamedModelKind<T>, specs: Readonly<Record<string, string | T>>): Promise<NamedModels<T>> {
    const models = new Map<string, T>();
    const owned: T[] = [];
    try {
      for (const [name, spec] of Object.entries(specs)) {
        checkModelName(kind.noun, name, kind.reserved);
        const model = typeof spec === "string" ? await kind.load(spec) : spec;
        if (typeof spec === "string") owned.push(model);
        models.set(name, model);
      }
    } catch (error) {
      await Promise.all(owned.map((m) => kind.dispose(m)));
      throw error;
    }
    return new NamedModels(kind, models, owned);
  }

  names(): string[] {
    return [...this.models.keys()];
  }

  has(name: string): boolean {
    return this.models.has(name);
  }

  /** The model called `name`; an unknown name is a UserError listing `offered` (default: these names). */
  get(name: string, offered: readonly string[] = this.names()): T {
    const model = this.models.get(name);
    if (model === undefined) throw new UserError(`unknown ${this.kind.noun} model "${name}": this ${this.kind.offeredBy} offers ${offered.join(", ")}`);
    return model;
  }

  values(): T[] {
    return [...this.models.values()];
  }

  /** Releases the models loaded from specs (`all`: the ones given ready-made too). */
  async dispose(all = false): Promise<void> {
    await Promise.all((all ? this.values() : this.owned).map((m) => this.kind.dispose(m)));
  }
}
