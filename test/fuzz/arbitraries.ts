// Generators for the fuzz suites (fast-check): request bodies for the server's routes, JSONL lines
// for batch and queue push, and the mutations that turn a good one into the inputs no one planned
// for (wrong types, huge numbers, NUL bytes, lone surrogates, deep nesting, truncated JSON).
//
// Runs: a fixed seed and a count that fits CI; INFERENCE_GUARD_FUZZ_RUNS=N multiplies the
// cases of every property N-fold (a long run), INFERENCE_GUARD_FUZZ_SEED=S picks another seed.
import fc from "fast-check";

export const FUZZ_SEED = Number(process.env.INFERENCE_GUARD_FUZZ_SEED ?? 20);
const SCALE = Math.max(1, Number(process.env.INFERENCE_GUARD_FUZZ_RUNS ?? 1));

/** fast-check parameters: the fixed seed, `runs` cases (times the long-run factor). */
export function fuzzParams(runs: number): fc.Parameters<unknown> {
  return { seed: FUZZ_SEED, numRuns: Math.round(runs * SCALE), endOnFailure: true };
}

/** Strings people do not plan for: NUL, lone surrogates, control and format characters, template tokens, long runs. */
export const weirdString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 20 }) },
  {
    weight: 3,
    arbitrary: fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 12 }).map((codes) => String.fromCharCode(...codes)), // lone surrogates included
  },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      "",
      "\u0000",
      "a\u0000b",
      "\ud800",
      "\udfff",
      "x\ud83d",
      "\ud83d\ude00",
      "\u202e\u200b\ufeff",
      "\r\n\t\u000b\u001b[31m",
      "</s>",
      "<|im_start|>user\n",
      "<|eot_id|>",
      "[INST]",
      "{{ messages }}",
      "\\",
      '"',
      "__proto__",
      "constructor",
      "x".repeat(5000),
      "Once upon a time",
    ),
  },
);

/** Numbers at the edges: 0 and -0, huge, tiny, unsafe integers, fractions where integers belong. */
export const weirdNumber: fc.Arbitrary<number> = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, -0, 1, -1, 0.5, 1e308, -1e308, 5e-324, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), 2 ** 31, 2 ** 32, 1e21, 4096, 8258, 1_000_000, 1_000_001, 1024, 1025, 256, 257, 64, 65),
);

const leaf: fc.Arbitrary<unknown> = fc.oneof(weirdString, weirdNumber, fc.boolean(), fc.constant(null));

/** Any JSON value, a few levels deep, with weird leaves. */
export const weirdJson: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: "small", withCrossShrink: true }, leaf, tie("array"), tie("object")),
  array: fc.array(tie("value"), { maxLength: 4 }),
  object: fc.dictionary(fc.oneof(weirdString, fc.constantFrom("role", "content", "type", "text", "budget", "beams")), tie("value"), { maxKeys: 4 }),
})).value;

/** A value nested `depth` arrays or objects deep (deep nesting). */
export function nested(depth: number, inner: unknown = 1, kind: "array" | "object" = "array"): unknown {
  let value: unknown = inner;
  for (let i = 0; i < depth; i++) value = kind === "array" ? [value] : { a: value };
  return value;
}

/**
 * Deep nesting, built only when serialized (JSON.stringify calls toJSON): fast-check prints a
 * failing case recursively, which a 5,000-deep value would overflow.
 */
export class Deep {
  constructor(
    readonly depth: number,
    readonly kind: "array" | "object",
  ) {}
  /** A placeholder that serialize() replaces with the nested JSON text (JSON.stringify itself recurses). */
  toJSON(): string {
    return `\u0001DEEP:${this.depth}:${this.kind}\u0001`;
  }
  [fc.toStringMethod](): string {
    return `Deep(${this.depth} ${this.kind}s)`;
  }
}

export const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: weirdJson },
  { weight: 1, arbitrary: fc.integer({ min: 50, max: 5000 }).map((d) => new Deep(d, "array")) },
  { weight: 1, arbitrary: fc.integer({ min: 50, max: 2000 }).map((d) => new Deep(d, "object")) },
);

/** Values a `guard` setting may get: mostly in range, often not. */
const guardSettingValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 8 }) },
  { weight: 2, arbitrary: fc.double({ min: 0, max: 2, noNaN: true }) },
  { weight: 2, arbitrary: anyValue },
  { weight: 1, arbitrary: fc.constantFrom("guard", "sample", "greedy", "truncate", "refuse", "auto", "always", "default", "assistant", "nope") },
);

const GUARD_KEYS = ["budget", "beams", "samples", "width", "cost", "method", "maxResamples", "penalty", "onUnsafe", "branch", "refusalText", "criticWeight", "violationPenalty", "topK", "trace", "maxTokens", "temperature", "topP", "seed", "bogus"];

