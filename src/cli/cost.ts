// `inference-guard cost`: scores texts from a JSONL file with any cost model spec, one JSON line
// out per text in. A malformed input line is reported (with its line number) and skipped.
import { createReadStream, existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import { bindRequest, type CostModel } from "../cost/costModel.js";
import { STORY_COST_DEFAULT } from "../cost/defaults.js";
import { loadCostModel } from "../cost/load.js";
import { RulesCostModel } from "../cost/rules.js";
import { UserError } from "../errors.js";
import { writeFileAtomic } from "../util/files.js";
import { flagHelp, readFlags, type FlagTable } from "./flagTable.js";

const FLAGS = {
  in: { metavar: "FILE", help: 'JSONL texts to score ("-" reads standard input)', required: 'a JSONL file of {"text": ...} lines' },
  cost: {
    metavar: "SPEC",
    help: "cost model: rules:PATH, classifier:PATH, ... or a bare PATH.json\n",
    default: STORY_COST_DEFAULT.spec,
    defaultText: "rules:models/conflict-lexicon.json, the shipped lexicon",
  },
  out: { metavar: "FILE", help: "write the JSON lines to FILE (atomically) instead of standard output" },
} as const satisfies FlagTable;

export const COST_HELP = `Usage: inference-guard cost --in FILE [--cost SPEC] [--out FILE]

Scores every text of a JSONL file with a cost model and prints one JSON line per text:
  {"line": N, "cost": X}                       (plus "id" when the input line has one)
  {"line": N, "cost": X, "terms": [...]}       for rules models: the lexicon terms that matched
The cost is what the safety budget counts: the number of lexicon hits (rules), or the
probability that the text is unsafe (classifier, probe, guard, harm). See docs/cost-models.md.

Input lines look like {"text": "..."} (other fields are ignored, except "id", which is echoed,
and "request"). A request-aware model (harm:, the chat default) charges an answer to its request:
give it as {"text": ANSWER, "request": "the user's message"}; a line without one is charged as an
answer to no known request (the answer-harm classifier alone), and the summary says how many.
A line that is not such an object is reported on stderr with its line number and skipped;
blank lines are skipped silently. Exit status (as batch): 0 every line scored, 1 some lines
skipped, 2 a usage mistake.

Options:
${flagHelp(FLAGS)}
  -h, --help             this help
`;

export async function costCommand(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const { help, values: v } = readFlags(FLAGS, argv, (line) => err.write(`inference-guard cost: ${line}\n`));
  if (help) {
    out.write(COST_HELP);
    return 0;
  }
  const input = v.in;
  const inFile = input === "-" ? undefined : resolve(input);
  if (inFile !== undefined) {
    if (!existsSync(inFile)) throw new UserError(`input file not found: ${inFile}`);
    if (statSync(inFile).isDirectory()) throw new UserError(`input file is a directory: ${inFile}`);
  }
  const outFile = v.out;
  const model: CostModel = await loadCostModel(v.cost);
  const where = inFile ?? "stdin";
  const results: string[] = [];
  let scored = 0;
  let skipped = 0;
  let withoutRequest = 0;
  try {
    const lines = createInterface({ input: inFile === undefined ? process.stdin : createReadStream(inFile, "utf8"), crlfDelay: Infinity });
    let lineNo = 0;
    for await (const raw of lines) {
      lineNo++;
      const line = lineNo === 1 ? raw.replace(/^\uFEFF/, "") : raw;
      if (line.trim() === "") continue;
      const parsed = parseLine(line);
      if (typeof parsed === "string") {
        err.write(`inference-guard cost: ${where}:${lineNo}: ${parsed}; skipped\n`);
        skipped++;
        continue;
      }
      if (model.forRequest && parsed.request === undefined) withoutRequest++;
      const cost = await (parsed.request === undefined ? model : bindRequest(model, { prompt: parsed.request })).cost(parsed.text);
      const record: Record<string, unknown> = { line: lineNo };
      if (parsed.id !== undefined) record.id = parsed.id;
      record.cost = cost;
      if (model instanceof RulesCostModel) record.terms = model.matches(parsed.text).map((m) => m.term);
      const json = JSON.stringify(record);
      if (outFile === undefined) out.write(json + "\n");
      else results.push(json);
      scored++;
    }
  } finally {
    await (model as CostModel).dispose?.(); // (the instanceof test above narrows model here)
  }
  if (outFile !== undefined) writeFileAtomic(resolve(outFile), results.map((l) => l + "\n").join(""));
  err.write(`inference-guard cost: ${scored} text(s) scored with ${model.name}${skipped > 0 ? `, ${skipped} bad line(s) skipped` : ""}\n`);
  if (withoutRequest > 0) err.write(`inference-guard cost: ${withoutRequest} text(s) had no "request": charged as answers to no known request (answer harm only); add {"request": ...} to charge compliance with it\n`);
  // The same rule as batch: a skipped line is something a script should notice.
  return skipped > 0 ? 1 : 0;
}

/** The text (and id) of one input line, or why the line is unusable. */
function parseLine(line: string): { text: string; id?: unknown; request?: string } | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    return `not valid JSON (${(error as Error).message})`;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return 'expected a JSON object like {"text": "..."}';
  const obj = value as Record<string, unknown>;
  if (!("text" in obj)) return 'missing "text"';
  if (typeof obj.text !== "string") return `"text" must be a string, got ${obj.text === null ? "null" : typeof obj.text}`;
  if (obj.request !== undefined && typeof obj.request !== "string") return `"request" must be a string, got ${obj.request === null ? "null" : typeof obj.request}`;
  return { text: obj.text, ...(obj.id !== undefined ? { id: obj.id } : {}), ...(obj.request !== undefined ? { request: obj.request as string } : {}) };
}
