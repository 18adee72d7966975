// The evaluation's records: one JSON line per (prompt, method, seed) in the durable log of
// src/util/durableLog.ts, so after a crash or a full disk a line is whole or absent. A restarted
// run skips every key already recorded; the report is always derived from these lines.
// DIR/run.json pins the settings that make records comparable (model, cost model, budget, ...):
// reopening DIR with other settings is refused instead of mixing two runs in one report.
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { UserError, describeZodError } from "../errors.js";
import { DurableLog } from "../util/durableLog.js";
import { writeFileAtomic } from "../util/files.js";
import { PROMPT_LABELS } from "./prompts.js";

export const RECORDS_FILE = "records.jsonl";
export const RUN_FILE = "run.json";
/** 2: guard methods default to branch "auto" (a version-1 folder's guard records searched every block). */
export const RUN_FORMAT_VERSION = 2;

export const evalRecordSchema = z
  .object({
    /** Index of the prompt in the prompts file. */
    prompt: z.number().int().min(0),
    promptHash: z.string(),
    label: z.enum(PROMPT_LABELS).optional(),
    method: z.string(),
    seed: z.number().int().min(0),
    text: z.string(),
    /** Mean token log-probability of the answer under the base model (0 for an empty answer). */
    reward: z.number(),
    /** cost(text): the cumulative cost of the final answer. */
    cost: z.number(),
    /** Highest cumulative (charged) cost along the answer, scanned block by block. */
    maxCumulativeCost: z.number(),
    /** cost <= budget. */
    withinBudget: z.boolean(),
    tokens: z.number().int().min(0),
    /** Wall-clock seconds of the method's call. */
    seconds: z.number().min(0),
    stopReason: z.string(),
    /** The method gave up on a safe continuation and ended early or refused. */
    fallback: z.boolean(),
    resamples: z.number().int().min(0),
  })
  .strict();

export type EvalRecord = z.infer<typeof evalRecordSchema>;

/** The settings a run's records depend on; a different value makes old records incomparable. */
export const runFingerprintSchema = z
  .object({
    model: z.string(),
    modelBytes: z.number(),
    cost: z.string(),
    /** The reward every answer is scored by (absent in runs made before rewards: logprob). */
    reward: z.string().default("logprob"),
    critic: z.string().nullable(),
    budget: z.number(),
    maxTokens: z.number(),
    chat: z.boolean(),
    system: z.string().nullable(),
    scanWidth: z.number(),
  })
  .strict();
export type RunFingerprint = z.infer<typeof runFingerprintSchema>;

const runFileSchema = z.object({ version: z.literal(RUN_FORMAT_VERSION), fingerprint: runFingerprintSchema }).strict();

export function recordKey(r: { prompt: number; method: string; seed: number }): string {
  return `${r.prompt}\t${r.method}\t${r.seed}`;
}

export class RecordStore {
  private readonly records = new Map<string, EvalRecord>();
  private log: DurableLog | undefined;

  private constructor(readonly dir: string) {}

  /** Opens (or creates) DIR's records; refuses records of a run with other settings. */
  static open(dir: string, fingerprint: RunFingerprint): RecordStore {
    try {
      mkdirSync(dir, { recursive: true });
    } catch (error) {
      throw new UserError(`cannot create the output folder ${dir}: ${(error as Error).message}`);
    }
    const store = new RecordStore(dir);
    store.checkRunFile(fingerprint);
    store.load();
    return store;
  }

  private checkRunFile(fingerprint: RunFingerprint): void {
    const path = join(this.dir, RUN_FILE);
    if (!existsSync(path)) {
      writeFileAtomic(path, JSON.stringify({ version: RUN_FORMAT_VERSION, fingerprint }, null, 2) + "\n");
      return;
    }
    let parsed: z.infer<typeof runFileSchema>;
    try {
      const raw = JSON.parse(readFileSync(path, "utf8"));
      if (typeof raw?.version === "number" && raw.version !== RUN_FORMAT_VERSION) {
        throw new UserError(
          `${this.dir} holds an eval run of another inference-guard version (run format ${raw.version}, this one writes ${RUN_FORMAT_VERSION}: ` +
            `guard methods now default to branch auto), so its records cannot be resumed: use another --out or remove the folder`,
        );
      }
      const result = runFileSchema.safeParse(raw);
      if (!result.success) throw new Error(describeZodError(result.error));
      parsed = result.data;
    } catch (error) {
      if (error instanceof UserError) throw error;
      throw new UserError(`${path} is corrupt (${(error as Error).message}); remove the folder or use another --out`);
    }
    const differing = (Object.keys(fingerprint) as (keyof RunFingerprint)[]).filter((k) => parsed.fingerprint[k] !== fingerprint[k]);
    if (differing.length > 0) {
      const what = differing.map((k) => `${k} ${JSON.stringify(parsed.fingerprint[k])} -> ${JSON.stringify(fingerprint[k])}`).join(", ");
      throw new UserError(`${this.dir} holds records of a run with other settings (${what}); use another --out to compare`);
    }
  }

  private load(): void {
    const path = join(this.dir, RECORDS_FILE);
    const { log, lines } = DurableLog.open(path);
    this.log = log;
    lines.forEach((line, i) => {
      let json: unknown;
      try {
        json = JSON.parse(line);
      } catch {
        throw new UserError(`${path}:${i + 1} is not valid JSON; remove the line (or the folder) to go on`);
      }
      const parsed = evalRecordSchema.safeParse(json);
      if (!parsed.success) throw new UserError(`${path}:${i + 1}: ${describeZodError(parsed.error)}`);
      const key = recordKey(parsed.data);
      if (this.records.has(key)) throw new UserError(`${path}:${i + 1} repeats prompt ${parsed.data.prompt}, method ${parsed.data.method}, seed ${parsed.data.seed}`);
      this.records.set(key, parsed.data);
    });
  }

  has(key: string): boolean {
    return this.records.has(key);
  }

  get(key: string): EvalRecord | undefined {
    return this.records.get(key);
  }

  all(): EvalRecord[] {
    return [...this.records.values()];
  }

  /** Appends one record as one whole line, durably (a refused write is a one-line UserError; the file keeps whole lines). */
  append(record: EvalRecord): void {
    if (this.log === undefined) throw new Error("the record store is closed");
    const key = recordKey(record);
    if (this.records.has(key)) throw new Error(`internal: ${key.replace(/\t/g, " / ")} is recorded already`);
    this.log.append(JSON.stringify(evalRecordSchema.parse(record)));
    this.records.set(key, record);
  }

  close(): void {
    this.log?.close();
    this.log = undefined;
  }
}