export const guardField: fc.Arbitrary<Record<string, unknown>> = fc.dictionary(fc.constantFrom(...GUARD_KEYS), guardSettingValue, { maxKeys: 4 });

/** A request a client would send: a few standard fields at sensible values, sometimes a guard field. */
const sensible = {
  max_tokens: fc.integer({ min: 1, max: 12 }),
  temperature: fc.double({ min: 0, max: 2, noNaN: true }),
  top_p: fc.double({ min: 0.01, max: 1, noNaN: true }),
  seed: fc.nat(),
  stream: fc.boolean(),
  stream_options: fc.record({ include_usage: fc.boolean() }),
  stop: fc.oneof(fc.string({ minLength: 1, maxLength: 4 }), fc.array(fc.string({ minLength: 1, maxLength: 4 }), { maxLength: 4 })),
  user: fc.string({ maxLength: 10 }),
  ignore_eos: fc.boolean(),
  guard: fc.record(
    {
      beams: fc.integer({ min: 1, max: 4 }),
      samples: fc.integer({ min: 4, max: 16 }),
      width: fc.integer({ min: 1, max: 8 }),
      budget: fc.double({ min: 0.01, max: 2, noNaN: true }),
      method: fc.constantFrom("guard", "sample", "greedy"),
      onUnsafe: fc.constantFrom("truncate", "refuse"),
      branch: fc.constantFrom("auto", "always"),
      trace: fc.boolean(),
    },
    { requiredKeys: [] },
  ),
};

const goodMessage = fc.record({ role: fc.constantFrom("system", "developer", "user", "assistant"), content: fc.oneof(weirdString, fc.constant(null), fc.constant([{ type: "text", text: "hi" }])) });

const sensibleChat = fc.record(
  { model: fc.constantFrom("stories260K", "gpt-4o-mini", "x"), messages: fc.array(goodMessage, { minLength: 1, maxLength: 3 }), ...sensible },
  { requiredKeys: ["model", "messages"] },
);
const sensibleCompletion = fc.record(
  { model: fc.constantFrom("stories260K", "x"), prompt: fc.oneof(weirdString, fc.array(weirdString, { minLength: 1, maxLength: 1 })), echo: fc.boolean(), ...sensible },
  { requiredKeys: ["model", "prompt"] },
);

/** A change to one field of a body: a path (top-level, or inside guard / the first message) and what goes there. */
export interface FieldMutation {
  path: string[];
  value: unknown;
}

