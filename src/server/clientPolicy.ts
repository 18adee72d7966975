// The trust boundary for settings: the library and `batch` are run by the operator, who may set
// anything; an HTTP client is not the operator. The operator's settings are ceilings: a request
// may make the search stricter (a lower budget, more beams or samples, a smaller max_tokens, a
// cost model the server offers it, refuse instead of truncate), never looser, unless the
// operator opens that setting (--allow-client-override, --allow-client-methods). Settings that
// only rank candidates or shape sampling (width, temperature, reward, critic weight, ...) cannot
// loosen the budget and stay free. Traces reach clients only when the operator allows, and then
// without the text of any candidate that went over budget.
import { ASSISTANT_COST_DEFAULT } from "../cost/defaults.js";
import type { Method } from "../createGuard.js";
import { ASSISTANT_COST_NAME, DEFAULT_COST_NAME, type CostModelSet } from "../cost/costModelSet.js";
import type { GuardField } from "../request/guardSettings.js";
import type { GuardOptions } from "../search/options.js";
import { isOverBudget } from "../search/safetyState.js";
import type { TraceBlock, TraceCandidate } from "../search/types.js";
import { SETTINGS } from "../settings.js";
import { CLIENT_METHODS, CLIENT_OVERRIDES, type ClientOverride, type ClientTrace, type ResolvedServerConfig } from "./config.js";

/** Why a request is refused: the field (OpenAI's `param`), the message, OpenAI's `code`. */
export interface PolicyRefusal {
  param: string;
  message: string;
  code: string;
}

/** What a request asks for, as the policy compares it with the server's settings. */
export interface PolicyRequest {
  chat: boolean;
  guard: GuardField | undefined;
  /** The length field the request set (max_tokens or max_completion_tokens) and its value. */
  maxTokens?: { field: string; value: number };
  /** The cost model the request is answered with (its own pick or the endpoint's default). */
  costName: string;
}

export class ClientPolicy {
  readonly overrides: ReadonlySet<ClientOverride>;
  readonly methods: readonly Method[];
  readonly trace: ClientTrace;
  readonly maxTokens: number;
  readonly beams: number;
  readonly samples: number;
  readonly onUnsafe: "truncate" | "refuse";

  constructor(
    config: Pick<ResolvedServerConfig, "allowClientOverride" | "allowClientMethods" | "clientTrace">,
    private readonly defaults: GuardOptions,
    private readonly costs: CostModelSet,
  ) {
    const all = config.allowClientOverride.includes("all");
    this.overrides = new Set(all ? CLIENT_OVERRIDES : (config.allowClientOverride as ClientOverride[]));
    this.methods = ["guard", ...(config.allowClientMethods.includes("all") ? CLIENT_METHODS : (config.allowClientMethods as Method[]))];
    this.trace = config.clientTrace;
    this.maxTokens = defaults.maxTokens ?? SETTINGS.maxTokens.default!;
    this.beams = defaults.beams ?? SETTINGS.beams.default!;
    this.samples = defaults.samples ?? SETTINGS.samples.default!;
    this.onUnsafe = defaults.onUnsafe ?? (SETTINGS.onUnsafe.default as "truncate" | "refuse");
  }

  /** The budget a request on `costName` gets when it sets none: the most it may ask for. */
  budgetFor(costName: string): number {
    return this.defaults.budget ?? (costName === ASSISTANT_COST_NAME ? ASSISTANT_COST_DEFAULT.budget : SETTINGS.budget.default!);
  }

  /**
   * Cost models a request may name: its endpoint's default and those the operator added with
   * --cost-model. The built-in model of the other prompt kind is not offered: a chat request
   * naming the story lexicon would escape the chat harm cost (--allow-client-override cost
   * offers every model).
   */
  costModelsFor(chat: boolean): string[] {
    const names = this.costs.names();
    if (this.overrides.has("cost")) return names;
    const own = this.costs.select(undefined, chat).name;
    return names.filter((name) => name === own || (name !== DEFAULT_COST_NAME && name !== ASSISTANT_COST_NAME));
  }

