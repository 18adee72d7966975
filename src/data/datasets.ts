// Loaders for the labelled safety and toxicity data under ../shared/data (see its README), and
// the RFC 4180 CSV parser they read with. Every loader validates its rows with zod and refuses a
// missing or malformed file with a one-line UserError naming the file (and line).
//
// Label convention everywhere: 1 = unsafe (harmful answer, offensive text), 0 = safe.
import { readUserFile } from "../util/files.js";
import { join } from "node:path";
import { z } from "zod";
import { UserError, describeZodError } from "../errors.js";

// ---------------------------------------------------------------------------------------------
// CSV (RFC 4180)
//
// Hand-written on purpose (issue 24 asked for a maintained parser if smaller and as strict):
// csv-parse 6.2.1, tried on this file's test cases, is ~1,760 lines against ~110 here and not as
// strict in the way these files need. No option set both keeps a quote inside an unquoted field
// (5 "inch", common in the wild) and refuses text after a closing quote ("x"y): relax_quotes
// accepts both, the default refuses both. It fixes the record delimiter on the first one it meets
// (a later CR or CRLF stays in the field), and its errors and `info.lines` give the line where a
// record ends, where the refusals and row numbers here name the line (and column) it starts on.

/** A CSV syntax error, with the 1-based line and column where it was found. */
export class CsvError extends Error {
  override readonly name = "CsvError";
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`line ${line}, column ${column}: ${message}`);
  }
}

export interface CsvRow {
  /** 1-based line on which the row starts (a quoted field may span several lines). */
  line: number;
  fields: string[];
}

/**
 * Parses CSV text per RFC 4180: fields separated by commas, records by CRLF, LF or a lone CR;
 * a field in double quotes may hold commas, quotes (doubled: "") and line breaks, which are kept
 * exactly as written. Also: a leading UTF-8 byte-order mark is dropped; a missing final line
 * break is fine; empty lines between records are skipped; a quote inside an unquoted field is
 * kept as a literal character (common in the wild). Refused with a CsvError: a quoted field that
 * never closes, and text between a closing quote and the next comma or line break.
 */
export function parseCsv(text: string): CsvRow[] {
  const rows: CsvRow[] = [];
  const n = text.length;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  let lineStart = i;
  let fields: string[] = [];
  let rowLine = 1;
  let rowStarted = false;

  const endRow = (): void => {
    // A line with nothing on it is no record (not even one empty field).
    if (!(fields.length === 1 && fields[0] === "" && !rowStarted)) rows.push({ line: rowLine, fields });
    fields = [];
    rowStarted = false;
  };
  // Consumes a line break at i (CRLF, LF or CR); returns whether there was one.
  const lineBreak = (): boolean => {
    const c = text.charCodeAt(i);
    if (c === 10 || c === 13) {
      i += c === 13 && text.charCodeAt(i + 1) === 10 ? 2 : 1;
      line++;
      lineStart = i;
      return true;
    }
    return false;
  };

  while (i < n) {
    // Start of a field.
    if (fields.length === 0) rowLine = line;
    if (text.charCodeAt(i) === 34 /* " */) {
      rowStarted = true;
      const startLine = line;
      const startColumn = i - lineStart + 1;
      i++;
      let value = "";
      let from = i;
      for (;;) {
        if (i >= n) throw new CsvError("quoted field is never closed (missing closing quote)", startLine, startColumn);
        const c = text.charCodeAt(i);
        if (c === 34) {
          if (text.charCodeAt(i + 1) === 34) {
            value += text.slice(from, i + 1); // keep one quote of the pair
            i += 2;
            from = i;
            continue;
          }
          value += text.slice(from, i);
          i++;
          break;
        }
        if (c === 10 || (c === 13 && text.charCodeAt(i + 1) !== 10)) {
          line++;
          lineStart = i + 1;
        } else if (c === 13) {
          line++;
          lineStart = i + 2;
          i++; // CRLF: step over the CR here, the LF below
        }
        i++;
      }
      fields.push(value);
      if (i >= n) break;
      const c = text.charCodeAt(i);
      if (c === 44 /* , */) {
        i++;
        if (i >= n) fields.push(""); // "a", at the very end: a final empty field
        continue;
      }
      if (lineBreak()) {
        endRow();
        continue;
      }
      throw new CsvError(`unexpected ${JSON.stringify(text[i])} after a closing quote (expected a comma or a line break)`, line, i - lineStart + 1);
    }
    // Unquoted field: up to the next comma or line break.
    let j = i;
    while (j < n) {
      const c = text.charCodeAt(j);
      if (c === 44 || c === 10 || c === 13) break;
      j++;
    }
    if (j > i) rowStarted = true;
    fields.push(text.slice(i, j));
    i = j;
    if (i >= n) break;
    if (text.charCodeAt(i) === 44) {
      rowStarted = true;
      i++;
      if (i >= n) fields.push("");
      continue;
    }
    lineBreak();
    endRow();
  }
  if (fields.length > 0) endRow();
  return rows;
}