const CHAT_FIELDS = ["model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "seed", "stream", "stream_options", "n", "stop", "user", "frequency_penalty", "presence_penalty", "logit_bias", "ignore_eos", "guard", "logprobs", "top_logprobs", "response_format", "tools", "tool_choice", "functions", "function_call", "modalities", "audio", "reasoning_effort", "verbosity", "store", "metadata", "service_tier", "prediction"];
const COMPLETION_FIELDS = ["model", "prompt", "max_tokens", "temperature", "top_p", "seed", "stream", "stream_options", "n", "stop", "user", "frequency_penalty", "logit_bias", "ignore_eos", "guard", "echo", "best_of", "logprobs", "suffix"];
const MESSAGE_FIELDS = ["role", "content", "name", "refusal", "tool_calls", "function_call", "audio"];

function fieldMutation(fields: readonly string[], chat: boolean): fc.Arbitrary<FieldMutation> {
  const value = fc.oneof(anyValue, weirdNumber, weirdString, guardSettingValue);
  return fc.oneof(
    { weight: 4, arbitrary: fc.record({ path: fc.constantFrom(...fields).map((f) => [f]), value }) },
    { weight: 3, arbitrary: fc.record({ path: fc.constantFrom(...GUARD_KEYS).map((k) => ["guard", k]), value: guardSettingValue }) },
    ...(chat ? [{ weight: 2, arbitrary: fc.record({ path: fc.constantFrom(...MESSAGE_FIELDS).map((k) => ["messages", "0", k]), value }) }] : []),
  );
}

/** Sets (or, with undefined, deletes) the value at `path`, creating objects on the way. */
export function applyField(body: Record<string, unknown>, { path, value }: FieldMutation): Record<string, unknown> {
  // Copies only the objects on the path (a Deep elsewhere must stay a Deep).
  const copy: Record<string, unknown> = { ...body };
  let at: Record<string, unknown> = copy;
  for (const key of path.slice(0, -1)) {
    const next = at[key];
    at[key] = Array.isArray(next) ? [...next] : typeof next === "object" && next !== null && !(next instanceof Deep) ? { ...next } : {};
    at = at[key] as Record<string, unknown>;
  }
  at[path.at(-1)!] = value;
  return copy;
}

function mutated(base: fc.Arbitrary<Record<string, unknown>>, fields: readonly string[], chat: boolean): fc.Arbitrary<Record<string, unknown>> {
  return fc
    .tuple(base, fc.array(fieldMutation(fields, chat), { maxLength: 2 }), fc.boolean())
    .map(([body, changes, keep]) => (keep ? body : changes.reduce(applyField, body)));
}

/** Chat bodies: sensible ones as they are (about half), the rest with one or two fields changed to anything. */
export const chatBody: fc.Arbitrary<Record<string, unknown>> = mutated(sensibleChat, CHAT_FIELDS, true);
export const completionBody: fc.Arbitrary<Record<string, unknown>> = mutated(sensibleCompletion, COMPLETION_FIELDS, false);

/**
 * The settings of a fuzzed server that a request may only tighten (src/server/clientPolicy.ts):
 * its max_tokens, beams and samples, and its budget per prompt kind.
 */
export interface ServerLimits {
  maxTokens: number;
  beams: number;
  samples: number;
  budget: { chat: number; completion: number };
}

/** One change that makes a request looser than the server allows, and the field its 400 must name. */
export interface Loosening extends FieldMutation {
  param: string;
}

/**
 * Loosening values for one endpoint: a budget above the server's, a baseline method, a trace,
 * fewer beams or samples, a longer max_tokens, the other prompt kind's built-in cost model. A
 * default server refuses every one of them.
 */
export function loosening(limits: ServerLimits, chat: boolean): fc.Arbitrary<Loosening> {
  const ceiling = chat ? limits.budget.chat : limits.budget.completion;
  const at = (path: string[], value: fc.Arbitrary<unknown>): fc.Arbitrary<Loosening> => value.map((v) => ({ path, value: v, param: path.join(".") }));
  return fc.oneof(
    at(["guard", "budget"], fc.oneof(fc.double({ min: ceiling * (1 + 1e-9), max: 1e9, noNaN: true }), fc.constantFrom(ceiling * 2, ceiling + 0.001, 50, 1e300))),
    at(["guard", "method"], fc.constantFrom("sample", "greedy")),
    at(["guard", "trace"], fc.constant(true)),
    at(["guard", "beams"], fc.integer({ min: 1, max: limits.beams - 1 })),
    at(["guard", "samples"], fc.integer({ min: Math.max(1, limits.beams), max: limits.samples - 1 })),
    at(["max_tokens"], fc.oneof(fc.integer({ min: limits.maxTokens + 1, max: 1_000_000 }), fc.constant(limits.maxTokens + 1))),
    at(["guard", "cost"], fc.constant(chat ? "default" : "assistant")),
  );
}

/** A sensible body (as a client sends it, guard settings within the server's limits or absent) with one loosening applied. */
export function loosenedBody(limits: ServerLimits, chat: boolean): fc.Arbitrary<{ body: Record<string, unknown>; change: Loosening }> {
  const within = fc.record(
    {
      beams: fc.integer({ min: limits.beams, max: limits.beams + 2 }),
      width: fc.integer({ min: 1, max: 8 }),
      budget: fc.double({ min: 0.01, max: chat ? limits.budget.chat : limits.budget.completion, noNaN: true }),
      onUnsafe: fc.constantFrom("truncate", "refuse"),
      branch: fc.constantFrom("auto", "always"),
    },
    { requiredKeys: [] },
  );
  const base = chat ? sensibleChat : sensibleCompletion;
  return fc
    .tuple(base, fc.option(within, { nil: undefined }), loosening(limits, chat), fc.integer({ min: 1, max: limits.maxTokens }))
    .map(([body, guard, change, maxTokens]) => {
      const start = { ...(body as Record<string, unknown>), max_tokens: maxTokens, ...(guard === undefined ? { guard: undefined } : { guard: { ...guard, samples: limits.samples + 1 } }) };
      return { body: applyField(start, change), change };
    });
}

/** What can be done to a serialized body before it is sent. */
export type TextMutation =
  | { kind: "none" }
  | { kind: "truncate"; at: number }
  | { kind: "insert"; at: number; text: string }
  | { kind: "hugeNumber"; which: number; literal: string }
  | { kind: "extraKey"; key: string; value: unknown }
  | { kind: "dropKey"; which: number };

export const textMutation: fc.Arbitrary<TextMutation> = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ kind: "none" as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), text: fc.constantFrom("\u0000", "\\u0000", ",", "}", "\"", "\\", "\ud800", "\\ud800", "\\udfff\\ud800", "NaN", "Infinity", "undefined", "/*x*/", "\n") }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("hugeNumber" as const), which: fc.nat(), literal: fc.constantFrom("1e400", "-1e400", "1e-400", "123456789012345678901234567890", "-0", "0.0000000000000000000001", "9007199254740993", "1.5", "-1") }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("extraKey" as const), key: fc.oneof(weirdString, fc.constantFrom("__proto__", "constructor", "prototype", "model", "guard")), value: anyValue }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("dropKey" as const), which: fc.nat() }) },
);