  /** The first setting of the request that is looser than the server's, or undefined. */
  check(request: PolicyRequest): PolicyRefusal | undefined {
    const g = request.guard ?? {};
    const open = (name: ClientOverride): boolean => this.overrides.has(name);
    const how = (name: ClientOverride): string => `the operator allows more with --allow-client-override ${name}`;
    if (g.method !== undefined && !this.methods.includes(g.method)) {
      return refusal("guard.method", `guard.method ${JSON.stringify(g.method)} is not allowed: this server answers with ${this.methods.join(", ")} (the operator allows baselines with --allow-client-methods ${CLIENT_METHODS.join(",")})`, "method_not_allowed");
    }
    if (g.trace === true && this.trace === "off") {
      return refusal("guard.trace", "guard.trace: this server sends no traces to clients (the operator allows them with --allow-client-trace)", "trace_not_allowed");
    }
    if (g.cost !== undefined) {
      const offered = this.costModelsFor(request.chat);
      if (!offered.includes(g.cost)) {
        return refusal("guard.cost", `guard.cost ${JSON.stringify(g.cost)} is not offered to ${request.chat ? "chat" : "completion"} requests: this server offers ${offered.join(", ")} (${how("cost")})`, "cost_model_not_offered");
      }
    }
    const budget = this.budgetFor(request.costName);
    if (g.budget !== undefined && g.budget > budget && !open("budget")) {
      return refusal("guard.budget", `guard.budget ${g.budget} is above this server's budget ${budget} for cost model "${request.costName}": a request may only lower it (${how("budget")})`);
    }
    if (g.beams !== undefined && g.beams < this.beams && !open("beams")) {
      return refusal("guard.beams", `guard.beams ${g.beams} is below this server's ${this.beams}: a request may search more, not less (${how("beams")})`);
    }
    if (g.samples !== undefined && g.samples < this.samples && !open("samples")) {
      return refusal("guard.samples", `guard.samples ${g.samples} is below this server's ${this.samples}: a request may search more, not less (${how("samples")})`);
    }
    if (g.onUnsafe === "truncate" && this.onUnsafe === "refuse" && !open("on-unsafe")) {
      return refusal("guard.onUnsafe", `guard.onUnsafe "truncate" is looser than this server's "refuse" (${how("on-unsafe")})`);
    }
    const length = request.maxTokens;
    if (length !== undefined && length.value > this.maxTokens && !open("max-tokens")) {
      return refusal(length.field, `${length.field} ${length.value} is above this server's limit of ${this.maxTokens} tokens (--max-tokens; ${how("max-tokens")})`);
    }
    return undefined;
  }

  /** What /health says a client may change. */
  summary(): object {
    const names = this.costs.names();
    return {
      maxBudget: Object.fromEntries(names.map((name) => [name, this.overrides.has("budget") ? null : this.budgetFor(name)])),
      maxTokens: this.overrides.has("max-tokens") ? null : this.maxTokens,
      minBeams: this.overrides.has("beams") ? null : this.beams,
      minSamples: this.overrides.has("samples") ? null : this.samples,
      onUnsafe: this.overrides.has("on-unsafe") || this.onUnsafe === "truncate" ? ["truncate", "refuse"] : ["refuse"],
      costModels: { chat: this.costModelsFor(true), completion: this.costModelsFor(false) },
      methods: this.methods,
      overrides: [...this.overrides],
      trace: this.trace,
    };
  }
}

function refusal(param: string, message: string, code = "looser_than_server"): PolicyRefusal {
  return { param, message, code };
}

/** A trace candidate as a client sees it: `added` only when the candidate stayed within budget; its length always. */
export type ClientTraceCandidate = Omit<TraceCandidate, "added"> & { added?: string; length: number };
export type ClientTraceBlock = Omit<TraceBlock, "candidates"> & { candidates: ClientTraceCandidate[] };

/** True when a candidate's text is text the guard refused to send: over budget, or cut mid-block for it. */
export function isUnsafeCandidate(c: TraceCandidate, budget: number | null): boolean {
  return c.status === "dropped: over budget" || c.stoppedMidBlock === true || (budget !== null && isOverBudget(c.cost, budget));
}

/** The trace without the text of any unsafe candidate (statuses, costs, z, rewards and lengths stay). */
export function redactTrace(trace: readonly TraceBlock[], budget: number | null): ClientTraceBlock[] {
  return trace.map((block) => ({
    ...block,
    candidates: block.candidates.map(({ added, ...rest }) => ({ ...rest, length: added.length, ...(isUnsafeCandidate({ added, ...rest }, budget) ? {} : { added }) })),
  }));
}