/** The rows of a CSV file as objects keyed by its header, with the line each row starts on. */
export interface CsvRecord {
  line: number;
  values: Record<string, string>;
}

/**
 * Reads a CSV file with a header row. Refuses (UserError naming file and line): a missing file,
 * bad CSV syntax, a header without one of `required`, a row whose field count differs from the
 * header's.
 */
export function readCsvRecords(path: string, required: readonly string[]): CsvRecord[] {
  const text = readText(path);
  let rows: CsvRow[];
  try {
    rows = parseCsv(text);
  } catch (error) {
    if (error instanceof CsvError) throw new UserError(`${path}: ${error.message}`, { cause: error });
    throw error;
  }
  if (rows.length === 0) throw new UserError(`${path}: empty CSV file (expected a header row)`);
  const header = rows[0]!.fields;
  const missing = required.filter((c) => !header.includes(c));
  if (missing.length > 0) {
    throw new UserError(`${path}: missing column(s) ${missing.map((c) => JSON.stringify(c)).join(", ")} (header: ${header.join(",")})`);
  }
  return rows.slice(1).map((row) => {
    if (row.fields.length !== header.length) {
      throw new UserError(`${path}: line ${row.line}: ${row.fields.length} fields, but the header has ${header.length}`);
    }
    const values: Record<string, string> = {};
    header.forEach((name, k) => (values[name] = row.fields[k]!));
    return { line: row.line, values };
  });
}

function readText(path: string): string {
  return readUserFile(path, "data file", "utf8");
}

/** Validates one record against a row schema; a failure names the file and line. */
function parseRecord<S extends z.ZodType>(schema: S, record: CsvRecord, path: string): z.infer<S> {
  const parsed = schema.safeParse(record.values);
  if (!parsed.success) throw new UserError(`${path}: line ${record.line}: ${describeZodError(parsed.error)}`);
  return parsed.data;
}

// ---------------------------------------------------------------------------------------------
// Labelled texts

/** One labelled text. */
export interface LabeledText {
  text: string;
  /** 1 = unsafe, 0 = safe. */
  label: 0 | 1;
  /** Which data set it comes from, e.g. "gptfuzz", "xstest/gpt4". */
  source: string;
}

const labelSchema = z.enum(["0", "1"], { error: "label must be 0 or 1" }).transform((v) => (v === "1" ? 1 : 0) as 0 | 1);

// GPTFuzz ---------------------------------------------------------------------------------------

const gptFuzzRowSchema = z.object({
  question: z.string().regex(/^\d+$/, "question must be a row index of question_list.csv"),
  Response: z.string(),
  label: labelSchema,
});

export interface GptFuzzResponse extends LabeledText {
  /** Index of the question in gptfuzz/question_list.csv. */
  question: number;
}

/**
 * GPTFuzz judge data: model responses to jailbreak prompts; label 1 = harmful (jailbroken)
 * answer, 0 = refusal. "train" has 6,160 rows, "evaluate" 1,540 (held out: never train on it).
 */
export function loadGptFuzz(dataDir: string, split: "train" | "evaluate"): GptFuzzResponse[] {
  const path = join(dataDir, "safety", "gptfuzz", `responses_${split}.csv`);
  return readCsvRecords(path, ["question", "Response", "label"]).map((r) => {
    const row = parseRecord(gptFuzzRowSchema, r, path);
    return { text: row.Response, label: row.label, source: `gptfuzz-${split}`, question: Number(row.question) };
  });
}

// XSTest ----------------------------------------------------------------------------------------

/** Models whose XSTest v2 answers ship in shared/data (xstest_v2_completions_MODEL.csv). */
export const XSTEST_MODELS = ["gpt4", "llama2new", "llama2orig", "mistralguard", "mistralinstruct"] as const;
export type XsTestModel = (typeof XSTEST_MODELS)[number];

const xsTestPromptSchema = z.object({
  id: z.string().regex(/^\d+$/, "id must be a number"),
  prompt: z.string(),
  type: z.string(),
  label: z.enum(["safe", "unsafe"]),
});

const xsTestFinalLabels = ["1_full_compliance", "2_full_refusal", "3_partial_refusal"] as const;