/** JSON.stringify, with each Deep written out as nested JSON text. */
export function stringify(value: unknown): string {
  return JSON.stringify(value).replace(/"\\u0001DEEP:(\d+):(array|object)\\u0001"/g, (_m, depth: string, kind: string) => {
    const d = Number(depth);
    return kind === "array" ? "[".repeat(d) + "1" + "]".repeat(d) : '{"a":'.repeat(d) + '"x"' + "}".repeat(d);
  });
}

/** Serializes `body` and applies `mutation` (to the object or to the JSON text). */
export function serialize(body: Record<string, unknown>, mutation: TextMutation): string {
  if (mutation.kind === "extraKey") {
    // JSON text, so "__proto__" is a real key and not a prototype change.
    const inner = stringify(body);
    const extra = `${stringify(mutation.key)}:${stringify(mutation.value) ?? "null"}`;
    return inner === "{}" ? `{${extra}}` : `{${extra},${inner.slice(1)}`;
  }
  if (mutation.kind === "dropKey") {
    const keys = Object.keys(body);
    if (keys.length === 0) return "{}";
    const { [keys[mutation.which % keys.length]!]: _dropped, ...rest } = body;
    return stringify(rest);
  }
  const text = stringify(body);
  switch (mutation.kind) {
    case "none":
      return text;
    case "truncate":
      return text.slice(0, mutation.at % Math.max(1, text.length));
    case "insert": {
      const at = mutation.at % (text.length + 1);
      return text.slice(0, at) + mutation.text + text.slice(at);
    }
    case "hugeNumber": {
      const numbers = [...text.matchAll(/(?<=[:,[])-?\d+(\.\d+)?([eE][-+]?\d+)?(?=[,}\]])/g)];
      if (numbers.length === 0) return text;
      const m = numbers[mutation.which % numbers.length]!;
      return text.slice(0, m.index) + mutation.literal + text.slice(m.index! + m[0].length);
    }
  }
}

/** Content types a client might send, right and wrong. */
export const contentType: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 12, arbitrary: fc.constant("application/json") },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      undefined,
      "application/json; charset=utf-8",
      "APPLICATION/JSON",
      "application/json; charset=utf-16",
      "application/json;charset=latin1",
      "text/plain",
      "text/plain; charset=utf-8",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      "application/vnd.api+json",
      "application/octet-stream",
      "",
      "*/*",
      "json",
    ),
  },
);

const sensibleRow: fc.Arbitrary<Record<string, unknown>> = fc.tuple(
  fc.oneof(fc.string({ minLength: 1, maxLength: 8 }), fc.nat()),
  fc.oneof(fc.record({ prompt: fc.string({ minLength: 1, maxLength: 20 }) }), fc.record({ messages: fc.array(goodMessage, { minLength: 1, maxLength: 2 }) })),
  fc.option(fc.record({ maxTokens: fc.integer({ min: 1, max: 64 }), temperature: fc.double({ min: 0, max: 2, noNaN: true }), seed: fc.nat() }, { requiredKeys: [] }), { nil: undefined }),
).map(([id, input, guard]) => ({ id, ...input, ...(guard === undefined ? {} : { guard }) }));

const ROW_FIELDS = ["id", "prompt", "messages", "guard", "extra"];

/** One JSONL input line for batch / queue push: mostly a row (often with a field changed to anything), sometimes not JSON at all. */
export const batchLine: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .tuple(sensibleRow, fc.array(fc.oneof(fieldMutation(ROW_FIELDS, false), fc.record({ path: fc.constantFrom(...GUARD_KEYS).map((k) => ["guard", k]), value: guardSettingValue })), { maxLength: 2 }), fc.boolean(), textMutation)
      .map(([row, changes, keep, mutation]) => serialize(keep ? row : changes.reduce(applyField, row), mutation)),
  },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 30 }) },
  { weight: 1, arbitrary: fc.constantFrom("", " ", "\r", "\ufeff{}", "{}", "[]", "null", "1", '"x"', '{"id":1,"prompt":"a"}\r', '{"id":"\\ud800","prompt":"a"}', '{"id":"a\\nb","prompt":"a","x\\ny":1}') },
);
