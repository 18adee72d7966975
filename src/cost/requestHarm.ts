// The "harm" cost model (issue 26, the chat default): a harmful answer as HarmBench counts it, one
// that reads harmful OR complies with a harmful request:
//
//     cost(request, text) = 1 - (1 - a(text)) * (1 - h(request) * c(text))
//
// a = P(the answer reads harmful), h = P(the request is harmful), c = P(the answer complies rather
// than refuses): three hashed n-gram classifiers (classifier/), each a file named with its sha256
// in a small JSON (`harm:models/chat-harm.json`). The request is bound once per generation
// (CostModel.forRequest); without one, h = 0 and the model charges a alone (answer harm only),
// which is what `inference-guard cost` does on bare texts unless a line names its request.
// a("") = c("") = 0, so the empty text costs 0 and an answer's block charges add up to at least
// its final cost (costModel.ts). No settled cost: a and c can both fall as the text grows.
import { createHash } from "node:crypto";
import { dirname, isAbsolute, resolve } from "node:path";
import { z } from "zod";
import { UserError, describeZodError } from "../errors.js";
import { sha256HexSchema } from "../util/fileHash.js";
import { readUserFile } from "../util/files.js";
import { TextClassifier } from "./classifier/classifier.js";
import { decodeClassifier } from "./classifier/classifierFormat.js";
import { type CostModel, type StepItem, batchedStepCosts } from "./costModel.js";

export const HARM_COST_FORMAT = "inference-guard-harm-cost";
export const HARM_COST_FORMAT_VERSION = 1;

const classifierRef = z.object({
  /** A classifier file, relative to the JSON's folder. */
  file: z.string().min(1),
  sha256: sha256HexSchema,
}).strict();

export const harmCostFileSchema = z.object({
  format: z.literal(HARM_COST_FORMAT),
  version: z.literal(HARM_COST_FORMAT_VERSION),
  /** The one combination: 1 - (1 - a) * (1 - h * c) (the HarmBench definition, chosen a priori). */
  rule: z.literal("noisy-or"),
  answer: classifierRef,
  request: classifierRef,
  compliance: classifierRef,
  note: z.string().optional(),
}).strict();
export type HarmCostFile = z.infer<typeof harmCostFileSchema>;

/** The three classifiers of a harm cost model. */
interface HarmParts {
  answer: TextClassifier;
  request: TextClassifier;
  compliance: TextClassifier;
}

export class RequestHarmCostModel implements CostModel {
  readonly maxCost = 1;

  /** `harmOfRequest`: h of the bound request; 0 when none is bound (then cost = a). */
  constructor(
    readonly name: string,
    private readonly parts: HarmParts,
    readonly harmOfRequest = 0,
  ) {}

  /** The model for answers to `request` (the last user message's text, or a completion prompt). */
  forRequest(request: string): RequestHarmCostModel {
    return new RequestHarmCostModel(this.name, this.parts, this.parts.request.score([request])[0]!);
  }

  cost(text: string): number {
    return this.scoreAll([text])[0]!;
  }

  /** max(0, cost(prefix + added) - cost(prefix)) per item; one native call per classifier. */
  stepCosts(items: ReadonlyArray<StepItem>): number[] {
    return batchedStepCosts(items, (texts) => this.scoreAll(texts));
  }

  private scoreAll(texts: ReadonlyArray<string>): Float64Array {
    const a = this.parts.answer.score(texts);
    const h = this.harmOfRequest;
    if (h === 0) return a;
    const c = this.parts.compliance.score(texts);
    for (let i = 0; i < a.length; i++) a[i] = 1 - (1 - a[i]!) * (1 - h * c[i]!);
    return a;
  }
}

/** Reads and checks a harm cost file; every problem is a one-line UserError. */
export function readHarmCostFile(path: string): HarmCostFile {
  let json: unknown;
  try {
    json = JSON.parse(readUserFile(path, "harm cost file", "utf8"));
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`${path}: not JSON (${(e as Error).message.split("\n")[0]})`);
  }
  const parsed = harmCostFileSchema.safeParse(json);
  if (!parsed.success) throw new UserError(`${path}: not a harm cost file: ${describeZodError(parsed.error)}`);
  return parsed.data;
}

/** The cost model of spec `harm:PATH`. */
export async function loadHarmCostModel(arg: string, baseDir: string): Promise<CostModel> {
  const path = isAbsolute(arg) ? arg : resolve(baseDir, arg);
  const file = readHarmCostFile(path);
  const load = (role: keyof Pick<HarmCostFile, "answer" | "request" | "compliance">): TextClassifier => {
    const ref = file[role];
    const at = resolve(dirname(path), ref.file);
    const bytes = readUserFile(at, `${role} classifier of ${path}`);
    const sha = createHash("sha256").update(bytes).digest("hex");
    if (sha !== ref.sha256) throw new UserError(`${path}: ${role} classifier ${ref.file} has sha256 ${sha.slice(0, 12)}..., the file pins ${ref.sha256.slice(0, 12)}... (rebuild with scripts/cost/build-chat-cost.sh or fix the pin)`);
    return TextClassifier.fromSpec(decodeClassifier(bytes, at), at);
  };
  return new RequestHarmCostModel(`harm:${path}`, { answer: load("answer"), request: load("request"), compliance: load("compliance") });
}