const xsTestCompletionSchema = z.object({
  id: z.string().regex(/^v2-\d+$/, 'id must look like "v2-N"'),
  completion: z.string(),
  final_label: z.enum(xsTestFinalLabels),
});

export interface XsTestPrompt {
  id: number;
  prompt: string;
  type: string;
  label: "safe" | "unsafe";
}

export interface XsTestAnswer extends LabeledText {
  model: XsTestModel;
  promptId: number;
  promptLabel: "safe" | "unsafe";
  /** The XSTest type of the prompt, e.g. "homonyms", "privacy_fictional". */
  type: string;
  finalLabel: (typeof xsTestFinalLabels)[number];
}

/** The 450 XSTest prompts (250 safe but scary-looking, 200 unsafe). */
export function loadXsTestPrompts(dataDir: string): XsTestPrompt[] {
  const path = join(dataDir, "safety", "xstest", "xstest_prompts.csv");
  return readCsvRecords(path, ["id", "prompt", "type", "label"]).map((r) => {
    const row = parseRecord(xsTestPromptSchema, r, path);
    return { id: Number(row.id), prompt: row.prompt, type: row.type, label: row.label };
  });
}

/**
 * One model's XSTest answers, joined to the prompts by id: an answer is unsafe (1) when its
 * prompt is unsafe and the answer fully complies (final_label 1_full_compliance); refusals,
 * partial refusals and every answer to a safe prompt are safe (0).
 */
export function loadXsTestAnswers(dataDir: string, model: XsTestModel, prompts?: XsTestPrompt[]): XsTestAnswer[] {
  const byId = new Map((prompts ?? loadXsTestPrompts(dataDir)).map((p) => [p.id, p]));
  const path = join(dataDir, "safety", "xstest", `xstest_v2_completions_${model}.csv`);
  return readCsvRecords(path, ["id", "completion", "final_label"]).map((r) => {
    const row = parseRecord(xsTestCompletionSchema, r, path);
    const promptId = Number(row.id.slice(3));
    const prompt = byId.get(promptId);
    if (prompt === undefined) throw new UserError(`${path}: line ${r.line}: id ${row.id} has no prompt in xstest_prompts.csv`);
    const unsafe = prompt.label === "unsafe" && row.final_label === "1_full_compliance";
    return {
      text: row.completion,
      label: unsafe ? 1 : 0,
      source: `xstest-${model}`,
      model,
      promptId,
      promptLabel: prompt.label,
      type: prompt.type,
      finalLabel: row.final_label,
    };
  });
}

// Prompt sets (refusal_direction) -------------------------------------------------------------

const promptSetSchema = z.array(z.object({ instruction: z.string(), category: z.string().nullable().optional() }));

/**
 * Harmful or harmless instructions (andyrdt/refusal_direction): requests, not answers. harmful
 * prompts are labelled 1, harmless 0. Sizes: harmful 260/39/572, harmless 18,793/6,264/6,266.
 */
export function loadPromptSet(dataDir: string, kind: "harmful" | "harmless", split: "train" | "val" | "test"): LabeledText[] {
  const path = join(dataDir, "safety", "prompts", `${kind}_${split}.json`);
  let json: unknown;
  try {
    json = JSON.parse(readText(path));
  } catch (error) {
    if (error instanceof UserError) throw error;
    throw new UserError(`${path} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  const parsed = promptSetSchema.safeParse(json);
  if (!parsed.success) throw new UserError(`${path}: ${describeZodError(parsed.error)}`);
  return parsed.data.map((p) => ({ text: p.instruction, label: kind === "harmful" ? 1 : 0, source: `prompts-${kind}` }));
}

// Davidson et al. tweets -----------------------------------------------------------------------

const davidsonRowSchema = z.object({
  class: z.enum(["0", "1", "2"], { error: "class must be 0 (hate), 1 (offensive) or 2 (neither)" }),
  tweet: z.string(),
});

export interface DavidsonTweet extends LabeledText {
  /** 0 hate speech, 1 offensive, 2 neither. */
  klass: 0 | 1 | 2;
}

/** Davidson et al. hate-speech tweets (24,783): class 0 hate / 1 offensive are unsafe, 2 neither is safe. */
export function loadDavidson(dataDir: string): DavidsonTweet[] {
  const path = join(dataDir, "toxicity", "davidson", "labeled_data.csv");
  return readCsvRecords(path, ["class", "tweet"]).map((r) => {
    const row = parseRecord(davidsonRowSchema, r, path);
    const klass = Number(row.class) as 0 | 1 | 2;
    return { text: row.tweet, label: klass === 2 ? 0 : 1, source: "davidson", klass };
  });
}
